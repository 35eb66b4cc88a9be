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


@dataclass(frozen=True)
class NewtonBatch:
    """Fits of a stack of replicates: ``beta`` (R x p, log-odds), ``cov`` (R x p x p),
    ``n_iter`` (R,) and ``converged`` (R,); the rows of a not-converged replicate are
    whatever the iterations reached (callers refit it with the package's front door)."""

    beta: np.ndarray
    cov: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


def _information(Xt: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear predictors and fitted probabilities (R x n) and the information ``X' W X`` (R x p x p) of a stack, from
    the transposed designs ``Xt`` (R x p x n, C-contiguous: rows of ``X'`` are contiguous, so
    the stacked products run as BLAS calls on cache-friendly memory)."""
    eta = np.matmul(beta[:, None, :], Xt)[:, 0, :]
    mu = special.expit(eta)
    w = mu * (1.0 - mu)
    return eta, mu, np.matmul(Xt * w[:, None, :], Xt.transpose(0, 2, 1))


def _positive_definite(info: np.ndarray) -> np.ndarray:
    """Which matrices of a stack have a Cholesky factor (the test :func:`fit_logit_newton`
    applies through ``cho_factor``); checked one by one only when the stack fails."""
    try:
        np.linalg.cholesky(info)
        return np.ones(info.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        ok = np.empty(info.shape[0], dtype=bool)
        for i, m in enumerate(info):
            try:
                np.linalg.cholesky(m)
                ok[i] = True
            except np.linalg.LinAlgError:
                ok[i] = False
        return ok


def fit_logit_newton_batch(
    X: np.ndarray, y: np.ndarray, *, tol: float = 1e-10, maxit: int = 30
) -> NewtonBatch:
    """:func:`fit_logit_newton` on a stack of replicates at once.

    Simulation chunks hold many data sets of the same shape; one vectorised Newton-Raphson over
    the stack removes the per-replicate Python and LAPACK-wrapper overhead that dominates a
    fit of a few thousand rows. Each replicate follows exactly the rule of
    :func:`fit_logit_newton` -- start at ``beta = 0``, stop when its own largest step is below
    ``tol``; flagged not converged after ``maxit`` iterations, when the information has no
    Cholesky factor, when an estimate is not finite, or when a final ``|eta| > 17`` -- and a
    replicate that has stopped is masked out of later iterations, so its numbers do not depend
    on the other replicates of the stack. Results equal the one-at-a-time fitter to
    floating-point rounding (the stacked products sum in a different order;
    ``tests/effects/test_fast_logit.py``).

    Parameters
    ----------
    X
        ``R x n x p`` designs (intercept column included), float.
    y
        ``R x n`` 0/1 outcomes, float.
    tol, maxit
        As in :func:`fit_logit_newton`.
    """
    Xt = np.ascontiguousarray(X.transpose(0, 2, 1))
    # Blocks of _BLOCK replicates keep a block's designs in the L2 cache through its
    # iterations (the products are memory-bound: about 1.6x faster than the whole stack at
    # n = 1,000, p = 6); replicates are independent, so blocking does not change a number.
    parts = [
        _newton_block(Xt[s : s + _BLOCK], y[s : s + _BLOCK], tol, maxit)
        for s in range(0, Xt.shape[0], _BLOCK)
    ]
    return NewtonBatch(*(np.concatenate([getattr(f, k) for f in parts]) for k in _FIELDS))


_BLOCK = 16
_FIELDS = ("beta", "cov", "n_iter", "converged")


def _newton_block(Xt_all: np.ndarray, y: np.ndarray, tol: float, maxit: int) -> NewtonBatch:
    """:func:`fit_logit_newton_batch` on one block, designs given transposed (R x p x n)."""
    R, p, _ = Xt_all.shape
    beta = np.zeros((R, p))
    n_iter = np.zeros(R, dtype=int)
    converged = np.zeros(R, dtype=bool)
    failed = np.zeros(R, dtype=bool)
    active = np.arange(R)
    for it in range(1, maxit + 1):
        if active.size == 0:
            break
        # Fancy indexing copies the stack: only once replicates have dropped out.
        Xa = Xt_all if active.size == R else Xt_all[active]
        _, mu, info = _information(Xa, beta[active])
        n_iter[active] = it
        ok = _positive_definite(info)
        if not ok.all():
            failed[active[~ok]] = True
            active, Xa, mu, info = active[ok], Xa[ok], mu[ok], info[ok]
            if active.size == 0:
                break
        score = np.matmul(Xa, (y[active] - mu)[:, :, None])
        step = np.linalg.solve(info, score)[:, :, 0]
        beta[active] = beta[active] + step
        finite = np.isfinite(beta[active]).all(axis=1)
        failed[active[~finite]] = True
        done = finite & (np.max(np.abs(step), axis=1) < tol)
        converged[active[done]] = True
        active = active[finite & ~done]
    # Final information and covariance at the estimate, for the replicates still in the race
    # (those that hit maxit keep converged=False but get a covariance, as one at a time).
    final = np.flatnonzero(~failed)
    cov = np.full((R, p, p), np.nan)
    if final.size:
        Xf = Xt_all if final.size == R else Xt_all[final]
        eta, _, info = _information(Xf, beta[final])
        converged[final[np.any(np.abs(eta) > 17.0, axis=1)]] = False
        ok = _positive_definite(info)
        converged[final[~ok]] = False
        if ok.any():
            cov[final[ok]] = np.linalg.inv(info[ok])
    converged &= ~failed
    return NewtonBatch(beta, cov, n_iter, converged)
