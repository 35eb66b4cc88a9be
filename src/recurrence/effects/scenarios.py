"""Design-matched simulation scenarios for the effect claims of the registry.

Each effect claim is placed as the truth in a data-generating mechanism that copies the study's
design as far as the review and the study's abstract describe it -- sample size, sampling
(case-control or cohort), baseline rate, follow-up window, covariate distribution -- and is
re-estimated with the study's own model family:

``fuller2001_case_control``
    Fuller, Wells & Cotton (2001): case-control (cases = indicated recurrence within 60 days of
    the safety assessment, controls without; sampled separately), logistic regression. Only
    odds ratios are recoverable: the intercept reflects the sampling fractions, not the risk.
    Claims: 1.3 per added parental problem, 2 without services in 60 days, 4 without a
    detailed assessment.
``fullerwells2003_cohort``
    Fuller & Wells (2003): 95 indicated investigations with caretaker substance use, about a
    quarter re-reported within 60 days, logistic regression of the fixed-window re-report.
    Claims: 13 (substance misuse likely to seriously affect care), 770 (caretaker at high risk
    of criminal activity).
``connell2007_cohort``
    Connell et al (2007): cohort of closed CPS investigations, Cox model of time to
    re-referral. Claims: 1.5 substance abuse, 3.3 financial problems, disability 1.3-1.5.
``depanfilis2002_cohort``
    DePanfilis & Zuravin (2002): 434 families followed up to 5 years, Cox model of time to
    substantiated recurrence. Claims: 1.5 domestic violence, 1.2 family stress, low social
    support 1.4-2.4, service attendance -32% (HR 0.68).
``gershater2002_two_arm``
    Gershater-Molko et al (2002): 41 + 41 families, no further report within 36 months in 85%
    vs 54%; difference of two proportions.

What the review does not give (sample sizes of Fuller et al 2001 and Connell et al 2007,
covariate prevalences, the other covariates' effects, censoring) is set by the documented
assumptions in :data:`SCENARIOS`; ``docs/effects.md`` lists them. Every scenario's model is the
package's own: :func:`recurrence.models.logistic.logit_arrays` and
:func:`recurrence.models.cox.coxph`.

Covariates are discrete (binary or binomial counts), so a design's joint distribution is a
finite set of cells. Case-control samples are then drawn exactly: cases from the cells with
probability proportional to ``P(x) P(Y=1 | x)``, controls proportional to ``P(x) P(Y=0 | x)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from recurrence.effects.ademp import DGM, Estimate, Method, Study, with_batch

if TYPE_CHECKING:
    import pandas as pd

    from recurrence.effects.registry import Claim

# pandas, scipy.stats, scipy.optimize and the registry (which imports pandas) are imported in
# the functions that need them: simulation workers import this module for its generators and
# fitters, and each of those imports costs a starting worker seconds.

# -- covariate distributions -------------------------------------------------------------------
CovariateSpec = Mapping[str, Sequence[Any]]
"""``{name: ["bernoulli", p]}`` or ``{name: ["binomial", size, p]}`` (independent covariates)."""


def covariate_cells(spec: CovariateSpec) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, the ``cells x covariates`` support and the cell probabilities of ``spec``."""
    # scipy.stats and scipy.optimize are imported where used: a simulation worker that only
    # generates and fits normal or two-arm designs then never pays seconds to import them.
    from scipy import stats

    names = list(spec)
    supports, probs = [], []
    for name in names:
        kind, *args = spec[name]
        if kind == "bernoulli":
            p = float(args[0])
            supports.append(np.array([0.0, 1.0]))
            probs.append(np.array([1 - p, p]))
        elif kind == "binomial":
            size, p = int(args[0]), float(args[1])
            k = np.arange(size + 1)
            supports.append(k.astype(float))
            probs.append(stats.binom.pmf(k, size, p))
        else:
            raise ValueError(f"covariate {name}: unknown distribution {kind!r}")
    cells = np.array(list(product(*supports)), dtype=float)
    prob = np.array([math.prod(c) for c in product(*probs)], dtype=float)
    return names, cells, prob / prob.sum()


def _linear(cells: np.ndarray, names: Sequence[str], betas: Mapping[str, float]) -> np.ndarray:
    return cells @ np.array([float(betas.get(n, 0.0)) for n in names])


