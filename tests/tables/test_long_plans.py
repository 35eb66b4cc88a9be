"""Plan durations and the two-year flag."""

from __future__ import annotations

import pytest

from helpers.cin_tables import build
from recurrence.tables import long_plans


@pytest.fixture(scope="module")
def plans():
    t = build(
        plans=[
            ("A", "201", "2008-02-29", "2010-03-01", 0),  # 2nd anniversary of 29 Feb = 1 Mar: long
            ("B", "201", "2008-02-29", "2010-02-28", 0),  # a day short
            ("C", "201", "2009-06-01", None, 0),  # open
        ]
    )
    return long_plans(t, end_of_data="2011-06-01").set_index("child_key")


def test_two_year_flag_on_ended_plans(plans):
    assert bool(plans.loc["A", "lasted_2y_or_more"])
    assert not bool(plans.loc["B", "lasted_2y_or_more"])
    assert plans.loc["A", "duration_days"] == 731.0
    assert (plans.loc["A", "year_started"], plans.loc["A", "year_ended"]) == (2008, 2010)


def test_open_plan_followed_to_end_of_data(plans):
    c = plans.loc["C"]
    assert not bool(c["ended"])
    assert bool(c["censored"])
    assert bool(c["lasted_2y_or_more"])  # 2009-06-01 -> 2011-06-01 is exactly two years
    assert c["duration_days"] == 730.0


def test_open_plan_without_end_of_data_has_no_duration():
    out = long_plans(build(plans=[("C", "201", "2009-06-01", None, 0)]))
    assert out["duration_days"].isna().all()
    assert not out["lasted_2y_or_more"].any()
    assert not out["censored"].any()
