"""Re-expressing a 'times more likely' between effect scales.

The review reports effects as "N times more likely" whatever the study estimated: an odds ratio
(OR, logistic regression or a case-control design), a hazard ratio (HR, Cox regression) or a
risk ratio (RR). These functions convert between them for a stated baseline, so that a reader
sees what the same number means on each scale. All ratios are on the ratio scale (not log);
risks are probabilities in [0, 1] over the stated window.

* OR <-> RR at the unexposed (baseline) risk ``p0`` (Zhang & Yu 1998, JAMA 280:1690):
  ``RR = OR / (1 - p0 + p0 * OR)``. Exact for a single binary exposure; with adjustment it
  approximates the conditional RR at risk ``p0``.
* HR <-> cumulative-risk ratio over a window under proportional hazards: the exposed survival
  is ``S1(t) = S0(t) ** HR``, so with baseline cumulative risk ``F0 = 1 - S0(t)`` the risk
  ratio is ``(1 - (1 - F0) ** HR) / F0``. It does not depend on the shape of the baseline
  hazard, only on ``F0`` at the end of the window; under an exponential baseline with rate
  ``lam`` (per unit time), ``F0 = 1 - exp(-lam * t)``.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from recurrence.models.base import check_literal

RatioMeasure = Literal["OR", "HR", "RR"]
RATIO_MEASURES: tuple[str, ...] = get_args(RatioMeasure)


def _check_risk(p: float, name: str = "baseline risk") -> None:
    if not 0.0 < p < 1.0:
        raise ValueError(f"{name} must be in (0, 1); got {p}")


def _check_ratio(r: float, name: str) -> None:
    if not r > 0 or not math.isfinite(r):
        raise ValueError(f"{name} must be a positive finite ratio; got {r}")


def or_to_rr(odds_ratio: float, p0: float) -> float:
    """Risk ratio implied by an odds ratio at baseline risk ``p0`` (Zhang & Yu 1998)."""
    _check_ratio(odds_ratio, "odds_ratio")
    _check_risk(p0)
    return odds_ratio / (1.0 - p0 + p0 * odds_ratio)


def rr_to_or(risk_ratio: float, p0: float) -> float:
    """Odds ratio implied by a risk ratio at baseline risk ``p0``; needs ``risk_ratio * p0 < 1``."""
    _check_ratio(risk_ratio, "risk_ratio")
    _check_risk(p0)
    p1 = risk_ratio * p0
    if p1 >= 1.0:
        raise ValueError(f"risk ratio {risk_ratio} is impossible at baseline risk {p0} (p1 >= 1)")
    return (p1 / (1.0 - p1)) / (p0 / (1.0 - p0))


def exposed_risk_from_or(odds_ratio: float, p0: float) -> float:
    """Risk in the exposed group given an odds ratio and the baseline risk."""
    _check_ratio(odds_ratio, "odds_ratio")
    _check_risk(p0)
    odds = odds_ratio * p0 / (1.0 - p0)
    return odds / (1.0 + odds)


def hr_to_risk_ratio(hazard_ratio: float, f0: float) -> float:
    """Ratio of cumulative risks over a window, given the HR and baseline cumulative risk ``f0``.

    Under proportional hazards ``1 - F1 = (1 - F0) ** HR``; exact for any baseline hazard.
    """
    _check_ratio(hazard_ratio, "hazard_ratio")
    _check_risk(f0, "baseline cumulative risk")
    return -math.expm1(hazard_ratio * math.log1p(-f0)) / f0


def risk_ratio_to_hr(risk_ratio: float, f0: float) -> float:
    """Hazard ratio giving cumulative-risk ratio ``risk_ratio`` at baseline cumulative risk ``f0``."""
    _check_ratio(risk_ratio, "risk_ratio")
    _check_risk(f0, "baseline cumulative risk")
    f1 = risk_ratio * f0
    if f1 >= 1.0:
        raise ValueError(f"risk ratio {risk_ratio} is impossible at baseline risk {f0}")
    return math.log1p(-f1) / math.log1p(-f0)


def hr_to_or(hazard_ratio: float, f0: float) -> float:
    """Odds ratio of the cumulative risk at the end of the window, under proportional hazards."""
    f1 = 1.0 - (1.0 - f0) ** hazard_ratio
    return rr_to_or(f1 / f0, f0)


def or_to_hr(odds_ratio: float, f0: float) -> float:
    """Hazard ratio whose window risk has odds ratio ``odds_ratio`` at baseline risk ``f0``."""
    return risk_ratio_to_hr(or_to_rr(odds_ratio, f0), f0)


def exponential_rate(cumulative_risk: float, window: float) -> float:
    """Constant hazard (per unit of ``window``) giving ``cumulative_risk`` by ``window``."""
    _check_risk(cumulative_risk, "cumulative risk")
    if window <= 0:
        raise ValueError("window must be positive")
    return -math.log1p(-cumulative_risk) / window


def cumulative_risk(rate: float, window: float) -> float:
    """Cumulative risk by ``window`` under a constant hazard ``rate``: ``1 - exp(-rate * t)``."""
    if rate < 0 or window < 0:
        raise ValueError("rate and window must be non-negative")
    return -math.expm1(-rate * window)


def reexpress(value: float, measure: RatioMeasure, baseline_risk: float) -> dict[str, float]:
    """The same effect as OR, RR (risk ratio over the window) and HR (proportional hazards).

    Parameters
    ----------
    value
        The ratio as reported, on the scale ``measure``.
    measure
        ``"OR"``, ``"HR"`` or ``"RR"``.
    baseline_risk
        Risk of the outcome in the unexposed group over the study's window (for an HR, the
        baseline cumulative risk at the end of the window).

    Returns
    -------
    dict
        Keys ``OR``, ``RR``, ``HR`` (ratios) and ``exposed_risk`` (probability). A value that
        is impossible on a scale (an RR above ``1 / baseline_risk``) is ``nan``.
    """
    check_literal("measure", measure, RATIO_MEASURES)
    _check_ratio(value, "value")
    _check_risk(baseline_risk)
    nan = float("nan")
    if measure == "OR":
        rr = or_to_rr(value, baseline_risk)
        out = {"OR": value, "RR": rr, "HR": risk_ratio_to_hr(rr, baseline_risk)}
    elif measure == "HR":
        rr = hr_to_risk_ratio(value, baseline_risk)
        out = {"OR": rr_to_or(rr, baseline_risk), "RR": rr, "HR": value}
    else:
        if value * baseline_risk >= 1.0:
            return {"OR": nan, "RR": value, "HR": nan, "exposed_risk": nan}
        out = {
            "OR": rr_to_or(value, baseline_risk),
            "RR": value,
            "HR": risk_ratio_to_hr(value, baseline_risk),
        }
    out["exposed_risk"] = out["RR"] * baseline_risk
    return out