def calibrate_intercept(spec: CovariateSpec, betas: Mapping[str, float], target: float) -> float:
    """Logistic intercept giving population risk ``target`` under ``spec`` and ``betas``."""
    from scipy import optimize

    names, cells, prob = covariate_cells(spec)
    lp = _linear(cells, names, betas)

    def gap(a: float) -> float:
        return float(prob @ special.expit(a + lp)) - target

    return float(optimize.brentq(gap, -40.0, 40.0, xtol=1e-12))


def calibrate_rate(
    spec: CovariateSpec, betas: Mapping[str, float], target: float, window: float
) -> float:
    """Exponential baseline rate giving population cumulative risk ``target`` by ``window``."""
    from scipy import optimize

    names, cells, prob = covariate_cells(spec)
    rel = np.exp(_linear(cells, names, betas))

    def gap(log_rate: float) -> float:
        return float(prob @ -np.expm1(-math.exp(log_rate) * rel * window)) - target

    return math.exp(optimize.brentq(gap, -30.0, 10.0, xtol=1e-12))


# -- data-generating functions (rng first; all parameters keyword) ---------------------------
def case_control_logistic(
    rng: np.random.Generator,
    *,
    n_cases: int,
    n_controls: int,
    intercept: float,
    betas: Mapping[str, float],
    covariates: CovariateSpec,
) -> dict[str, Any]:
    """A case-control sample from a logistic population model (exact cell sampling).

    Returns ``{"model": "logit", "X", "y", "names"}``; ``X`` has the intercept column first.
    """
    names, cells, prob = covariate_cells(covariates)
    risk = special.expit(intercept + _linear(cells, names, betas))
    p_case = prob * risk / float(prob @ risk)
    p_ctrl = prob * (1 - risk) / float(prob @ (1 - risk))
    idx = np.concatenate(
        [rng.choice(len(cells), n_cases, p=p_case), rng.choice(len(cells), n_controls, p=p_ctrl)]
    )
    X = np.column_stack([np.ones(idx.size), cells[idx]])
    y = np.concatenate([np.ones(n_cases), np.zeros(n_controls)])
    return {"model": "logit", "X": X, "y": y, "names": ["(Intercept)", *names]}


def cohort_logistic(
    rng: np.random.Generator,
    *,
    n: int,
    intercept: float,
    betas: Mapping[str, float],
    covariates: CovariateSpec,
) -> dict[str, Any]:
    """A cohort with a fixed-window binary outcome from a logistic model."""
    names, cells, prob = covariate_cells(covariates)
    idx = rng.choice(len(cells), n, p=prob)
    x = cells[idx]
    y = (rng.random(n) < special.expit(intercept + _linear(x, names, betas))).astype(float)
    X = np.column_stack([np.ones(n), x])
    return {"model": "logit", "X": X, "y": y, "names": ["(Intercept)", *names]}


def cohort_exponential_ph(
    rng: np.random.Generator,
    *,
    n: int,
    rate: float,
    betas: Mapping[str, float],
    covariates: CovariateSpec,
    min_follow_up: float,
    max_follow_up: float,
) -> dict[str, Any]:
    """A cohort with exponential event times (proportional hazards) and censoring.

    Each subject's follow-up ends at a time uniform on ``[min_follow_up, max_follow_up]``
    (staggered entry with administrative end of data); ``rate`` is the baseline hazard per unit
    time (months in the scenarios).
    """
    names, cells, prob = covariate_cells(covariates)
    idx = rng.choice(len(cells), n, p=prob)
    x = cells[idx]
    t = rng.exponential(1.0 / (rate * np.exp(_linear(x, names, betas))))
    c = rng.uniform(min_follow_up, max_follow_up, n)
    import pandas as pd

    frame = pd.DataFrame(x, columns=names)
    frame["time"] = np.minimum(t, c)
    frame["event"] = (t <= c).astype(float)
    return {"model": "cox", "frame": frame, "names": names}


def two_proportions(
    rng: np.random.Generator, *, n1: int, n0: int, p1: float, p0: float
) -> dict[str, Any]:
    """Two independent binomial arms (counts of successes)."""
    return {
        "model": "two_proportions",
        "x1": int(rng.binomial(n1, p1)),
        "n1": n1,
        "x0": int(rng.binomial(n0, p0)),
        "n0": n0,
    }


