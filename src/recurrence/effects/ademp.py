"""A general ADEMP simulation engine: data-generating mechanisms x methods x estimands.

ADEMP (Morris, White & Crowther 2019): **A**\\ ims, **D**\\ ata-generating mechanisms,
**E**\\ stimands, **M**\\ ethods, **P**\\ erformance measures. A :class:`Study` declares

* data-generating mechanisms (:class:`DGM`): a function ``generate(rng, **params)`` returning a
  data set, its parameters, and the true value of each estimand;
* methods (:class:`Method`): a function ``fit(data, **params)`` returning, for each estimand it
  targets, an :class:`Estimate` (estimate, model SE, confidence limits, p-value);
* the number of replicates and a seed.

:func:`run_study` runs every method on the same data set in each replicate (so comparisons
between methods are paired), and :func:`performance_table` summarises the replicates with
Monte Carlo SEs (:mod:`recurrence.effects.performance`). A study can be declared in Python or
in a YAML file (:func:`load_study`; functions named as ``"module:function"``).

Design decisions
----------------
Reproducible whatever the number of workers
    Replicate ``r`` of mechanism ``d`` draws from ``numpy.random.default_rng`` seeded by child
    ``r`` of ``SeedSequence(seed, spawn_key=(key(d),)).spawn(n_reps)``, where ``key(d)`` is a
    hash of the mechanism's name. Its stream therefore depends only on (seed, name, r): not on
    the worker that runs it, the chunking, the order of completion, the other mechanisms of the
    study or ``n_reps``. Results are sorted by (dgm, method, estimand, rep) before they are
    returned. joblib workers run with one BLAS thread each (``inner_max_num_threads=1``); the
    per-replicate linear algebra is small enough that BLAS does not split it across threads in
    any case, and the tests check that 1 and 2 workers, and Dask, give identical files.
Parallel without a home-made scheduler
    Chunks of replicates run through joblib (``n_jobs``; loky processes) or Dask distributed
    (``scheduler="tcp://HOST:PORT"`` or a ``distributed.Client``).
Resumable
    Each finished chunk is written by the calling process to
    ``cache_dir/<study-hash>/<dgm-hash>/reps_<start>_<stop>.parquet`` (atomic rename), keyed by a
    hash of everything that determines its numbers (seed, mechanism, methods, chunk size). A run
    that stops -- an exception in a method, Ctrl-C, a ``max_chunks`` cap -- leaves the finished
    chunks on disk, and the next call with the same study computes only the missing ones.
Failures
    A method that raises :class:`recurrence.errors.RecurrenceError` (separation, convergence,
    bad input) or ``numpy.linalg.LinAlgError`` in a replicate is recorded as not converged with
    the error's class name; any other exception stops the run (after the finished chunks are
    saved), because it signals a bug rather than a property of the method.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recurrence.effects.performance import MEASURES, performance, to_ratio_scale
from recurrence.errors import OptionError, RecurrenceError

if TYPE_CHECKING:
    import pandas as pd

# pandas and yaml are imported inside the functions that use them: joblib workers import this
# module to run chunks, and a worker that needs neither starts seconds sooner (the replicate
# records travel back as plain tuples and become a DataFrame in the calling process).

ENGINE_VERSION = "1"
"""Part of every cache key: bump when the replicate record format or seeding changes."""

REPLICATE_COLUMNS: tuple[str, ...] = (
    "dgm",
    "method",
    "estimand",
    "rep",
    "estimate",
    "se",
    "ci_lower",
    "ci_upper",
    "p_value",
    "converged",
    "error",
)


class StudyError(RecurrenceError):
    """A study declaration is invalid (names the study file or element and the problem)."""


@dataclass(frozen=True)
class Estimate:
    """One method's result for one estimand in one replicate (on the method's scale).

    ``p_value`` tests the null of no effect (0 on a log scale); ``converged=False`` marks a fit
    whose estimate should not be used.
    """

    estimate: float
    se: float = math.nan
    ci_lower: float = math.nan
    ci_upper: float = math.nan
    p_value: float = math.nan
    converged: bool = True
    error: str = ""


FitFunction = Callable[..., Mapping[str, Estimate]]
GenerateFunction = Callable[..., Any]


def resolve(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    """A callable from itself or from a ``"package.module:function"`` reference."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or ":" not in ref:
        raise StudyError(f"function reference {ref!r} must look like 'package.module:function'")
    module, _, name = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise StudyError(f"cannot import {ref!r}: {exc}") from None
    if not callable(obj):
        raise StudyError(f"{ref!r} is not callable")
    return obj


