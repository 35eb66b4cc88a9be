"""NI 65: children becoming the subject of a child protection plan for a second or subsequent time.

Definition (Communities and Local Government, *National Indicators for Local Authorities and
Local Authority Partnerships: Handbook of Definitions*, 2008, whose children's indicators DCSF
defined; NI 65 "Children
becoming the subject of a Child Protection Plan for a second or subsequent time"): the
percentage of children who became the subject of a child protection plan at any time during the
year (ending 31 March) who had previously been the subject of a child protection plan, or on the
child protection register, **of that council**, however long ago.

Where the sources disagree, and the variants this module offers
--------------------------------------------------------------
- *Occasions vs children.* The handbook counts children; the published tables behind it
  (DCSF 2009c, quoted by the seed, C4EO 2010 data annexe, Exemplar 7) counted **each occasion**:
  "where a child became the subject of a plan ... more than once during a year, each occasion has
  been counted". ``counting="children"`` counts distinct children: a child is in the numerator if
  *any* of their plan starts in the year had a previous plan (including a first-ever plan earlier
  the same year); ``counting="occasions"`` counts plan starts.
- *Same council vs any council.* The rule "of that council" misses plans in other LAs, which
  the seed notes undercounts mobile families; ``scope="any_la"`` links plans through
  ``child_key`` (the NPD-style linkage key). Same-council identity is the LA's child identifier
  (``la_code``, ``la_child_id``).
- *However long ago vs a look-back.* The handbook says "however long ago"; the seed says LAs
  recorded repeats only where the previous plan was "discontinued within the previous 12 months"
  (a second source of undercounting). ``lookback_years=k`` counts a previous plan only if it ended
  within ``k`` calendar years before the new start (or was still open then).
- *Left truncation.* Plans before the data begin are invisible (the CIN census is child-level
  only from 2008-09; the pre-2008 child protection register is not in it), so early years
  undercount repeats whatever the variant. Each output row carries ``history_years``, the years of
  data before the start of the year, and ``history_start`` emulates a later start of the data.
  Today's DfE D3 (:func:`recurrence.indicators.d3_repeat_plans`) uses the recorded
  ``NumberOfPreviousCPP`` instead, which does not depend on the extract's history.

A previous plan is one that started strictly before the new plan (a plan recorded by two LAs on
the same day is not its own predecessor); the new plan is attributed to the LA and year in which
it started. A transfer between LAs recorded as a plan ending in one and a new plan starting a
day or more later in the other *is* a previous plan under ``scope="any_la"``: the literal "any
council" rule counts it as a repeat although the child's protection was continuous. A caller
who wants transfers excluded should combine ``lookback_years`` with a rule of their own on the
gap between the plans.

Date arithmetic: look-backs add calendar years (:func:`recurrence.tables._dates.add_years`,
29 February to 1 March), while the C1 re-referral window adds calendar months and clips to the
month's end (:func:`recurrence.tables._dates.add_months`: 29 February 2008 plus 12 months is
28 February 2009, so a referral on 1 March 2009 is outside it). The two rules can differ by one
day for events on 29 February, and the look-back is then the shorter: one year back from a plan
starting on 29 February 2012 is 1 March 2011, so a previous plan that ended on 28 February 2011
is outside a one-year look-back, where a 12-calendar-month rule would have it inside.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.models.base import check_literal
from recurrence.tables._common import SCOPE_KEYS, Scope, as_timestamp, check_scope
from recurrence.tables._dates import add_years
from recurrence.tables.repeat_cpp import repeat_cpps

Counting = Literal["children", "occasions"]


def data_start_by_la(tables: CINTables, history_start: object | None = None) -> pd.Series:
    """Date from which each LA's records are complete, as a Series by LA.

    When every episode of an LA carries its ``census_year`` (data read from census returns or
    NPD extracts), the records are complete from 1 April of the first census year: a return
    also holds the cases open on 1 April with their earlier referral and plan dates, so the
    earliest date in the data would overstate the history (an episode referred in 2001 and
    still open in 2008-09 does not mean the data hold 2001-2008). Otherwise (the synthetic
    generator's pre-census years have no census year) it is the earliest referral or plan
    start. With ``history_start`` the result is at least that date.
    """
    ep = tables.cin_episodes
    dates = pd.concat(
        [
            ep[["la_code", "cin_referral_date"]].set_axis(["la_code", "d"], axis=1),
            tables.cpps[["la_code", "cpp_start_date"]].set_axis(["la_code", "d"], axis=1),
        ]
    )
    first = dates.groupby("la_code")["d"].min()
    by_la = ep.groupby("la_code")["census_year"]
    complete = by_la.count() == by_la.size()
    first_census = by_la.min()[complete & (by_la.count() > 0)].astype("int64")
    if len(first_census):
        census_start = pd.to_datetime(
            pd.DataFrame({"year": first_census - 1, "month": 4, "day": 1})
        )
        census_start.index = first_census.index
        first.loc[census_start.index] = census_start
    if history_start is not None:
        floor = as_timestamp(history_start, "history_start")
        first = first.where(first >= floor, floor)
    return first


def ni65(
    tables: CINTables,
    *,
    counting: Counting = "children",
    scope: Scope = "same_la",
    lookback_years: float | None = None,
    history_start: object | None = None,
) -> pd.DataFrame:
    """NI 65 for each LA and year (year ending 31 March), under the chosen counting rules.

    The defaults (children, same LA, however long ago) are the 2008-10 definition.

    Parameters
    ----------
    tables
        A CIN dataset; uses ``cpps`` (and ``cin_episodes`` for ``history_years``).
    counting
        ``"children"`` (distinct children) or ``"occasions"`` (plan starts).
    scope
        ``"same_la"`` (previous plan of that council) or ``"any_la"`` (any council, via
        ``child_key``).
    lookback_years
        ``None`` for "however long ago", else a positive number of years: the previous plan must
        have ended no earlier than ``lookback_years`` before the new plan's start (whole years are
        calendar years; fractional values use 365.25-day years).
    history_start
        Optional date before which plans are treated as unseen (emulates left truncation).

    Returns
    -------
    pandas.DataFrame
        ``la_code, year, n_becoming_subject`` (children or plan starts in the year),
        ``n_previous_plan`` (those with a previous plan under the rules), ``ni65_percent``
        (percentage, 0-100) and ``history_years`` (years of data before 1 April of the year
        in that LA; small values mean the indicator is biased down by left truncation).
        One row per LA and year with at least one plan start.
    """
    check_literal("counting", counting, get_args(Counting))
    scope = check_scope(scope)
    if lookback_years is not None and not (np.isfinite(lookback_years) and lookback_years > 0):
        raise ValueError(f"lookback_years must be a positive number or None; got {lookback_years!r}")
    plans = repeat_cpps(tables, history_start=history_start)
    prev = plans[f"repeat_{scope}"].to_numpy(dtype=bool)
    if lookback_years is not None:
        start = plans["cpp_start_date"]
        if float(lookback_years).is_integer():
            limit = add_years(start, -int(lookback_years))
        else:
            limit = start - pd.to_timedelta(float(lookback_years) * 365.25, unit="D")
        recent = (plans[f"last_previous_end_{scope}"] >= limit).fillna(False).to_numpy(dtype=bool)
        prev = prev & (recent | plans[f"previous_open_{scope}"].to_numpy(dtype=bool))
    plans = plans.assign(_prev=prev)
    if counting == "occasions":
        per_unit = plans.set_index(["la_code", "year"])["_prev"]
    else:
        who = SCOPE_KEYS[scope][-1]
        per_unit = plans.groupby(["la_code", "year", who], sort=True)["_prev"].any()
    g = per_unit.groupby(level=["la_code", "year"], sort=True)
    out = pd.DataFrame({"n_becoming_subject": g.size(), "n_previous_plan": g.sum()})
    out = out.reset_index()
    out["year"] = out["year"].astype("int64")
    out["n_becoming_subject"] = out["n_becoming_subject"].astype("int64")
    out["n_previous_plan"] = out["n_previous_plan"].astype("int64")
    out["ni65_percent"] = 100.0 * out["n_previous_plan"] / out["n_becoming_subject"]
    first = data_start_by_la(tables, history_start).reindex(out["la_code"]).to_numpy()
    starts = pd.to_datetime(
        {"year": out["year"] - 1, "month": np.full(len(out), 4), "day": np.full(len(out), 1)}
    ).to_numpy(dtype="datetime64[ns]")
    out["history_years"] = (starts - first) / np.timedelta64(1, "D") / 365.25
    out["history_years"] = out["history_years"].clip(lower=0.0)
    return out