def binary_exposure_logistic(
    rng: np.random.Generator,
    *,
    n: int,
    log_or: float,
    p_exposed: float,
    baseline_risk: float,
) -> dict[str, Any]:
    """A cohort with one binary exposure and a fixed-window binary outcome (estimand
    ``exposure``, log odds ratio); the unexposed risk is ``baseline_risk``."""
    x = (rng.random(n) < p_exposed).astype(float)
    eta = special.logit(baseline_risk) + log_or * x
    y = (rng.random(n) < special.expit(eta)).astype(float)
    return {
        "model": "logit",
        "X": np.column_stack([np.ones(n), x]),
        "y": y,
        "names": ["(Intercept)", "exposure"],
    }


def normal_logistic(
    rng: np.random.Generator, *, n: int, intercept: float, betas: Sequence[float]
) -> dict[str, Any]:
    """Logistic outcome on ``len(betas)`` independent standard-normal covariates ``x1, x2, ...``
    (the benchmark design)."""
    p = len(betas)
    x = rng.standard_normal((n, p))
    y = (rng.random(n) < special.expit(intercept + x @ np.asarray(betas, float))).astype(float)
    return {
        "model": "logit",
        "X": np.column_stack([np.ones(n), x]),
        "y": y,
        "names": ["(Intercept)", *(f"x{j + 1}" for j in range(p))],
    }


# -- methods -----------------------------------------------------------------------------------
def _z(alpha: float) -> float:
    """Two-sided normal quantile ``z_{1 - alpha/2}``.

    ``special.ndtri`` is what ``scipy.stats.norm.ppf`` evaluates (bit for bit), without the
    distribution machinery: that costs about as much as a whole replicate fit, and importing
    scipy.stats costs a simulation worker seconds.
    """
    return float(special.ndtri(1 - alpha / 2))


def _wald(b: float, se: float, z: float) -> Estimate:
    # 2 * Phi(-|b/se|) with special.ndtr: scipy.stats' distribution machinery costs more than
    # the fit itself at simulation scale.
    p = float(2 * special.ndtr(-abs(b / se))) if se > 0 else math.nan
    return Estimate(b, se, b - z * se, b + z * se, p)


def fit_study_model_batch(
    datas: Sequence[Mapping[str, Any]], *, alpha: float = 0.05
) -> list[dict[str, Estimate] | None]:
    """:func:`fit_study_model` for a chunk of replicates, logistic designs in one pass.

    Logistic data sets with the same design shape and term names are stacked and fitted by
    :func:`recurrence.effects.fast_logit.fit_logit_newton_batch`; a replicate whose fit does
    not settle, and every non-logistic data set, is returned as ``None`` so that the engine
    calls :func:`fit_study_model` on it (which hands possible separation to the package's
    front door, exactly as one at a time). Estimates (log odds ratios), SEs, Wald limits and
    p-values equal those of :func:`fit_study_model` to floating-point rounding.
    """
    from recurrence.effects.fast_logit import fit_logit_newton_batch

    z = _z(alpha)
    out: list[dict[str, Estimate] | None] = [None] * len(datas)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, d in enumerate(datas):
        if d.get("model") == "logit":
            groups.setdefault((d["X"].shape, tuple(d["names"])), []).append(i)
    for (_, names), idx in groups.items():
        # Stacked as R x p x n (contiguous rows of X'), the layout the batch fitter uses.
        first = datas[idx[0]]["X"]
        Xt = np.empty((len(idx), first.shape[1], first.shape[0]))
        for k, i in enumerate(idx):
            Xt[k] = datas[i]["X"].T
        X = Xt.transpose(0, 2, 1)
        y = np.stack([datas[i]["y"] for i in idx])
        fit = fit_logit_newton_batch(X, y)
        se = np.sqrt(np.diagonal(fit.cov, axis1=1, axis2=2))
        b = fit.beta
        with np.errstate(divide="ignore", invalid="ignore"):
            pv = np.where(se > 0, 2 * special.ndtr(-np.abs(b / se)), math.nan)
        lo, hi = b - z * se, b + z * se
        for k, i in enumerate(idx):
            if not fit.converged[k]:
                continue
            out[i] = {
                n: Estimate(
                    float(b[k, j]),
                    float(se[k, j]),
                    float(lo[k, j]),
                    float(hi[k, j]),
                    float(pv[k, j]),
                )
                for j, n in enumerate(names)
                if j
            }
    return out