def _ref_name(ref: str | Callable[..., Any]) -> str:
    if isinstance(ref, str):
        return ref
    return f"{getattr(ref, '__module__', '?')}:{getattr(ref, '__qualname__', repr(ref))}"


def _canonical(obj: Any) -> Any:
    """JSON-able canonical form of parameters, for hashing (floats by repr, keys sorted)."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_canonical(v) for v in obj.tolist()]
    if isinstance(obj, (bool, int, str)) or obj is None:
        return obj
    if isinstance(obj, (float, np.floating)):
        return repr(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    if callable(obj):
        return _ref_name(obj)
    return repr(obj)


def _hash(obj: Any) -> str:
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DGM:
    """A data-generating mechanism.

    Parameters
    ----------
    name
        Unique name; it also keys the random streams (see the module notes).
    generate
        ``generate(rng, **params) -> data`` or its ``"module:function"`` reference.
    params
        Keyword arguments of ``generate``.
    truth
        True value of each estimand, on the scale the methods estimate it (e.g. log-odds).
    """

    name: str
    generate: str | GenerateFunction
    params: Mapping[str, Any] = field(default_factory=dict)
    truth: Mapping[str, float] = field(default_factory=dict)

    def key(self) -> int:
        """64-bit stream key derived from the name (stable across runs and platforms)."""
        return int(hashlib.sha256(self.name.encode("utf-8")).hexdigest()[:16], 16)

    def fingerprint(self) -> dict[str, Any]:
        return {"name": self.name, "generate": _ref_name(self.generate), "params": self.params}


@dataclass(frozen=True)
class Method:
    """An analysis method: ``fit(data, **params) -> {estimand: Estimate}``."""

    name: str
    fit: str | FitFunction
    params: Mapping[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        return {"name": self.name, "fit": _ref_name(self.fit), "params": self.params}


@dataclass(frozen=True)
class Study:
    """A simulation study: mechanisms x methods, ``n_reps`` replicates each, one seed."""

    name: str
    dgms: tuple[DGM, ...]
    methods: tuple[Method, ...]
    n_reps: int
    seed: int
    alpha: float = 0.05
    chunk_size: int = 50

    def __post_init__(self) -> None:
        if self.n_reps < 1:
            raise StudyError(f"study {self.name}: n_reps must be >= 1")
        if self.chunk_size < 1:
            raise StudyError(f"study {self.name}: chunk_size must be >= 1")
        if not 0 < self.alpha < 1:
            raise StudyError(f"study {self.name}: alpha must be in (0, 1)")
        for label, items in (("dgm", self.dgms), ("method", self.methods)):
            names = [x.name for x in items]
            if not names:
                raise StudyError(f"study {self.name}: no {label}s declared")
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise StudyError(f"study {self.name}: duplicate {label} name(s) {', '.join(dup)}")

    def chunk_key(self, dgm: DGM) -> str:
        """Hash of everything that determines the numbers of ``dgm``'s chunks."""
        return _hash(
            {
                "engine": ENGINE_VERSION,
                "seed": self.seed,
                "alpha": self.alpha,
                "chunk_size": self.chunk_size,
                "dgm": dgm.fingerprint(),
                "methods": [m.fingerprint() for m in self.methods],
            }
        )


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return name in params and params[name].kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def with_study_alpha(study: Study) -> Study:
    """The study with its ``alpha`` given to every method that takes an ``alpha`` argument.

    A method's own ``params["alpha"]`` wins. Without this a study declared at ``alpha: 0.10``
    would score 95% intervals against a 90% nominal coverage.
    """
    from dataclasses import replace

    methods = tuple(
        replace(m, params={"alpha": study.alpha, **m.params})
        if "alpha" not in m.params and _accepts(resolve(m.fit), "alpha")
        else m
        for m in study.methods
    )
    return replace(study, methods=methods)


