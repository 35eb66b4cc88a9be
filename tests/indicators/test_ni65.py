"""NI 65 under every variant on a hand-built cohort whose answers are worked out below.

LA 201, year 2010 (1 April 2009 - 31 March 2010). ``nprev`` is the recorded
NumberOfPreviousCPP.

=====  ================================================================  =====
child  plans (start -> end, LA)                                           nprev
=====  ================================================================  =====
A      2005-06-01 -> 2006-01-01 (201); 2009-06-01 -> open (201)           0, 1
B      2008-01-01 -> 2008-12-01 (202); 2009-09-01 -> open (201)           0, 1
C      2009-05-01 -> 2009-08-01 (201); 2009-11-01 -> open (201)           0, 1
D      2009-07-01 -> open (201); no earlier plan in the data              2
E      2010-01-15 -> open (201); first plan                               0
F      2007-06-01 -> 2008-03-15 (201); 2009-04-01 -> open (201)           0, 1
=====  ================================================================  =====

Starts in LA 201, year 2010: A, B, C (twice), D, E, F = 7 occasions, 6 children.
Previous plan (same LA, ever): A (2005 plan), C (second start), F -> children 3/6 = 50%;
occasions A, C's second, F = 3/7.
Any LA adds B (202 plan): children 4/6; occasions 4/7.
Look-back 2 years, same LA (previous plan ended on/after start minus 2 years):
  A's ended 2006-01-01 < 2007-06-01: no; C's ended 2009-08-01: yes;
  F's ended 2008-03-15 >= 2007-04-01: yes -> 2/6.
Look-back 1 year, same LA: C yes; F 2008-03-15 < 2008-04-01: no -> 1/6.
Look-back 1 year, any LA: B's ended 2008-12-01 >= 2008-09-01: yes; C yes -> 2/6.
D is the left-truncation case: recorded nprev = 2 but no plan in the data, so every derived
variant misses it while D3 counts it. D3: nprev >= 1 for A, B, C's second, D, F -> 5/7.
History starting 2007-01-01 hides A's 2005 plan: same LA children 2/6.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.cin_tables import build
from recurrence.indicators import d3_repeat_plans, ni65
from recurrence.tables import repeat_cpps

PLANS = [
    ("A", "201", "2005-06-01", "2006-01-01", 0),
    ("A", "201", "2009-06-01", None, 1),
    ("B", "202", "2008-01-01", "2008-12-01", 0),
    ("B", "201", "2009-09-01", None, 1),
    ("C", "201", "2009-05-01", "2009-08-01", 0),
    ("C", "201", "2009-11-01", None, 1),
    ("D", "201", "2009-07-01", None, 2),
    ("E", "201", "2010-01-15", None, 0),
    ("F", "201", "2007-06-01", "2008-03-15", 0),
    ("F", "201", "2009-04-01", None, 1),
]


@pytest.fixture(scope="module")
def cohort():
    return build(plans=PLANS)


def row(frame: pd.DataFrame, la: str = "201", year: int = 2010) -> pd.Series:
    sel = frame.loc[(frame["la_code"] == la) & (frame["year"] == year)]
    assert len(sel) == 1
    return sel.iloc[0]


@pytest.mark.parametrize(
    ("kwargs", "num", "den"),
    [
        ({}, 3, 6),
        ({"counting": "occasions"}, 3, 7),
        ({"scope": "any_la"}, 4, 6),
        ({"counting": "occasions", "scope": "any_la"}, 4, 7),
        ({"lookback_years": 2}, 2, 6),
        ({"lookback_years": 1}, 1, 6),
        ({"lookback_years": 1, "scope": "any_la"}, 2, 6),
        ({"lookback_years": 1, "counting": "occasions"}, 1, 7),
        ({"history_start": "2007-01-01"}, 2, 6),
    ],
)
def test_ni65_variants_la201_2010(cohort, kwargs, num, den):
    r = row(ni65(cohort, **kwargs))
    assert r["n_becoming_subject"] == den
    assert r["n_previous_plan"] == num
    assert r["ni65_percent"] == pytest.approx(100 * num / den)


def test_ni65_other_la_years(cohort):
    out = ni65(cohort)
    assert set(zip(out["la_code"], out["year"], strict=True)) == {
        ("201", 2006),
        ("201", 2008),
        ("201", 2010),
        ("202", 2008),
    }
    # B's first plan in 202 and F's first plan in 201: no previous plan.
    assert row(out, "202", 2008)["n_previous_plan"] == 0
    assert row(out, "201", 2008)["ni65_percent"] == 0.0


def test_history_years_reports_left_truncation(cohort):
    out = ni65(cohort)
    # LA 201's data begin 2005-06-01; year 2010 begins 2009-04-01: 1400 days of history.
    assert row(out)["history_years"] == pytest.approx(1400 / 365.25)
    # Before the data began there is no history at all.
    assert row(out, "201", 2006)["history_years"] == 0.0
    late = ni65(cohort, history_start="2007-01-01")
    assert row(late)["history_years"] == pytest.approx(821 / 365.25)


def test_d3_counts_recorded_previous_plans(cohort):
    r = row(d3_repeat_plans(cohort))
    assert (r["cpp_start"], r["cpp_subsequent"], r["cpp_previous_unknown"]) == (7, 5, 0)
    assert r["cpp_subsequent_percent"] == pytest.approx(500 / 7)


def test_d3_unknown_previous_count_stays_in_denominator():
    t = build(plans=[("A", "201", "2009-06-01", None, None), ("B", "201", "2009-07-01", None, 1)])
    r = row(d3_repeat_plans(t))
    assert (r["cpp_start"], r["cpp_subsequent"], r["cpp_previous_unknown"]) == (2, 1, 1)


def test_lookback_boundary_is_inclusive():
    # Previous plan ended exactly 1 calendar year before the new start: inside a 1-year window.
    t = build(
        plans=[
            ("A", "201", "2008-01-01", "2008-06-01", 0),
            ("A", "201", "2009-06-01", None, 1),
            ("B", "201", "2008-01-01", "2008-05-31", 0),
            ("B", "201", "2009-06-01", None, 1),
        ]
    )
    r = row(ni65(t, lookback_years=1))
    assert (r["n_becoming_subject"], r["n_previous_plan"]) == (2, 1)


def test_open_previous_plan_counts_in_any_lookback():
    # A plan still open when a new one starts (e.g. a transfer in) is within any window.
    t = build(plans=[("A", "202", "2001-01-01", None, 0), ("A", "201", "2009-06-01", None, 1)])
    assert row(ni65(t, scope="any_la", lookback_years=1))["n_previous_plan"] == 1
    assert row(ni65(t, lookback_years=1))["n_previous_plan"] == 0


def test_child_in_two_las_same_year_counts_in_each():
    t = build(plans=[("A", "201", "2009-05-01", "2009-07-01", 0), ("A", "202", "2009-10-01", None, 1)])
    out = ni65(t, scope="any_la")
    assert row(out, "201")["n_previous_plan"] == 0
    assert row(out, "202")["n_previous_plan"] == 1


def test_same_day_plans_are_not_each_others_previous():
    t = build(plans=[("A", "201", "2009-05-01", None, 0), ("A", "202", "2009-05-01", None, 0)])
    rc = repeat_cpps(t)
    assert not rc["repeat_any_la"].any()
    assert rc["n_previous_any_la"].tolist() == [0, 0]


def test_repeat_cpps_flags(cohort):
    rc = repeat_cpps(cohort).set_index(["child_key", "cpp_start_date"])
    b = rc.loc[("B", pd.Timestamp("2009-09-01"))]
    assert not b["repeat_same_la"]
    assert b["repeat_any_la"]
    assert b["last_previous_end_any_la"] == pd.Timestamp("2008-12-01")
    d = rc.loc[("D", pd.Timestamp("2009-07-01"))]
    assert d["repeat_recorded"]
    assert not d["repeat_any_la"]
    c2 = rc.loc[("C", pd.Timestamp("2009-11-01"))]
    assert c2["n_previous_same_la"] == 1
    assert c2["year"] == 2010


def test_bad_options_raise(cohort):
    with pytest.raises(ValueError, match="counting"):
        ni65(cohort, counting="plans")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scope"):
        ni65(cohort, scope="national")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lookback_years"):
        ni65(cohort, lookback_years=0)
    with pytest.raises(ValueError, match="lookback_years"):
        ni65(cohort, lookback_years=math.nan)


def test_empty_tables_give_empty_frame():
    from recurrence.data.schema import CINTables

    out = ni65(CINTables.empty())
    assert len(out) == 0
    assert list(out.columns[:5]) == [
        "la_code",
        "year",
        "n_becoming_subject",
        "n_previous_plan",
        "ni65_percent",
    ]


DAY0 = pd.Timestamp("2005-04-01")


@st.composite
def plan_histories(draw):
    """Random plan histories whose recorded NumberOfPreviousCPP is the true any-LA count."""
    plans = []
    for i in range(draw(st.integers(1, 6))):
        day = 0
        previous = 0
        for _ in range(draw(st.integers(1, 4))):
            day += draw(st.integers(1, 900))
            length = draw(st.integers(1, 800))
            la = draw(st.sampled_from(["201", "202"]))
            start = DAY0 + pd.Timedelta(days=day)
            end = start + pd.Timedelta(days=length)
            plans.append((f"k{i}", la, str(start.date()), str(end.date()), previous))
            previous += 1
            day += length
    return plans


def merged(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    return a.merge(b, on=["la_code", "year"], suffixes=("_a", "_b"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_histories())
def test_variant_orderings(plans):
    t = build(plans=plans)
    children, occasions = ni65(t), ni65(t, counting="occasions")
    m = merged(children, occasions)
    assert (m["n_becoming_subject_a"] <= m["n_becoming_subject_b"]).all()
    assert (m["n_previous_plan_a"] <= m["n_previous_plan_b"]).all()
    for counting in ("children", "occasions"):
        same = ni65(t, counting=counting)
        m = merged(same, ni65(t, counting=counting, scope="any_la"))
        assert (m["n_previous_plan_a"] <= m["n_previous_plan_b"]).all()
        m = merged(ni65(t, counting=counting, lookback_years=1), ni65(t, counting=counting, lookback_years=3))
        assert (m["n_previous_plan_a"] <= m["n_previous_plan_b"]).all()
        m = merged(ni65(t, counting=counting, lookback_years=3), same)
        assert (m["n_previous_plan_a"] <= m["n_previous_plan_b"]).all()
    # With the whole history in the data and the count recorded truthfully, D3 equals NI 65
    # counted by occasion over any LA.
    m = merged(ni65(t, counting="occasions", scope="any_la"), d3_repeat_plans(t))
    assert (m["n_previous_plan"] == m["cpp_subsequent"]).all()
    assert (m["n_becoming_subject"] == m["cpp_start"]).all()


def test_history_start_keeps_plans_open_on_that_date():
    """A census beginning 1 April 2008 returns G's plan, open then, with its 2007 start."""
    tables = build(plans=[("G", "201", "2007-06-01", "2008-12-01", 0),
                          ("G", "201", "2010-01-01", None, 1),
                          ("K", "201", "2006-01-01", "2007-01-01", 0),
                          ("K", "201", "2009-10-01", None, 1)])
    out = ni65(tables, history_start="2008-04-01")
    row2010 = out[out["year"] == 2010].iloc[0]
    # G's earlier plan is seen (open on 1 April 2008); K's ended before and is not
    assert (row2010["n_becoming_subject"], row2010["n_previous_plan"]) == (2, 1)
    seen = repeat_cpps(tables, history_start="2008-04-01")
    assert sorted(seen["cpp_start_date"].dt.strftime("%Y-%m-%d")) == [
        "2007-06-01", "2009-10-01", "2010-01-01"]


def test_history_years_start_at_the_first_census_year():
    """Returns carry open cases with old referral dates; the data still begin at the census."""
    tables = build(plans=[("H", "201", "2001-05-01", None, 0),
                          ("J", "201", "2009-06-01", None, 0)])
    without = ni65(tables)
    assert without.loc[without["year"] == 2010, "history_years"].iloc[0] > 7
    eps = tables.cin_episodes.assign(census_year=pd.array([2009] * len(tables.cin_episodes),
                                                          dtype="Int64"))
    with_census = ni65(replace(tables, cin_episodes=eps))
    assert with_census.loc[with_census["year"] == 2010, "history_years"].iloc[0] == (
        pytest.approx(365 / 365.25))