@with_batch(fit_study_model_batch)
def fit_study_model(data: Mapping[str, Any], *, alpha: float = 0.05) -> dict[str, Estimate]:
    """The study's own model: logistic ML, Cox (Efron ties) or a difference in proportions.

    Estimands are the covariates' log odds ratios (logistic) or log hazard ratios (Cox), keyed
    by covariate name, with Wald intervals; for two proportions, ``difference`` in percentage
    points (arm 1 minus arm 0) with a Wald interval.
    """
    from recurrence.effects.fast_logit import fit_logit_newton
    from recurrence.models.cox import coxph
    from recurrence.models.logistic import logit_arrays

    z = _z(alpha)
    model = data["model"]
    if model == "logit":
        X, y = data["X"], data["y"]
        fit = fit_logit_newton(X, y)
        if not fit.converged:
            # Possible separation: the package's front door detects it and raises
            # SeparationError naming the term (recorded as non-convergence by the engine).
            res = logit_arrays(X, y, data["names"], check=False)
            b, s = res.params.to_numpy(), res.std_errors.to_numpy()
        else:
            b, s = fit.beta, np.sqrt(np.diag(fit.cov))
        return {n: _wald(float(b[j]), float(s[j]), z) for j, n in enumerate(data["names"]) if j}
    if model == "cox":
        cox = coxph(data["frame"], covariates=data["names"], event="event", time="time")
        return {n: _wald(float(cox.params[n]), float(cox.std_errors[n]), z) for n in data["names"]}
    if model == "two_proportions":
        p1, p0 = data["x1"] / data["n1"], data["x0"] / data["n0"]
        var = p1 * (1 - p1) / data["n1"] + p0 * (1 - p0) / data["n0"]
        if var <= 0:
            return {"difference": Estimate(math.nan, converged=False, error="zero variance")}
        return {"difference": _wald(100 * (p1 - p0), 100 * math.sqrt(var), z)}
    raise ValueError(f"unknown model {model!r}")


def fit_firth(data: Mapping[str, Any], *, alpha: float = 0.05) -> dict[str, Estimate]:
    """Firth-penalised logistic regression (Wald limits from the penalised information)."""
    from recurrence.models.firth import firth_logit_arrays

    z = _z(alpha)
    res = firth_logit_arrays(data["X"], data["y"], data["names"], check=False)
    b, s = res.params.to_numpy(), res.std_errors.to_numpy()
    return {n: _wald(float(b[j]), float(s[j]), z) for j, n in enumerate(data["names"]) if j}


# -- the claim scenarios -----------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimTarget:
    """Where a claim sits in a scenario: its estimand and the scale it is reported on."""

    claim_id: str
    estimand: str
    reported_measure: str  # "OR", "HR" or "percentage_points"
    log_scale: bool  # True when the estimand is a log ratio (moved to the ratio scale)


@dataclass(frozen=True)
class Scenario:
    """A design-matched scenario: a mechanism plus the claims it reproduces."""

    id: str
    design: str
    model: str
    dgm: DGM
    targets: tuple[ClaimTarget, ...]
    baseline_risk: float
    window: str
    assumptions: tuple[str, ...] = field(default_factory=tuple)


def _log(claim_id: str) -> float:
    from recurrence.effects.registry import get_claim

    value = get_claim(claim_id).point_value
    if value is None:
        raise ValueError(f"claim {claim_id} has no value to place as truth")
    return math.log(value)


def _fuller2001() -> Scenario:
    spec = {
        "n_problems": ["binomial", 6, 0.25],
        "no_services_60d": ["bernoulli", 0.3],
        "no_detailed_assessment": ["bernoulli", 0.15],
    }
    betas = {
        "n_problems": _log("fuller2001_per_problem"),
        "no_services_60d": _log("fuller2001_no_services_60d"),
        "no_detailed_assessment": _log("fuller2001_no_detailed_assessment"),
    }
    # Population 60-day indicated recurrence of 8%: the intercept only sets how rare cases are;
    # the case-control sample fixes the case fraction at 1/2 whatever it is.
    intercept = calibrate_intercept(spec, betas, 0.08)
    dgm = DGM(
        "fuller2001_case_control",
        case_control_logistic,
        {
            "n_cases": 400,
            "n_controls": 400,
            "intercept": intercept,
            "betas": betas,
            "covariates": spec,
        },
        truth=betas,
    )
    return Scenario(
        "fuller2001_case_control",
        "case-control (cases and controls sampled separately)",
        "logistic regression",
        dgm,
        (
            ClaimTarget("fuller2001_per_problem", "n_problems", "OR", True),
            ClaimTarget("fuller2001_no_services_60d", "no_services_60d", "OR", True),
            ClaimTarget("fuller2001_no_detailed_assessment", "no_detailed_assessment", "OR", True),
        ),
        baseline_risk=float(special.expit(intercept)),
        window="60 days",
        assumptions=(
            "400 cases and 400 controls (sample sizes not given in the review)",
            "parental problems ~ Binomial(6, 0.25); no services in 60 days 30%; no detailed "
            "assessment 15%; independent",
            "population 60-day recurrence 8%",
        ),
    )