def check_signatures(study: Study) -> None:
    """Refuse parameters a mechanism's ``generate`` or a method's ``fit`` cannot take.

    Checked before anything runs, so a misspelt parameter is one line naming it rather than a
    ``TypeError`` from inside a worker.
    """
    import inspect

    for label, items, func_attr in (("mechanism", study.dgms, "generate"), ("method", study.methods, "fit")):
        for item in items:
            fn = resolve(getattr(item, func_attr))
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError):
                continue
            try:
                sig.bind(None, **item.params)  # the data set (or rng) comes first
            except TypeError as exc:
                raise StudyError(f"{label} {item.name}: params do not fit {_ref_name(getattr(item, func_attr))}: {exc}") from None


def replicate_seeds(seed: int, dgm: DGM, n_reps: int) -> list[np.random.SeedSequence]:
    """The per-replicate seed sequences of ``dgm``: ``SeedSequence(seed, (key,)).spawn(n)``."""
    return np.random.SeedSequence(seed, spawn_key=(dgm.key(),)).spawn(n_reps)


BatchFitFunction = Callable[..., Sequence[Mapping[str, Estimate] | None]]
"""``batch(datas, **params)``: one result per data set, ``None`` for a data set the batch
leaves to the one-at-a-time ``fit`` (see :func:`with_batch`)."""


def with_batch(batch: BatchFitFunction) -> Callable[[FitFunction], FitFunction]:
    """Decorator giving a method's ``fit`` a vectorised twin that fits a chunk at once.

    :func:`run_chunk` generates every replicate of a chunk (each from its own stream, as
    always) and hands the list of data sets to ``batch``. It returns, per data set, the same
    mapping ``fit`` would, or ``None`` to have the engine call ``fit`` on that data set --
    for designs the batch does not handle and for replicates whose errors ``fit`` reports (the
    engine records those as before). ``batch`` must give each data set the numbers ``fit``
    gives it, up to floating-point rounding, and nothing may depend on which other data sets
    share the chunk, so results stay identical whatever the number of workers.
    """

    def attach(fit: FitFunction) -> FitFunction:
        fit.batch = batch  # type: ignore[attr-defined]
        return fit

    return attach


def _fit_one(method: Method, fit: FitFunction, data: Any) -> tuple[Mapping[str, Estimate], str]:
    try:
        return fit(data, **method.params), ""
    except (RecurrenceError, np.linalg.LinAlgError) as exc:
        return {}, type(exc).__name__


def _fit_all(
    method: Method, fit: FitFunction, datas: Sequence[Any]
) -> list[tuple[Mapping[str, Estimate], str]]:
    """Every data set of a chunk fitted by one method (batched when ``fit`` has a batch)."""
    batch = getattr(fit, "batch", None)
    if batch is None:
        return [_fit_one(method, fit, d) for d in datas]
    done = batch(datas, **method.params)
    return [
        (r, "") if r is not None else _fit_one(method, fit, d)
        for d, r in zip(datas, done, strict=True)
    ]


def run_chunk(
    dgm: DGM,
    methods: Sequence[Method],
    seeds: Sequence[np.random.SeedSequence],
    start: int,
) -> pd.DataFrame:
    """Run replicates ``start .. start + len(seeds) - 1`` of one mechanism with every method.

    Returns the replicate records (columns :data:`REPLICATE_COLUMNS`). Estimands a failed method would have targeted are recorded as
    non-converged rows so that the non-convergence rate counts them. All data sets of the
    chunk are generated first (each from its own stream), so that a method with a batch
    (:func:`with_batch`) fits them in one vectorised pass.
    """
    import pandas as pd

    return pd.DataFrame(_chunk_rows(dgm, methods, seeds, start), columns=list(REPLICATE_COLUMNS))


NOT_ESTIMATED = "not estimated"


def _not_estimated(result: Mapping[str, Any]) -> str:
    """The error text of an estimand a method did not return, naming those it did return."""
    if not result:
        return NOT_ESTIMATED
    return f"{NOT_ESTIMATED} (the method returned {', '.join(sorted(map(str, result)))})"


