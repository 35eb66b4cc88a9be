"""Per-referral re-referral flags: the 12-month boundary and the LA scope."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.cin_tables import build
from recurrence.tables import rereferrals


def flags(referrals, **kwargs) -> dict[tuple[str, str, str], bool]:
    out = rereferrals(build(referrals=referrals), **kwargs)
    return {
        (r.child_key, r.la_code, r.cin_referral_date.strftime("%Y-%m-%d")): bool(r.rereferral)
        for r in out.itertuples()
    }


@pytest.mark.parametrize(
    ("first", "second", "calendar", "days365"),
    [
        ("2009-01-10", "2010-01-10", True, True),  # anniversary in a common year: 365 days
        ("2011-03-01", "2012-03-01", True, False),  # anniversary across 29 Feb: 366 days
        ("2011-03-01", "2012-03-02", False, False),
        ("2011-01-31", "2011-12-31", True, True),
        ("2012-02-29", "2013-02-28", True, True),  # month-end clipping: 29 Feb + 12 months
        ("2012-02-29", "2013-03-01", False, False),  # 366 days
    ],
)
def test_twelve_month_boundary(first, second, calendar, days365):
    refs = [("A", "201", first), ("A", "201", second)]
    assert flags(refs)[("A", "201", second)] is calendar
    assert flags(refs, window="365d")[("A", "201", second)] is days365
    assert flags(refs)[("A", "201", first)] is False


def test_only_the_latest_previous_referral_matters():
    refs = [("A", "201", "2009-01-01"), ("A", "201", "2009-06-01"), ("A", "201", "2010-05-01")]
    out = rereferrals(build(referrals=refs)).sort_values("cin_referral_date")
    assert out["rereferral"].tolist() == [False, True, True]
    assert out["previous_referral_date"].iloc[2] == pd.Timestamp("2009-06-01")
    assert out["days_since_previous"].iloc[2] == 334.0


def test_scope_same_la_vs_any_la():
    refs = [("A", "202", "2009-01-01"), ("A", "201", "2009-03-01"), ("B", "201", "2009-03-01")]
    assert flags(refs)[("A", "201", "2009-03-01")] is False
    assert flags(refs, scope="any_la")[("A", "201", "2009-03-01")] is True
    assert flags(refs, scope="any_la")[("B", "201", "2009-03-01")] is False


def test_same_day_referrals_are_not_previous():
    refs = [("A", "202", "2009-01-01"), ("A", "201", "2009-01-01")]
    assert not any(flags(refs, scope="any_la").values())


def test_bad_window_raises():
    with pytest.raises(ValueError, match="window"):
        rereferrals(build(referrals=[("A", "201", "2009-01-01")]), window="12m")  # type: ignore[arg-type]
