"""The reproduction chain: every table, figure and the HTML report from one command.

``recurrence reproduce`` runs the scripts in ``analyses/`` in order. Each script
(``analyses/NN_name.py``) is one result and exposes

``TITLE``
    A heading for the report.
``NEEDS``
    The names (file stems) of the earlier steps whose outputs it reads.
``USES``
    The package modules whose source it depends on (their source is part of the cache key).
``READS_DFE`` (optional)
    ``True`` when it reads the real DfE LA tables (their sha256 is then part of the cache key).
``run(ctx) -> list[Path]``
    Writes its released tables and figures through :class:`StepContext` and returns their paths.

The chain is synthetic cohort -> analysis tables and calibration -> models -> reported effects
-> NI 65 validity -> real LA analysis (only when the DfE tables folder is present; otherwise the
step reports which folder it looked for).

**Caching.** A step's results are cached with :class:`joblib.Memory` (an existing tool, not a
home-made build system). The cache key is the sha256 of the step script, the sha256 of the source
of every module in ``USES``, the step's parameters, the seed, the disclosure rules, and the sha256
of every file its upstream steps produced. A rerun therefore redoes a step only when one of those
changed, and then every step downstream of it whose inputs changed.

**Determinism.** Every random step draws from the seed given; figures are written by the Agg
backend with fixed metadata; tables are written with a fixed float format and line endings. Two
runs give byte-identical outputs; only the colophon timestamp of the report differs.

**Disclosure control.** Tables derived from child-level data are passed through
:func:`recurrence.sdc.suppress_and_round` when written (:meth:`StepContext.table`), and
:func:`recurrence.sdc.check_outputs` checks every CSV at the end; a failure stops the run before
anything is released, naming the file and cell.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar, get_args

import joblib
import pandas as pd

from recurrence.errors import InputFileError, RecurrenceError
from recurrence.sdc import (
    SDCRules,
    TableDeclaration,
    check_outputs,
    suppress_and_round,
    write_declarations,
)

T = TypeVar("T")

#: The repository root (``src/recurrence/reproduce/pipeline.py`` -> repo).
REPO_ROOT = Path(__file__).resolve().parents[3]
#: Where the step scripts live.
ANALYSES_DIR = REPO_ROOT / "analyses"
#: Where the real DfE LA tables are looked for when ``--dfe`` is not given.
DEFAULT_DFE_DIR = REPO_ROOT.parent / "shared" / "data" / "dfe"
#: File marking a folder as written by this pipeline (so that it may be replaced on rerun).
OUTPUT_MARKER = ".recurrence-output"
#: Name of the HTML report in the output folder.
REPORT_NAME = "report.html"

ProfileName = Literal["tiny", "quick", "full"]
PROFILE_NAMES: tuple[str, ...] = get_args(ProfileName)

#: Default seed of the whole chain (the last day of the 2008/09 census year).
DEFAULT_SEED = 20090331

#: Per-step parameters of each profile. ``quick`` is what ``make reproduce`` runs (<= 10 minutes
#: on 2 cores); ``full`` is the full-size run; ``tiny`` is for the test suite (it skips the
#: mobility sweep, which needs several cohorts with enough history).
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "01_synthetic_cohort": {"n_children": 1500, "years": 6, "preset": "england-2009"},
        "02_calibration": {},
        "03_models": {},
        "04_effects": {"claims": None, "reps": 10, "separation_reps": 5},
        "05_ni65_validity": {"sweep_rates": [], "sweep_children": 0, "sweep_years": 0},
        "06_la_stats": {},
    },
    "quick": {
        "01_synthetic_cohort": {"n_children": 20000, "years": 10, "preset": "england-2009"},
        "02_calibration": {},
        "03_models": {},
        "04_effects": {"claims": None, "reps": 300, "separation_reps": 100},
        "05_ni65_validity": {
            "sweep_rates": [0.0, 0.05, 0.1, 0.2],
            "sweep_children": 8000,
            "sweep_years": 8,
        },
        "06_la_stats": {},
    },
    "full": {
        "01_synthetic_cohort": {"n_children": 200000, "years": 10, "preset": "england-2009"},
        "02_calibration": {},
        "03_models": {},
        "04_effects": {"claims": None, "reps": 1000, "separation_reps": 500},
        "05_ni65_validity": {
            "sweep_rates": [0.0, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3],
            "sweep_children": 50000,
            "sweep_years": 10,
        },
        "06_la_stats": {},
    },
}


class StepSkipped(Exception):
    """Raised by a step that cannot run here (e.g. no DfE tables); the message says why."""


@dataclass(frozen=True)
class UpstreamStep:
    """Where an earlier step's files are: released outputs and intermediate (unreleased) data."""

    out_dir: Path
    work_dir: Path