def _fullerwells2003() -> Scenario:
    spec = {
        "aod_serious": ["bernoulli", 0.3],
        "criminal_high_risk": ["bernoulli", 0.1],
        "no_police": ["bernoulli", 0.6],
        "single_aa_female_head": ["bernoulli", 0.3],
    }
    betas = {
        "aod_serious": _log("fullerwells2003_substance_13"),
        "criminal_high_risk": _log("fullerwells2003_criminal_770"),
        "no_police": math.log(3.0),
        "single_aa_female_head": math.log(3.0),
    }
    intercept = calibrate_intercept(spec, betas, 25 / 95)
    dgm = DGM(
        "fullerwells2003_cohort",
        cohort_logistic,
        {"n": 95, "intercept": intercept, "betas": betas, "covariates": spec},
        truth={
            "aod_serious": betas["aod_serious"],
            "criminal_high_risk": betas["criminal_high_risk"],
        },
    )
    return Scenario(
        "fullerwells2003_cohort",
        "random sample of 95 investigations, fixed 60-day window",
        "logistic regression",
        dgm,
        (
            ClaimTarget("fullerwells2003_substance_13", "aod_serious", "OR", True),
            ClaimTarget("fullerwells2003_criminal_770", "criminal_high_risk", "OR", True),
        ),
        baseline_risk=float(special.expit(intercept)),
        window="60 days",
        assumptions=(
            "n = 95, expected 25 re-reports (26%)",
            "prevalences: substance misuse seriously affecting care 30%, caretaker high risk of "
            "criminal activity 10%, no police involvement 60%, single African-American female "
            "head 30%",
            "ORs of the last two (not in the review) set to 3",
        ),
    )


def _connell2007() -> Scenario:
    spec = {
        "substance": ["bernoulli", 0.25],
        "financial": ["bernoulli", 0.4],
        "disability": ["bernoulli", 0.1],
    }
    betas = {
        "substance": _log("connell2007_substance"),
        "financial": _log("connell2007_financial"),
        "disability": _log("disability_connell_fluke"),
    }
    # Abstract: ~13% re-referred by 6 months, 27% by 18, 34% by 30 months (all children).
    rate = calibrate_rate(spec, betas, 0.34, 30.0)
    dgm = DGM(
        "connell2007_cohort",
        cohort_exponential_ph,
        {
            "n": 5000,
            "rate": rate,
            "betas": betas,
            "covariates": spec,
            "min_follow_up": 6.0,
            "max_follow_up": 42.0,
        },
        truth=betas,
    )
    return Scenario(
        "connell2007_cohort",
        "cohort of closed CPS investigations (Rhode Island 2001-2004)",
        "Cox proportional hazards (Efron ties)",
        dgm,
        (
            ClaimTarget("connell2007_substance", "substance", "HR", True),
            ClaimTarget("connell2007_financial", "financial", "HR", True),
            ClaimTarget("disability_connell_fluke", "disability", "HR", True),
        ),
        baseline_risk=float(-math.expm1(-rate * 30.0)),
        window="30 months",
        assumptions=(
            "n = 5,000 children (not given in the review)",
            "exponential times; population cumulative re-referral 34% by 30 months (abstract)",
            "follow-up uniform on 6-42 months (closures 2001-2004)",
            "prevalences: parental substance abuse 25%, financial problems 40%, disability 10%",
            "disability HR placed at 1.4, the geometric mid-point of the review's 1.3-1.5",
        ),
    )


