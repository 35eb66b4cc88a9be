"""Firth's penalised logistic regression, with profile penalised-likelihood confidence intervals.

Firth (1993, *Biometrika* 80:27-38) removes the O(1/n) bias of the maximum-likelihood estimate by
maximising the penalised log-likelihood

    l*(beta) = l(beta) + 1/2 log det I(beta),       I(beta) = X' W X,  W = diag(w_i p_i (1 - p_i)),

i.e. the likelihood times Jeffreys' prior. Its estimates are finite even under complete or
quasi-complete separation (Heinze and Schemper 2002, *Stat Med* 21:2409-2419), which is why it is
the remedy :func:`recurrence.models.logistic.logit` suggests when it detects separation. The
estimate solves the modified score equations

    U*(beta) = X' (w (y - p) + h (1/2 - p)) = 0,

with ``h`` the diagonal of the weighted hat matrix ``W^{1/2} X I^{-1} X' W^{1/2}``; we solve them
by Fisher scoring with step-halving on ``l*``. Estimates are on the **log-odds** scale and match
R's ``brglm2::brglm_fit`` with ``type = "AS_mean"`` (mean-bias reduction, which for the logit
link is Firth's method); the reported SEs are ``sqrt(diag(I^{-1}))`` at the estimate, as
``summary()`` of a brglm2 fit.

Wald intervals are poor near separation, so :meth:`FirthResults.confint` returns profile
penalised-likelihood intervals (as R's ``logistf``): the set of ``beta_j`` with
``2 {l*(beta_hat) - max_{beta_-j} l*(beta_j, beta_-j)} <= chi^2_1(level)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special, stats

from recurrence.errors import ConvergenceError, ModelInputError
from recurrence.models._design import build_design, check_binary, check_full_rank, check_weights
from recurrence.models.logistic import LogitResults


def _penalised(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, beta: np.ndarray, off: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Penalised log-likelihood, modified score, information and its Cholesky factor."""
    eta = X @ beta if off is None else X @ beta + off
    p = special.expit(eta)
    wt = w * p * (1 - p)
    info = X.T @ (X * wt[:, None])
    cf = linalg.cho_factor(info, check_finite=False)
    logdet = 2.0 * float(np.sum(np.log(np.abs(np.diag(cf[0])))))
    # log p and log(1-p) via log-expit keep the likelihood exact for large |eta|.
    ll = float(np.dot(w, y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)))
    # Hat diagonal h_i = wt_i x_i' I^{-1} x_i.
    sol = linalg.cho_solve(cf, X.T, check_finite=False)
    h = wt * np.einsum("ij,ji->i", X, sol)
    score = X.T @ (w * (y - p) + h * (0.5 - p))
    return ll + 0.5 * logdet, score, info, cf[0]


def _fit_firth(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    beta0: np.ndarray | None = None,
    free: np.ndarray | None = None,
    maxit: int = 200,
    tol: float = 1e-10,
) -> tuple[np.ndarray, float, np.ndarray, int, bool]:
    """Maximise ``l*`` over the coordinates in ``free`` (all when ``None``), others held fixed.

    Returns the estimate, ``l*`` there, the information, iterations and convergence flag.
    """
    p = X.shape[1]
    beta = np.zeros(p) if beta0 is None else beta0.copy()
    idx = np.arange(p) if free is None else np.flatnonzero(free)
    lstar, score, info, _ = _penalised(X, y, w, beta)
    converged = False
    it = 0
    for it in range(1, maxit + 1):  # noqa: B007 - `it` is reported after the loop
        sub = info[np.ix_(idx, idx)]
        step = np.zeros(p)
        step[idx] = linalg.solve(sub, score[idx], assume_a="pos", check_finite=False)
        # Cap the step as logistf does (maxstep 5) so early iterations cannot overshoot wildly.
        big = np.max(np.abs(step))
        if big > 5.0:
            step *= 5.0 / big
        # Converged when the full (un-halved) Fisher-scoring step is negligible: a size-free rule,
        # unlike a bound on the score, which grows with n.
        full_small = big < tol
        for _ in range(50):
            cand = beta + step
            try:
                l_new, s_new, i_new, _ = _penalised(X, y, w, cand)
            except linalg.LinAlgError:
                l_new = -np.inf
            if np.isfinite(l_new) and l_new >= lstar - 1e-12 * abs(lstar):
                break
            step /= 2
        else:
            break
        beta, lstar, score, info = cand, l_new, s_new, i_new
        if full_small:
            converged = True
            break
    return beta, lstar, info, it, converged


@dataclass(frozen=True, repr=False)
class FirthResults(LogitResults):
    """Results of :func:`firth_logit`; ``confint`` gives profile penalised-likelihood intervals."""

    _profile_cache: dict[float, pd.DataFrame] = field(
        default_factory=dict, repr=False, compare=False
    )

    def confint(self, level: float = 0.95, method: str = "profile") -> pd.DataFrame:
        """Confidence intervals on the log-odds scale.

        Parameters
        ----------
        level
            Coverage.
        method
            ``"profile"`` (default; penalised profile likelihood, as ``logistf``) or ``"wald"``.
        """
        if method == "wald":
            return super().confint(level)
        if method != "profile":
            raise ValueError(f"method must be 'profile' or 'wald'; got {method!r}")
        if level not in self._profile_cache:
            self._profile_cache[level] = _profile_ci(self, level)
        return self._profile_cache[level].copy()