@dataclass(frozen=True)
class Artefact:
    """A released table or figure with its caption, for the report."""

    path: str  # relative to the step's output folder (POSIX)
    kind: Literal["table", "figure"]
    caption: str


@dataclass
class StepContext:
    """What a step script's ``run(ctx)`` receives.

    Attributes
    ----------
    name, title
        The step's name (script file stem) and heading.
    out_dir
        Folder for the step's released tables and figures (checked for disclosure).
    work_dir
        Folder for intermediate data that is not released (e.g. the synthetic cohort tables).
    upstream
        Earlier steps' folders, by name (only those in the script's ``NEEDS``).
    params
        The step's parameters in the chosen profile.
    profile, seed, workers
        Profile name, the chain's seed, and how many worker processes a step may use (results
        do not depend on it).
    dfe_dir
        The folder of real DfE LA tables, or ``None`` when absent.
    dfe_searched
        The folder that was looked for (for the message when it is absent).
    rules
        The disclosure rules.
    show_progress
        Whether progress bars are drawn (on stderr).
    """

    name: str
    title: str
    out_dir: Path
    work_dir: Path
    upstream: Mapping[str, UpstreamStep]
    params: Mapping[str, Any]
    profile: str
    seed: int
    workers: int
    dfe_dir: Path | None
    dfe_searched: Path
    rules: SDCRules
    show_progress: bool = True
    declarations: dict[str, TableDeclaration] = field(default_factory=dict)
    artefacts: list[Artefact] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)

    # -- writing released outputs ---------------------------------------------------------
    def table(
        self,
        frame: pd.DataFrame,
        name: str,
        *,
        caption: str,
        count_columns: Sequence[str] = (),
        child_level: bool = True,
        reason: str = "",
        rows_additive: bool = False,
        row_total: str | None = None,
        column_groups: Sequence[str] | None = None,
        dependent: Mapping[str, Sequence[str]] | None = None,
        ratios: Mapping[str, tuple[str, str, float]] | None = None,
        float_digits: int = 6,
    ) -> Path:
        """Write a released table as CSV, applying disclosure control when it is child-level.

        Child-level tables pass through :func:`recurrence.sdc.suppress_and_round` with the
        given count columns and margins, and the declaration is recorded for the final check.
        Floats are written with ``float_digits`` significant digits so that the bytes do not
        depend on the last bits of a floating-point sum.
        """
        decl = TableDeclaration(
            count_columns=tuple(count_columns),
            child_level=child_level,
            reason=reason,
            rows_additive=rows_additive,
            row_total=row_total,
            column_groups=None if column_groups is None else tuple(column_groups),
            dependent={k: tuple(v) for k, v in (dependent or {}).items()},
            ratios=dict(ratios or {}),
        )
        if child_level:
            frame = suppress_and_round(
                frame,
                count_columns,
                rules=self.rules,
                rows_additive=rows_additive,
                row_total=row_total,
                column_groups=column_groups,
                dependent=dependent,
                ratios=ratios,
            )
        path = self.out_dir / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(frame, path, float_digits=float_digits)
        rel = path.relative_to(self.out_dir).as_posix()
        self.declarations[rel] = decl
        self.artefacts.append(Artefact(rel, "table", caption))
        return path

    def figure(self, fig: Any, name: str, *, caption: str, dpi: int = 110) -> Path:
        """Save a matplotlib figure as a PNG with stable bytes, and close it."""
        import matplotlib.pyplot as plt

        path = self.out_dir / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_png(fig, path, dpi=dpi)
        plt.close(fig)
        rel = path.relative_to(self.out_dir).as_posix()
        self.artefacts.append(Artefact(rel, "figure", caption))
        return path

    def register(
        self,
        path: Path,
        *,
        caption: str,
        declaration: TableDeclaration | None = None,
    ) -> Path:
        """Declare a file that package code wrote into :attr:`out_dir` (a CSV or a PNG).

        CSV files need a ``declaration`` (which columns are counts, or why the table is not
        child-level) and are checked, but not modified, by the final disclosure check; a
        child-level CSV written this way must already be suppressed and rounded.
        """
        path = Path(path)
        rel = path.resolve().relative_to(self.out_dir.resolve()).as_posix()
        if not path.is_file():
            raise RecurrenceError(f"step {self.name}: {path} was not written")
        if path.suffix == ".csv":
            if declaration is None:
                raise RecurrenceError(f"step {self.name}: {rel} needs a disclosure declaration")
            self.declarations[rel] = declaration
            self.artefacts.append(Artefact(rel, "table", caption))
        elif path.suffix == ".png":
            self.artefacts.append(Artefact(rel, "figure", caption))
        else:
            raise RecurrenceError(f"step {self.name}: cannot show {rel} in the report")
        return path

    def finding(self, text: str) -> None:
        """Add a sentence of findings, in words, to the report."""
        self.findings.append(text)

    def use_input(self, path: Path) -> Path:
        """Record an input file (its sha256 goes into the colophon) and return it."""
        self.inputs[_display_path(path)] = sha256_file(path)
        return path

    def skip(self, message: str) -> None:
        """Stop the step, reporting ``message`` (e.g. a missing data folder)."""
        raise StepSkipped(message)

    def progress(
        self, iterable: Iterable[T], *, desc: str, total: int | None = None
    ) -> Iterator[T]:
        """Wrap a long loop in a progress bar on stderr."""
        from tqdm.auto import tqdm

        yield from tqdm(
            iterable,
            desc=f"{self.name}: {desc}",
            total=total,
            file=sys.stderr,
            disable=not self.show_progress,
            leave=False,
            dynamic_ncols=True,
        )

    def upstream_work(self, name: str) -> Path:
        """The intermediate-data folder of an upstream step (which must be in ``NEEDS``)."""
        if name not in self.upstream:
            raise KeyError(f"step {self.name} reads {name} but does not list it in NEEDS")
        return self.upstream[name].work_dir

    def upstream_out(self, name: str) -> Path:
        """The released-output folder of an upstream step (which must be in ``NEEDS``)."""
        if name not in self.upstream:
            raise KeyError(f"step {self.name} reads {name} but does not list it in NEEDS")
        return self.upstream[name].out_dir


