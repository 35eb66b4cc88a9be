"""Typed, versioned configuration of the synthetic data-generating process.

Every parameter is a field of the frozen dataclass :class:`SynthConfig`. Each field carries
``metadata`` with

``scale``
    what the number is: ``"hazard ratio"`` (multiplies the maltreatment hazard), ``"odds ratio"``
    or ``"log-odds"`` (enters a logistic model), ``"rate per child-year"``, ``"probability"``,
    ``"days"``, ...
``source``
    where the default comes from: a claim of the seed document (C4EO 2010, *Effective practice to
    protect children living in 'highly resistant' families*, section 4 or 6), a national figure,
    or ``"assumption"`` / ``"calibrated"`` (fitted by :mod:`recurrence.synth.calibration` to the
    preset's targets and stored in :mod:`recurrence.synth.presets`).

The seed's effect sizes are associations from different US and UK studies. The generator uses
them as *conditional* hazard ratios of one joint proportional-hazards model for the maltreatment
intensity (see ``docs/synthetic_model.md``): the hazard ratio of a parental problem with a
specific figure in the seed is that figure; every other parental problem has the seed's
"1.3 times per additional parental problem". A statistician who fits the generating model to the
truth therefore recovers exactly these numbers.

:data:`CONFIG_VERSION` changes whenever the meaning of a field changes, so a manifest written by
an older generator is never mistaken for the current one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from recurrence.errors import ModelInputError

CONFIG_VERSION = "1"
"""Version of the meaning of :class:`SynthConfig` fields (recorded in every manifest)."""


def _p(default: float, scale: str, source: str) -> Any:
    """A float field with its scale and source recorded in ``metadata``."""
    return field(default=default, metadata={"scale": scale, "source": source})


@dataclass(frozen=True)
class SynthConfig:
    """All parameters of the synthetic CIN cohort (see ``docs/synthetic_model.md``).

    Build one from a preset (:func:`recurrence.synth.presets.preset_config`) and change fields
    with :meth:`replace`; ``SynthConfig()`` alone is the ``england-2009`` parameter set without
    its final year.
    """

    # ---- window and population -------------------------------------------------------------
    final_year: int = field(
        default=2009,
        metadata={
            "scale": "year",
            "source": "preset: the census year (ending 31 March) that the simulation ends in",
        },
    )
    population_year: int = field(
        default=2012,
        metadata={
            "scale": "year",
            "source": "ONS mid-year estimate year used for LA child populations (2012 is the "
            "earliest in ../shared and has the 2009 LA boundaries)",
        },
    )
    mean_extra_siblings: float = _p(
        0.8, "mean of a Poisson count (children per family minus one, capped at 5 children)",
        "assumption (ONS families: about 1.7 dependent children per family with children)",
    )
    mobility_rate: float = _p(
        0.04, "probability per year that a family moves to another LA",
        "assumption (the seed, data annexe: highly resistant families may be highly mobile; the "
        "rate here does not depend on resistance)",
    )
    death_rate: float = _p(
        0.0003, "rate per child-year",
        "assumption, above ONS child mortality at ages 1-17 (about 0.1-0.2 per 1,000); not fitted",
    )

    # ---- families: prevalence of parental problems (general population of families) --------
    prev_substance: float = _p(0.08, "probability", "assumption")
    prev_mental_health: float = _p(0.15, "probability", "assumption")
    prev_domestic_abuse: float = _p(0.08, "probability", "assumption")
    prev_learning_disability: float = _p(0.03, "probability", "assumption")
    prev_criminality: float = _p(0.05, "probability", "assumption")
    prev_financial: float = _p(0.20, "probability", "assumption")
    prev_low_support: float = _p(0.15, "probability", "assumption")
    prev_parent_maltreated: float = _p(0.10, "probability", "assumption")
    prev_family_stress: float = _p(0.20, "probability (high family stress)", "assumption")
    problem_correlation: float = _p(
        0.35, "correlation of the latent Gaussian liabilities of the 9 family binaries",
        "assumption (the seed, s.4: problems co-occur; substance misuse, domestic violence and "
        "mental health are the most common combination)",
    )
    resistance_problem_correlation: float = _p(
        0.3, "correlation of latent resistance with the common problem factor", "assumption",
    )
    prev_child_disability: float = _p(0.06, "probability", "assumption (ONS: about 6% of children disabled)")
    frailty_variance: float = _p(
        0.5, "variance of the log-normal family frailty (mean 1), multiplies the maltreatment hazard",
        "assumption (unobserved family heterogeneity)",
    )
    la_sd: float = _p(0.2, "SD of the LA random effect on the log maltreatment hazard", "assumption")
    la_plan_sd: float = _p(0.3, "SD of the LA random effect on the log-odds of a plan", "assumption")

    # ---- the seed's effect sizes on the maltreatment (recurrence) hazard ---------------------
    hr_per_problem: float = _p(
        1.3, "hazard ratio per additional parental problem (problems without a specific figure)",
        "seed s.4: 'for each additional parental problem, recurrence was 1.3 times more likely' (Fuller et al 2001)",
    )
    hr_substance: float = _p(
        1.5, "hazard ratio", "seed s.4: parental substance misuse 1.5 times (Connell et al 2007)",
    )
    hr_financial: float = _p(
        3.3, "hazard ratio", "seed s.4: financial problems 3.3 times (Connell et al 2007)",
    )
    hr_domestic_abuse: float = _p(
        1.5, "hazard ratio", "seed s.4: domestic violence 1.5 times (DePanfilis and Zuravin 2002)",
    )
    hr_family_stress: float = _p(
        1.2, "hazard ratio", "seed s.4: high family stress 1.2 times (DePanfilis and Zuravin 2002)",
    )
    hr_low_support: float = _p(
        math.sqrt(1.4 * 2.4), "hazard ratio (geometric midpoint of 1.4 and 2.4, = 1.833)",
        "seed s.4: low social support 1.4 to 2.4 times (DePanfilis and Zuravin 2002; Dorsey et al 2008)",
    )
    hr_disability: float = _p(
        1.4, "hazard ratio (midpoint of 1.3-1.5)",
        "seed s.4: disabled children 1.3 to 1.5 times (Connell et al 2007; Fluke et al 2008)",
    )
    hr_attendance: float = _p(
        0.68, "hazard ratio after an episode in which the family attended services (at resistance 0)",
        "seed s.6: attendance at services decreased the risk of recurrence by 32% (DePanfilis and Zuravin 2002)",
    )
    hr_no_service_60d: float = _p(
        2.0, "hazard ratio after an assessed episode with no service in the first 60 days",
        "seed s.4: no service in the first 60 days, twice as likely (Fuller et al 2001)",
    )
    hr_no_assessment: float = _p(
        4.0, "hazard ratio after a referral with no detailed assessment",
        "seed s.4: no detailed assessment completed, four times more likely (Fuller et al 2001)",
    )
    hr_resistance: float = _p(
        1.25, "hazard ratio per SD of latent resistance", "assumption (the seed gives no figure)",
    )
    resistance_weakening: float = _p(
        0.5, "the log hazard ratio of attendance is multiplied by exp(-resistance_weakening * R)",
        "assumption (the seed, s.3 and 6: resistance weakens what services achieve)",
    )
    hr_open_episode: float = _p(
        0.6, "hazard ratio while a CIN episode is open", "assumption (monitoring while the case is open)",
    )

    # ---- referral and case process --------------------------------------------------------
    maltreatment_rate: float = _p(
        0.012, "rate per child-year of true maltreatment for a family with no problems, frailty 1",
        "assumption (chosen so that about a quarter of children are referred before 18)",
    )
    need_referral_rate: float = _p(
        0.02, "rate per child-year of referrals not caused by maltreatment (need, concerns)",
        "assumption",
    )
    hr_need_disability: float = _p(
        3.0, "rate ratio of need referrals for a disabled child", "assumption",
    )
    referral_logit: float = _p(
        0.4, "log-odds that a maltreatment event is referred (resistance 0)", "assumption",
    )
    referral_resistance_log_or: float = _p(
        -0.3, "log odds ratio of referral per SD of resistance (hidden harm)", "assumption",
    )
    rereferral_multiplier: float = _p(
        12.0, "rate ratio of need referrals in the 12 months after an episode closes",
        "calibrated to the re-referral rate (DfE C1; seed data annexe: 23% in 2008/09)",
    )
    nfa_probability: float = _p(
        0.07, "probability a referral is closed with no further action (no assessment)",
        "DfE C1 2024/25: 6.5% of referrals NFA",
    )
    not_in_need_probability: float = _p(
        0.3, "probability an assessed child is found not in need (closed at assessment)",
        "DfE C1 2024/25: 30.8% of referrals assessed as not in need; that is a share of all "
        "referrals, used here as a share of assessed ones (about 27% of referrals end so)",
    )
    s47_logit_maltreatment: float = _p(
        0.2, "log-odds of a section 47 enquiry after assessment of a maltreatment referral", "assumption",
    )
    s47_logit_need: float = _p(
        -2.5, "log-odds of a section 47 enquiry after assessment of a need referral", "assumption",
    )
    s47_log_or_previous: float = _p(
        2.0, "log odds ratio of a section 47 enquiry for a child with a previous plan (any LA)",
        "assumption (a known history of plans raises the level of concern at assessment)",
    )
    plan_logit: float = _p(
        -0.9, "log-odds of a child protection plan after a section 47 enquiry (child aged 5+, "
        "no previous plan, no parental problems)", "calibrated to plan starts per referral",
    )
    plan_log_or_under5: float = _p(
        2.0, "log odds ratio of a plan for a child aged 0-4", "calibrated to the share of plans at "
        "31 March aged 4 or under (seed data annexe: 45% in 2009)",
    )
    plan_log_or_previous: float = _p(
        0.5, "log odds ratio of a plan for a child with a previous plan (any LA)",
        "calibrated to NI 65 (13% in 2008/09) or DfE D3 (24.5% in 2024/25)",
    )
    plan_log_or_per_problem: float = _p(
        0.2, "log odds ratio of a plan per parental problem", "assumption",
    )
    plan_duration_mean_days: float = _p(
        270.0, "days (mean of a gamma distribution)", "calibrated to DfE D5 (plans open at 31 March by duration)",
    )
    plan_duration_shape: float = _p(
        2.0, "shape of the gamma plan-duration distribution", "calibrated to DfE D5",
    )
    neg_emo_logit: float = _p(
        1.0, "log-odds that a plan's category is neglect or emotional abuse",
        "calibrated to the seed data annexe: neglect and emotional abuse 73% of plans at 31 March 2009",
    )
    neglect_share_of_neg_emo: float = _p(
        0.62, "probability", "DCSF 2009 (seed data annexe): 45% neglect, 27% emotional abuse of plans",
    )
    category_change_probability: float = _p(
        0.1, "probability the latest category is re-drawn (the new draw may equal the initial one)",
        "assumption",
    )
    timely_service_probability: float = _p(
        0.75, "probability of a service within 60 days of an episode in which services are indicated",
        "assumption",
    )
    attendance_logit: float = _p(0.5, "log-odds of attending a service (resistance 0)", "assumption")
    attendance_resistance_log_or: float = _p(
        -0.8, "log odds ratio of attendance per SD of resistance", "assumption (the seed, s.3: non-engagement)",
    )
    disclosure_logit: float = _p(
        1.0, "log-odds that a true parental problem is recorded as its census factor (resistance 0)",
        "assumption",
    )
    disclosure_resistance_log_or: float = _p(
        -0.7, "log odds ratio of recording per SD of resistance",
        "the seed, s.3: disguised compliance (families who appear outwardly compliant)",
    )
    factor_false_positive: float = _p(
        0.01, "probability a parental factor is recorded when absent", "assumption",
    )
    previous_cpp_other_la_recall: float = _p(
        0.7, "probability that a plan held in another LA is counted in number_of_previous_cpp",
        "assumption (the census guide asks for plans in any LA; recording is imperfect)",
    )
    assessment_mean_days: float = _p(25.0, "days (mean, exponential)", "assumption (45 working-day limit)")
    cin_support_mean_days: float = _p(150.0, "days (mean, exponential)", "assumption")
    step_down_mean_days: float = _p(60.0, "days (mean, exponential) from plan end to closure", "assumption")
    resistant_share: float = _p(
        0.10, "share of families whose latent resistance makes them 'resistant' (trait part)",
        "assumption; see docs/synthetic_model.md, definition of highly resistant",
    )
    no_change_window_days: float = _p(
        365.0, "days after closure of a serviced episode within which recurrence counts as "
        "'no positive change despite intervention'",
        "seed, scoping definition of highly resistant families (type 2); window an assumption",
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ModelInputError(f"SynthConfig.{f.name} must be finite; got {v}")
            scale = f.metadata.get("scale", "")
            if scale.startswith("probability") and not 0.0 <= v <= 1.0:
                raise ModelInputError(f"SynthConfig.{f.name} is a probability; got {v}")
            if (scale.startswith(("hazard ratio", "rate", "days"))) and v <= 0:
                raise ModelInputError(f"SynthConfig.{f.name} must be positive; got {v}")
        if not 0.0 <= self.problem_correlation < 1.0:
            raise ModelInputError("SynthConfig.problem_correlation must be in [0, 1)")
        if not -1.0 < self.resistance_problem_correlation < 1.0:
            raise ModelInputError("SynthConfig.resistance_problem_correlation must be in (-1, 1)")
        if self.frailty_variance < 0 or self.la_sd < 0 or self.la_plan_sd < 0:
            raise ModelInputError("SynthConfig variances and SDs must be non-negative")
        if self.plan_duration_shape <= 0:
            raise ModelInputError("SynthConfig.plan_duration_shape must be positive")

    def replace(self, **changes: Any) -> SynthConfig:
        """Return a copy with ``changes`` applied (unknown names raise ``ModelInputError``)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ModelInputError(f"unknown SynthConfig field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Field name -> value, in declaration order (for the manifest)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def describe(cls) -> list[dict[str, str]]:
        """One row per parameter: name, default, scale, source (for docs and reports)."""
        return [
            {
                "name": f.name,
                "default": repr(f.default),
                "scale": f.metadata.get("scale", ""),
                "source": f.metadata.get("source", ""),
            }
            for f in dataclasses.fields(cls)
        ]
