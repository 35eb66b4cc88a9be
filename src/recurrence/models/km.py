"""Kaplan-Meier survival curves with Greenwood variance, matching ``survival::survfit``.

For right-censored times, with ``n(t)`` at risk just before ``t`` and ``d(t)`` events at ``t``,

    S(t) = prod_{s <= t} (1 - d(s) / n(s)),
    var(-log S(t)) = sum_{s <= t} d(s) / (n(s) (n(s) - d(s)))          (Greenwood).

The table has one row per distinct observed time (event or censoring), as ``survfit``; the
column ``std_err`` is ``survfit$std.err``: the Greenwood SE of the cumulative hazard ``-log S``,
or -- with the infinitesimal-jackknife variance that survfit uses when case weights are not
whole numbers (``robust=True``) -- the SE of ``S`` itself, as survfit reports it. The confidence
limits use R's default ``conf.type = "log"``: ``S exp(+-z std_err)``, upper
limit capped at 1 (``"plain"`` and ``"log-log"`` are also available). Subjects censored at an
event time are counted at risk at that time (censoring after events, as everywhere in survival
analysis). In recurrence work, ``S(t)`` is the probability of no recurrence by time ``t``
(for instance no repeat child protection plan within ``t`` days of the index plan ending).

Written here rather than taken from lifelines because ``KaplanMeierFitter`` reports only at event
times and uses the log-log interval by default; the direct computation is a few vector operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from recurrence.errors import ModelInputError
from recurrence.models._design import check_binary, check_finite
from recurrence.models.base import check_literal

ConfType = Literal["log", "plain", "log-log"]
CONF_TYPES: tuple[str, ...] = get_args(ConfType)


def survfit_confint(
    p: np.ndarray, se: np.ndarray, *, logse: bool, conf_type: str, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence limits for a probability ``p``, as ``survival:::survfit_confint``.

    ``se`` is the SE of ``log p`` when ``logse`` is true (Kaplan-Meier), else of ``p`` itself
    (Aalen-Johansen state probabilities). Returns ``(lower, upper)``; undefined limits (``p = 0``
    for "log", ``p`` in {0, 1} for "log-log") are NaN, as R's NA.
    """
    check_literal("conf_type", conf_type, CONF_TYPES)
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if not logse:
            se = np.where(se == 0, 0.0, se / p)
        if conf_type == "plain":
            se2 = se * p * z
            return np.maximum(p - se2, 0.0), np.minimum(p + se2, 1.0)
        if conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            return np.exp(np.log(xx) - z * se), np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        xx = np.where((p == 0) | (p == 1), np.nan, p)
        se2 = z * se / np.log(xx)
        return np.exp(-np.exp(np.log(-np.log(xx)) - se2)), np.exp(-np.exp(np.log(-np.log(xx)) + se2))


def check_times(t: np.ndarray, name: str) -> np.ndarray:
    """Refuse negative times (zero is allowed: an event on the day of the index event)."""
    t = np.asarray(t, dtype=float)
    if (t < 0).any():
        bad = np.flatnonzero(t < 0)
        raise ModelInputError(
            f"{name} has {len(bad)} negative value(s); first rows: {', '.join(map(str, bad[:5]))}"
        )
    return t


@dataclass(frozen=True)
class SurvivalCurve:
    """A Kaplan-Meier estimate: ``table`` has columns ``group, time, n_risk, n_event, n_censor,
    surv, std_err, lower, upper`` (``std_err`` as ``survfit$std.err``: of ``-log S`` for the
    Greenwood variance, of ``S`` for the robust one)."""

    table: pd.DataFrame
    conf_type: str
    level: float

    def at(self, times: np.ndarray | list[float], group: object = "all") -> pd.DataFrame:
        """The step function evaluated at ``times`` (right-continuous; 1 before the first time)."""
        tab = self.table[self.table["group"] == group]
        idx = np.searchsorted(tab["time"].to_numpy(), np.asarray(times, dtype=float), side="right")
        out = []
        for col, before in (("surv", 1.0), ("lower", 1.0), ("upper", 1.0), ("std_err", 0.0)):
            v = np.r_[before, tab[col].to_numpy()]
            out.append(v[idx])
        return pd.DataFrame(
            {"time": np.asarray(times, float), "surv": out[0], "lower": out[1], "upper": out[2],
             "std_err": out[3]}
        )

    def median(self) -> pd.Series:
        """Median survival time by group, as R's ``quantile(survfit(...), 0.5)``.

        The first time with ``S(t) <= 0.5`` (NaN if none); where the curve is exactly 0.5 (to
        ``sqrt(machine epsilon)``, R's tolerance) over an interval, the midpoint of that
        interval, which ends at the next drop below 0.5 or at the last time of the curve (as
        the sample median of an even number of times).
        """
        tol = float(np.sqrt(np.finfo(float).eps))
        res = {}
        for g, tab in self.table.groupby("group", sort=False):
            t, s = tab["time"].to_numpy(float), tab["surv"].to_numpy(float)
            hit = np.flatnonzero(s <= 0.5 + tol)
            if not len(hit):
                res[g] = np.nan
                continue
            i = int(hit[0])
            if abs(s[i] - 0.5) > tol:
                res[g] = float(t[i])
                continue
            below = np.flatnonzero(s[i:] < 0.5 - tol)
            end = t[i + int(below[0])] if len(below) else t[-1]
            res[g] = float((t[i] + end) / 2)
        return pd.Series(res, name="median")


