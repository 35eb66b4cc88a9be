"""A lean Newton-Raphson logistic fitter for simulation replicates.

Simulation studies refit the same small logistic model thousands of times, so per-fit overhead
dominates: building result objects, R-style deviance bookkeeping and step halving cost more
than the arithmetic. :func:`fit_logit_newton` does only the arithmetic: Newton-Raphson on the
log-likelihood (for the canonical logit link identical to Fisher scoring), from ``beta = 0``,
stopping when the largest step is below ``tol``. Estimates are on the **log-odds** scale and the
covariance is the inverse observed (= expected) information at the estimate, so results equal
those of :func:`recurrence.models.logistic.logit_arrays` and ``statsmodels`` ``Logit`` to the
convergence tolerance (``tests/effects/test_fast_logit.py``).

It makes no input checks and does not diagnose separation: it reports ``converged=False`` when
the iterations do not settle or a fitted probability is numerically 0 or 1 (``|eta| > 17``), and
callers then hand the data to :func:`recurrence.models.logistic.logit_arrays`, which detects
(quasi-)complete separation and raises :class:`recurrence.errors.SeparationError` naming the
term (:func:`recurrence.effects.scenarios.fit_study_model` does exactly this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special


@dataclass(frozen=True)
class NewtonFit:
    """Estimates (log-odds), their covariance, iterations used and whether the fit settled."""

    beta: np.ndarray
    cov: np.ndarray
    n_iter: int
    converged: bool


def fit_logit_newton(
    X: np.ndarray, y: np.ndarray, *, tol: float = 1e-10, maxit: int = 30
) -> NewtonFit:
    """Maximum-likelihood logistic regression by Newton-Raphson.

    Parameters
    ----------
    X
        ``n x p`` design (include the intercept column), float.
    y
        0/1 outcome, float.
    tol
        Convergence when the largest absolute Newton step is below ``tol`` (log-odds units).
    maxit
        Maximum iterations; the fit is flagged not converged when reached.
    """
    p = X.shape[1]
    beta = np.zeros(p)
    converged = False
    it = 0
    info = np.eye(p)
    for it in range(1, maxit + 1):
        eta = X @ beta
        mu = special.expit(eta)
        w = mu * (1.0 - mu)
        info = X.T @ (X * w[:, None])
        try:
            cf = linalg.cho_factor(info, check_finite=False)
        except linalg.LinAlgError:
            return NewtonFit(beta, np.full((p, p), np.nan), it, False)
        step = linalg.cho_solve(cf, X.T @ (y - mu), check_finite=False)
        beta = beta + step
        if not np.all(np.isfinite(beta)):
            return NewtonFit(beta, np.full((p, p), np.nan), it, False)
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    eta = X @ beta
    if np.any(np.abs(eta) > 17.0):
        converged = False
    mu = special.expit(eta)
    info = X.T @ (X * (mu * (1.0 - mu))[:, None])
    try:
        cov = linalg.cho_solve(linalg.cho_factor(info, check_finite=False), np.eye(p))
    except linalg.LinAlgError:
        return NewtonFit(beta, np.full((p, p), np.nan), it, False)
    return NewtonFit(beta, cov, it, converged)