# --------------------------------------------------------------------------------------------
# Deterministic writers and hashing
# --------------------------------------------------------------------------------------------


def write_csv(frame: pd.DataFrame, path: Path, *, float_digits: int = 6) -> None:
    """Write a CSV with fixed float precision, ``\\n`` endings and no index.

    Floats inside ``object`` columns (rates next to the suppression marker after disclosure
    control) get the same precision as float columns.
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(
                lambda v: (
                    (None if v != v else format(v, f".{float_digits}g"))
                    if isinstance(v, float)
                    else v
                )
            )
    out.to_csv(path, index=False, lineterminator="\n", float_format=f"%.{float_digits}g")


def configure_matplotlib() -> None:
    """Agg backend and fixed hash salts, so that figure bytes are reproducible."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams["svg.hashsalt"] = "recurrence"
    matplotlib.rcParams["figure.dpi"] = 110
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")


def save_png(fig: Any, path: Path, *, dpi: int = 110) -> None:
    """Save a figure as PNG without the (version-stamped) ``Software`` metadata."""
    fig.savefig(path, format="png", dpi=dpi, metadata={"Software": None}, bbox_inches="tight")


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _display_path(path: Path) -> str:
    """A path relative to the repository when inside or beside it (stable across machines)."""
    p = Path(path).resolve()
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../")):
        try:
            return prefix + p.relative_to(base).as_posix()
        except ValueError:
            continue
    return p.as_posix()


def source_digest(modules: Iterable[str]) -> dict[str, str]:
    """sha256 of the source of each named module (all ``.py`` files of a package)."""
    out: dict[str, str] = {}
    for name in sorted(set(modules)):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RecurrenceError(f"module {name} used by an analysis step cannot be found")
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        h = hashlib.sha256()
        for f in files:
            h.update(f.relative_to(origin.parent).as_posix().encode())
            h.update(f.read_bytes())
        out[name] = h.hexdigest()
    return out


def _read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as relative POSIX path -> bytes."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    """Write files under ``root``, replacing its previous contents."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A step script: its name, file, heading, upstream steps and the modules it uses."""

    name: str
    script: Path
    title: str
    needs: tuple[str, ...]
    uses: tuple[str, ...]
    reads_dfe: bool = False


