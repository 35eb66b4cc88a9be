"""Generalised estimating equations (GEE) for a binary outcome clustered by LA or family.

GEE (Liang and Zeger 1986, *Biometrika* 73:13-22) estimates the **population-averaged
log-odds** ``logit P(y_gi = 1) = x_gi' beta`` -- the average over clusters, smaller in magnitude
than the cluster-specific coefficients of :mod:`recurrence.models.glmm` -- with a working
correlation inside clusters and the robust (sandwich) covariance, which stays valid when the
working correlation is wrong. The fitting engine is ``statsmodels``' ``GEE``.

Two working correlations: ``"independence"`` (estimates equal the ordinary logistic fit; the
robust SE is the CR0 cluster sandwich) and ``"exchangeable"`` (one common within-cluster
correlation ``alpha``). For a binomial outcome the dispersion is 1 by definition, so the
exchangeable ``alpha`` is the moment estimate ``sum_g sum_{j<k} r_gj r_gk / n_pairs`` of Pearson
residuals ``r`` with the scale held at 1: the solution of geepack's estimating equation for the
correlation with identity weights (Yan and Fine 2004, *Statistics in Medicine* 23:859-874;
Halekoh, Hojsgaard and Yan 2006, *Journal of Statistical Software* 15(2)). statsmodels' own
``Exchangeable`` divides by an estimated Pearson dispersion and by ``n_pairs - p``;
``_FixedScaleExchangeable`` does neither.

Agreement with R (``tests/r/glm_gee.R``): estimates, robust SEs and ``alpha`` equal
``geepack:::geese.fit(..., scale.fix = TRUE, gm = 1)`` to 4e-15 relative (measured). The usual call
``geeglm(..., scale.fix = TRUE)`` differs by about 1e-5 in the exchangeable estimates:
``geese.fit`` ignores the ``scale.value`` that geeglm hands it and fixes the scale at the
initial glm fit's mean squared Pearson residual (0.99927 on the reference data) instead of 1,
dividing ``alpha`` by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.genmod.cov_struct import Exchangeable, Independence

from recurrence.errors import ConvergenceError, ModelInputError
from recurrence.models._design import build_design, check_binary, check_full_rank
from recurrence.models.base import ModelResults, check_literal
from recurrence.models.logistic import logit_arrays

CorStruct = Literal["exchangeable", "independence"]
COR_STRUCTS: tuple[str, ...] = get_args(CorStruct)
GeeCov = Literal["robust", "naive", "bias_reduced"]
GEE_COVS: tuple[str, ...] = get_args(GeeCov)


class _FixedScaleExchangeable(Exchangeable):
    """Exchangeable working correlation with the binomial dispersion fixed at 1."""

    def update(self, params: Any) -> None:
        model = self.model
        num, pairs = 0.0, 0.0
        for i in range(model.num_group):
            mu, _ = model.cached_means[i]
            r = (model.endog_li[i] - mu) / np.sqrt(model.family.variance(mu))
            num += (r.sum() ** 2 - (r * r).sum()) / 2.0
            pairs += len(r) * (len(r) - 1) / 2.0
        # Singletons only: no pair carries information on alpha, so the working correlation
        # is independence (geepack skips clusters of size 1 in the same way).
        self.dep_params = num / pairs if pairs > 0 else 0.0


def gee_logit(
    data: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str],
    group: str,
    cor_struct: CorStruct = "exchangeable",
    cov_type: GeeCov = "robust",
    maxiter: int = 100,
) -> ModelResults:
    """Logistic GEE with clusters ``group`` (population-averaged log-odds).

    Parameters
    ----------
    data
        One row per unit; missing values raise. Row order does not matter (rows are grouped).
    outcome
        0/1 column.
    covariates
        Covariate columns (numeric, boolean or categorical).
    group
        Cluster column (LA code, family id).
    cor_struct
        Working correlation: ``"exchangeable"`` or ``"independence"``.
    cov_type
        ``"robust"`` sandwich (default), ``"naive"`` (model-based) or ``"bias_reduced"``
        (Mancl and DeRouen 2001, for few clusters).
    maxiter
        Maximum GEE iterations.

    Returns
    -------
    ModelResults
        ``extra["alpha"]`` is the exchangeable working correlation (0 for independence).
    """
    check_literal("cor_struct", cor_struct, COR_STRUCTS)
    check_literal("cov_type", cov_type, GEE_COVS)
    design = build_design(data, covariates, extra=[outcome, group])
    y = check_binary(data[outcome].to_numpy(), outcome)
    check_full_rank(design.X, design.names)
    # Separation makes GEE diverge as it does ML: check it with the logistic fit's detector.
    logit_arrays(design.X, y, design.names, outcome=outcome, check=False)
    codes, groups = pd.factorize(data[group], sort=True)
    if len(groups) < 2:
        raise ModelInputError(f"group column {group} has {len(groups)} level; GEE needs >= 2")
    order = np.argsort(codes, kind="stable")
    cs = _FixedScaleExchangeable() if cor_struct == "exchangeable" else Independence()
    model = sm.GEE(
        y[order], design.X[order], groups=codes[order], family=sm.families.Binomial(),
        cov_struct=cs,
    )
    fit = model.fit(maxiter=maxiter, ctol=1e-10, cov_type=cov_type)
    if not fit.converged:
        raise ConvergenceError(
            f"GEE did not converge in {maxiter} iterations; try cor_struct='independence'"
        )
    names = design.names
    cov = np.asarray(fit.cov_params())
    alpha = float(np.atleast_1d(cs.dep_params)[0]) if cor_struct == "exchangeable" else 0.0
    return ModelResults(
        model=f"gee-logit ({cor_struct})",
        params=pd.Series(np.asarray(fit.params), index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        scale="log-odds",
        nobs=len(y),
        cov_type=cov_type,
        n_events=int(y.sum()),
        n_clusters=len(groups),
        converged=True,
        extra={"alpha": alpha, "cor_struct": cor_struct, "group": group},
    )
