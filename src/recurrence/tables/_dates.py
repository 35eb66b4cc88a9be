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


def as_datetime(dates: pd.Series | pd.Index | np.ndarray | list[object]) -> pd.Series:
    """Return ``dates`` as a ``datetime64[ns]`` Series, without re-parsing when already dates.

    ``pd.to_datetime`` on a Series that is already ``datetime64`` still probes its values for
    caching (converting thousands to Timestamps), which dominates small calls; this skips that.
    """
    s = dates if isinstance(dates, pd.Series) else pd.Series(dates)
    if str(s.dtype) == "datetime64[ns]":
        return s
    return pd.to_datetime(s).astype("datetime64[ns]")


def from_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Build ``datetime64[ns]`` values from integer year, month and (valid) day arrays."""
    months = (np.asarray(year, dtype=np.int64) - 1970) * 12 + np.asarray(month, dtype=np.int64) - 1
    d = months.astype("datetime64[M]").astype("datetime64[D]") + (
        np.asarray(day, dtype=np.int64) - 1
    ).astype("timedelta64[D]")
    return d.astype("datetime64[ns]")


def census_year(dates: pd.Series) -> pd.Series:
    """Return the year ending 31 March that contains each date (nullable ``Int64``).

    1 April 2008 .. 31 March 2009 -> 2009.
    """
    d = as_datetime(dates)
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
    d = as_datetime(dates)
    ok = d.notna().to_numpy()
    y = d.dt.year.to_numpy(dtype="float64", na_value=0)[ok] + years
    m = d.dt.month.to_numpy(dtype="float64", na_value=0)[ok]
    day = d.dt.day.to_numpy(dtype="float64", na_value=0)[ok]
    target_leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    feb29 = (m == 2) & (day == 29) & ~target_leap
    m = np.where(feb29, 3, m)
    day = np.where(feb29, 1, day)
    out = np.full(len(d), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = from_ymd(y, m, day)
    return pd.Series(out, index=d.index)


def add_months(dates: pd.Series, months: int) -> pd.Series:
    """Add calendar months, clipping the day to the target month's length (31 Jan + 1 = 28/29 Feb).

    Used for "within 12 months" (re-referrals) and the D5 duration bands, which the DfE states
    in calendar months.
    """
    d = as_datetime(dates)
    ok = d.notna().to_numpy()
    total = (
        d.dt.year.to_numpy(dtype="float64", na_value=0)[ok] * 12
        + d.dt.month.to_numpy(dtype="float64", na_value=0)[ok]
        - 1
        + months
    ).astype(np.int64)
    first = (total - 1970 * 12).astype("datetime64[M]")
    last_day = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    day = np.minimum(d.dt.day.to_numpy(dtype="float64", na_value=0)[ok].astype(np.int64), last_day)
    out = np.full(len(d), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = (first.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")).astype(
        "datetime64[ns]"
    )
    return pd.Series(out, index=d.index)


def eighteenth_birthday(birth_dates: pd.Series) -> pd.Series:
    """Date on which each child turns 18 (no longer a child under the Children Act 1989)."""
    return add_years(birth_dates, 18)


def age_at(birth_dates: pd.Series, dates: pd.Series | pd.Timestamp) -> pd.Series:
    """Age in completed years at ``dates`` (float, NaN where either date is missing).

    A child born on 29 February completes a year on 1 March in common years, as in
    :func:`add_years`.
    """
    b = as_datetime(birth_dates)
    d = (
        pd.Series(dates, index=b.index, dtype="datetime64[ns]")
        if isinstance(dates, pd.Timestamp)
        else as_datetime(dates)
    )
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
    return (as_datetime(stop) - as_datetime(start)).dt.days.astype("float64")