def _chunk_rows(
    dgm: DGM,
    methods: Sequence[Method],
    seeds: Sequence[np.random.SeedSequence],
    start: int,
) -> list[tuple[Any, ...]]:
    """The records of :func:`run_chunk` as tuples (what joblib workers execute)."""
    generate = resolve(dgm.generate)
    fits = [(m, resolve(m.fit)) for m in methods]
    estimands = list(dgm.truth)
    datas = [generate(np.random.default_rng(ss), **dgm.params) for ss in seeds]
    results = [_fit_all(method, fit, datas) for method, fit in fits]
    rows: list[tuple[Any, ...]] = []
    nan = math.nan
    for offset in range(len(datas)):
        rep = start + offset
        for (method, _), per_method in zip(fits, results, strict=True):
            result, error = per_method[offset]
            for est_name in estimands:
                e = result.get(est_name)
                if e is None:
                    rows.append(
                        (
                            dgm.name,
                            method.name,
                            est_name,
                            rep,
                            nan,
                            nan,
                            nan,
                            nan,
                            nan,
                            False,
                            error or _not_estimated(result),
                        )
                    )
                    continue
                rows.append(
                    (
                        dgm.name,
                        method.name,
                        est_name,
                        rep,
                        float(e.estimate),
                        float(e.se),
                        float(e.ci_lower),
                        float(e.ci_upper),
                        float(e.p_value),
                        bool(e.converged),
                        e.error,
                    )
                )
    return rows


@dataclass(frozen=True)
class _Chunk:
    dgm: DGM
    start: int
    stop: int
    path: Path | None


@dataclass(frozen=True)
class StudyRun:
    """Results of :func:`run_study`: replicate records and how many chunks were computed."""

    study: Study
    replicates: pd.DataFrame
    chunks_computed: int
    chunks_cached: int
    complete: bool

    def performance(self, **kwargs: Any) -> pd.DataFrame:
        """:func:`performance_table` of these replicates."""
        return performance_table(self.replicates, self.study, **kwargs)


def _plan(study: Study, cache_dir: Path | None) -> list[_Chunk]:
    chunks = []
    for dgm in study.dgms:
        folder = None if cache_dir is None else cache_dir / study.chunk_key(dgm)[:20]
        for start in range(0, study.n_reps, study.chunk_size):
            stop = min(start + study.chunk_size, study.n_reps)
            path = None if folder is None else folder / f"reps_{start:07d}_{stop:07d}.parquet"
            chunks.append(_Chunk(dgm, start, stop, path))
    return chunks


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _execute(
    study: Study,
    pending: list[_Chunk],
    *,
    n_jobs: int,
    scheduler: Any,
) -> Iterator[tuple[_Chunk, pd.DataFrame]]:
    """Yield (chunk, records) as chunks finish, on joblib, Dask or in-process."""

    # Spawn each mechanism's streams once, not once per chunk (spawning n_reps children per
    # chunk made seeding quadratic in the number of chunks); the children are the same.
    spawned: dict[str, list[np.random.SeedSequence]] = {}

    def args(c: _Chunk) -> tuple[Any, ...]:
        if c.dgm.name not in spawned:
            spawned[c.dgm.name] = replicate_seeds(study.seed, c.dgm, study.n_reps)
        return (c.dgm, study.methods, spawned[c.dgm.name][c.start : c.stop], c.start)

    if scheduler is not None:
        from distributed import Client, as_completed

        if isinstance(scheduler, Client):
            client = scheduler
        else:
            try:
                client = Client(scheduler)
            except (OSError, TimeoutError) as exc:
                raise OptionError(
                    f"cannot connect to the Dask scheduler {scheduler!r}: {exc}"
                ) from None
        try:
            futures = {}
            for c in pending:
                fut = client.submit(run_chunk, *args(c), pure=False)
                futures[fut] = c
            try:
                for fut in as_completed(list(futures)):
                    yield futures[fut], fut.result()
            finally:
                client.cancel(list(futures))
        finally:
            if not isinstance(scheduler, Client):
                client.close()
        return
    if n_jobs == 1:
        for c in pending:
            yield c, run_chunk(*args(c))
        return
    import pandas as pd
    from joblib import Parallel, delayed

    # One BLAS thread per loky worker: the workers already use the cores, and a fixed thread
    # count keeps every floating-point reduction in the same order.
    parallel = Parallel(
        n_jobs=n_jobs, backend="loky", return_as="generator_unordered", inner_max_num_threads=1
    )
    index = {id(c): c for c in pending}
    results = parallel(delayed(_tagged)(id(c), *args(c)) for c in pending)
    for tag, rows in results:
        yield index[tag], pd.DataFrame(rows, columns=list(REPLICATE_COLUMNS))


