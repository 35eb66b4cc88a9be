"""Census-year and age helpers."""

from __future__ import annotations

import pandas as pd

from recurrence.tables._dates import (
    add_months,
    add_years,
    age_at,
    census_year,
    eighteenth_birthday,
    year_end,
    year_start,
)


def s(*dates: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(dates)))


def test_census_year_runs_to_31_march():
    out = census_year(s("2008-04-01", "2009-03-31", "2009-04-01", None))
    assert out.tolist()[:3] == [2009, 2009, 2010]
    assert out.isna().tolist() == [False, False, False, True]
    assert year_start(2009) == pd.Timestamp("2008-04-01")
    assert year_end(2009) == pd.Timestamp("2009-03-31")


def test_eighteenth_birthday_of_a_leapling_is_1_march():
    out = eighteenth_birthday(s("2004-02-29", "2002-02-28", None))
    assert out.tolist()[:2] == [pd.Timestamp("2022-03-01"), pd.Timestamp("2020-02-28")]
    assert pd.isna(out.iloc[2])
    assert add_years(s("2004-02-29"), 4).iloc[0] == pd.Timestamp("2008-02-29")


def test_add_months_clips_to_month_end():
    out = add_months(s("2011-01-31", "2010-03-31", "2012-02-29"), 1)
    assert out.tolist() == [
        pd.Timestamp("2011-02-28"),
        pd.Timestamp("2010-04-30"),
        pd.Timestamp("2012-03-29"),
    ]
    assert add_months(s("2010-03-31"), -6).iloc[0] == pd.Timestamp("2009-09-30")


def test_age_at_completed_years():
    births = s("2000-06-15", "2000-06-15", "2004-02-29", "2004-02-29")
    dates = s("2018-06-14", "2018-06-15", "2022-02-28", "2022-03-01")
    assert age_at(births, dates).tolist() == [17.0, 18.0, 17.0, 18.0]