def _km_one(t: np.ndarray, e: np.ndarray, w: np.ndarray, robust: bool) -> pd.DataFrame:
    order = np.argsort(t, kind="stable")
    t, e, w = t[order], e[order], w[order]
    times, first = np.unique(t, return_index=True)
    n_event = np.add.reduceat(w * e, first)
    n_all = np.add.reduceat(w, first)
    n_censor = n_all - n_event
    n_risk = np.cumsum(n_all[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - n_event / n_risk)
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    var = np.cumsum(inc)
    if robust:
        # Infinitesimal-jackknife variance of S (survfit's robust variance).
        from recurrence.models.cuminc import influence_var

        lam = np.where(n_risk > 0, n_event / n_risk, 0.0)
        s_prev = np.r_[1.0, surv[:-1]]
        v_s = influence_var(t, e, [1.0], times, n_risk, lam, lam[None, :], s_prev, w)[0]
        # survfit reports this one as the SE of S itself (not of log S); so do we. Where the
        # curve has reached 0 no reweighting can lift it, so the variance is exactly 0 (as R);
        # the sum of influences leaves rounding noise there, which made the plain limits NaN.
        var = np.where(surv == 0, 0.0, v_s)
    return pd.DataFrame(
        {"time": times, "n_risk": n_risk, "n_event": n_event, "n_censor": n_censor,
         "surv": surv, "std_err": np.sqrt(var)}
    )


def kaplan_meier(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    by: str | None = None,
    weights: str | None = None,
    robust: bool | None = None,
    conf_type: ConfType = "log",
    level: float = 0.95,
) -> SurvivalCurve:
    """Kaplan-Meier estimate of survival (no recurrence) with ``survfit``'s defaults.

    Parameters
    ----------
    data
        One row per subject (time to recurrence or censoring).
    time
        Follow-up time column (any unit, e.g. days); must be >= 0.
    event
        0/1 event indicator (1 = recurrence observed).
    by
        Optional grouping column: one curve per level (as ``survfit(Surv(...) ~ by)``).
    weights
        Optional case weights (weighted counts, as survfit).
    robust
        Use the infinitesimal-jackknife variance instead of Greenwood's. ``None`` follows
        survfit: robust exactly when some weight is not a whole number.
    conf_type
        ``"log"`` (R's default), ``"plain"`` or ``"log-log"``.
    level
        Confidence level.
    """
    check_literal("conf_type", conf_type, CONF_TYPES)
    cols = [time, event] + ([by] if by else []) + ([weights] if weights else [])
    check_finite(data, cols)
    t = check_times(data[time].to_numpy(), time)
    e = check_binary(data[event].to_numpy(), event)
    w = np.ones(len(t)) if weights is None else data[weights].to_numpy(dtype=float)
    if (w < 0).any():
        raise ModelInputError(f"{weights} has negative weights")
    if robust is None:
        robust = bool(np.any(w != np.round(w)))
    groups = [("all", np.ones(len(t), dtype=bool))] if by is None else [
        (g, (data[by] == g).to_numpy()) for g in sorted(data[by].unique())
    ]
    parts = []
    for g, m in groups:
        tab = _km_one(t[m], e[m], w[m], robust)
        lo, hi = survfit_confint(
            tab["surv"].to_numpy(), tab["std_err"].to_numpy(), logse=not robust,
            conf_type=conf_type, level=level,
        )
        tab["lower"], tab["upper"] = lo, hi
        tab.insert(0, "group", g)
        parts.append(tab)
    return SurvivalCurve(pd.concat(parts, ignore_index=True), conf_type, level)