def _tagged(tag: int, *args: Any) -> tuple[int, list[tuple[Any, ...]]]:
    return tag, _chunk_rows(*args)


def run_study(
    study: Study,
    *,
    n_jobs: int = 1,
    scheduler: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    max_chunks: int | None = None,
) -> StudyRun:
    """Run (or resume) a study.

    Parameters
    ----------
    study
        The study.
    n_jobs
        joblib worker processes (1 runs in-process); ignored when ``scheduler`` is given.
    scheduler
        A Dask scheduler address (``"tcp://HOST:PORT"``) or a ``distributed.Client``.
    cache_dir
        Folder for finished chunks; with it an interrupted run resumes where it stopped.
    progress
        Show a tqdm progress bar (replicates x mechanisms).
    max_chunks
        Compute at most this many missing chunks, then return (``complete=False``); lets a
        long study be run in slices.

    Returns
    -------
    StudyRun
        Replicate records sorted by (dgm, method, estimand, rep).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if n_jobs < 1:
        raise StudyError("n_jobs must be >= 1")
    check_signatures(study)
    study = with_study_alpha(study)
    cache = None if cache_dir is None else Path(cache_dir)
    plan = _plan(study, cache)
    frames: list[pd.DataFrame] = []
    pending: list[_Chunk] = []
    for c in plan:
        if c.path is not None and c.path.exists():
            frames.append(pd.read_parquet(c.path))
        else:
            pending.append(c)
    n_cached = len(plan) - len(pending)
    total = study.n_reps * len(study.dgms)
    done = total - sum(c.stop - c.start for c in pending)
    if max_chunks is not None:
        pending = pending[: max(0, max_chunks)]
    computed = 0
    with tqdm(total=total, initial=done, desc=study.name, unit="rep", disable=not progress) as bar:
        for chunk, frame in _execute(study, pending, n_jobs=n_jobs, scheduler=scheduler):
            if chunk.path is not None:
                _write_atomic(frame, chunk.path)
            frames.append(frame)
            computed += 1
            bar.update(chunk.stop - chunk.start)
    complete = n_cached + computed == len(plan)
    reps = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=list(REPLICATE_COLUMNS))
    )
    reps = reps.sort_values(["dgm", "method", "estimand", "rep"], kind="mergesort")
    return StudyRun(study, reps.reset_index(drop=True), computed, n_cached, complete)


def _check_estimands_returned(replicates: pd.DataFrame) -> None:
    """Refuse a truth whose estimand no method returned in any replicate (a misspelt name).

    One method not targeting an estimand is normal (its rows say "not estimated"); no method
    ever returning it means the truth names something the methods do not estimate.
    """
    if replicates.empty or "error" not in replicates:
        return
    errors = replicates["error"].fillna("").astype(str)
    missing = errors.str.startswith(NOT_ESTIMATED)
    never = missing.groupby([replicates["dgm"], replicates["estimand"]]).all()
    if never.any():
        dgm, estimand = never[never].index[0]
        rows = errors[missing & replicates["dgm"].eq(dgm)]
        returned = sorted(
            {name.strip() for text in rows.str.extract(r"returned ([^)]*)\)", expand=False).dropna()
             for name in text.split(",")}
        )
        raise StudyError(
            f"mechanism {dgm}: no method returned the estimand {estimand!r} of its truth in any "
            f"replicate (the methods returned: {', '.join(returned) or 'nothing'})"
        )


def performance_table(
    replicates: pd.DataFrame,
    study: Study,
    *,
    ratio_scale: bool | Iterable[str] = False,
) -> pd.DataFrame:
    """Performance measures with MCSEs per (dgm, method, estimand).

    Parameters
    ----------
    replicates
        Records from :func:`run_study`.
    study
        Supplies the true values and ``alpha``.
    ratio_scale
        ``True`` (all estimands) or a list of estimand names whose log-scale estimates are moved
        to the ratio scale first (:func:`recurrence.effects.performance.to_ratio_scale`); the
        truth is exponentiated too and power uses the methods' own p-values, or Wald p-values
        computed on the log scale when a method gives none.

    Returns
    -------
    pandas.DataFrame
        Columns dgm, method, estimand, true_value, then :data:`~recurrence.effects.performance.MEASURES`.
    """
    import pandas as pd

    truth = {(d.name, k): float(v) for d in study.dgms for k, v in d.truth.items()}
    _check_estimands_returned(replicates)
    ratio = (
        set(truth_key[1] for truth_key in truth) if ratio_scale is True else set(ratio_scale or ())
    )
    rows = []
    for (dgm, method, estimand), g in replicates.groupby(["dgm", "method", "estimand"], sort=True):
        theta = truth[(str(dgm), str(estimand))]
        est, se = g["estimate"].to_numpy(float), g["se"].to_numpy(float)
        lo, hi = g["ci_lower"].to_numpy(float), g["ci_upper"].to_numpy(float)
        pv = g["p_value"].to_numpy(float)
        # A method that never reports an SE (a point estimator) or never a CI (Wald from its SE)
        # is scored on what it gives: absent columns are not failed fits and not empty intervals.
        has_se = bool(np.isfinite(se).any())
        has_ci = bool(np.isfinite(lo).any() or np.isfinite(hi).any())
        if estimand in ratio:
            if not np.isfinite(pv).any() and has_se:
                # Wald p-values of "no effect" on the log scale, before moving: on the ratio
                # scale estimate / se would test a ratio of 0, not 1.
                from scipy import special

                with np.errstate(divide="ignore", invalid="ignore"):
                    pv = 2 * special.ndtr(-np.abs(est / se))
            moved = to_ratio_scale(est, se, lo, hi)
            est, se, lo, hi = moved["estimate"], moved["se"], moved["ci_lower"], moved["ci_upper"]
            theta = math.exp(theta)
        perf = performance(
            est,
            theta,
            se=se if has_se else None,
            ci_lower=lo if has_ci else None,
            ci_upper=hi if has_ci else None,
            p_value=pv if np.isfinite(pv).any() else None,
            converged=g["converged"].to_numpy(bool),
            alpha=study.alpha,
        )
        rows.append(
            {"dgm": dgm, "method": method, "estimand": estimand, "true_value": theta}
            | perf.as_dict()
        )
    return pd.DataFrame(rows, columns=["dgm", "method", "estimand", "true_value", *MEASURES])


# -- declaring studies in YAML -----------------------------------------------------------------
def _fmt(value: Any) -> str:
    """A parameter value in a mechanism name: floats to 6 significant digits."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _spec_models() -> tuple[type[Any], type[Any]]:
    """The pydantic models of a YAML study (built lazily: workers never need pydantic)."""
    from typing import Annotated

    from pydantic import BaseModel, ConfigDict, Field, StrictInt

    class _Strict(BaseModel):
        # Numbers are accepted as names (`name: 2024`), as the loader did before pydantic.
        model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    class MethodSpec(_Strict):
        name: str
        fit: str
        params: dict[str, Any] = Field(default_factory=dict)

    class DGMSpec(_Strict):
        name: str
        generate: str
        params: dict[str, Any] = Field(default_factory=dict)
        vary: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
        truth: Annotated[dict[str, float | str], Field(min_length=1)]

    class StudySpec(_Strict):
        name: str
        seed: Annotated[StrictInt, Field(ge=0)]
        n_reps: Annotated[StrictInt, Field(ge=1)]
        alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
        chunk_size: Annotated[StrictInt, Field(ge=1)] = 50
        dgms: Annotated[list[DGMSpec], Field(min_length=1)]
        methods: Annotated[list[MethodSpec], Field(min_length=1)]

    return StudySpec, DGMSpec


