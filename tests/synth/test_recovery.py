"""Recovery: a Cox model on the synthetic truth recovers the generating log hazard ratios.

Design (so that the estimand is exactly a generating parameter)
---------------------------------------------------------------
The generator's maltreatment intensity after the close of a child's k-th episode, until the next
referral, is

    lambda(t) = lambda_0 * exp(eta + log S_k),
    eta = log(1.3) * (mental health + learning disability + criminality + parent maltreated)
          + log(1.5) * substance + log(1.5) * domestic abuse + log(3.3) * financial
          + log(1.833) * low support + log(1.2) * stress + log(1.4) * disability
          + log(1.25) * resistance + u_LA + log(frailty),
    log S_k = log(4) * no assessment + log(2) * no service in 60 days
              + log(0.68) * exp(-0.5 * resistance) * attended.

With the frailty variance, the LA SDs and the resistance weakening set to 0 (below), the
intensity is exactly a Cox model in observed truth covariates. We follow each child whose first
ever referral falls in the window from the day after the first episode closes to the first true
maltreatment event (referred or not), censoring at the next referral not caused by maltreatment
(it changes S), at the 18th birthday or death, and at the window end. Selection into the cohort
depends only on the first referral, so it does not bias this follow-up. The estimand of the
coefficient of ``n_other_problems`` is the generating log(1.3) per added parental problem; that
of ``pp_financial`` is log(3.3). Acceptance: each true value lies in the model's 95% CI.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recurrence.synth import generate, preset_config

LOG_HR_PER_PROBLEM = math.log(1.3)
LOG_HR_FINANCIAL = math.log(3.3)


@pytest.fixture(scope="module")
def follow_up() -> pd.DataFrame:
    cfg = preset_config("england-2025").replace(
        frailty_variance=0.0, la_sd=0.0, la_plan_sd=0.0, resistance_weakening=0.0
    )
    c = generate(n_children=12_000, years=10, seed=2024, preset="england-2025", config=cfg)
    win_start = pd.Timestamp("2015-04-01")
    win_end = pd.Timestamp("2025-03-31")
    tr = c.truth_referrals.sort_values(["child_key", "referral_date"])
    first = tr.groupby("child_key").head(1).set_index("child_key")
    second = tr.groupby("child_key").nth(1).set_index("child_key")
    first = first[(first["referral_date"] >= win_start) & (first["closure_date"] < win_end)]
    truth = c.truth.set_index("child_key").loc[first.index]
    start = first["closure_date"] + pd.Timedelta(days=1)
    adult = truth["birth_date"] + pd.DateOffset(years=18)
    end = pd.concat([adult, truth["death_date"].fillna(win_end), pd.Series(win_end, index=first.index)],
                    axis=1).min(axis=1)
    nxt = second["referral_date"].reindex(first.index)
    nxt_cause = second["cause"].reindex(first.index)
    ev = c.truth_events.merge(start.rename("start"), left_on="child_key", right_index=True)
    ev = ev[ev["event_date"] >= ev["start"]]
    first_event = ev.groupby("child_key")["event_date"].min().reindex(first.index)
    # A referral caused by maltreatment is itself a (referred) event; one caused by need censors.
    censor_need = nxt.where(nxt_cause == "need")
    stop = pd.concat([first_event, censor_need, end], axis=1).min(axis=1)
    event = first_event.notna() & (first_event <= stop)
    d = pd.DataFrame({
        "time": (stop - start).dt.days.astype(float) + 0.5,
        "event": event.astype(int),
        "n_other_problems": truth[["pp_mental_health", "pp_learning_disability", "pp_criminality",
                                   "pp_parent_maltreated"]].sum(axis=1),
        "pp_substance": truth["pp_substance"].astype(int),
        "pp_domestic_abuse": truth["pp_domestic_abuse"].astype(int),
        "pp_financial": truth["pp_financial"].astype(int),
        "pp_low_support": truth["pp_low_support"].astype(int),
        "family_stress": truth["family_stress"].astype(int),
        "disability": truth["disability"].astype(int),
        "latent_resistance": truth["latent_resistance"],
        "no_assessment": (~first["assessed"]).astype(int),
        "no_service_60d": (first["in_need"] & ~first["service_within_60d"]).astype(int),
        "attended": first["attended"].astype(int),
    })
    return d[d["time"] > 0].reset_index(drop=True)


COVARIATES = [
    "n_other_problems", "pp_substance", "pp_domestic_abuse", "pp_financial", "pp_low_support",
    "family_stress", "disability", "latent_resistance", "no_assessment", "no_service_60d", "attended",
]


def _fit(d: pd.DataFrame) -> pd.DataFrame:
    try:
        from recurrence.models.cox import coxph
    except ImportError:  # the package's Cox model is written in parallel; lifelines is the peer
        from lifelines import CoxPHFitter

        f = CoxPHFitter().fit(d[["time", "event", *COVARIATES]], "time", "event")
        s = f.summary
        return pd.DataFrame({"estimate": s["coef"], "ci_lower": s["coef lower 95%"],
                             "ci_upper": s["coef upper 95%"]})
    res = coxph(d, covariates=COVARIATES, event="event", time="time")
    return res.tidy().set_index("term")[["estimate", "ci_lower", "ci_upper"]]


def test_cox_recovers_the_log_hazard_ratio_per_parental_problem(follow_up) -> None:
    d = follow_up
    assert d["event"].sum() > 500, "too few events for a meaningful check"
    est = _fit(d)
    row = est.loc["n_other_problems"]
    assert row["ci_lower"] <= LOG_HR_PER_PROBLEM <= row["ci_upper"], row.to_dict()
    fin = est.loc["pp_financial"]
    assert fin["ci_lower"] <= LOG_HR_FINANCIAL <= fin["ci_upper"], fin.to_dict()
    # And the estimate is informative: the CI excludes no effect.
    assert row["ci_lower"] > 0
    assert np.isfinite(est["estimate"]).all()
