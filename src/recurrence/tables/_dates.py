"""Date helpers shared by the analysis tables and indicators.

The DfE reports children in need statistics by *year ending 31 March*: year 2009 runs from
1 April 2008 to 31 March 2009 inclusive (DfE, *Characteristics of children in need*
methodology; the CIN census collection year). Every ``year`` column in :mod:`recurrence.tables`
and :mod:`recurrence.indicators` uses that convention.

All helpers are vectorised over pandas Series of ``datetime64[ns]``; missing dates (``NaT``)
propagate as missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def census_year(dates: pd.Series) -> pd.Series:
    """Return the year ending 31 March that contains each date (nullable ``Int64``).

    1 April 2008 .. 31 March 2009 -> 2009.
    """
    d = pd.to_datetime(dates)
    year = d.dt.year + (d.dt.month >= 4).astype("Int64")
    return year.astype("Int64")


def year_start(year: int) -> pd.Timestamp:
    """First day (1 April of ``year - 1``) of the year ending 31 March ``year``."""
    return pd.Timestamp(year=int(year) - 1, month=4, day=1)


def year_end(year: int) -> pd.Timestamp:
    """Last day (31 March ``year``) of the year ending 31 March ``year``."""
    return pd.Timestamp(year=int(year), month=3, day=31)


def add_years(dates: pd.Series, years: int) -> pd.Series:
    """Add whole calendar years; 29 February maps to 1 March in a non-leap target year.

    This is the English legal convention for birthdays of people born on 29 February (a person
    attains an age at the start of the anniversary, and in a common year the day after
    28 February is taken), and it keeps ``add_years`` monotone. ``pandas.DateOffset`` would give
    28 February instead.
    """
    d = pd.to_datetime(pd.Series(dates))
    y = d.dt.year + years
    m = d.dt.month
    day = d.dt.day
    target_leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    feb29 = (m == 2) & (day == 29) & ~target_leap
    m = m.where(~feb29, 3)
    day = day.where(~feb29, 1)
    parts = pd.DataFrame({"year": y, "month": m, "day": day})
    out = pd.to_datetime(parts.dropna().astype("int64"))
    return out.reindex(d.index).astype("datetime64[ns]")


def add_months(dates: pd.Series, months: int) -> pd.Series:
    """Add calendar months, clipping the day to the target month's length (31 Jan + 1 = 28/29 Feb).

    Used for "within 12 months" (re-referrals) and the D5 duration bands, which the DfE states
    in calendar months.
    """
    d = pd.to_datetime(pd.Series(dates))
    total = d.dt.year * 12 + (d.dt.month - 1) + months
    y = total // 12
    m = total % 12 + 1
    ok = d.notna()
    first = pd.to_datetime(
        pd.DataFrame({"year": y[ok], "month": m[ok], "day": 1}).astype("int64")
    )
    last_day = (first + pd.offsets.MonthEnd(0)).dt.day
    day = np.minimum(d.dt.day[ok].to_numpy(), last_day.to_numpy())
    out = first + pd.to_timedelta(day - 1, unit="D")
    return out.reindex(d.index).astype("datetime64[ns]")


def eighteenth_birthday(birth_dates: pd.Series) -> pd.Series:
    """Date on which each child turns 18 (no longer a child under the Children Act 1989)."""
    return add_years(birth_dates, 18)


def age_at(birth_dates: pd.Series, dates: pd.Series | pd.Timestamp) -> pd.Series:
    """Age in completed years at ``dates`` (float, NaN where either date is missing).

    A child born on 29 February completes a year on 1 March in common years, as in
    :func:`add_years`.
    """
    b = pd.to_datetime(pd.Series(birth_dates))
    d = pd.Series(dates, index=b.index) if isinstance(dates, pd.Timestamp) else pd.Series(dates)
    d = pd.to_datetime(d)
    years = (d.dt.year - b.dt.year).astype("float64")
    # Before this year's birthday: one year fewer. Compare (month, day) with 29 Feb treated as 1 Mar
    # in common years of the comparison date.
    bm, bd = b.dt.month, b.dt.day
    leap = (d.dt.year % 4 == 0) & ((d.dt.year % 100 != 0) | (d.dt.year % 400 == 0))
    feb29 = (bm == 2) & (bd == 29) & ~leap
    bm = bm.where(~feb29, 3)
    bd = bd.where(~feb29, 1)
    before = (d.dt.month < bm) | ((d.dt.month == bm) & (d.dt.day < bd))
    return years - before.astype("float64")


def days_between(start: pd.Series, stop: pd.Series) -> pd.Series:
    """Whole days from ``start`` to ``stop`` as float (NaN where either is missing)."""
    return (pd.to_datetime(stop) - pd.to_datetime(start)).dt.days.astype("float64")
