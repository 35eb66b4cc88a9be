"""Average marginal effects, and risk ratios / risk differences from a fitted logistic model.

Odds ratios are hard to communicate and exaggerate risk ratios when the outcome is common (as
re-referral is: about a fifth of referrals in England are re-referrals within 12 months, DfE
CIN statistics). These functions turn a :class:`~recurrence.models.logistic.LogitResults` into
quantities on the **probability scale** (identity):

* :func:`average_marginal_effects`: for a continuous term, the sample mean of
  ``d p_i / d x_ij = p_i (1 - p_i) beta_j``; for a 0/1 term (and each dummy of a categorical
  term), the mean difference in predicted probability with the term set to 1 versus 0 for every
  row (the counterfactual contrast, as Stata's ``margins, dydx()`` and R's ``marginaleffects``
  do for factors);
* :func:`standardised_risks`: marginal standardisation (g-computation) for a binary exposure:
  ``r1 = mean_i p(x_i with exposure = 1)``, ``r0`` likewise, the risk difference ``r1 - r0`` and
  the risk ratio ``r1 / r0`` (Muller and MacLehose 2014, *Int J Epidemiol* 43:962-970).

Standard errors are by the delta method, ``J V J'`` with ``J`` the analytic Jacobian with respect
to the coefficients and ``V`` the fit's covariance (so a cluster-robust fit gives cluster-robust
margins). The risk ratio's SE and interval are on the log scale. Only the logit link is
supported. Rows are weighted by the fit's prior weights when it has them, and the fit's offset
(if any) is part of every row's linear predictor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from recurrence.errors import ModelInputError
from recurrence.models.base import ModelResults
from recurrence.models.logistic import LogitResults


def _check(
    res: LogitResults,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(res, LogitResults) or res.design is None:
        raise ModelInputError("margins need LogitResults from logit() or firth_logit()")
    if res.link != "logit":
        raise ModelInputError(f"margins support the logit link only; this fit uses {res.link}")
    X = res.design
    w = np.ones(len(X)) if res.weights is None else res.weights
    off = np.zeros(len(X)) if res.offset is None else res.offset
    return X, res.params.to_numpy(), res.cov.to_numpy(), w / w.sum(), off


def _siblings(names: list[str], j: int) -> list[int]:
    """Other dummies of the same categorical term as column ``j`` (``col[T.level]`` names)."""
    name = names[j]
    if "[T." not in name:
        return []
    stem = name.split("[T.")[0]
    return [k for k, n in enumerate(names) if k != j and n.startswith(stem + "[T.")]


def _contrast(
    X: np.ndarray, beta: np.ndarray, w: np.ndarray, off: np.ndarray, j: int, sib: list[int]
):
    """Mean risk with column j set to 1 and to 0 (siblings 0), and their gradients."""
    X1 = X.copy()
    X0 = X.copy()
    X1[:, j] = 1.0
    X0[:, j] = 0.0
    for k in sib:
        X1[:, k] = 0.0
        X0[:, k] = 0.0
    p1 = special.expit(X1 @ beta + off)
    p0 = special.expit(X0 @ beta + off)
    g1 = (w * p1 * (1 - p1)) @ X1
    g0 = (w * p0 * (1 - p0)) @ X0
    return float(w @ p1), float(w @ p0), g1, g0


def average_marginal_effects(
    res: LogitResults, terms: Sequence[str] | None = None
) -> ModelResults:
    """Average marginal effects (probability scale) of ``terms`` (default: all but intercept).

    A term whose design column holds only 0 and 1 gets the discrete contrast; any other gets the
    mean derivative. Returns :class:`ModelResults` with ``scale="identity"`` (so the ``exp_``
    columns of ``tidy()`` carry no meaning here).
    """
    X, beta, V, w, off = _check(res)
    names = list(res.params.index)
    terms = [n for n in names if n != "(Intercept)"] if terms is None else list(terms)
    unknown = [t for t in terms if t not in names]
    if unknown:
        raise ModelInputError(f"terms not in the model: {', '.join(unknown)}")
    p = special.expit(X @ beta + off)
    v = p * (1 - p)
    est = []
    jac = []
    for t in terms:
        j = names.index(t)
        col = X[:, j]
        if np.isin(col, (0.0, 1.0)).all():
            r1, r0, g1, g0 = _contrast(X, beta, w, off, j, _siblings(names, j))
            est.append(r1 - r0)
            jac.append(g1 - g0)
        else:
            mv = float(w @ v)
            est.append(mv * beta[j])
            g = beta[j] * ((w * v * (1 - 2 * p)) @ X)
            g[j] += mv
            jac.append(g)
    J = np.vstack(jac)
    cov = J @ V @ J.T
    return ModelResults(
        model="average-marginal-effects",
        params=pd.Series(est, index=terms),
        cov=pd.DataFrame(cov, index=terms, columns=terms),
        scale="identity",
        nobs=res.nobs,
        cov_type=res.cov_type,
        df_resid=res.df_resid,
        n_clusters=res.n_clusters,
        extra={"from": res.model},
    )


def standardised_risks(res: LogitResults, exposure: str, level: float = 0.95) -> pd.DataFrame:
    """Marginally standardised risks, risk difference and risk ratio for a 0/1 ``exposure``.

    Returns
    -------
    pandas.DataFrame
        Rows ``risk_exposed``, ``risk_unexposed``, ``risk_difference`` (probability scale) and
        ``risk_ratio``; columns ``estimate``, ``std_error`` (of the log risk ratio for the last
        row), ``ci_lower``, ``ci_upper`` (the risk ratio's interval exponentiated from the log
        scale).
    """
    X, beta, V, w, off = _check(res)
    names = list(res.params.index)
    if exposure not in names:
        raise ModelInputError(f"exposure {exposure} is not a term of the model")
    j = names.index(exposure)
    if not np.isin(X[:, j], (0.0, 1.0)).all():
        raise ModelInputError(f"exposure {exposure} must be coded 0/1 for standardised risks")
    r1, r0, g1, g0 = _contrast(X, beta, w, off, j, _siblings(names, j))
    J = np.vstack([g1, g0, g1 - g0, g1 / r1 - g0 / r0])
    se = np.sqrt(np.diag(J @ V @ J.T))
    z = float(stats.norm.ppf(0.5 + level / 2))
    est = np.array([r1, r0, r1 - r0, np.log(r1 / r0)])
    lo, hi = est - z * se, est + z * se
    out = pd.DataFrame(
        {"estimate": est, "std_error": se, "ci_lower": lo, "ci_upper": hi},
        index=pd.Index(["risk_exposed", "risk_unexposed", "risk_difference", "risk_ratio"],
                       name="quantity"),
    )
    out.loc["risk_ratio", ["estimate", "ci_lower", "ci_upper"]] = np.exp(
        out.loc["risk_ratio", ["estimate", "ci_lower", "ci_upper"]].to_numpy(dtype=float)
    )
    return out