def _depanfilis2002() -> Scenario:
    spec = {
        "partner_abuse": ["bernoulli", 0.3],
        "high_stress": ["bernoulli", 0.4],
        "low_support": ["bernoulli", 0.35],
        "attends_services": ["bernoulli", 0.5],
    }
    betas = {
        "partner_abuse": _log("depanfilis2002_domestic_violence"),
        "high_stress": _log("depanfilis2002_family_stress"),
        "low_support": _log("low_social_support_range"),
        "attends_services": _log("depanfilis2002_service_attendance"),
    }
    rate = calibrate_rate(spec, betas, 0.35, 60.0)
    dgm = DGM(
        "depanfilis2002_cohort",
        cohort_exponential_ph,
        {
            "n": 434,
            "rate": rate,
            "betas": betas,
            "covariates": spec,
            "min_follow_up": 6.0,
            "max_follow_up": 60.0,
        },
        truth=betas,
    )
    return Scenario(
        "depanfilis2002_cohort",
        "non-concurrent prospective cohort of 434 families, 5 years",
        "Cox proportional hazards (Efron ties)",
        dgm,
        (
            ClaimTarget("depanfilis2002_domestic_violence", "partner_abuse", "HR", True),
            ClaimTarget("depanfilis2002_family_stress", "high_stress", "HR", True),
            ClaimTarget("low_social_support_range", "low_support", "HR", True),
            ClaimTarget("depanfilis2002_service_attendance", "attends_services", "HR", True),
        ),
        baseline_risk=float(-math.expm1(-rate * 60.0)),
        window="60 months",
        assumptions=(
            "n = 434 (abstract); recurrence counted while the case is open, so follow-up ends "
            "uniformly on 6-60 months",
            "population cumulative recurrence 35% by 5 years (within the review's 25-69%)",
            "prevalences: partner abuse 30%, high stress 40%, low support 35%, attendance 50%",
            "low support HR placed at 1.83, the geometric mid-point of the review's 1.4-2.4",
        ),
    )


def _gershater2002() -> Scenario:
    from recurrence.effects.registry import get_claim

    claim = get_claim("gershater2002_safecare")
    assert claim.range is not None
    p_fp, p_sc = claim.range[0] / 100, claim.range[1] / 100
    dgm = DGM(
        "gershater2002_two_arm",
        two_proportions,
        {"n1": 41, "n0": 41, "p1": p_sc, "p0": p_fp},
        truth={"difference": 100 * (p_sc - p_fp)},
    )
    return Scenario(
        "gershater2002_two_arm",
        "two arms of 41 families (n = 82)",
        "difference of proportions",
        dgm,
        (ClaimTarget("gershater2002_safecare", "difference", "percentage_points", False),),
        baseline_risk=1 - p_fp,
        window="36 months",
        assumptions=("41 families per arm; binomial outcomes; Wald interval",),
    )


SCENARIO_BUILDERS = {
    "fuller2001_case_control": _fuller2001,
    "fullerwells2003_cohort": _fullerwells2003,
    "connell2007_cohort": _connell2007,
    "depanfilis2002_cohort": _depanfilis2002,
    "gershater2002_two_arm": _gershater2002,
}


def scenarios() -> dict[str, Scenario]:
    """Every design-matched scenario, by id."""
    return {k: build() for k, build in SCENARIO_BUILDERS.items()}


SCENARIOS = tuple(SCENARIO_BUILDERS)
"""Ids of the design-matched scenarios."""


def effect_claims() -> list[Claim]:
    """Registry claims that have a scenario, in registry order."""
    from recurrence.effects.registry import load_registry

    return [c for c in load_registry() if c.scenario is not None]


def claims_study(
    claim_ids: Sequence[str] | None = None,
    *,
    n_reps: int,
    seed: int,
    chunk_size: int = 50,
) -> tuple[Study, list[tuple[Claim, Scenario, ClaimTarget]]]:
    """The study reproducing ``claim_ids`` (default: every claim with a scenario).

    Returns the :class:`~recurrence.effects.ademp.Study` (one mechanism per scenario needed, one
    method: the study's own model) and the (claim, scenario, target) triples in registry order.
    """
    all_scen = scenarios()
    wanted = [c.id for c in effect_claims()] if claim_ids is None else list(claim_ids)
    known = {c.id for c in effect_claims()}
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise KeyError(
            f"no scenario for claim(s) {', '.join(unknown)}; claims with scenarios: "
            + ", ".join(sorted(known))
        )
    triples = []
    for claim in effect_claims():
        if claim.id not in wanted:
            continue
        assert claim.scenario is not None
        scen = all_scen[claim.scenario]
        target = next(t for t in scen.targets if t.claim_id == claim.id)
        triples.append((claim, scen, target))
    dgms = tuple({s.dgm.name: s.dgm for _, s, _ in triples}.values())
    study = Study(
        name="claims",
        dgms=dgms,
        methods=(Method("study_model", fit_study_model),),
        n_reps=n_reps,
        seed=seed,
        chunk_size=chunk_size,
    )
    return study, triples