def _profile_ci(res: FirthResults, level: float) -> pd.DataFrame:
    X, y = res.design, res.response
    if X is None or y is None:
        raise ModelInputError("these results hold no design; refit to profile")
    w = np.ones(len(y)) if res.weights is None else res.weights
    bhat = res.params.to_numpy()
    lmax = float(res.extra["penalised_loglik"])
    q = float(stats.chi2.ppf(level, 1))
    se = res.std_errors.to_numpy()
    p = len(bhat)
    lower = np.empty(p)
    upper = np.empty(p)
    for j in range(p):
        free = np.ones(p, dtype=bool)
        free[j] = False
        start = {"beta": bhat.copy()}

        def dev(bj: float, j: int = j, free: np.ndarray = free, start: dict = start) -> float:
            b0 = start["beta"].copy()
            b0[j] = bj
            b, lp, *_ = _fit_firth(X, y, w, beta0=b0, free=free)
            start["beta"] = b
            return 2.0 * (lmax - lp) - q

        for sign, out in ((-1.0, lower), (1.0, upper)):
            start["beta"] = bhat.copy()
            step = max(se[j], 1e-3)
            a = bhat[j]
            b = bhat[j] + sign * 2.0 * step
            fb = dev(b)
            k = 0
            while fb < 0 and k < 60:
                a = b
                step *= 2.0
                b = bhat[j] + sign * 2.0 * step
                fb = dev(b)
                k += 1
            if fb < 0:
                out[j] = sign * np.inf
                continue
            lo, hi = (a, b) if a < b else (b, a)
            out[j] = optimize.brentq(dev, lo, hi, xtol=1e-10, rtol=1e-12)
    return pd.DataFrame({"ci_lower": lower, "ci_upper": upper}, index=res.params.index)


def firth_logit_arrays(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str] | None = None,
    *,
    weights: np.ndarray | None = None,
    outcome: str = "y",
    covariates: Sequence[str] = (),
    check: bool = True,
    maxit: int = 200,
) -> FirthResults:
    """Firth logistic regression on a numeric design (the fast path behind :func:`firth_logit`).

    ``X`` must include the intercept column if one is wanted. See :func:`firth_logit`.
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    names = [f"x{j}" for j in range(p)] if names is None else [str(v) for v in names]
    if check:
        y = check_binary(y, outcome)
        if not np.all(np.isfinite(X)):
            raise ModelInputError("design has non-finite values")
        check_full_rank(X, names)
    y = np.asarray(y, dtype=float)
    w = np.ones(n) if weights is None else check_weights(weights, n)
    beta, lstar, info, it, converged = _fit_firth(X, y, w, maxit=maxit)
    if not converged:
        raise ConvergenceError(
            f"Firth fit did not converge in {it} iterations; raise maxit or rescale covariates"
        )
    cov = linalg.cho_solve(linalg.cho_factor(info), np.eye(p))
    eta = X @ beta
    mu = special.expit(eta)
    ll = float(np.dot(w, y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)))
    extra: dict[str, Any] = {"penalised_loglik": lstar, "method": "Firth (AS_mean)"}
    return FirthResults(
        model="firth-logit",
        params=pd.Series(beta, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        scale="log-odds",
        nobs=int(n),
        cov_type="model",
        loglik=ll,
        n_events=round(float(np.dot(w, y))),
        n_iter=it,
        converged=converged,
        extra=extra,
        covariates=tuple(covariates),
        outcome=outcome,
        link="logit",
        design=X,
        response=y,
        weights=None if weights is None else w,
        fitted=mu,
    )


def firth_logit(
    data: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str],
    weights: str | None = None,
    intercept: bool = True,
    maxit: int = 200,
) -> FirthResults:
    """Firth penalised logistic regression of a 0/1 ``outcome`` (estimates in log-odds).

    Matches ``brglm2::brglm_fit`` with ``type = "AS_mean"``. ``tidy()`` and ``confint()`` use
    profile penalised-likelihood intervals (computed on first use: one constrained fit per
    root-finding step), so fits used only for their estimates cost no more than the fit.

    Parameters
    ----------
    data
        Input frame; missing values raise rather than being dropped.
    outcome
        0/1 column.
    covariates
        Numeric, boolean or categorical columns (treatment dummies).
    weights
        Column of prior weights.
    intercept
        Include ``(Intercept)``.
    maxit
        Maximum Fisher-scoring iterations.
    """
    extra = [outcome] + ([weights] if weights else [])
    design = build_design(data, covariates, intercept=intercept, extra=extra)
    y = check_binary(data[outcome].to_numpy(), outcome)
    w = None if weights is None else data[weights].to_numpy(dtype=float)
    return firth_logit_arrays(
        design.X,
        y,
        design.names,
        weights=w,
        outcome=outcome,
        covariates=[covariates] if isinstance(covariates, str) else list(covariates),
        maxit=maxit,
    )
