"""C1 re-referrals, NI 64 long plans and D5 duration bands on hand-worked cohorts."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.cin_tables import build
from recurrence.indicators import (
    D5_BANDS,
    d5_open_plans_by_duration,
    ni64_long_plans,
    rereferral_rate_c1,
)

# Year 2012 = 1 April 2011 - 31 March 2012 (2012 is a leap year: 29 February 2012 exists).
# P: 2011-03-01, 2012-03-01 -> 12 calendar months exactly (re-referral) but 366 days (not in 365d)
# Q: 2011-03-01, 2012-03-02 -> neither
# R: 2011-06-01, 2011-09-01, 2011-12-01 -> second and third are re-referrals either way
# S: 2011-05-01 in LA 202, then 2011-08-01 in LA 201 -> re-referral only across LAs
REFERRALS = [
    ("P", "201", "2011-03-01"),
    ("P", "201", "2012-03-01"),
    ("Q", "201", "2011-03-01"),
    ("Q", "201", "2012-03-02"),
    ("R", "201", "2011-06-01"),
    ("R", "201", "2011-09-01"),
    ("R", "201", "2011-12-01"),
    ("S", "202", "2011-05-01"),
    ("S", "201", "2011-08-01"),
]


def row(frame: pd.DataFrame, la: str = "201", year: int = 2012) -> pd.Series:
    sel = frame.loc[(frame["la_code"] == la) & (frame["year"] == year)]
    assert len(sel) == 1
    return sel.iloc[0]


@pytest.fixture(scope="module")
def referrals():
    return build(referrals=REFERRALS)


@pytest.mark.parametrize(
    ("kwargs", "re", "children_re"),
    [
        # LA 201 in 2012: P2, Q2, R1-R3, S -> 6 referrals of 4 children.
        ({}, 3, 2),  # P2, R2, R3; children P, R
        ({"window": "365d"}, 2, 1),  # R2, R3; child R
        ({"scope": "any_la"}, 4, 3),  # + S
    ],
)
def test_c1_la201_2012(referrals, kwargs, re, children_re):
    r = row(rereferral_rate_c1(referrals, **kwargs))
    assert (r["referral_count"], r["rereferral_count"]) == (6, re)
    assert (r["referral_child_count"], r["rereferral_child_count"]) == (4, children_re)
    assert r["rereferral_percent"] == pytest.approx(100 * re / 6)
    assert r["rereferral_child_percent"] == pytest.approx(100 * children_re / 4)


def test_c1_first_year_has_no_rereferrals(referrals):
    r = row(rereferral_rate_c1(referrals), year=2011)
    assert (r["referral_count"], r["rereferral_count"], r["rereferral_percent"]) == (2, 0, 0.0)


def test_ni64_two_year_boundary():
    t = build(
        plans=[
            ("A", "201", "2008-04-01", "2010-04-01", 0),  # exactly 2 years: long
            ("B", "201", "2008-04-02", "2010-04-01", 0),  # one day short
            ("C", "201", "2007-01-01", "2010-06-01", 0),  # long
            ("D", "201", "2009-01-01", None, 0),  # open: not ended, not counted
        ]
    )
    out = ni64_long_plans(t)
    r = row(out, year=2011)
    assert (r["cpp_ended"], r["cpp_ended_2_years_or_more"]) == (3, 2)
    assert r["ni64_percent"] == pytest.approx(200 / 3)
    assert len(out) == 1


def test_d5_bands_at_31_march_2010():
    starts = {
        "2009-12-31": "3_months_or_less",  # exactly 3 months before 31 March
        "2009-12-30": "more_than_3_months_6_months",
        "2009-09-30": "more_than_3_months_6_months",  # exactly 6 months
        "2009-09-29": "more_than_6_months_less_than_1_year",
        "2009-04-01": "more_than_6_months_less_than_1_year",
        "2009-03-31": "1_year_less_than_2_years",  # exactly 1 year
        "2008-04-01": "1_year_less_than_2_years",
        "2008-03-31": "2_years_or_more",  # exactly 2 years
    }
    plans = [(f"c{i}", "201", s, None, 0) for i, s in enumerate(starts)]
    plans += [
        ("e1", "201", "2010-01-01", "2010-04-01", 0),  # ended after 31 March: open, <= 3 months
        ("e2", "201", "2010-01-01", "2010-03-31", 0),  # ended on 31 March: not open
        ("e3", "201", "2010-04-01", None, 0),  # starts after 31 March
    ]
    out = d5_open_plans_by_duration(build(plans=plans), years=[2010])
    r = row(out, year=2010)
    expected = dict.fromkeys(D5_BANDS, 0)
    for band in starts.values():
        expected[band] += 1
    expected["3_months_or_less"] += 1
    assert r["cpp_at31"] == 9
    assert {b: r[b] for b in D5_BANDS} == expected
    assert sum(r[f"{b}_percent"] for b in D5_BANDS) == pytest.approx(100.0)


def test_d5_default_years_follow_a_plan_until_it_ends():
    t = build(plans=[("A", "201", "2008-05-01", "2010-06-01", 0), ("B", "201", "2011-01-01", None, 0)])
    out = d5_open_plans_by_duration(t)
    # A is open at 31 March 2009 and 2010; B at 31 March 2011; data end in year 2011.
    assert out["year"].tolist() == [2009, 2010, 2011]
    assert out["cpp_at31"].tolist() == [1, 1, 1]
    assert out["1_year_less_than_2_years"].tolist() == [0, 1, 0]
