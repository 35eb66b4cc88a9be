"""Time from an index event to the next referral or plan, with censoring worked out by hand."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from helpers.cin_tables import build
from helpers.strategies import cohorts
from recurrence.tables import time_to_recurrence

EOD = "2012-03-31"


def test_next_referral_in_another_la_is_an_event():
    t = build(referrals=[("A", "201", "2010-01-01"), ("A", "202", "2010-03-01")])
    out = time_to_recurrence(t, index="referral", outcome="referral", end_of_data=EOD)
    first = out.loc[out["index_date"] == pd.Timestamp("2010-01-01")].iloc[0]
    assert (first["time"], first["event"]) == (59, 1)
    assert first["next_date"] == pd.Timestamp("2010-03-01")
    last = out.loc[out["index_date"] == pd.Timestamp("2010-03-01")].iloc[0]
    # Censored at end of data: 2010-03-01 -> 2012-03-31 is 761 days.
    assert (last["time"], last["event"], last["censor_reason"]) == (761, 0, "end_of_data")
    assert pd.isna(last["next_date"])


def test_censoring_at_18th_birthday_and_exclusion_after_it(caplog):
    # Born 2000-06-15: 18 on 2018-06-15. A referral after that cannot be followed.
    t = build(
        referrals=[("A", "201", "2017-01-01"), ("A", "201", "2018-07-01")],
        births={"A": "2000-06-15"},
    )
    with caplog.at_level(logging.WARNING):
        out = time_to_recurrence(t, index="referral", outcome="referral", end_of_data="2020-03-31")
    assert len(out) == 1
    r = out.iloc[0]
    # 2017-01-01 -> 2018-06-15 = 530 days; the 2018-07-01 referral is after censoring.
    assert (r["time"], r["event"], r["censor_reason"]) == (530, 0, "18th_birthday")
    assert r["age_at_index"] == 16.0
    assert out.attrs["excluded_index_events"]["after_18th_birthday"] == 1
    assert "1 index events" in caplog.text


def test_censoring_at_death():
    t = build(referrals=[("A", "201", "2010-01-01")], deaths={"A": "2010-02-01"})
    r = time_to_recurrence(t, index="referral", outcome="referral", end_of_data=EOD).iloc[0]
    assert (r["time"], r["event"], r["censor_reason"]) == (31, 0, "death")


def test_event_on_censoring_day_counts():
    t = build(referrals=[("A", "201", "2012-01-01"), ("A", "201", "2012-03-31")])
    out = time_to_recurrence(t, index="referral", outcome="referral", end_of_data=EOD)
    assert out["event"].tolist()[0] == 1
    # The second referral is on the end of data itself: nothing to follow, so it is excluded.
    assert len(out) == 1
    assert out.attrs["excluded_index_events"]["after_end_of_data"] == 1


def test_plan_from_the_index_referral_is_not_a_recurrence():
    t = build(
        plans=[
            ("A", "201", "2010-02-01", "2010-08-01", 0, "2010-01-01"),
            ("A", "201", "2011-03-01", None, 1, "2011-01-15"),
        ]
    )
    out = time_to_recurrence(t, index="referral", outcome="plan", end_of_data=EOD)
    r = out.loc[out["index_date"] == pd.Timestamp("2010-01-01")].iloc[0]
    # Next plan of a later referral starts 2011-03-01: 424 days after 2010-01-01.
    assert (r["time"], r["event"]) == (424, 1)


def test_plan_end_to_next_plan():
    t = build(
        plans=[
            ("A", "201", "2009-06-01", "2010-01-01", 0),
            ("A", "202", "2010-06-01", None, 1),
            ("B", "201", "2009-06-01", None, 0),
        ]
    )
    out = time_to_recurrence(t, index="plan_end", outcome="plan", end_of_data=EOD)
    assert len(out) == 1  # only ended plans are index events
    r = out.iloc[0]
    assert (r["child_key"], r["time"], r["event"], r["year"]) == ("A", 151, 1, 2010)
    ref = time_to_recurrence(t, index="plan_end", outcome="referral", end_of_data=EOD).iloc[0]
    # The 202 plan's referral (2010-06-01) is the next referral.
    assert (ref["time"], ref["event"]) == (151, 1)


def test_closure_to_next_referral():
    t = build(
        referrals=[("A", "201", "2010-01-01"), ("A", "201", "2010-09-01"), ("B", "201", "2010-02-01")]
    )
    ep = t.cin_episodes
    closure = {("A", "2010-01-01"): "2010-06-01", ("B", "2010-02-01"): "2010-03-01"}
    for (child, ref), close in closure.items():
        row = (ep["child_key"] == child) & (ep["cin_referral_date"] == pd.Timestamp(ref))
        ep.loc[row, "cin_closure_date"] = pd.Timestamp(close)
    out = time_to_recurrence(t, index="closure", outcome="referral", end_of_data=EOD)
    # Only closed episodes are index events (A's 2010-09-01 referral is still open).
    assert len(out) == 2
    a = out.loc[out["child_key"] == "A"].iloc[0]
    # Closed 2010-06-01, re-referred 2010-09-01: 92 days after closure (243 after the referral).
    assert (a["index_date"], a["time"], a["event"]) == (pd.Timestamp("2010-06-01"), 92, 1)
    b = out.loc[out["child_key"] == "B"].iloc[0]
    # Never re-referred: censored at the end of data, 2010-03-01 -> 2012-03-31 = 761 days.
    assert (b["time"], b["event"], b["censor_reason"]) == (761, 0, "end_of_data")
    by_referral = time_to_recurrence(t, index="referral", outcome="referral", end_of_data=EOD)
    first_a = by_referral.loc[by_referral["index_date"] == pd.Timestamp("2010-01-01")].iloc[0]
    assert (first_a["time"], first_a["event"]) == (243, 1)


def test_bad_options_raise():
    t = build(referrals=[("A", "201", "2010-01-01")])
    with pytest.raises(ValueError, match="index"):
        time_to_recurrence(t, index="plan", outcome="plan", end_of_data=EOD)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="end_of_data"):
        time_to_recurrence(t, index="referral", outcome="plan", end_of_data="not a date")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_invariants(tables):
    eod = pd.Timestamp("2011-06-30")
    # The strategy draws open episodes only: close every other one 90 days after its referral
    # (some closures then fall after a later referral or after the end of data).
    ep = tables.cin_episodes
    ep.loc[ep.index[::2], "cin_closure_date"] = ep["cin_referral_date"].iloc[::2] + pd.Timedelta(days=90)
    for index, outcome in [
        ("referral", "referral"),
        ("plan_end", "plan"),
        ("referral", "plan"),
        ("closure", "referral"),
        ("closure", "plan"),
    ]:
        out = time_to_recurrence(tables, index=index, outcome=outcome, end_of_data=eod)
        assert (out["time"] > 0).all()
        assert set(out["event"]) <= {0, 1}
        stop = out["index_date"] + pd.to_timedelta(out["time"], unit="D")
        assert (stop <= out["censor_date"]).all()
        events = out["event"] == 1
        assert (stop[events] == out.loc[events, "next_date"]).all()
        assert out.loc[~events, "next_date"].isna().all()
        assert ((stop == out["censor_date"]) | events).all()
        n_index = {
            "referral": len(tables.cin_episodes),
            "closure": int(tables.cin_episodes["cin_closure_date"].notna().sum()),
            "plan_end": int(tables.cpps["cpp_end_date"].notna().sum()),
        }[index]
        assert len(out) + sum(out.attrs["excluded_index_events"].values()) == n_index


def test_an_expected_birth_date_does_not_beat_a_recorded_one():
    """LA 201 recorded C before birth (expected 2000-03-20); LA 202 has the birth, 2000-04-10.

    The child turns 18 on 2018-04-10, so the referral of 2018-04-01 (age 17) is a recurrence.
    """
    from dataclasses import replace

    t = build(referrals=[("C", "201", "2000-01-15"), ("C", "202", "2017-08-01"),
                         ("C", "202", "2018-04-01")])
    ch = t.children.copy()
    in_201 = ch["la_code"] == "201"
    ch.loc[in_201, "person_birth_date"] = pd.NaT
    ch.loc[in_201, "expected_person_birth_date"] = pd.Timestamp("2000-03-20")
    ch.loc[~in_201, "person_birth_date"] = pd.Timestamp("2000-04-10")
    t = replace(t, children=ch)
    out = time_to_recurrence(t, index="referral", outcome="referral", end_of_data="2020-03-31")
    row = out.loc[out["index_date"] == pd.Timestamp("2017-08-01")].iloc[0]
    assert (row["event"], row["time"]) == (1, 243)
    # with no recorded birth date anywhere, the expected date is the fallback
    ch2 = ch.assign(person_birth_date=pd.NaT)
    out2 = time_to_recurrence(replace(t, children=ch2), index="referral", outcome="referral",
                              end_of_data="2020-03-31")
    row2 = out2.loc[out2["index_date"] == pd.Timestamp("2017-08-01")].iloc[0]
    assert (row2["event"], row2["censor_reason"]) == (0, "18th_birthday")
