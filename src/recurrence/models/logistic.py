"""Binomial regression (logistic, complementary log-log) with model-based and cluster-robust SEs.

The model is ``P(y_i = 1 | x_i) = g^{-1}(x_i' beta)`` with ``g`` the logit (estimates on the
**log-odds** scale; ``exp`` gives odds ratios) or the complementary log-log link (estimates on the
**log-hazard** scale of a grouped-time proportional-hazards model; used by
:mod:`recurrence.models.discrete`). It is fitted by iteratively reweighted least squares
(Fisher scoring, as R's ``glm.fit``), written directly in numpy so that one fit costs a few
matrix products: callers that refit thousands of times (bootstrap, simulation) pay no formula
parsing. Point estimates and model-based SEs match R's ``glm(family = binomial)``; see
``docs/models.md`` for the measured agreement.

Covariance options (``cov_type``)
---------------------------------
``"model"``
    Inverse Fisher information, as ``vcov(glm)``.
``"HC0"``
    Heteroskedasticity-robust sandwich ``B (sum_i u_i u_i') B`` with ``B`` the inverse
    information and ``u_i`` the score of row ``i``; equals ``sandwich::vcovHC(type = "HC0")``.
``"CR1"``
    Cluster-robust sandwich ``c B (sum_g U_g U_g') B`` with ``U_g`` the summed scores of cluster
    ``g`` and ``c = G/(G-1) * (n-1)/(n-p)``, exactly ``sandwich::vcovCL(type = "HC1")`` (the
    Stata ``regress`` convention; Stata's ``logit`` omits the ``(n-1)/(n-p)`` factor, a
    difference below 0.1 % for the data sizes here). Inference uses the normal distribution,
    as ``lmtest::coeftest`` does for a ``glm``.
``"CR2"``
    The bias-reduced linearisation of Bell and McCaffrey (2002) as generalised to GLMs by
    Pustejovsky and Tipton (2018) and implemented in ``clubSandwich::vcovCR(type = "CR2")``:
    each cluster's residuals are premultiplied by an adjustment matrix
    ``A_g = V_g' (V_g (Theta_g - X*_g B X*_g') V_g')^{-1/2} V_g`` (``Theta_g`` the working
    variance, ``V_g`` its Cholesky factor, ``X*`` the design scaled by ``dmu/deta``). With few
    clusters CR1 is biased downwards; CR2 is unbiased under the working model. For CR2 the
    Wald statistics are referred to ``t(G - 1)`` (Cameron and Miller 2015, section VI), the
    small-number-of-clusters correction; its cost grows with the cube of the largest cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import linalg, special

from recurrence.errors import ConvergenceError, ModelInputError
from recurrence.models._design import (
    build_design,
    check_binary,
    check_full_rank,
    check_weights,
    detect_separation,
    raise_separation,
)
from recurrence.models.base import ModelResults, check_literal

CovType = Literal["model", "HC0", "CR1", "CR2"]
COV_TYPES: tuple[str, ...] = get_args(CovType)
Link = Literal["logit", "cloglog"]
LINKS: tuple[str, ...] = get_args(Link)

_EPS = np.finfo(float).eps


# ---------------------------------------------------------------------------------------------
# Link functions (vectorised): inverse link, d mu / d eta.
# ---------------------------------------------------------------------------------------------
def _linkinv(eta: np.ndarray, link: str) -> np.ndarray:
    if link == "logit":
        return np.asarray(special.expit(eta))
    mu = -np.expm1(-np.exp(np.minimum(eta, 700.0)))
    return np.clip(mu, _EPS, 1 - _EPS)


def _mu_eta(eta: np.ndarray, link: str) -> np.ndarray:
    if link == "logit":
        p = special.expit(eta)
        return np.maximum(p * (1 - p), _EPS)
    e = np.minimum(eta, 700.0)
    return np.maximum(np.exp(e - np.exp(e)), _EPS)


def _link(mu: np.ndarray, link: str) -> np.ndarray:
    if link == "logit":
        return np.asarray(special.logit(mu))
    return np.log(-np.log1p(-mu))


def _binomial_deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    mu = np.clip(mu, 1e-300, 1 - 1e-16)
    ll = np.where(y > 0, np.log(mu), np.log1p(-mu))
    return float(-2.0 * np.dot(w, ll))


@dataclass(frozen=True)
class BinomialFit:
    """Raw output of :func:`fit_binomial` (arrays only; no names)."""

    beta: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    info: np.ndarray
    info_inv: np.ndarray
    deviance: float
    n_iter: int
    converged: bool


def fit_binomial(
    X: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    link: str = "logit",
    maxit: int = 50,
    tol: float = 1e-10,
) -> BinomialFit:
    """Fisher scoring (IRLS) for a binomial GLM on arrays, R's ``glm.fit`` algorithm.

    Starts from R's ``mustart = (w y + 0.5) / (w + 1)``, halves the step when the deviance rises
    and stops when the relative change in deviance is below ``tol`` (R's ``epsilon`` is 1e-8; the
    tighter default gives estimates that agree with R's to about 1e-9). No checks are made here;
    :func:`logit` validates the input first.

    Returns
    -------
    BinomialFit
        ``beta`` on the link scale, the Fisher information and its inverse at ``beta``.
    """
    n, p = X.shape
    w = np.ones(n) if weights is None else weights
    off = np.zeros(n) if offset is None else offset
    mu = (w * y + 0.5) / (w + 1.0)
    eta = _link(mu, link)
    dev_old = np.inf
    beta = np.zeros(p)
    converged = False
    it = 0
    for it in range(1, maxit + 1):  # noqa: B007 - `it` is reported after the loop
        d = _mu_eta(eta, link)
        var = np.maximum(mu * (1 - mu), _EPS)
        z = eta - off + (y - mu) / d
        wt = w * d * d / var
        Xw = X * wt[:, None]
        info = X.T @ Xw
        try:
            cf = linalg.cho_factor(info, check_finite=False)
            beta_new = linalg.cho_solve(cf, Xw.T @ z, check_finite=False)
        except linalg.LinAlgError:
            beta_new = np.linalg.lstsq(info, Xw.T @ z, rcond=None)[0]
        # Size of the full (un-halved) step, used by the stopping rule below.
        step = np.max(np.abs(beta_new - beta)) if np.isfinite(dev_old) else np.inf
        eta_new = X @ beta_new + off
        mu_new = _linkinv(eta_new, link)
        dev = _binomial_deviance(y, mu_new, w)
        # Step halving, as glm.fit: never accept a step that increases the deviance.
        halvings = 0
        while (not np.isfinite(dev) or dev > dev_old + 1e-12 * abs(dev_old)) and halvings < 30:
            beta_new = (beta + beta_new) / 2
            eta_new = X @ beta_new + off
            mu_new = _linkinv(eta_new, link)
            dev = _binomial_deviance(y, mu_new, w)
            halvings += 1
        beta, eta, mu = beta_new, eta_new, mu_new
        # Deviance criterion as glm.fit, plus a small step: for non-canonical links (cloglog)
        # Fisher scoring converges linearly and the deviance settles before the estimates.
        if (abs(dev - dev_old) / (abs(dev) + 0.1) < tol and step < 1e-8) or step < 1e-12:
            converged = True
            break
        dev_old = dev
    d = _mu_eta(eta, link)
    var = np.maximum(mu * (1 - mu), _EPS)
    wt = w * d * d / var
    info = X.T @ (X * wt[:, None])
    try:
        info_inv = linalg.cho_solve(linalg.cho_factor(info, check_finite=False), np.eye(p))
    except linalg.LinAlgError:
        info_inv = np.linalg.pinv(info)
    return BinomialFit(
        beta=beta,
        eta=eta,
        mu=mu,
        info=info,
        info_inv=info_inv,
        deviance=_binomial_deviance(y, mu, w),
        n_iter=it,
        converged=converged,
    )


def scores(
    X: np.ndarray, y: np.ndarray, fit: BinomialFit, weights: np.ndarray | None, link: str
) -> np.ndarray:
    """Per-row score contributions ``u_i = w_i (y_i - mu_i) (dmu/deta)_i / V(mu_i) x_i``."""
    w = np.ones(len(y)) if weights is None else weights
    d = _mu_eta(fit.eta, link)
    var = np.maximum(fit.mu * (1 - fit.mu), _EPS)
    return X * (w * (y - fit.mu) * d / var)[:, None]


def _cluster_codes(cluster: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(cluster), sort=True)
    return codes, len(uniques)


def _sym_inv_sqrt(a: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((a + a.T) / 2)
    # clubSandwich's matrix_power uses the eigendecomposition; tiny negative values are noise.
    vals = np.where(vals > 1e-12 * max(vals.max(), 1e-300), vals, np.inf)
    return (vecs / np.sqrt(vals)) @ vecs.T


def robust_cov(
    X: np.ndarray,
    y: np.ndarray,
    fit: BinomialFit,
    *,
    cov_type: str,
    cluster: np.ndarray | None,
    weights: np.ndarray | None,
    link: str,
) -> tuple[np.ndarray, int | None]:
    """Sandwich covariance of a binomial fit (see the module docstring for the definitions).

    Returns the covariance matrix and the number of clusters (``None`` for HC0).
    """
    if weights is not None and (weights == 0).any():
        # A zero-weight row is not an observation (R's nobs() of a glm leaves it out): it adds
        # no score, and counting it would inflate CR1's (n - 1) / (n - p) and G / (G - 1); for
        # CR2 its working variance v / w is infinite. Equal to the fit without those rows.
        keep = weights > 0
        X, y, weights = X[keep], y[keep], weights[keep]
        cluster = None if cluster is None else np.asarray(cluster)[keep]
        fit = replace(fit, eta=fit.eta[keep], mu=fit.mu[keep])
    n, p = X.shape
    B = fit.info_inv
    if cov_type == "HC0":
        u = scores(X, y, fit, weights, link)
        return B @ (u.T @ u) @ B, None
    if cluster is None:
        raise ModelInputError(f"cov_type={cov_type!r} needs a cluster column")
    codes, G = _cluster_codes(cluster)
    if G < 2:
        raise ModelInputError("cluster-robust SEs need at least 2 clusters; found 1")
    if cov_type == "CR1":
        u = scores(X, y, fit, weights, link)
        U = np.zeros((G, p))
        np.add.at(U, codes, u)
        c = G / (G - 1) * (n - 1) / (n - p)
        return c * (B @ (U.T @ U) @ B), G
    # CR2 (clubSandwich's construction, written out for a diagonal working variance).
    w = np.ones(n) if weights is None else weights
    d = _mu_eta(fit.eta, link)
    v = np.maximum(fit.mu * (1 - fit.mu), _EPS)
    Xs = X * d[:, None]  # X* = (dmu/deta) X
    theta = v / w  # working variance (target)
    s = np.sqrt(theta)  # its Cholesky factor (diagonal)
    r = y - fit.mu
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    comps = np.zeros((G, p))
    for g, idx in enumerate(np.split(order, bounds)):
        xg = Xs[idx]
        sg = s[idx]
        core = np.diag(theta[idx]) - xg @ B @ xg.T
        Gm = sg[:, None] * core * sg[None, :]
        A = sg[:, None] * _sym_inv_sqrt(Gm) * sg[None, :]
        # est matrix X*' W with W = 1/theta; component = X*' W A r.
        comps[g] = (xg / theta[idx][:, None]).T @ (A @ r[idx])
    return B @ (comps.T @ comps) @ B, G


@dataclass(frozen=True, repr=False)
class LogitResults(ModelResults):
    """Results of :func:`logit` (log-odds scale); adds prediction and the fitted design.

    ``fitted`` holds the fitted probabilities of the rows used; ``design`` the design matrix, so
    that :mod:`recurrence.models.margins` can derive marginal effects without refitting.
    """

    covariates: tuple[str, ...] = ()
    outcome: str = ""
    link: str = "logit"
    design: np.ndarray | None = field(default=None, repr=False, compare=False)
    response: np.ndarray | None = field(default=None, repr=False, compare=False)
    weights: np.ndarray | None = field(default=None, repr=False, compare=False)
    fitted: np.ndarray | None = field(default=None, repr=False, compare=False)
    offset: np.ndarray | None = field(default=None, repr=False, compare=False)
    offset_column: str | None = None

    def design_for(self, data: pd.DataFrame) -> np.ndarray:
        """Design matrix of new ``data`` with the columns of the fit (absent dummies are 0)."""
        d = build_design(data, list(self.covariates), intercept="(Intercept)" in self.params.index)
        frame = pd.DataFrame(d.X, columns=d.names)
        return frame.reindex(columns=list(self.params.index), fill_value=0.0).to_numpy(float)

    def predict(
        self, data: pd.DataFrame | None = None, kind: Literal["response", "link"] = "response"
    ) -> np.ndarray:
        """Predicted probabilities (``kind="response"``) or linear predictors (``"link"``).

        With ``data=None`` the fitted values of the rows used in the fit. A fit with an offset
        adds it: its own for ``data=None``, the ``offset_column`` of new ``data`` otherwise.
        """
        check_literal("kind", kind, ("response", "link"))
        X = self.design if data is None else self.design_for(data)
        if X is None:
            raise ModelInputError("these results hold no design; pass data")
        eta = X @ self.params.to_numpy()
        if data is None and self.offset is not None:
            eta = eta + self.offset
        elif data is not None and self.offset is not None:
            if self.offset_column is None:
                raise ModelInputError(
                    "this fit has an offset but no offset column: predict on new data needs one"
                )
            eta = eta + data[self.offset_column].to_numpy(dtype=float)
        return eta if kind == "link" else _linkinv(eta, self.link)


def logit_arrays(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str] | None = None,
    *,
    cluster: np.ndarray | None = None,
    cov_type: CovType = "model",
    weights: np.ndarray | None = None,
    link: Link = "logit",
    offset: np.ndarray | None = None,
    check: bool = True,
    outcome: str = "y",
    covariates: Sequence[str] = (),
    maxit: int = 50,
) -> LogitResults:
    """Fit a binomial GLM on a numeric design (the fast path behind :func:`logit`).

    Parameters
    ----------
    X
        ``n x p`` design matrix; include a column of ones for the intercept.
    y
        0/1 outcome.
    names
        Term names (default ``x0, x1, ...``).
    cluster, cov_type, weights
        As :func:`logit`; ``weights`` are prior (frequency) weights, as R's ``glm(weights=)``.
    link
        ``"logit"`` (log-odds) or ``"cloglog"`` (log-hazard of grouped time).
    offset
        Known component of the linear predictor.
    check
        Validate 0/1 outcome, finiteness and rank (skip only for inputs already checked).
    maxit
        Maximum IRLS iterations.

    Raises
    ------
    SeparationError
        When the ML estimate does not exist, naming the diverging terms.
    ModelInputError
        For a non-0/1 outcome, non-finite values or a singular design (naming collinear terms).
    ConvergenceError
        When IRLS fails to converge without separation.
    """
    check_literal("cov_type", cov_type, COV_TYPES)
    check_literal("link", link, LINKS)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ModelInputError("X must be a 2-d design matrix")
    n, p = X.shape
    names = [f"x{j}" for j in range(p)] if names is None else [str(v) for v in names]
    if len(names) != p:
        raise ModelInputError(f"{len(names)} names for {p} design columns")
    if check:
        y = check_binary(y, outcome)
        if not np.all(np.isfinite(X)):
            bad = ~np.isfinite(X).all(axis=1)
            raise ModelInputError(
                f"{int(bad.sum())} row(s) have non-finite covariate values; first rows: "
                f"{', '.join(map(str, np.flatnonzero(bad)[:5]))}"
            )
        if weights is not None:
            weights = check_weights(weights, n)
        check_full_rank(X, names)
        if cluster is not None and pd.isna(pd.Series(cluster)).any():
            raise ModelInputError("cluster column has missing values")
    else:
        y = np.asarray(y, dtype=float)
    if cluster is not None and cov_type == "model":
        cov_type = "CR1"
    if cov_type in ("CR1", "CR2") and cluster is None:
        raise ModelInputError(f"cov_type={cov_type!r} needs a cluster column")
    w_pos = np.ones(n, dtype=bool) if weights is None else weights > 0
    ybar = float(y[w_pos].mean()) if w_pos.any() else np.nan
    if ybar in (0.0, 1.0):
        raise_separation(["(Intercept)"], outcome)

    fit = fit_binomial(X, y, weights=weights, offset=offset, link=link, maxit=maxit)
    # Separation shows as fitted probabilities running to 0 or 1 (or no convergence); the LP
    # then decides, so ordinary fits never pay for it.
    extreme = bool(np.any(np.abs(fit.eta - (0 if offset is None else offset)) > 17.0)) and (
        link == "logit"
    )
    if not fit.converged or extreme:
        sep = detect_separation(X[w_pos], y[w_pos], names)
        if sep:
            raise_separation(sep, outcome)
        if not fit.converged:
            raise ConvergenceError(
                f"IRLS did not converge in {fit.n_iter} iterations (no separation found); "
                "raise maxit, rescale covariates or check for near-collinear terms"
            )
    n_clusters: int | None = None
    if cov_type == "model":
        cov = fit.info_inv
    else:
        cov, n_clusters = robust_cov(
            X, y, fit, cov_type=cov_type, cluster=cluster, weights=weights, link=link
        )
    df_resid = float(n_clusters - 1) if (cov_type == "CR2" and n_clusters) else None
    w = np.ones(n) if weights is None else weights
    return LogitResults(
        model="logit" if link == "logit" else "cloglog",
        params=pd.Series(fit.beta, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        scale="log-odds" if link == "logit" else "log-hazard",
        nobs=int(n),
        cov_type=cov_type,
        df_resid=df_resid,
        loglik=-fit.deviance / 2,
        n_events=round(float(np.dot(w, y))),
        n_clusters=n_clusters,
        n_iter=fit.n_iter,
        converged=fit.converged,
        extra={"deviance": fit.deviance, "link": link},
        covariates=tuple(covariates),
        outcome=outcome,
        link=link,
        design=X,
        response=y,
        weights=weights,
        fitted=fit.mu,
        offset=offset,
    )


def logit(
    data: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str],
    cluster: str | None = None,
    cov_type: CovType = "model",
    weights: str | None = None,
    intercept: bool = True,
    link: Link = "logit",
    offset: str | None = None,
) -> LogitResults:
    """Logistic regression of a 0/1 ``outcome`` on ``covariates`` (estimates in log-odds).

    Matches R's ``glm(outcome ~ covariates, family = binomial, weights = weights)``; with
    ``cluster`` the SEs are cluster-robust (CR1 unless ``cov_type="CR2"``), matching
    ``sandwich::vcovCL(type = "HC1")`` or ``clubSandwich::vcovCR(type = "CR2")``.

    Parameters
    ----------
    data
        One row per unit (child, referral, person-period...). Not modified; rows are never
        dropped: missing values raise.
    outcome
        0/1 (or boolean) column.
    covariates
        Numeric or boolean columns, or text/categorical columns expanded to treatment dummies.
    cluster
        Column identifying clusters (LA code, family id). Given without ``cov_type``, CR1 is used.
    cov_type
        ``"model"``, ``"HC0"``, ``"CR1"`` or ``"CR2"`` (module docstring).
    weights
        Column of prior (frequency) weights.
    intercept
        Include ``(Intercept)``.
    link
        ``"logit"`` or ``"cloglog"``.
    offset
        Column with a known offset on the link scale.

    Returns
    -------
    LogitResults
        ``tidy()`` gives log-odds with odds ratios in the ``exp_`` columns.
    """
    extra = [outcome] + [c for c in (weights, offset) if c is not None]
    if cluster is not None:
        extra.append(cluster)
    design = build_design(data, covariates, intercept=intercept, extra=extra)
    y = check_binary(data[outcome].to_numpy(), outcome)
    w = None if weights is None else data[weights].to_numpy(dtype=float)
    off = None if offset is None else data[offset].to_numpy(dtype=float)
    cl = None if cluster is None else data[cluster].to_numpy()
    res = logit_arrays(
        design.X,
        y,
        design.names,
        cluster=cl,
        cov_type=cov_type,
        weights=w,
        link=link,
        offset=off,
        outcome=outcome,
        covariates=list(covariates) if not isinstance(covariates, str) else [covariates],
    )
    return res if offset is None else replace(res, offset_column=offset)
