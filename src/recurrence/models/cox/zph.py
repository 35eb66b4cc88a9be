"""Test of proportional hazards, as R survival's ``cox.zph`` (survival >= 3.0 score test).

For each covariate ``x_k`` the model is augmented with ``x_k g(t)``, where ``g`` is a transform
of time centred at its mean over the event times; the score test of the added coefficients at
``(beta_hat, 0)`` tests proportional hazards for that term, and the joint test of all added
terms is the GLOBAL test (Grambsch & Therneau 1994, Biometrika 81:515; the score-test form is
the one of survival 3.x, Therneau's ``cox.zph`` documentation). A small p-value says the log
hazard ratio of that covariate changes with (transformed) time.

Transforms (``transform=``): "km" (default; ``1 - KM(t-)``, the left-continuous Kaplan-Meier
of all rows, unweighted and ignoring strata, as R), "identity" (``t``), "rank" (ranks of the
stop times of all rows, ties averaged).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from recurrence.errors import ModelInputError
from recurrence.models.base import check_literal
from recurrence.models.cox import engine
from recurrence.models.cox.model import CoxResults

TRANSFORMS: tuple[str, ...] = ("km", "identity", "rank")


def _km_left(data: engine.CoxData) -> np.ndarray:
    """``1 - S(t-)`` at every row's stop time: KM of all rows, unweighted, no strata."""
    stop = data.stop
    start = data.start
    ev = data.event > 0
    times = np.unique(stop[ev])
    s_stop = np.sort(stop)
    n_risk = len(stop) - np.searchsorted(s_stop, times, side="left")
    if start is not None:
        s_start = np.sort(start)
        n_risk = n_risk - (len(start) - np.searchsorted(s_start, times, side="left"))
    d = np.bincount(np.searchsorted(times, stop[ev]), minlength=len(times))
    surv = np.cumprod(1.0 - d / n_risk)
    # number of KM times strictly below t (R: findInterval(..., left.open = TRUE))
    idx = np.searchsorted(times, stop, side="left")
    return 1.0 - np.concatenate([[1.0], surv])[idx]


def cox_zph(
    fit: CoxResults, transform: Literal["km", "identity", "rank"] = "km"
) -> pd.DataFrame:
    """Score tests of proportional hazards for each term and globally.

    Parameters
    ----------
    fit
        A :func:`~recurrence.models.cox.coxph` result.
    transform
        Time scale of the test: "km", "identity" or "rank" (see module docstring).

    Returns
    -------
    DataFrame indexed by term (plus "GLOBAL") with columns ``chisq``, ``df``, ``p``: R's
    ``cox.zph(fit)$table``.
    """
    check_literal("transform", transform, TRANSFORMS)
    if fit.state is None:
        raise ModelInputError("cox_zph needs a fit made by coxph (its engine state is missing)")
    data, terms = fit.state.data, fit.state.fit.terms
    p = data.x.shape[1]
    if p == 0:
        raise ModelInputError("cox_zph needs at least one covariate")
    if transform == "identity":
        tt_row = data.stop.astype(np.float64)
    elif transform == "rank":
        tt_row = stats.rankdata(data.stop)
    else:
        tt_row = _km_left(data)
    ev = data.event > 0
    gtime_row = tt_row - tt_row[ev].mean()
    # g is constant within an event time (all tied events share the stop time)
    g = np.zeros(len(data.ev_count))
    g[data.ev_time_index[data.ev_rows]] = gtime_row[data.ev_rows]
    tt = terms.term_time
    wb = terms.wbar[tt] if not data.untied else terms.wbar
    u_g = (data.w_ev * g[tt]) @ data.x_ev - (wb * g[tt]) @ terms.m
    i11 = fit.state.fit.info
    i12 = engine.weighted_information(data, terms, g)
    i22 = engine.weighted_information(data, terms, g * g)
    imat = np.block([[i11, i12], [i12.T, i22]])
    names = list(fit.params.index)
    rows = []
    for k in range(p):
        kk = [*range(p), p + k]
        u = np.zeros(p + 1)
        u[-1] = u_g[k]
        rows.append((names[k], float(u @ np.linalg.solve(imat[np.ix_(kk, kk)], u)), 1))
    u = np.concatenate([np.zeros(p), u_g])
    rows.append(("GLOBAL", float(u @ np.linalg.solve(imat, u)), p))
    out = pd.DataFrame(rows, columns=["term", "chisq", "df"]).set_index("term")
    out["p"] = stats.chi2.sf(out["chisq"], out["df"])
    return out
