"""Scale conversions against hand-computed values."""

from __future__ import annotations

import math

import pytest

from recurrence.effects import scales


def test_zhang_yu_hand_example() -> None:
    # OR 2 at baseline risk 0.2: RR = 2 / (0.8 + 0.4) = 5/3
    assert scales.or_to_rr(2.0, 0.2) == pytest.approx(5 / 3, rel=1e-12)
    # exposed risk: odds 0.25 * 2 = 0.5 -> 1/3 = 5/3 * 0.2
    assert scales.exposed_risk_from_or(2.0, 0.2) == pytest.approx(1 / 3, rel=1e-12)
    assert scales.rr_to_or(5 / 3, 0.2) == pytest.approx(2.0, rel=1e-12)


def test_hr_to_cumulative_risk_ratio_hand_example() -> None:
    # HR 2, baseline 30% by the end of the window: (1 - 0.7^2) / 0.3 = 0.51 / 0.3 = 1.7
    assert scales.hr_to_risk_ratio(2.0, 0.3) == pytest.approx(1.7, rel=1e-12)
    assert scales.risk_ratio_to_hr(1.7, 0.3) == pytest.approx(2.0, rel=1e-12)
    # exponential: the window risk does not depend on how the baseline risk is parametrised
    lam = scales.exponential_rate(0.3, 60.0)
    assert scales.cumulative_risk(lam, 60.0) == pytest.approx(0.3, rel=1e-12)
    assert scales.cumulative_risk(2 * lam, 60.0) == pytest.approx(0.51, rel=1e-12)


def test_rare_outcome_makes_scales_agree() -> None:
    out = scales.reexpress(1.3, "OR", 0.001)
    assert out["RR"] == pytest.approx(1.3, rel=1e-3)
    assert out["HR"] == pytest.approx(1.3, rel=1e-3)


def test_reexpress_hr_and_impossible_rr() -> None:
    out = scales.reexpress(0.68, "HR", 0.35)
    assert out["RR"] == pytest.approx(-math.expm1(0.68 * math.log(0.65)) / 0.35, rel=1e-12)
    assert scales.hr_to_or(0.68, 0.35) == pytest.approx(out["OR"], rel=1e-12)
    assert scales.or_to_hr(out["OR"], 0.35) == pytest.approx(0.68, rel=1e-10)
    bad = scales.reexpress(770.0, "RR", 0.26)
    assert math.isnan(bad["OR"]) and math.isnan(bad["HR"])
    with pytest.raises(ValueError, match="impossible"):
        scales.rr_to_or(4.0, 0.3)
    with pytest.raises(ValueError, match="measure"):
        scales.reexpress(2.0, "IRR", 0.1)  # type: ignore[arg-type]