EFFECTS_COLUMNS: tuple[str, ...] = (
    "claim_id",
    "source",
    "reported_value",
    "reported_measure",
    "true_value",
    "n_reps",
    "mean_estimate",
    "bias",
    "bias_mcse",
    "emp_se",
    "emp_se_mcse",
    "model_se",
    "rel_error_model_se",
    "coverage",
    "coverage_mcse",
    "power",
    "power_mcse",
    "nonconvergence_rate",
)
"""Columns of ``effects.csv`` (``recurrence effects``); values on the scale of
``reported_measure``; ``rel_error_model_se`` in per cent (Morris et al. 2019)."""


@dataclass(frozen=True)
class ClaimsResult:
    """Tables of a claims run: performance per claim, replicate intervals, re-expressions."""

    effects: pd.DataFrame
    intervals: pd.DataFrame
    reexpressed: pd.DataFrame


def summarise_claims(
    replicates: pd.DataFrame,
    study: Study,
    triples: Sequence[tuple[Claim, Scenario, ClaimTarget]],
) -> ClaimsResult:
    """Performance per claim on its reported scale, plus the claim re-expressed on other scales.

    ``effects`` has the columns :data:`EFFECTS_COLUMNS`, one row per claim in registry order.
    ``intervals`` gives the 2.5 and 97.5 percentiles of the converged replicate estimates (for
    the forest plot). ``reexpressed`` gives each ratio claim as OR, RR and HR at its
    scenario's baseline risk over the window (:func:`recurrence.effects.scales.reexpress`).
    """
    import pandas as pd

    from recurrence.effects.ademp import performance_table
    from recurrence.effects.scales import reexpress

    ratio_estimands = [t.estimand for _, _, t in triples if t.log_scale]
    perf = performance_table(replicates, study, ratio_scale=ratio_estimands)
    rows, ivals, rex = [], [], []
    for claim, scen, target in triples:
        p = perf[
            (perf["dgm"] == scen.dgm.name)
            & (perf["method"] == "study_model")
            & (perf["estimand"] == target.estimand)
        ].iloc[0]
        reported = claim.point_value
        rows.append(
            {
                "claim_id": claim.id,
                "source": claim.citation,
                "reported_value": reported,
                "reported_measure": target.reported_measure,
                "true_value": p["true_value"],
                "n_reps": int(p["n_reps"]),
            }
            | {k: p[k] for k in EFFECTS_COLUMNS[6:]}
        )
        r = replicates[
            (replicates["dgm"] == scen.dgm.name)
            & (replicates["method"] == "study_model")
            & (replicates["estimand"] == target.estimand)
            & replicates["converged"].astype(bool)
        ]["estimate"].to_numpy(float)
        r = r[np.isfinite(r)]
        if target.log_scale:
            r = np.exp(r)
        lo, hi = np.quantile(r, [0.025, 0.975]) if r.size else (math.nan, math.nan)
        ivals.append({"claim_id": claim.id, "lower": float(lo), "upper": float(hi)})
        if target.reported_measure in ("OR", "HR", "RR") and reported is not None:
            conv = reexpress(reported, target.reported_measure, scen.baseline_risk)  # type: ignore[arg-type]
            rex.append(
                {
                    "claim_id": claim.id,
                    "reported_measure": target.reported_measure,
                    "reported_value": reported,
                    "baseline_risk": scen.baseline_risk,
                    "window": scen.window,
                    "as_OR": conv["OR"],
                    "as_RR": conv["RR"],
                    "as_HR": conv["HR"],
                    "exposed_risk": conv["exposed_risk"],
                }
            )
    return ClaimsResult(
        pd.DataFrame(rows, columns=list(EFFECTS_COLUMNS)),
        pd.DataFrame(ivals, columns=["claim_id", "lower", "upper"]),
        pd.DataFrame(rex),
    )
