"""Cox proportional-hazards regression: the user-facing ``coxph`` and its :class:`CoxResults`.

``coxph`` checks the data (every bad input becomes a :class:`~recurrence.errors.ModelInputError`
naming the rows), builds the design and calls the vectorised engine
(:mod:`recurrence.models.cox.engine`). Results reproduce R ``survival::coxph`` (survival 3.5):
the same estimates and model variance, ``loglik``, and with ``cluster=`` the same robust
(sandwich) variance. Estimates are log hazard ratios (scale "log-hazard").

Data layouts
------------
* Right-censored: ``time`` and ``event`` (``start=None``).
* Counting process ``(start, stop]``: pass ``start``; ``time`` is the stop. This gives
  time-varying covariates and the Andersen-Gill model for recurrent events; a
  Prentice-Williams-Peterson model is this with ``strata`` on the event number (see
  :mod:`recurrence.models.cox.recurrent`).

Ties: with ``timefix=True`` (the default, as R's ``coxph``) times that differ by at most
``sqrt(eps)``, absolutely or relative to the mean absolute time, are merged first, as R's
``aeqSurv`` does: such times usually come from arithmetic (gap times, days / 365.25) and are
meant to be equal. ``timefix=False`` ties only times equal as floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from recurrence.errors import ModelInputError
from recurrence.models.base import ModelResults, check_literal
from recurrence.models.cox import engine

TIES: tuple[str, ...] = ("efron", "breslow")
_MAX_ROWS_SHOWN = 5


def _merge_near_ties(
    stop: np.ndarray, start: np.ndarray | None, tolerance: float = float(np.sqrt(np.finfo(float).eps))
) -> tuple[np.ndarray, np.ndarray | None]:
    """Times equal up to rounding set equal, as R's ``survival::aeqSurv``.

    Among the sorted distinct times (starts and stops together), a time whose gap to the one
    before is at most ``tolerance`` (absolutely, or relative to the mean absolute time) joins
    that time's group, and every time is replaced by the smallest of its group.
    """
    both = stop if start is None else np.concatenate([stop, start])
    values = np.unique(both)
    if len(values) < 2:
        return stop, start
    gaps = np.diff(values)
    tied = (gaps <= tolerance) | (gaps / np.mean(np.abs(values)) <= tolerance)
    if not tied.any():
        return stop, start
    cuts = values[np.r_[True, ~tied]]

    def snap(t: np.ndarray) -> np.ndarray:
        return cuts[np.searchsorted(cuts, t, side="right") - 1]

    return snap(stop), None if start is None else snap(start)


def _rows(index: pd.Index, mask: Any) -> str:
    """The first row labels where ``mask`` is true, for error messages."""
    mask = np.asarray(mask, dtype=bool)
    shown = list(index[mask][:_MAX_ROWS_SHOWN])
    return ", ".join(map(str, shown)) + (", ..." if int(mask.sum()) > _MAX_ROWS_SHOWN else "")


def _numeric(data: pd.DataFrame, col: str, what: str) -> np.ndarray:
    if col not in data.columns:
        raise ModelInputError(f"{what} column {col!r} is not in the data")
    s = data[col]
    if s.dtype == bool:
        s = s.astype(np.float64)
    try:
        arr = pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ModelInputError(f"{what} column {col!r} is not numeric ({s.dtype})") from exc
    return arr


def _codes(data: pd.DataFrame, cols: Sequence[str], what: str) -> tuple[np.ndarray, list[object]]:
    for c in cols:
        if c not in data.columns:
            raise ModelInputError(f"{what} column {c!r} is not in the data")
    frame = data.loc[:, list(cols)]
    miss = frame.isna().any(axis=1).to_numpy()
    if miss.any():
        raise ModelInputError(
            f"{what} {', '.join(cols)}: {int(miss.sum())} rows are missing (first rows: "
            f"{_rows(data.index, miss)})"
        )
    if len(cols) == 1:
        codes, levels = pd.factorize(frame.iloc[:, 0], sort=True)
        return codes.astype(np.int64), list(levels)
    grouped = frame.groupby(list(cols), sort=True)
    codes = grouped.ngroup().to_numpy().astype(np.int64)
    return codes, list(grouped.groups.keys())


@dataclass(frozen=True)
class FitState:
    """Engine state kept by :class:`CoxResults` for diagnostics (``cox_zph``, concordance).

    Holds references to the fitted arrays (centred ``x``, times, risk-set indices), so it costs
    no copy; ``strata`` and ``cluster`` are the stratum and cluster codes (``None`` if absent),
    like every array of ``data`` in the engine's row order (input row ``data.order[i]``).
    """

    data: engine.CoxData
    fit: engine.CoxFit
    ties: str
    strata: np.ndarray | None
    cluster: np.ndarray | None = None


@dataclass(frozen=True, repr=False)
class CoxResults(ModelResults):
    """Results of :func:`coxph`: log hazard ratios plus what prediction needs.

    Attributes (besides :class:`~recurrence.models.base.ModelResults`)
    ----------------------------------------------------------------
    means
        Centring point of the covariates (R's ``fit$means``): 0 for 0/1 columns, else the mean.
        The linear predictor and the baseline hazard are relative to it.
    baseline
        Baseline hazard at ``means``: columns ``stratum``, ``time``, ``hazard`` (increment) and
        ``cumhaz``, one row per event time within stratum (``survfit.coxph``'s estimator, with
        Efron's tie correction when ``ties="efron"``).
    strata_levels
        Levels of the strata in code order (``[None]`` when unstratified).
    """

    means: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    baseline: pd.DataFrame = field(default_factory=pd.DataFrame)
    strata_levels: tuple[object, ...] = (None,)
    strata_columns: tuple[str, ...] = ()
    state: FitState | None = field(default=None, compare=False)

    def predict(
        self,
        newdata: pd.DataFrame,
        *,
        type: Literal["lp", "risk"] = "lp",
    ) -> pd.Series:
        """Linear predictor ``(x - means)'beta`` (log-hazard scale) or risk ``exp(lp)``.

        This is R's ``predict(fit, newdata, type = "lp" | "risk", reference = "sample")``.
        """
        check_literal("type", type, ("lp", "risk"))
        x = np.column_stack(
            [_numeric(newdata, c, "covariate") for c in self.params.index]
        ) if len(self.params) else np.zeros((len(newdata), 0))
        if np.isnan(x).any():
            bad = np.isnan(x).any(axis=1)
            raise ModelInputError(
                f"newdata: {int(bad.sum())} rows have NaN covariates (first rows: "
                f"{_rows(newdata.index, bad)})"
            )
        lp = (x - self.means.to_numpy()) @ self.params.to_numpy()
        out = lp if type == "lp" else np.exp(lp)
        return pd.Series(out, index=newdata.index, name=type)

    def baseline_cumhaz(self) -> pd.DataFrame:
        """Baseline cumulative hazard at ``means`` (columns stratum, time, cumhaz)."""
        return self.baseline.loc[:, ["stratum", "time", "cumhaz"]].copy()

    def survival(self, newdata: pd.DataFrame, times: Sequence[float] | None = None) -> pd.DataFrame:
        """Predicted survival curves ``S(t | x) = exp(-H0(t) exp(lp))`` for each row of newdata.

        Parameters
        ----------
        newdata
            Covariate values (and the strata columns for a stratified model).
        times
            Times at which to evaluate; default the event times (of the row's stratum).

        Returns
        -------
        DataFrame indexed by time, one column per row of ``newdata`` (``survfit.coxph`` with
        its default ``stype = 2``, i.e. ``exp(-cumhaz)``).
        """
        risk = self.predict(newdata, type="risk").to_numpy()
        if self.strata_columns:
            codes = []
            lookup = {lvl: i for i, lvl in enumerate(self.strata_levels)}
            frame = newdata.loc[:, list(self.strata_columns)]
            for row in frame.itertuples(index=False):
                key = row[0] if len(self.strata_columns) == 1 else tuple(row)
                if key not in lookup:
                    raise ModelInputError(f"newdata: stratum {key!r} was not in the fitted data")
                codes.append(lookup[key])
        else:
            codes = [0] * len(newdata)
        base = self.baseline
        grid = np.asarray(
            sorted(base["time"].unique()) if times is None else list(times), dtype=np.float64
        )
        cols = {}
        for j, (code, rk) in enumerate(zip(codes, risk, strict=True)):
            b = base[base["stratum"] == code]
            pos = np.searchsorted(b["time"].to_numpy(), grid, side="right")
            ch = np.concatenate([[0.0], b["cumhaz"].to_numpy()])[pos]
            cols[newdata.index[j]] = np.exp(-ch * rk)
        return pd.DataFrame(cols, index=pd.Index(grid, name="time"))


def coxph(
    data: pd.DataFrame,
    *,
    covariates: Sequence[str],
    event: str,
    time: str,
    start: str | None = None,
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    robust: bool = False,
    iter_max: int = 20,
    timefix: bool = True,
) -> CoxResults:
    """Fit a Cox proportional-hazards model; estimates are log hazard ratios.

    Parameters
    ----------
    data
        One row per subject (right-censored) or per ``(start, stop]`` interval.
    covariates
        Numeric columns (0/1 indicators for categories; build dummies beforehand).
    event
        0/1 event indicator (at ``time``).
    time
        Survival time, or interval stop with ``start``. Any time unit (days in this package).
    start
        Interval start: counting-process (Andersen-Gill) data, time-varying covariates.
    strata
        Column(s) whose combinations get separate baseline hazards (PWP: the event number).
    cluster
        Column identifying clusters (child, family or LA) for the robust sandwich variance,
        R's ``cluster()``; implies ``robust=True``.
    weights
        Case weights (> 0), as R's ``weights=``.
    ties
        "efron" (R's default) or "breslow".
    robust
        Sandwich variance with each row its own cluster when ``cluster`` is not given
        (right-censored data only: with ``start``, rows are intervals of one subject, so
        ``cluster`` must name the subject, as R requires).
    iter_max
        Maximum Newton-Raphson iterations (R's ``coxph.control(iter.max = 20)``).
    timefix
        Merge times equal up to rounding before fitting (R's ``coxph(timefix = TRUE)``, see the
        module docstring).

    Returns
    -------
    CoxResults
        ``cov`` is the robust variance when ``cluster`` or ``robust`` (``extra["naive_se"]``
        holds the model-based SE), else the inverse information.

    Raises
    ------
    ModelInputError
        stop <= start, event not 0/1, no events, NaN in covariates or times, non-positive
        weights, singular design (names the collinear terms).
    ConvergenceError
        Newton-Raphson did not converge in ``iter_max`` iterations, or a coefficient is
        drifting to infinity (monotone likelihood); the message names the iterations used
        and the remedy.
    """
    check_literal("ties", ties, TIES)
    if not isinstance(robust, bool):
        raise ValueError(f"robust must be True or False; got {robust!r}")
    if not isinstance(timefix, bool):
        raise ValueError(f"timefix must be True or False; got {timefix!r}")
    covariates = list(covariates)
    if isinstance(covariates, str) or len(set(covariates)) != len(covariates):
        raise ModelInputError(f"covariates must be distinct column names; got {covariates!r}")
    if not covariates:
        raise ModelInputError(
            "coxph needs at least one covariate (for the survival curve alone use Kaplan-Meier)"
        )
    if len(data) == 0:
        raise ModelInputError("no rows to fit")
    idx = data.index
    stop = _numeric(data, time, "time")
    ev = _numeric(data, event, "event")
    bad = np.isnan(stop)
    if bad.any():
        raise ModelInputError(
            f"time column {time!r}: {int(bad.sum())} rows are missing (first rows: {_rows(idx, bad)})"
        )
    bad = np.isinf(stop)
    if bad.any():
        raise ModelInputError(
            f"time column {time!r}: {int(bad.sum())} rows are infinite (first rows: {_rows(idx, bad)})"
        )
    bad = ~np.isin(ev, (0.0, 1.0))
    if bad.any():
        vals = sorted({str(v) for v in ev[bad][:_MAX_ROWS_SHOWN]})
        raise ModelInputError(
            f"event column {event!r} must be 0/1: {int(bad.sum())} rows have other values "
            f"({', '.join(vals)}; first rows: {_rows(idx, bad)})"
        )
    st: np.ndarray | None = None
    if start is not None:
        st = _numeric(data, start, "start")
        bad = ~np.isfinite(st)
        if bad.any():
            raise ModelInputError(
                f"start column {start!r}: {int(bad.sum())} rows are missing or infinite (first "
                f"rows: {_rows(idx, bad)})"
            )
        bad = np.asarray(stop <= st)
        if bad.any():
            raise ModelInputError(
                f"{int(bad.sum())} intervals have stop <= start ({time!r} <= {start!r}), i.e. "
                f"zero or negative length (first rows: {_rows(idx, bad)})"
            )
    if timefix:
        stop, st = _merge_near_ties(stop, st)
        if st is not None:
            bad = np.asarray(stop <= st)
            if bad.any():
                raise ModelInputError(
                    f"{int(bad.sum())} intervals have a length of rounding size, zero once near-"
                    f"equal times are merged (timefix; first rows: {_rows(idx, bad)})"
                )
    if ev.sum() == 0:
        raise ModelInputError(
            f"event column {event!r} has no events: all {len(ev)} rows are censored, so no "
            "Cox model can be fitted"
        )
    if robust and cluster is None and st is not None:
        raise ModelInputError(
            "robust variance for (start, stop] data needs cluster= naming the subject: each "
            "interval as its own cluster understates the SEs (R: 'one of cluster or id is needed')"
        )
    # Column-major: the engine works a covariate at a time.
    x = np.empty((len(data), len(covariates)), order="F")
    for j, c in enumerate(covariates):
        x[:, j] = _numeric(data, c, "covariate")
    nanrow = np.isnan(x).any(axis=1) if x.size else np.zeros(len(data), dtype=bool)
    if nanrow.any():
        cols = [c for j, c in enumerate(covariates) if np.isnan(x[:, j]).any()]
        raise ModelInputError(
            f"{int(nanrow.sum())} rows have NaN in covariates ({', '.join(cols)}); first rows: "
            f"{_rows(idx, nanrow)}. Impute or drop them explicitly."
        )
    if not np.isfinite(x).all():
        raise ModelInputError("covariates contain infinite values")
    w: np.ndarray | None = None
    if weights is not None:
        w = _numeric(data, weights, "weights")
        bad = ~(w > 0) | ~np.isfinite(w)
        if bad.any():
            raise ModelInputError(
                f"weights column {weights!r} must be finite and > 0: {int(bad.sum())} rows are "
                f"not (first rows: {_rows(idx, bad)})"
            )
    strata_cols: tuple[str, ...] = ()
    scodes: np.ndarray | None = None
    levels: list[object] = [None]
    if strata is not None:
        strata_cols = (strata,) if isinstance(strata, str) else tuple(strata)
        scodes, levels = _codes(data, strata_cols, "strata")
    ccodes: np.ndarray | None = None
    n_clusters: int | None = None
    if cluster is not None:
        ccodes, clev = _codes(data, [cluster], "cluster")
        n_clusters = len(clev)
        robust = True
    # Centring as R: 0/1 (and -1) columns are not centred; others by their mean (unweighted
    # for counting-process data as agreg.fit, weighted as coxph.fit for right-censored data).
    zero_one = np.array([np.isin(x[:, j], (-1.0, 0.0, 1.0)).all() for j in range(x.shape[1])])
    if start is None and w is not None:
        mu = (x * w[:, None]).sum(axis=0) / w.sum()
    else:
        mu = x.mean(axis=0) if x.size else np.zeros(x.shape[1])
    means = np.where(zero_one, 0.0, mu) if x.shape[1] else mu
    xc = x
    xc -= means  # in place: x is our own copy
    cd = engine.prepare(xc, stop, ev, start=st, strata=scodes, weights=w)
    # the engine stores rows in (stratum, stop) order; codes kept with it follow that order
    if ccodes is not None:
        ccodes = ccodes[cd.order]
    if scodes is not None:
        scodes = scodes[cd.order]
    if not isinstance(iter_max, int) or iter_max < 1:
        raise ValueError(f"iter_max must be a positive integer; got {iter_max!r}")
    res = engine.fit(cd, ties=ties, names=covariates, iter_max=iter_max)
    var = res.var
    extra: dict[str, object] = {
        "ties": ties,
        "loglik_null": res.loglik_null,
        "score_test": res.score_test,
        "lr_test": 2 * (res.loglik - res.loglik_null),
    }
    cov_type = "model"
    if robust:
        rvar, _ = engine.robust_variance(cd, res, ccodes)
        extra["naive_se"] = pd.Series(np.sqrt(np.diag(var)), index=covariates)
        var = rvar
        cov_type = "cluster" if cluster is not None else "robust"
    times, inc, sidx = engine.baseline_hazard(cd, res.terms)
    base = pd.DataFrame({"stratum": sidx, "time": times, "hazard": inc})
    base["cumhaz"] = base.groupby("stratum")["hazard"].cumsum()
    if strata_cols:
        base["stratum_level"] = [levels[i] for i in sidx]
    return CoxResults(
        model="cox",
        params=pd.Series(res.beta, index=covariates, dtype=np.float64),
        cov=pd.DataFrame(var, index=covariates, columns=covariates),
        scale="log-hazard",
        nobs=len(data),
        cov_type=cov_type,
        loglik=res.loglik,
        n_events=int(ev.sum()),
        n_clusters=n_clusters,
        n_iter=res.n_iter,
        converged=res.converged,
        extra=extra,
        means=pd.Series(means, index=covariates, dtype=np.float64),
        baseline=base,
        strata_levels=tuple(levels),
        strata_columns=strata_cols,
        state=FitState(data=cd, fit=res, ties=ties, strata=scodes, cluster=ccodes),
    )
