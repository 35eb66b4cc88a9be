"""Aalen-Johansen cumulative incidence for competing events, matching ``survival::survfit``.

With competing causes ``k = 1..K`` (for example re-referral versus leaving the area or reaching
18), the cumulative incidence of cause ``k`` is

    F_k(t) = sum_{s <= t} S(s-) d_k(s) / n(s),

where ``S`` is the Kaplan-Meier estimate of remaining free of every cause, ``d_k(s)`` the cause-k
events at ``s`` and ``n(s)`` the number at risk. ``1 - KM`` treating other causes as censoring
overstates ``F_k``; the Aalen-Johansen estimator does not. Estimates are probabilities
(identity scale).

Variance: the infinitesimal jackknife (IJ), as ``survfit`` computes for a multi-state
``Surv(time, factor(status))``: ``var F_k(t) = sum_i (dF_k(t)/dw_i)^2``, the derivative taken
with respect to each subject's case weight at ``w = 1``. The influence of subject ``i`` on the
hazard increments is ``(dN_ik(s) - Y_i(s) d_k(s)/n(s)) / n(s)``, propagated through the
product-limit and the sum above. Pointwise limits use ``survfit``'s default ``"log"`` interval
on the probability (``F exp(+-z se/F)``, capped at 1). The variance is computed in
O(n + times) by cumulative sums (see :func:`influence_var`), not from the n x times influence
matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recurrence.errors import ModelInputError
from recurrence.models._design import check_finite
from recurrence.models.base import check_literal
from recurrence.models.km import CONF_TYPES, ConfType, check_times, survfit_confint


@dataclass(frozen=True)
class CumulativeIncidence:
    """Aalen-Johansen estimates: ``table`` with columns ``cause, time, n_risk, n_event,
    estimate, std_err, lower, upper`` (one row per cause and distinct observed time;
    ``n_risk`` and ``n_event`` count rows, unweighted even with case weights, as survfit's
    multi-state ``n.risk`` and ``n.event``; the estimates use the weights)."""

    table: pd.DataFrame
    conf_type: str
    level: float

    def at(self, times: Sequence[float] | np.ndarray, cause: object) -> pd.DataFrame:
        """Cumulative incidence of ``cause`` at ``times`` (0 before the first time)."""
        tab = self.table[self.table["cause"] == cause]
        idx = np.searchsorted(tab["time"].to_numpy(), np.asarray(times, float), side="right")
        pick = {c: np.r_[0.0, tab[c].to_numpy()][idx] for c in ("estimate", "std_err")}
        pick.update({c: np.r_[np.nan, tab[c].to_numpy()][idx] for c in ("lower", "upper")})
        return pd.DataFrame({"time": np.asarray(times, float), **pick})


def influence_var(
    t: np.ndarray, status: np.ndarray, causes: list, times: np.ndarray, n_risk: np.ndarray,
    lam: np.ndarray, lam_k: np.ndarray, s_prev: np.ndarray, w: np.ndarray | None = None,
) -> np.ndarray:
    """IJ variance of each F_k: ``sum_i (w_i dF_k(t)/dw_i)^2``, as survival's robust variance.

    ``t``/``status`` are sorted by time; ``n_risk``, ``lam`` (all-cause hazard increments) and
    ``lam_k`` (cause-specific, ``K x m``) are the weighted quantities at the distinct ``times``.
    Returns ``(K, m)``, in O(n + K m) time and memory.

    Why it is linear: subject ``i`` with its time at index ``p`` enters every hazard increment
    before ``p`` identically (``-lambda/n``), so its influence is a common curve ``C_k(t)`` for
    ``t < p``; after ``p`` it acts only through ``S``, so the influence is
    ``a_i + b_i F_k(t)``. The sum of squares is then ``C_k(t)^2 sum_{p_i > t} w_i^2`` plus
    cumulative sums of ``w_i^2 a_i^2``, ``w_i^2 a_i b_i`` and ``w_i^2 b_i^2`` over ``p_i <= t``.
    """
    m = len(times)
    K = len(causes)
    wt = np.ones(len(t)) if w is None else w
    w2 = wt * wt
    pos = np.searchsorted(times, t)
    last_one = lam >= 1.0  # everyone at risk failed: the last time, S drops to 0
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(last_one, 0.0, lam / (n_risk * (1 - lam)))
    cum_alpha = np.cumsum(alpha)
    cum_alpha_prev = np.r_[0.0, cum_alpha[:-1]]
    event_any = np.isin(status, causes)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.where(
            last_one[pos], 0.0, event_any / (n_risk[pos] * np.where(last_one[pos], 1.0, 1 - lam[pos]))
        )
    beta_i = np.where(last_one[pos], 0.0, -cum_alpha[pos] + jump)
    # Subjects whose time index is > t: counts by index, then a reverse cumulative sum.
    w2_at = np.bincount(pos, w2, m)
    w2_after = np.r_[np.cumsum(w2_at[::-1])[::-1][1:], 0.0]
    var = np.zeros((K, m))
    for k, c in enumerate(causes):
        phi = s_prev * lam_k[k]
        F = np.cumsum(phi)
        C = np.cumsum(phi * cum_alpha_prev - phi / n_risk)
        a = C[pos] + s_prev[pos] * (status == c) / n_risk[pos] + beta_i * F[pos]
        b = -beta_i
        s_aa = np.cumsum(np.bincount(pos, w2 * a * a, m))
        s_ab = np.cumsum(np.bincount(pos, w2 * a * b, m))
        s_bb = np.cumsum(np.bincount(pos, w2 * b * b, m))
        var[k] = C * C * w2_after + s_aa + 2 * s_ab * F + s_bb * F * F
    return np.maximum(var, 0.0)


def _influence_var_direct(
    t: np.ndarray, status: np.ndarray, causes: list, times: np.ndarray, n_risk: np.ndarray,
    lam: np.ndarray, lam_k: np.ndarray, s_prev: np.ndarray, block: int,
    w: np.ndarray | None = None,
) -> np.ndarray:
    """The same variance straight from its definition, O(n m): kept as the check of
    :func:`influence_var` in the tests (one n x m influence matrix per block of subjects)."""
    m = len(times)
    K = len(causes)
    var = np.zeros((K, m))
    pos = np.searchsorted(times, t)  # column of each subject's own time
    surv = s_prev * (1 - lam)
    last_one = lam >= 1.0
    safe = np.where(last_one, 1.0, 1 - lam)
    for a in range(0, len(t), block):
        sl = slice(a, min(a + block, len(t)))
        nb = sl.stop - sl.start
        cols = np.arange(m)[None, :]
        Y = (cols <= pos[sl, None]).astype(float)  # at risk at each time
        own = cols == pos[sl, None]
        st = status[sl]
        ev_any = np.zeros((nb, m))
        dlam_k = []
        for k, c in enumerate(causes):
            dN = own & (st == c)[:, None]
            ev_any += dN
            dlam_k.append((dN - Y * lam_k[k][None, :]) / n_risk[None, :])
        dlam = (ev_any - Y * lam[None, :]) / n_risk[None, :]
        B = np.cumsum(np.where(last_one[None, :], 0.0, dlam / safe[None, :]), axis=1)
        dS = -surv[None, :] * B
        if last_one.any():
            dS[:, last_one] = -s_prev[last_one][None, :] * dlam[:, last_one]
        dS_prev = np.concatenate([np.zeros((nb, 1)), dS[:, :-1]], axis=1)
        for k in range(K):
            dF = np.cumsum(dS_prev * lam_k[k][None, :] + s_prev[None, :] * dlam_k[k], axis=1)
            if w is not None:
                dF *= w[sl, None]
            var[k] += (dF**2).sum(axis=0)
    return var


def aalen_johansen(
    data: pd.DataFrame,
    *,
    time: str,
    status: str,
    censor_code: object = 0,
    weights: str | None = None,
    conf_type: ConfType = "log",
    level: float = 0.95,
) -> CumulativeIncidence:
    """Cumulative incidence of each competing cause (Aalen-Johansen) with IJ standard errors.

    Parameters
    ----------
    data
        One row per subject.
    time
        Time to the first event of any cause, or to censoring (>= 0).
    status
        Cause of the event; ``censor_code`` marks censoring. Every other value is a cause.
    censor_code
        Value of ``status`` meaning censored (default 0).
    weights
        Optional column of case weights (weighted counts; IJ variance with weights).
    conf_type
        ``"log"`` (survfit's default), ``"plain"`` or ``"log-log"``.
    level
        Confidence level.

    Returns
    -------
    CumulativeIncidence
        Matches ``survfit(Surv(time, factor(status)) ~ 1)``: ``pstate``, ``std.err``, ``lower``,
        ``upper`` for each cause column.
    """
    check_literal("conf_type", conf_type, CONF_TYPES)
    check_finite(data, [time, status] + ([weights] if weights else []))
    t = check_times(data[time].to_numpy(), time)
    st = data[status].to_numpy()
    w = None if weights is None else data[weights].to_numpy(dtype=float)
    if w is not None and (w < 0).any():
        raise ModelInputError(f"{weights} has negative weights")
    causes = sorted({v for v in pd.unique(st) if v != censor_code}, key=str)
    if not causes:
        raise ModelInputError(f"{status} has no events (every row is censored)")
    order = np.argsort(t, kind="stable")
    t, st = t[order], st[order]
    wt = np.ones(len(t)) if w is None else w[order]
    times, first = np.unique(t, return_index=True)
    n_all = np.add.reduceat(wt, first)
    n_risk = np.cumsum(n_all[::-1])[::-1].astype(float)
    # survfit's multi-state n.risk counts subjects, unweighted, even with case weights.
    n_count = (len(t) - first).astype(float)
    d_k = np.vstack([np.add.reduceat(wt * (st == c), first) for c in causes])
    # ... and so does its n.event: counts of rows, whatever their weights.
    n_events = np.vstack([np.add.reduceat((st == c).astype(float), first) for c in causes])
    d = d_k.sum(axis=0)
    lam_k = d_k / n_risk
    lam = d / n_risk
    surv = np.cumprod(1 - lam)
    s_prev = np.r_[1.0, surv[:-1]]
    F = np.cumsum(s_prev[None, :] * lam_k, axis=1)
    var = influence_var(t, st, causes, times, n_risk, lam, lam_k, s_prev,
                        None if w is None else wt)
    parts = []
    for k, c in enumerate(causes):
        se = np.sqrt(var[k])
        lo, hi = survfit_confint(F[k], se, logse=False, conf_type=conf_type, level=level)
        parts.append(
            pd.DataFrame(
                {"cause": c, "time": times, "n_risk": n_count, "n_event": n_events[k],
                 "estimate": F[k], "std_err": se, "lower": lo, "upper": hi}
            )
        )
    return CumulativeIncidence(pd.concat(parts, ignore_index=True), conf_type, level)