def load_module(script: Path) -> ModuleType:
    """Import a step script by path (its name starts with a digit, so not by ``import``)."""
    mod_name = f"recurrence_analyses_{script.stem}"
    spec = importlib.util.spec_from_file_location(mod_name, script)
    if spec is None or spec.loader is None:
        raise RecurrenceError(f"{script}: cannot load the analysis script")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def discover_steps(analyses_dir: Path = ANALYSES_DIR) -> list[Step]:
    """The step scripts ``analyses/NN_*.py`` in order, checked for the step interface."""
    if not analyses_dir.is_dir():
        raise InputFileError(str(analyses_dir), "the analyses folder of step scripts is missing")
    steps: list[Step] = []
    for script in sorted(analyses_dir.glob("[0-9][0-9]_*.py")):
        module = load_module(script)
        for attr in ("TITLE", "NEEDS", "USES", "run"):
            if not hasattr(module, attr):
                raise InputFileError(str(script), f"analysis script does not define {attr}")
        steps.append(
            Step(
                name=script.stem,
                script=script,
                title=str(module.TITLE),
                needs=tuple(module.NEEDS),
                uses=tuple(module.USES),
                reads_dfe=bool(getattr(module, "READS_DFE", False)),
            )
        )
    names = {s.name for s in steps}
    for s in steps:
        unknown = [n for n in s.needs if n not in names]
        if unknown:
            raise InputFileError(str(s.script), f"NEEDS names unknown steps {unknown}")
    return steps


@dataclass(frozen=True)
class StepRecord:
    """What a step produced (cached by joblib): files as bytes and the report material."""

    outputs: dict[str, bytes]
    work: dict[str, bytes]
    declarations: dict[str, dict[str, Any]]
    artefacts: tuple[Artefact, ...]
    findings: tuple[str, ...]
    inputs: dict[str, str]
    skipped: str | None = None


def _execute_step(
    name: str,
    key: Mapping[str, Any],
    runtime: Mapping[str, Any],
) -> StepRecord:
    """Run one step in a scratch folder and return what it wrote.

    ``key`` holds everything the result depends on (it is what joblib hashes); ``runtime`` holds
    what it does not (paths, worker count, progress display) and is ignored by the cache.
    """
    configure_matplotlib()
    module = load_module(Path(runtime["script"]))
    with tempfile.TemporaryDirectory(prefix=f"recurrence-{name}-") as scratch:
        ctx = StepContext(
            name=name,
            title=str(module.TITLE),
            out_dir=Path(scratch) / "out",
            work_dir=Path(scratch) / "work",
            upstream=runtime["upstream"],
            params=dict(key["params"]),
            profile=str(runtime["profile"]),
            seed=int(key["seed"]),
            workers=int(runtime["workers"]),
            dfe_dir=runtime["dfe_dir"],
            dfe_searched=runtime["dfe_searched"],
            rules=SDCRules(
                **{
                    **key["rules"],
                    "identifier_columns": frozenset(key["rules"]["identifier_columns"]),
                }
            ),
            show_progress=bool(runtime["show_progress"]),
        )
        ctx.out_dir.mkdir(parents=True)
        ctx.work_dir.mkdir(parents=True)
        skipped: str | None = None
        try:
            returned = module.run(ctx)
        except StepSkipped as exc:
            skipped = str(exc)
            returned = []
        outputs = _read_tree(ctx.out_dir)
        for p in returned:
            rel = Path(p).resolve().relative_to(ctx.out_dir.resolve()).as_posix()
            if rel not in outputs:
                raise RecurrenceError(f"step {name} returned {p}, which it did not write")
        return StepRecord(
            outputs=outputs,
            work=_read_tree(ctx.work_dir),
            declarations={k: v.to_json() for k, v in ctx.declarations.items()},
            artefacts=tuple(ctx.artefacts),
            findings=tuple(ctx.findings),
            inputs=dict(ctx.inputs),
            skipped=skipped,
        )


@dataclass
class StepRun:
    """One step's outcome in a pipeline run."""

    step: Step
    record: StepRecord
    cached: bool
    seconds: float


@dataclass
class PipelineResult:
    """The outcome of :func:`run_pipeline`."""

    out_dir: Path
    report: Path
    steps: list[StepRun]
    output_hashes: dict[str, str]
    input_hashes: dict[str, str]

    @property
    def executed(self) -> list[str]:
        """Names of the steps that ran (not taken from the cache)."""
        return [s.step.name for s in self.steps if not s.cached]

    @property
    def cached(self) -> list[str]:
        """Names of the steps whose results came from the cache."""
        return [s.step.name for s in self.steps if s.cached]


