"""Counting-process intervals worked out by hand, and invariants on random cohorts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from helpers.cin_tables import build
from helpers.strategies import cohorts
from recurrence.tables import PARENTAL_PROBLEM_COLUMNS, counting_process

# Child X, born 2005-01-01, first referral 2010-01-01 (day 0) in LA 201:
#   assessment authorised 2010-02-01 (day 31) with 1B, 3B and 21 (21 is not a parental problem);
#   plan 2010-03-01 (day 59) -> 2010-09-01 (day 243);
#   re-referral 2011-01-01 (day 365) in LA 202, assessment authorised 2011-02-01 (day 396): 4B;
#   end of data 2011-12-31 (day 729).
# Child Y, born 1992-05-01 (18 on 2010-05-01), referred 2009-06-01 and again 2010-06-01 (after 18):
#   one interval (0, 334], no event.
# Child Z, first referral 2012-01-05, after the end of data: no rows, counted as excluded.
EOD = "2011-12-31"
EXPECTED_X = pd.DataFrame(
    {
        "start": [0, 31, 59, 243, 365, 396],
        "stop": [31, 59, 243, 365, 396, 729],
        "event": [0, 0, 0, 1, 0, 0],
        "event_number": [1, 1, 1, 1, 2, 2],
        "gap_start": [0, 31, 59, 243, 0, 31],
        "gap_stop": [31, 59, 243, 365, 31, 364],
        "la_code": ["201", "201", "201", "201", "202", "202"],
        "pp_alcohol_misuse": [0, 1, 1, 1, 1, 0],
        "pp_domestic_abuse": [0, 1, 1, 1, 1, 0],
        "pp_mental_health": [0, 0, 0, 0, 0, 1],
        "n_parental_problems": [0, 2, 2, 2, 2, 1],
        "assessed": [0, 1, 1, 1, 1, 1],
        "plan_active": [0, 0, 1, 0, 0, 0],
        "n_prior_referrals": [1, 1, 1, 1, 2, 2],
    }
)


@pytest.fixture(scope="module")
def cp():
    t = build(
        referrals=[
            ("X", "201", "2010-01-01"),
            ("X", "202", "2011-01-01"),
            ("Y", "201", "2009-06-01"),
            ("Y", "201", "2010-06-01"),
            ("Z", "201", "2012-01-05"),
        ],
        plans=[("X", "201", "2010-03-01", "2010-09-01", 0, "2010-01-01")],
        assessments=[
            ("X", "201", "2010-01-01", "2010-01-05", "2010-02-01", "1B 3B 21"),
            ("X", "202", "2011-01-01", "2011-01-03", "2011-02-01", "4B"),
        ],
        births={"X": "2005-01-01", "Y": "1992-05-01"},
    )
    return counting_process(t, end_of_data=EOD)


def test_hand_worked_child(cp):
    x = cp.loc[cp["child_key"] == "X"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        x[EXPECTED_X.columns], EXPECTED_X, check_dtype=False, check_index_type=False
    )
    assert x["start_date"].iloc[4] == pd.Timestamp("2011-01-01")
    assert x["age_years"].iloc[0] == 5.0
    for col in ("pp_drug_misuse", "pp_learning_disability", "pp_physical_disability"):
        assert (x[col] == 0).all()


def test_censoring_at_18_and_exclusion(cp):
    y = cp.loc[cp["child_key"] == "Y"]
    assert y[["start", "stop", "event"]].values.tolist() == [[0, 334, 0]]
    assert "Z" not in set(cp["child_key"])
    assert cp.attrs["excluded_children"] == 1


def test_assessment_without_authorisation_takes_effect_at_start():
    t = build(
        referrals=[("A", "201", "2010-01-01")],
        assessments=[("A", "201", "2010-01-01", "2010-01-11", None, "2B")],
    )
    out = counting_process(t, end_of_data="2010-12-31")
    assert out[["start", "stop", "pp_drug_misuse"]].values.tolist() == [[0, 10, 0], [10, 364, 1]]


def test_overlapping_plans_keep_plan_active():
    # Plan ends in 201 and the next starts in 202 on the same day (2010-06-01, day 151): active
    # throughout. The day is still a change point, so the interval is split there with equal
    # covariates on both sides (harmless for partial likelihoods).
    t = build(
        plans=[
            ("A", "201", "2010-02-01", "2010-06-01", 0, "2010-01-01"),
            ("A", "202", "2010-06-01", "2010-09-01", 1, "2010-05-20"),
        ]
    )
    out = counting_process(t, end_of_data="2010-12-31")
    assert out[["start", "stop", "plan_active", "event"]].values.tolist() == [
        [0, 31, 0, 0],
        [31, 139, 1, 1],  # re-referral in 202 on 2010-05-20 (day 139)
        [139, 151, 1, 0],
        [151, 243, 1, 0],  # 2010-09-01 = day 243
        [243, 364, 0, 0],
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_invariants(tables):
    eod = pd.Timestamp("2011-06-30")
    out = counting_process(tables, end_of_data=eod)
    assert (out["stop"] > out["start"]).all()
    assert ((out["gap_stop"] > out["gap_start"]) & (out["gap_start"] >= 0)).all()
    for key, g in out.groupby("child_key"):
        # Contiguous from day 0, no overlaps, sorted.
        assert g["start"].iloc[0] == 0
        assert (g["start"].to_numpy()[1:] == g["stop"].to_numpy()[:-1]).all()
        eps = tables.cin_episodes.loc[tables.cin_episodes["child_key"] == key]
        days = np.unique((eps["cin_referral_date"] - eps["cin_referral_date"].min()).dt.days)
        last = g["stop"].iloc[-1]
        # Events are exactly the later referral days up to the end of follow-up.
        assert sorted(g.loc[g["event"] == 1, "stop"]) == [d for d in days if 0 < d <= last]
        assert (np.diff(g["event_number"].to_numpy()) >= 0).all()
        assert (g["n_parental_problems"] == g[list(PARENTAL_PROBLEM_COLUMNS.values())].sum(axis=1)).all()
    followed = set(out["child_key"])
    assert len(followed) + out.attrs["excluded_children"] == tables.cin_episodes["child_key"].nunique()


def test_episode_open_follows_referral_and_closure():
    # Referral 2010-01-01 closed 2010-03-01 (day 59); referral 2010-06-01 (day 151) never closed.
    t = build(referrals=[("A", "201", "2010-01-01"), ("A", "201", "2010-06-01")])
    eps = t.cin_episodes.copy()
    eps.loc[eps["cin_referral_date"] == pd.Timestamp("2010-01-01"), "cin_closure_date"] = pd.Timestamp(
        "2010-03-01"
    )
    out = counting_process(dataclasses.replace(t, cin_episodes=eps), end_of_data="2010-12-31")
    assert out[["start", "stop", "event", "episode_open"]].values.tolist() == [
        [0, 59, 0, 1],
        [59, 151, 1, 0],
        [151, 364, 0, 1],
    ]
