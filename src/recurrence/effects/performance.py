"""Performance measures of a simulation study, each with its Monte Carlo standard error.

Formulas of Morris, White & Crowther (2019), "Using simulation studies to evaluate statistical
methods", Statistics in Medicine 38:2074-2102, Table 6. With ``n`` usable replicates,
estimates ``t_i``, their mean ``tbar``, model standard errors ``s_i`` and true value ``theta``:

============================  =====================================  ==========================================
measure                       estimate                               Monte Carlo SE
============================  =====================================  ==========================================
bias                          ``tbar - theta``                       ``sqrt(sum (t_i - tbar)^2 / (n (n-1)))``
empirical SE                  ``sqrt(sum (t_i - tbar)^2 / (n-1))``   ``EmpSE / sqrt(2 (n-1))``
mean squared error            ``sum (t_i - theta)^2 / n``            ``sqrt(sum ((t_i-theta)^2 - MSE)^2 / (n (n-1)))``
model SE                      ``sqrt(sum s_i^2 / n)``                ``sqrt(var(s_i^2) / (4 n ModSE^2))``
relative error in model SE    ``100 (ModSE / EmpSE - 1)`` (%)        ``100 (ModSE/EmpSE) sqrt(var(s_i^2) / (4 n ModSE^4) + 1 / (2 (n-1)))``
coverage                      ``mean(lo_i <= theta <= hi_i)``        ``sqrt(Cover (1 - Cover) / n)``
bias-eliminated coverage      ``mean(lo_i <= tbar <= hi_i)``         as coverage
power (rejection rate)        ``mean(p_i <= alpha)``                 ``sqrt(Power (1 - Power) / n)``
============================  =====================================  ==========================================

``var(s_i^2)`` is the sample variance (denominator ``n - 1``) of the squared model SEs. The
non-convergence rate is the share of all replicates whose fit failed (no finite estimate, or no
finite SE when SEs are given); the other measures use the replicates that converged (``n``
above), as Morris et al. recommend reporting both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

MEASURES: tuple[str, ...] = (
    "n_reps",
    "n_used",
    "mean_estimate",
    "bias",
    "bias_mcse",
    "emp_se",
    "emp_se_mcse",
    "mse",
    "mse_mcse",
    "model_se",
    "model_se_mcse",
    "rel_error_model_se",
    "rel_error_model_se_mcse",
    "coverage",
    "coverage_mcse",
    "be_coverage",
    "be_coverage_mcse",
    "power",
    "power_mcse",
    "nonconvergence_rate",
)


@dataclass(frozen=True)
class Performance:
    """Performance of one method for one estimand under one data-generating mechanism.

    Estimates are on the scale of the inputs (e.g. log-odds, or odds ratios after
    :func:`to_ratio_scale`); ``rel_error_model_se`` and its MCSE are in per cent.
    """

    n_reps: int
    n_used: int
    mean_estimate: float
    bias: float
    bias_mcse: float
    emp_se: float
    emp_se_mcse: float
    mse: float
    mse_mcse: float
    model_se: float
    model_se_mcse: float
    rel_error_model_se: float
    rel_error_model_se_mcse: float
    coverage: float
    coverage_mcse: float
    be_coverage: float
    be_coverage_mcse: float
    power: float
    power_mcse: float
    nonconvergence_rate: float

    def as_dict(self) -> dict[str, float]:
        """The measures as a plain mapping (column order :data:`MEASURES`)."""
        return asdict(self)


def _proportion(x: np.ndarray) -> tuple[float, float]:
    n = x.size
    if n == 0:
        return math.nan, math.nan
    p = float(np.mean(x))
    return p, math.sqrt(p * (1.0 - p) / n)


def performance(
    estimate: np.ndarray,
    theta: float,
    *,
    se: np.ndarray | None = None,
    ci_lower: np.ndarray | None = None,
    ci_upper: np.ndarray | None = None,
    p_value: np.ndarray | None = None,
    converged: np.ndarray | None = None,
    alpha: float = 0.05,
) -> Performance:
    """Performance measures and Monte Carlo SEs (Morris et al. 2019, Table 6).

    Parameters
    ----------
    estimate
        One estimate per replicate (any scale; ``theta`` on the same scale).
    theta
        The true value of the estimand.
    se
        Model-based standard errors (same scale as ``estimate``).
    ci_lower, ci_upper
        Confidence limits; when absent but ``se`` is given, Wald limits ``estimate -/+ z se``.
    p_value
        Two-sided p-values for the null of no effect; when absent but ``se`` is given, Wald
        p-values of ``estimate / se`` (only meaningful on a scale where the null is 0).
    converged
        Boolean per replicate; replicates with ``False`` (or a non-finite estimate, or a
        non-finite SE when ``se`` is given) count as non-converged and are left out of the
        other measures. A fit that returns an estimate without a usable SE is treated as a
        failed fit, so that every measure uses the same replicates.
    alpha
        Level for power (rejection rate) and for the default Wald intervals.
    """
    est = np.asarray(estimate, dtype=float)
    n_reps = est.size
    ok = np.isfinite(est)
    if converged is not None:
        ok &= np.asarray(converged, dtype=bool)
    if se is not None:
        se_all = np.asarray(se, dtype=float)
        ok &= np.isfinite(se_all)
    t = est[ok]
    n = t.size
    nan = math.nan
    nonconv = 1.0 - n / n_reps if n_reps else nan
    if n == 0:
        fields = dict.fromkeys(MEASURES, nan)
        fields.update(n_reps=n_reps, n_used=0, nonconvergence_rate=nonconv)
        return Performance(**fields)  # type: ignore[arg-type]
    tbar = float(np.mean(t))
    dev = t - tbar
    ss = float(np.sum(dev**2))
    bias = tbar - theta
    if n > 1:
        bias_mcse = math.sqrt(ss / (n * (n - 1)))
        emp_se = math.sqrt(ss / (n - 1))
        emp_se_mcse = emp_se / math.sqrt(2 * (n - 1))
    else:
        bias_mcse = emp_se = emp_se_mcse = nan
    sq = (t - theta) ** 2
    mse = float(np.mean(sq))
    mse_mcse = math.sqrt(float(np.sum((sq - mse) ** 2)) / (n * (n - 1))) if n > 1 else nan

    # scipy.stats imported here, not at module level: simulation workers import this module
    # (through the engine) but never call it, and scipy.stats takes seconds to import.
    from scipy import stats

    model_se = model_se_mcse = rel = rel_mcse = nan
    z = float(stats.norm.ppf(1 - alpha / 2))
    lo = hi = None
    if se is not None:
        s = se_all[ok]
        s2 = s**2
        model_se = math.sqrt(float(np.mean(s2)))
        if n > 1:
            var_s2 = float(np.var(s2, ddof=1))
            model_se_mcse = math.sqrt(var_s2 / (4 * n * model_se**2)) if model_se > 0 else nan
            if emp_se > 0:
                ratio = model_se / emp_se
                rel = 100.0 * (ratio - 1.0)
                rel_mcse = (
                    100.0 * ratio * math.sqrt(var_s2 / (4 * n * model_se**4) + 1.0 / (2 * (n - 1)))
                )
        lo, hi = t - z * s, t + z * s
    if ci_lower is not None and ci_upper is not None:
        lo = np.asarray(ci_lower, dtype=float)[ok]
        hi = np.asarray(ci_upper, dtype=float)[ok]
    coverage = coverage_mcse = be_cov = be_cov_mcse = nan
    if lo is not None and hi is not None:
        coverage, coverage_mcse = _proportion((lo <= theta) & (theta <= hi))
        be_cov, be_cov_mcse = _proportion((lo <= tbar) & (tbar <= hi))
    power = power_mcse = nan
    if p_value is not None:
        p = np.asarray(p_value, dtype=float)[ok]
        power, power_mcse = _proportion(p <= alpha)
    elif se is not None:
        s = se_all[ok]
        p = 2 * stats.norm.sf(np.abs(t / s))
        power, power_mcse = _proportion(p <= alpha)
    return Performance(
        n_reps=n_reps,
        n_used=n,
        mean_estimate=tbar,
        bias=bias,
        bias_mcse=bias_mcse,
        emp_se=emp_se,
        emp_se_mcse=emp_se_mcse,
        mse=mse,
        mse_mcse=mse_mcse,
        model_se=model_se,
        model_se_mcse=model_se_mcse,
        rel_error_model_se=rel,
        rel_error_model_se_mcse=rel_mcse,
        coverage=coverage,
        coverage_mcse=coverage_mcse,
        be_coverage=be_cov,
        be_coverage_mcse=be_cov_mcse,
        power=power,
        power_mcse=power_mcse,
        nonconvergence_rate=nonconv,
    )


def to_ratio_scale(
    estimate: np.ndarray, se: np.ndarray, ci_lower: np.ndarray, ci_upper: np.ndarray
) -> Mapping[str, np.ndarray]:
    """Move log-scale results (log-odds, log-hazard) to the ratio scale (OR, HR).

    The estimate and limits are exponentiated (so coverage is unchanged); the model SE of the
    ratio is the delta-method ``exp(b) * se(b)``. Performance on the ratio scale then measures
    what a reader of "N times more likely" sees, including the upward bias of ``exp(b)``
    (Jensen's inequality, about ``theta * se^2 / 2``).
    """
    b = np.asarray(estimate, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.exp(b)
        return {
            "estimate": r,
            "se": r * np.asarray(se, dtype=float),
            "ci_lower": np.exp(np.asarray(ci_lower, dtype=float)),
            "ci_upper": np.exp(np.asarray(ci_upper, dtype=float)),
        }