def _first_error(exc: Any) -> str:
    """The first pydantic error as ``field.path: message (got value)``."""
    err = exc.errors()[0]
    loc = ""
    for part in err["loc"]:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    got = err.get("input")
    shown = f" (got {got!r})" if err["type"] != "missing" and not isinstance(got, dict | list) else ""
    return f"{loc or 'study'}: {err['msg']}{shown}"


def _expand_dgms(entries: Sequence[Any]) -> list[DGM]:
    """Validated DGM entries, with ``vary`` expanded factorially (nested-loop order: first key
    slowest). ``truth`` values may be numbers or the name of a parameter (for varied effects).
    """
    out = []
    for i, e in enumerate(entries):
        keys = list(e.vary)
        combos = list(product(*(e.vary[k] for k in keys))) if keys else [()]
        names = set()
        for combo in combos:
            params = e.params | dict(zip(keys, combo, strict=True))
            name = str(e.name)
            if keys:
                name += (
                    "[" + ",".join(f"{k}={_fmt(v)}" for k, v in zip(keys, combo, strict=True)) + "]"
                )
            if name in names:
                raise StudyError(f"dgms[{i}]: expands to duplicate name {name}")
            names.add(name)
            truth = {}
            for k, v in e.truth.items():
                if isinstance(v, str):
                    if v not in params:
                        raise StudyError(
                            f"dgms[{i}].truth.{k}: names parameter {v!r}, which the mechanism "
                            f"does not have (parameters: {', '.join(sorted(params)) or 'none'})"
                        )
                    try:
                        truth[str(k)] = float(params[v])
                    except (TypeError, ValueError):
                        raise StudyError(
                            f"dgms[{i}].truth.{k}: parameter {v!r} is {params[v]!r}, not a number"
                        ) from None
                else:
                    truth[str(k)] = float(v)
            out.append(DGM(name=name, generate=e.generate, params=params, truth=truth))
    return out