def resolve_dfe_dir(dfe: Path | None) -> tuple[Path | None, Path]:
    """The DfE tables folder to use (or ``None``) and the folder that was looked for.

    An explicit ``--dfe`` folder must exist; the default ``../shared/data/dfe`` is optional.
    """
    if dfe is not None:
        if not Path(dfe).is_dir():
            raise InputFileError(str(dfe), "the DfE tables folder given with --dfe does not exist")
        return Path(dfe).resolve(), Path(dfe)
    if DEFAULT_DFE_DIR.is_dir():
        return DEFAULT_DFE_DIR, DEFAULT_DFE_DIR
    return None, DEFAULT_DFE_DIR


def _prepare_out_dir(out: Path) -> None:
    """Refuse to replace a non-empty folder that this pipeline did not write."""
    if out.exists() and any(out.iterdir()) and not (out / OUTPUT_MARKER).exists():
        raise InputFileError(
            str(out),
            "output folder exists, is not empty and was not written by `recurrence reproduce`; "
            "choose another --out",
        )


def _log(message: str, show: bool) -> None:
    if show:
        print(message, file=sys.stderr, flush=True)


def run_pipeline(
    out: str | os.PathLike[str],
    *,
    profile: ProfileName = "quick",
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    dfe: str | os.PathLike[str] | None = None,
    rules: SDCRules | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    analyses_dir: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    show_progress: bool = True,
    git_commit: str | None = None,
) -> PipelineResult:
    """Run every analysis step, check disclosure, and write the HTML report.

    Parameters
    ----------
    out
        Output folder (replaced on rerun; it must be empty or written by this pipeline).
    profile
        ``"quick"`` (``make reproduce``), ``"full"`` or ``"tiny"`` (tests).
    seed
        Seed of the whole chain.
    workers
        Worker processes a step may use; the outputs do not depend on it.
    dfe
        Folder of real DfE LA tables; default ``../shared/data/dfe`` when present.
    rules
        Disclosure rules (default threshold 10, rounding to 5).
    cache_dir
        joblib cache folder; default ``.cache/reproduce`` under the repository.
    analyses_dir
        Folder of step scripts; default ``analyses/`` of the repository.
    overrides
        Per-step parameter overrides on top of the profile (tests use them).
    show_progress
        Print step progress and draw progress bars on stderr.
    git_commit
        Commit to state in the colophon; default ``git rev-parse HEAD`` of the repository.

    Raises
    ------
    recurrence.sdc.DisclosureError
        When an output breaks the disclosure rules (nothing is released).
    """
    from recurrence.reproduce.report import Colophon, render_report

    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile must be one of {', '.join(PROFILE_NAMES)}; got {profile!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1; got {workers}")
    rules = rules or SDCRules()
    out_dir = Path(out).resolve()
    _prepare_out_dir(out_dir)
    cache_root = Path(cache_dir) if cache_dir is not None else REPO_ROOT / ".cache" / "reproduce"
    cache_root.mkdir(parents=True, exist_ok=True)
    memory = joblib.Memory(location=str(cache_root / "joblib"), verbose=0)
    cached_execute: Callable[..., StepRecord] = memory.cache(_execute_step, ignore=["runtime"])
    steps = discover_steps(Path(analyses_dir) if analyses_dir else ANALYSES_DIR)
    dfe_dir, dfe_searched = resolve_dfe_dir(Path(dfe) if dfe is not None else None)
    params_all = {k: dict(v) for k, v in PROFILES[profile].items()}
    for step_name, extra in (overrides or {}).items():
        params_all.setdefault(step_name, {}).update(extra)

    configure_matplotlib()
    staging = Path(tempfile.mkdtemp(prefix=".reproduce-staging-", dir=out_dir.parent))
    work_root = cache_root / "work"
    runs: list[StepRun] = []
    try:
        digests: dict[str, str] = {}
        for i, step in enumerate(steps, start=1):
            upstream_digest = {n: digests[n] for n in step.needs}
            key = {
                "script": sha256_file(step.script),
                "uses": source_digest(step.uses),
                "params": params_all.get(step.name, {}),
                "seed": seed,
                "rules": _rules_json(rules),
                "upstream": upstream_digest,
                "dfe": _dfe_digest(dfe_dir) if step.reads_dfe else None,
            }
            runtime = {
                "script": str(step.script),
                "upstream": {
                    n: UpstreamStep(out_dir=staging / n, work_dir=work_root / n) for n in step.needs
                },
                "profile": profile,
                "workers": workers,
                "dfe_dir": dfe_dir,
                "dfe_searched": dfe_searched,
                "show_progress": show_progress,
            }
            is_cached = bool(cached_execute.check_call_in_cache(step.name, key, runtime))  # type: ignore[attr-defined]
            label = "cached" if is_cached else "running"
            _log(f"[{i}/{len(steps)}] {step.title} ({step.script.name}): {label}", show_progress)
            t0 = time.perf_counter()
            record = cached_execute(step.name, key, runtime)
            seconds = time.perf_counter() - t0
            if record.skipped:
                _log(f"      skipped: {record.skipped}", show_progress)
            elif not is_cached:
                _log(f"      done in {seconds:.1f} s", show_progress)
            _write_tree(staging / step.name, record.outputs)
            work_dir = work_root / step.name
            if _read_tree(work_dir) != record.work:
                _write_tree(work_dir, record.work)
            digests[step.name] = sha256_bytes(
                json.dumps(
                    {
                        "outputs": {k: sha256_bytes(v) for k, v in sorted(record.outputs.items())},
                        "work": {k: sha256_bytes(v) for k, v in sorted(record.work.items())},
                    },
                    sort_keys=True,
                ).encode()
            )
            runs.append(StepRun(step, record, is_cached, seconds))

        declarations = {
            f"{r.step.name}/{rel}": TableDeclaration.from_json(d)
            for r in runs
            for rel, d in r.record.declarations.items()
        }
        write_declarations(staging, declarations)
        _log("Checking every output against the disclosure rules", show_progress)
        check_outputs(staging, rules, declarations)

        output_hashes = {
            p.relative_to(staging).as_posix(): sha256_file(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        input_hashes: dict[str, str] = {}
        lock = REPO_ROOT / "requirements.lock"
        if lock.exists():
            input_hashes[_display_path(lock)] = sha256_file(lock)
        for r in runs:
            input_hashes.update(r.record.inputs)
        colophon = Colophon.collect(
            profile=profile,
            seed=seed,
            params=params_all,
            rules=rules,
            inputs=input_hashes,
            outputs=output_hashes,
            git_commit=git_commit,
            repo_root=REPO_ROOT,
        )
        report = render_report(staging, runs, colophon, dfe_searched=dfe_searched)
        (staging / OUTPUT_MARKER).write_text(
            "written by `recurrence reproduce`\n", encoding="utf-8"
        )

        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _log(f"Report: {out_dir / REPORT_NAME}", show_progress)
    return PipelineResult(
        out_dir=out_dir,
        report=out_dir / report.name,
        steps=runs,
        output_hashes=output_hashes,
        input_hashes=input_hashes,
    )


def _rules_json(rules: SDCRules) -> dict[str, Any]:
    """The disclosure rules as a JSON-ready dict (part of the cache key)."""
    return {
        "threshold": rules.threshold,
        "rounding_base": rules.rounding_base,
        "suppress_zeros": rules.suppress_zeros,
        "marker": rules.marker,
        "max_text_length": rules.max_text_length,
        # A sorted list, not the frozenset: the cache key must not depend on set iteration order,
        # which changes between processes with string-hash randomisation.
        "identifier_columns": sorted(rules.identifier_columns),
        "identifier_patterns": rules.identifier_patterns,
        "free_text_patterns": rules.free_text_patterns,
        "count_column_pattern": rules.count_column_pattern,
    }


def _dfe_digest(dfe_dir: Path | None) -> dict[str, str] | None:
    """sha256 of every file in the DfE folder (part of the cache key of the real-data step)."""
    if dfe_dir is None:
        return None
    return {p.name: sha256_file(p) for p in sorted(dfe_dir.glob("*.csv"))}


__all__ = [
    "ANALYSES_DIR",
    "DEFAULT_DFE_DIR",
    "DEFAULT_SEED",
    "PROFILES",
    "PipelineResult",
    "Step",
    "StepContext",
    "StepSkipped",
    "configure_matplotlib",
    "discover_steps",
    "resolve_dfe_dir",
    "run_pipeline",
    "save_png",
    "sha256_file",
    "write_csv",
]
