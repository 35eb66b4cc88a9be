"""Power for 1.3x per added problem: closed forms, synthetic design, simulation."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from recurrence.effects.ademp import run_study
from recurrence.effects.power import (
    CohortDesign,
    analytic_sample_size,
    calibrated_intercept,
    cohort_design,
    power_study,
    power_table,
    required_n,
)

DESIGN = CohortDesign((0.0, 1.0, 2.0), (0.5, 0.3, 0.2), 0.2, 1000, "hand-made")


def test_analytic_sample_sizes_by_hand() -> None:
    var = 0.3 * 1 + 0.2 * 4 - (0.3 + 0.4) ** 2  # E[X^2] - E[X]^2 = 1.1 - 0.49
    assert DESIGN.variance == pytest.approx(var)
    z2 = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2
    b2 = math.log(1.3) ** 2
    logi = analytic_sample_size(DESIGN, 0.8, model="logistic")
    assert logi["children"] == pytest.approx(z2 / (0.2 * 0.8 * b2 * var))
    cox = analytic_sample_size(DESIGN, 0.8, model="cox")
    assert cox["events"] == pytest.approx(z2 / (b2 * var))
    assert cox["children"] == pytest.approx(cox["events"] / 0.2)
    with pytest.raises(ValueError, match="model"):
        analytic_sample_size(DESIGN, 0.8, model="probit")  # type: ignore[arg-type]


def test_calibrated_intercepts_give_the_event_rate() -> None:
    from scipy import special

    a = calibrated_intercept(DESIGN, "logistic")
    rate = sum(
        p * special.expit(a + math.log(1.3) * s)
        for s, p in zip(DESIGN.support, DESIGN.prob, strict=True)
    )
    assert rate == pytest.approx(0.2, abs=1e-10)


def test_cohort_design_from_the_synthetic_generator() -> None:
    d = cohort_design(n_children=1500, years=3, seed=5)
    assert sum(d.prob) == pytest.approx(1.0)
    assert 0.0 < d.event_rate < 1.0 and d.n_children > 300
    assert min(d.support) == 0.0 and d.variance > 0
    assert "recurrence.synth.generate" in d.source


def test_simulated_power_near_the_closed_form() -> None:
    n80 = round(analytic_sample_size(DESIGN, 0.8, model="cox")["children"])
    run = run_study(power_study(DESIGN, {"cox": [n80]}, n_reps=120, seed=2), progress=False)
    row = power_table(run, DESIGN).iloc[0]
    assert abs(row["power"] - 0.8) < 4 * math.sqrt(0.8 * 0.2 / 120)


def test_required_n_interpolates() -> None:
    t = pd.DataFrame({"model": ["cox"] * 3, "n": [100, 200, 300], "power": [0.5, 0.7, 0.9]})
    assert required_n(t, "cox", 0.8) == pytest.approx(250.0)
    assert math.isnan(required_n(t, "cox", 0.95))
