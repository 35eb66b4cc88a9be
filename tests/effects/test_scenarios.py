"""Design-matched scenarios: sampling schemes, calibration, claim targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from recurrence.effects.registry import get_claim
from recurrence.effects.scenarios import (
    calibrate_intercept,
    calibrate_rate,
    case_control_logistic,
    claims_study,
    cohort_exponential_ph,
    covariate_cells,
    effect_claims,
    fit_study_model,
    scenarios,
)

SPEC = {"k": ["binomial", 3, 0.4], "b": ["bernoulli", 0.25]}


def test_covariate_cells() -> None:
    names, cells, prob = covariate_cells(SPEC)
    assert names == ["k", "b"] and cells.shape == (8, 2)
    assert prob.sum() == pytest.approx(1.0)
    assert prob[cells[:, 0] == 3].sum() == pytest.approx(0.4**3)
    assert prob[cells[:, 1] == 1].sum() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown distribution"):
        covariate_cells({"x": ["poisson", 1.0]})


def test_calibration_hits_targets() -> None:
    betas = {"k": 0.5, "b": 1.0}
    a = calibrate_intercept(SPEC, betas, 0.2)
    _, cells, prob = covariate_cells(SPEC)
    assert float(prob @ special.expit(a + cells @ [0.5, 1.0])) == pytest.approx(0.2, abs=1e-10)
    lam = calibrate_rate(SPEC, betas, 0.3, 12.0)
    risk = -np.expm1(-lam * np.exp(cells @ [0.5, 1.0]) * 12.0)
    assert float(prob @ risk) == pytest.approx(0.3, abs=1e-10)


def test_case_control_sampling_recovers_slopes_not_intercept() -> None:
    betas = {"k": math.log(1.3), "b": math.log(4.0)}
    a = calibrate_intercept(SPEC, betas, 0.05)
    data = case_control_logistic(
        np.random.default_rng(3),
        n_cases=20000,
        n_controls=20000,
        intercept=a,
        betas=betas,
        covariates=SPEC,
    )
    assert data["y"].sum() == 20000 and len(data["y"]) == 40000
    est = fit_study_model(data)
    for name, beta in betas.items():
        assert abs(est[name].estimate - beta) < 4 * est[name].se, name
    # the intercept absorbs the sampling fractions: log(1/1 * (1 - .05)/.05)-ish, far from a
    from recurrence.models.logistic import logit_arrays

    fit = logit_arrays(data["X"], data["y"], data["names"], check=False)
    assert fit.params["(Intercept)"] - a > 2.0


def test_cohort_ph_recovers_hazard_ratio_and_event_rate() -> None:
    betas = {"k": 0.3, "b": math.log(1.5)}
    lam = calibrate_rate(SPEC, betas, 0.4, 24.0)
    data = cohort_exponential_ph(
        np.random.default_rng(4),
        n=20000,
        rate=lam,
        betas=betas,
        covariates=SPEC,
        min_follow_up=24.0,
        max_follow_up=24.0,
    )
    assert data["frame"]["event"].mean() == pytest.approx(0.4, abs=4 * math.sqrt(0.24 / 20000))
    est = fit_study_model(data)
    for name, beta in betas.items():
        assert abs(est[name].estimate - beta) < 4 * est[name].se, name


def test_two_proportions_method_by_hand() -> None:
    est = fit_study_model({"model": "two_proportions", "x1": 35, "n1": 41, "x0": 22, "n0": 41})
    d = est["difference"]
    p1, p0 = 35 / 41, 22 / 41
    se = 100 * math.sqrt(p1 * (1 - p1) / 41 + p0 * (1 - p0) / 41)
    assert d.estimate == pytest.approx(100 * (p1 - p0))
    assert d.se == pytest.approx(se)
    assert d.p_value == pytest.approx(2 * stats.norm.sf(d.estimate / se))


def test_every_scenario_claim_has_its_reported_value_as_truth() -> None:
    scen = scenarios()
    for claim in effect_claims():
        s = scen[claim.scenario]  # type: ignore[index]
        target = next(t for t in s.targets if t.claim_id == claim.id)
        truth = s.dgm.truth[target.estimand]
        value = claim.point_value
        assert value is not None
        if target.log_scale:
            assert math.exp(truth) == pytest.approx(value, rel=1e-12), claim.id
        else:
            assert truth == pytest.approx(value), claim.id
    assert math.exp(scen["connell2007_cohort"].dgm.truth["disability"]) == pytest.approx(
        math.sqrt(1.3 * 1.5)
    )
    assert get_claim("fullerwells2003_criminal_770").scenario == "fullerwells2003_cohort"


def test_claims_study_selects_scenarios_and_rejects_unknown_ids() -> None:
    study, triples = claims_study(
        ["fuller2001_per_problem", "connell2007_financial"], n_reps=5, seed=1
    )
    assert [d.name for d in study.dgms] == ["connell2007_cohort", "fuller2001_case_control"] or [
        d.name for d in study.dgms
    ] == ["fuller2001_case_control", "connell2007_cohort"]
    assert [c.id for c, _, _ in triples] == ["connell2007_financial", "fuller2001_per_problem"]
    with pytest.raises(KeyError, match="no scenario"):
        claims_study(["chaffin2004_pcit_19"], n_reps=5, seed=1)