def study_from_mapping(data: Mapping[str, Any], *, source: str = "<study>") -> Study:
    """Build a :class:`Study` from a mapping (the parsed YAML; see ``docs/effects.md``).

    The mapping is validated by a pydantic model: unknown keys (a misspelt ``truht``), wrong
    types (``n_reps: 5.9``, ``params: [1, 2]``, a scalar under ``vary``) and missing keys raise
    :class:`StudyError` naming ``source`` and the field.
    """
    from pydantic import ValidationError

    study_spec, _ = _spec_models()
    if not isinstance(data, Mapping):
        raise StudyError(f"{source}: expected a mapping of study fields, got {type(data).__name__}")
    try:
        spec = study_spec.model_validate(dict(data))
    except ValidationError as exc:
        raise StudyError(f"{source}: {_first_error(exc)}") from None
    try:
        return Study(
            name=spec.name,
            dgms=tuple(_expand_dgms(spec.dgms)),
            methods=tuple(Method(m.name, m.fit, dict(m.params)) for m in spec.methods),
            n_reps=spec.n_reps,
            seed=spec.seed,
            alpha=spec.alpha,
            chunk_size=spec.chunk_size,
        )
    except StudyError as exc:
        raise StudyError(f"{source}: {exc}") from None


def load_study(path: str | os.PathLike[str]) -> Study:
    """Read a study declared in YAML; a bad file raises :class:`StudyError` naming it."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StudyError(f"{p}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise StudyError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    study = study_from_mapping(data, source=str(p))
    try:
        check_signatures(study)  # resolves every function too
    except StudyError as exc:
        raise StudyError(f"{p}: {exc}") from None
    return study


def dgm_parameters(study: Study) -> pd.DataFrame:
    """One row per mechanism with its scalar parameters (for nested-loop plots)."""
    import pandas as pd

    rows = []
    for d in study.dgms:
        row: dict[str, Any] = {"dgm": d.name}
        for k, v in d.params.items():
            if isinstance(v, (int, float, str, bool, np.integer, np.floating)):
                row[k] = v
        rows.append(row)
    return pd.DataFrame(rows)
