"""Step 3: models of recurrence fitted to the synthetic cohort.

Three models from the package's logistic and survival families, on the analysis tables of step
1's cohort:

* **Andersen-Gill Cox model** of recurrent referrals (:func:`recurrence.models.cox.coxph` on the
  counting-process table of :func:`recurrence.tables.counting_process`): time-varying number of
  parental problems recorded at the latest assessment, whether the child has been assessed yet
  (so that "no problems recorded" is compared among assessed children; see below), prior
  referrals and age; robust SEs clustered by child. Estimates are log hazard ratios.
* **Logistic regression** (:func:`recurrence.models.logistic.logit`) of a further referral within
  12 months of a child's first referral in the data, on the number of parental problems recorded
  in that referral's assessment and the child's age; SEs clustered by LA (CR1). Estimates are
  log odds ratios.
* The same logistic model with the 12 months counted from the **closure** of the child's first
  closed episode instead of its referral (re-referral after case closure, as in Goldacre et al.
  2025). The two clocks answer different questions: counted from the referral (the DfE's C1
  definition), the months the episode stays open use up the window, and families with more
  recorded problems stay open longer (assessment, section 47, plan); counted from closure, every
  family has the full 12 months at risk.

Both logistic models keep only children whose index episode had an assessment. Problems are
recorded at assessment, so without one the count is unknown, not zero; and a referral that is not
assessed is itself a risk factor (Fuller et al. 2001: recurrence 4 times as likely without a
detailed assessment; the generator builds this in). Coding unassessed episodes as "no problems"
puts the highest-risk referrals in the zero group and drags the per-problem odds ratio towards,
or below, 1: on the quick profile's cohort that coding gave an odds ratio of 0.94 (0.89 to 0.99)
for the referral clock.

The coefficient tables carry the numbers of observations and events, rounded under disclosure
control; the figure is a forest plot of the exponentiated estimates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

TITLE = "Models of recurrence"
NEEDS: tuple[str, ...] = ("01_synthetic_cohort",)
USES: tuple[str, ...] = ("recurrence.tables", "recurrence.models", "recurrence.data")

# ``plan_active`` is left out: no new referral can start while a plan (so the CIN episode) is
# open, so its estimate would diverge (a monotone likelihood, the Cox analogue of separation).
AG_COVARIATES = ("n_parental_problems", "assessed", "log_prior_referrals", "age_under_5")
LOGIT_COVARIATES = ("n_parental_problems", "age_under_5")


Clock = Literal["referral", "closure"]


def first_episode_outcomes(tables: Any, end_of_data: pd.Timestamp, clock: Clock) -> pd.DataFrame:
    """One row per child: its first referral (or first closed episode) in the data, whether that
    episode had an assessment, the parental problems recorded at it, and re-referral in 12 months.

    ``clock="referral"`` counts the 12 months from the referral date (the DfE's C1 definition);
    ``clock="closure"`` from ``cin_closure_date`` (:func:`recurrence.tables.time_to_recurrence`
    with ``index="closure"``). Children followed for less than 365 days after the index date
    (censored at 18, death or the end of data) are left out, so the outcome is observed for
    everyone kept. ``n_parental_problems`` counts the distinct B factors (1B-6B) recorded at the
    episode's assessments; ``assessed`` is 1 when the episode had an assessment, and only then
    is the count a measurement (without one it is unknown, not zero).
    """
    from recurrence.data.codes import PARENTAL_PROBLEM_FACTORS
    from recurrence.tables import time_to_recurrence

    episode = ["la_code", "la_child_id", "cin_referral_date"]
    ttr = time_to_recurrence(tables, index=clock, outcome="referral", end_of_data=end_of_data)
    if clock == "referral":
        ttr["cin_referral_date"] = ttr["index_date"]
    else:
        ep = tables.cin_episodes.loc[
            tables.cin_episodes["cin_closure_date"].notna(), [*episode, "cin_closure_date"]
        ].rename(columns={"cin_closure_date": "index_date"})
        # Valid returns have at most one episode of a child record closing on a given day; keep
        # the latest referral if two do, so that the merge cannot duplicate rows.
        ep = ep.sort_values("cin_referral_date", kind="stable").drop_duplicates(
            ["la_code", "la_child_id", "index_date"], keep="last"
        )
        ttr = ttr.merge(
            ep, on=["la_code", "la_child_id", "index_date"], how="left", validate="many_to_one"
        )
    ttr = ttr.sort_values(["child_key", "index_date"], kind="stable")
    first = ttr.groupby("child_key", sort=True).head(1)
    first = first.loc[(first["event"] == 1) | (first["time"] >= 365)].copy()
    first["rereferral_12m"] = ((first["event"] == 1) & (first["time"] <= 365)).astype(int)

    assessed = tables.assessments[episode].drop_duplicates().assign(assessed=1.0)
    f = tables.assessment_factors
    f = f.loc[f["assessment_factor"].isin(list(PARENTAL_PROBLEM_FACTORS))]
    n_pp = (
        f.drop_duplicates([*episode, "assessment_factor"])
        .groupby(episode)
        .size()
        .rename("n_parental_problems")
        .reset_index()
    )
    first = first.merge(assessed, on=episode, how="left").merge(n_pp, on=episode, how="left")
    first["assessed"] = first["assessed"].fillna(0.0)
    first["n_parental_problems"] = first["n_parental_problems"].fillna(0).astype(float)
    first = first.loc[first["age_at_index"].notna()]
    first["age_under_5"] = (first["age_at_index"] < 5).astype(float)
    return first.reset_index(drop=True)


def _tidy(res: Any, model: str, n_obs: int, n_events: int, scale: str) -> pd.DataFrame:
    t = res.tidy().copy()
    t.insert(0, "model", model)
    t["scale"] = scale
    t["n_obs"] = n_obs
    t["n_events"] = n_events
    return t


def run(ctx: Any) -> list[Path]:
    """Fit the AG Cox and the logistic model; release their tidy tables and a forest plot."""
    import matplotlib.pyplot as plt

    from recurrence.data.io import read_tables
    from recurrence.models.cox import coxph
    from recurrence.models.logistic import logit
    from recurrence.tables import counting_process

    work = ctx.upstream_work("01_synthetic_cohort") / "cohort"
    tables = read_tables(work)
    end = pd.Timestamp(tables.cin_episodes["cin_referral_date"].max()).normalize()
    end = pd.Timestamp(year=end.year + (1 if end.month >= 4 else 0), month=3, day=31)

    cp = counting_process(tables, end_of_data=end)
    cp = cp.loc[cp["age_years"].notna()].copy()
    cp["log_prior_referrals"] = np.log(cp["n_prior_referrals"].astype(float))
    cp["age_under_5"] = (cp["age_years"] < 5).astype(float)
    cp["n_parental_problems"] = cp["n_parental_problems"].astype(float)
    cp["assessed"] = cp["assessed"].astype(float)
    ag = coxph(
        cp,
        covariates=list(AG_COVARIATES),
        event="event",
        time="stop",
        start="start",
        cluster="child_key",
    )
    ag_tidy = _tidy(
        ag,
        "Andersen-Gill Cox (recurrent referrals)",
        len(cp),
        int(cp["event"].sum()),
        "log hazard ratio",
    )

    logistic: dict[Clock, pd.DataFrame] = {}
    for clock, label in (
        ("referral", "Logistic (re-referral within 12 months)"),
        ("closure", "Logistic (re-referral within 12 months of closure)"),
    ):
        first = first_episode_outcomes(tables, end, clock)
        first = first.loc[first["assessed"] == 1]
        fit = logit(
            first,
            outcome="rereferral_12m",
            covariates=list(LOGIT_COVARIATES),
            cluster="la_code",
            cov_type="CR1",
        )
        logistic[clock] = _tidy(
            fit, label, len(first), int(first["rereferral_12m"].sum()), "log odds ratio"
        )
    lg_tidy, lc_tidy = logistic["referral"], logistic["closure"]

    both = pd.concat([ag_tidy, lg_tidy, lc_tidy], ignore_index=True)
    paths = [
        ctx.table(
            both,
            "model_coefficients",
            caption="Coefficients of the Andersen-Gill Cox model (log hazard ratios, robust SEs "
            "clustered by child) and the two logistic models, re-referral within 12 months of "
            "the first referral and of the first closure (log odds ratios, CR1 SEs clustered by "
            "LA); exp_* columns are hazard or odds ratios. n_obs and n_events are rounded.",
            count_columns=["n_obs", "n_events"],
        )
    ]

    pp = ag_tidy.set_index("term").loc["n_parental_problems"]
    pl = lg_tidy.set_index("term").loc["n_parental_problems"]
    pc = lc_tidy.set_index("term").loc["n_parental_problems"]
    ctx.finding(
        f"Each additional parental problem recorded at assessment goes with a hazard of "
        f"re-referral {pp['exp_estimate']:.2f} times as high (95% CI {pp['exp_ci_lower']:.2f} to "
        f"{pp['exp_ci_upper']:.2f}; Andersen-Gill, all re-referrals) and odds of re-referral within "
        f"12 months of an assessed first referral {pl['exp_estimate']:.2f} times as high "
        f"({pl['exp_ci_lower']:.2f} to {pl['exp_ci_upper']:.2f}), or "
        f"{pc['exp_estimate']:.2f} times as high ({pc['exp_ci_lower']:.2f} to "
        f"{pc['exp_ci_upper']:.2f}) counted from the first closure. Counted from the referral, "
        "the time an episode stays open (longer for families with more recorded problems) uses "
        "up the 12 months; counted from closure every family has the full window at risk. The "
        "generator's true effect is 1.3 per problem on the rate of maltreatment; recorded "
        "problems and referred events see it only partly (under-recording, disguised compliance, "
        "referrals for other needs), so no estimate here is the generating effect: they describe "
        "recorded problems and referred recurrence."
    )

    terms = both.loc[both["term"] != "(Intercept)"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(terms) + 1.2))
    y = np.arange(len(terms))[::-1]
    palette = {"Andersen": "#1d70b8", "referral": "#d4351c", "closure": "#00703c"}
    colours = [
        palette["Andersen"]
        if m.startswith("Andersen")
        else palette["closure" if "closure" in m else "referral"]
        for m in terms["model"]
    ]
    for yi, (_, row), colour in zip(y, terms.iterrows(), colours, strict=True):
        ax.plot([row["exp_ci_lower"], row["exp_ci_upper"]], [yi, yi], color=colour, lw=1.5)
    ax.scatter(terms["exp_estimate"], y, c=colours, zorder=3)
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(
        y,
        [
            f"{t} ({'HR' if m.startswith('Andersen') else 'OR from closure' if 'closure' in m else 'OR from referral'})"
            for t, m in zip(terms["term"], terms["model"], strict=True)
        ],
    )
    ax.set_xlabel(
        "Hazard ratio (blue, AG Cox) or odds ratio (logistic: red from referral, green from "
        "closure), 95% CI",
        fontsize=8,
    )
    ax.set_title("Models of recurrence on the synthetic cohort")
    paths.append(
        ctx.figure(
            fig,
            "forest_models",
            caption="Forest plot of the three models' exponentiated coefficients with 95% CIs "
            "(model estimates only; no counts are shown).",
        )
    )
    return paths
