"""Plan durations and the "lasted two years or more" flag, per plan.

Definition (National Indicators handbook of definitions, CLG 2008, definition by DCSF; NI 64 "Child protection plans lasting 2 years
or more"; continued in DfE *Characteristics of children in need* as the duration of plans ceasing
in the year): the length of a plan runs from ``cpp_start_date`` to ``cpp_end_date``; a plan has
lasted two years or more when it ended on or after the second anniversary of its start (calendar
years, 29 February -> 1 March). The seed (C4EO 2010, data annexe, Figure 19b) reports the share of
plans *discontinued* in a year that had lasted two years or more, which is what
:func:`recurrence.indicators.ni64_long_plans` aggregates.
"""

from __future__ import annotations

import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.tables._common import as_timestamp
from recurrence.tables._dates import add_years, census_year, days_between


def long_plans(tables: CINTables, *, end_of_data: object | None = None) -> pd.DataFrame:
    """One row per child protection plan with its duration and the two-year flag.

    Parameters
    ----------
    tables
        A CIN dataset; uses ``cpps``.
    end_of_data
        Optional date up to which open plans are followed; without it the duration of an open
        plan is missing.

    Returns
    -------
    pandas.DataFrame
        ``child_key, la_code, la_child_id, cin_referral_date, cpp_start_date, cpp_end_date``,
        ``year_started`` and ``year_ended`` (years ending 31 March; missing when open),
        ``ended`` (bool), ``duration_days`` (float: to the end date, or to ``end_of_data`` for an
        open plan), ``lasted_2y_or_more`` (bool: an ended plan that lasted two calendar years or
        more, or an open plan already two years old at ``end_of_data``) and ``censored`` (bool:
        open plan followed to ``end_of_data``).
    """
    cpps = tables.cpps
    out = cpps[
        ["child_key", "la_code", "la_child_id", "cin_referral_date", "cpp_start_date", "cpp_end_date"]
    ].copy()
    out["year_started"] = census_year(out["cpp_start_date"])
    out["year_ended"] = census_year(out["cpp_end_date"])
    out["ended"] = out["cpp_end_date"].notna()
    stop = out["cpp_end_date"]
    if end_of_data is not None:
        eod = as_timestamp(end_of_data, "end_of_data")
        stop = stop.fillna(eod)
    out["duration_days"] = days_between(out["cpp_start_date"], stop)
    second_anniversary = add_years(out["cpp_start_date"], 2)
    out["lasted_2y_or_more"] = (stop >= second_anniversary).fillna(False).astype(bool)
    out["censored"] = ~out["ended"] & stop.notna()
    return out.reset_index(drop=True)
