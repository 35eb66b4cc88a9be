"""DfE LA-level indicators from child-level CIN tables, in the layout the DfE publishes them.

Each function returns one row per LA (``la_code``) and year ending 31 March (``year``) with
columns named as in the *Characteristics of children in need* underlying data (Explore
Education Statistics CSVs, ``../shared/data/dfe/``), lower-cased, so computed and published
figures can be set side by side:

- :func:`rereferral_rate_c1` - table C1, referrals and re-referrals within 12 months;
- :func:`d3_repeat_plans` - table D3, plan starts that are a second or subsequent plan;
- :func:`ni64_long_plans` - NI 64, plans ending in the year that lasted two years or more;
- :func:`d5_open_plans_by_duration` - table D5, plans open at 31 March by length.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.tables._common import SCOPE_KEYS, Scope, check_scope
from recurrence.tables._dates import add_months, census_year, year_end
from recurrence.tables.long_plans import long_plans
from recurrence.tables.rereferral import Window, rereferrals

D5_BANDS: tuple[str, ...] = (
    "3_months_or_less",
    "more_than_3_months_6_months",
    "more_than_6_months_less_than_1_year",
    "1_year_less_than_2_years",
    "2_years_or_more",
)
"""D5 duration bands, named exactly as the DfE's CSV columns."""


def _pct(num: pd.Series, den: pd.Series) -> pd.Series:
    return (100.0 * num / den.where(den > 0)).astype("float64")


def rereferral_rate_c1(
    tables: CINTables, *, scope: Scope = "same_la", window: Window = "calendar"
) -> pd.DataFrame:
    """Referrals and re-referrals within 12 months, per LA and year (DfE table C1).

    Definition: DfE *Characteristics of children in need*, table C1 and methodology ("a
    re-referral occurs when a child is referred within 12 months of a previous referral"); the
    flag per referral is :func:`recurrence.tables.rereferrals` (see it for the boundary rule and
    the ``scope`` and ``window`` options; the DfE derivation is ``scope="same_la"``).

    Returns
    -------
    pandas.DataFrame
        ``la_code, year, referral_count, rereferral_count, rereferral_percent`` (re-referrals as
        a percentage of referrals in the year) and ``referral_child_count,
        rereferral_child_count, rereferral_child_percent`` (distinct children referred, and
        those with at least one re-referral in the year). Percentages are 0-100.
    """
    scope = check_scope(scope)
    r = rereferrals(tables, scope=scope, window=window)
    g = r.groupby(["la_code", "year"], sort=True)
    out = pd.DataFrame({"referral_count": g.size(), "rereferral_count": g["rereferral"].sum()})
    who = SCOPE_KEYS[scope][-1]
    per_child = r.groupby(["la_code", "year", who], sort=True)["rereferral"].any()
    gc = per_child.groupby(level=["la_code", "year"], sort=True)
    out["referral_child_count"] = gc.size()
    out["rereferral_child_count"] = gc.sum()
    out = out.reset_index().astype(
        {c: "int64" for c in ("year", "referral_count", "rereferral_count",
                              "referral_child_count", "rereferral_child_count")}
    )
    out.insert(4, "rereferral_percent", _pct(out["rereferral_count"], out["referral_count"]))
    out["rereferral_child_percent"] = _pct(out["rereferral_child_count"], out["referral_child_count"])
    return out


def d3_repeat_plans(tables: CINTables) -> pd.DataFrame:
    """Plan starts that are a second or subsequent plan, per LA and year (DfE table D3).

    Definition: DfE *Characteristics of children in need*, table D3 ("child protection plans
    which are a second or subsequent plan"): plan starts in the year whose recorded
    ``NumberOfPreviousCPP`` is 1 or more. It counts occasions (plan starts) and does not depend
    on the history in the extract, unlike NI 65 (:func:`recurrence.indicators.ni65`), its 2008-10
    predecessor.

    Whose previous plans count is not settled by the sources here. The package reads the
    recorded count as covering previous plans in any LA however long ago, which is what the CIN
    census guide is understood to ask for; the guide's text is not in ``../shared``, and LG
    Inform's description of this table (metric 100, "taken from Characteristics of Children in
    need, table D3") still uses NI 65's wording, previous plans "of that council" regardless of
    how long ago. The function counts what the LA recorded, whichever scope the LA applied.

    Returns
    -------
    pandas.DataFrame
        ``la_code, year, cpp_start`` (plan starts), ``cpp_subsequent`` (starts with
        ``number_of_previous_cpp >= 1``), ``cpp_subsequent_percent`` (0-100, of all starts) and
        ``cpp_previous_unknown`` (starts with the count not recorded; they stay in the
        denominator, as in the published table, and are not counted as subsequent).
    """
    c = tables.cpps
    frame = pd.DataFrame(
        {
            "la_code": c["la_code"],
            "year": census_year(c["cpp_start_date"]),
            "sub": (c["number_of_previous_cpp"] >= 1).fillna(False).astype(bool),
            "unknown": c["number_of_previous_cpp"].isna(),
        }
    )
    g = frame.groupby(["la_code", "year"], sort=True)
    out = pd.DataFrame(
        {"cpp_start": g.size(), "cpp_subsequent": g["sub"].sum(), "unknown": g["unknown"].sum()}
    ).reset_index()
    out = out.astype({"year": "int64", "cpp_start": "int64", "cpp_subsequent": "int64"})
    out["cpp_subsequent_percent"] = _pct(out["cpp_subsequent"], out["cpp_start"])
    out["cpp_previous_unknown"] = out.pop("unknown").astype("int64")
    return out


def ni64_long_plans(tables: CINTables) -> pd.DataFrame:
    """Plans ending in the year that had lasted two years or more, per LA and year (NI 64).

    Definition: National Indicators handbook of definitions (CLG 2008; definition by DCSF),
    NI 64 "Child protection plans
    lasting 2 years or more": the percentage of child protection plans that ceased during the
    year which had lasted two years or more (continued in the DfE's tables of plans ending in
    the year by duration; the seed's Figure 19b). Duration per plan is from
    :func:`recurrence.tables.long_plans` (two calendar years, start to end).

    Returns
    -------
    pandas.DataFrame
        ``la_code, year`` (year of the end date), ``cpp_ended``, ``cpp_ended_2_years_or_more``
        and ``ni64_percent`` (0-100).
    """
    lp = long_plans(tables)
    lp = lp.loc[lp["ended"]]
    g = lp.groupby(["la_code", "year_ended"], sort=True)
    out = pd.DataFrame(
        {"cpp_ended": g.size(), "cpp_ended_2_years_or_more": g["lasted_2y_or_more"].sum()}
    ).reset_index()
    out = out.rename(columns={"year_ended": "year"}).astype(
        {"year": "int64", "cpp_ended": "int64", "cpp_ended_2_years_or_more": "int64"}
    )
    out["ni64_percent"] = _pct(out["cpp_ended_2_years_or_more"], out["cpp_ended"])
    return out


def d5_open_plans_by_duration(
    tables: CINTables, *, years: Iterable[int] | None = None
) -> pd.DataFrame:
    """Plans open at 31 March by how long they had lasted, per LA and year (DfE table D5).

    Definition: DfE *Characteristics of children in need*, table D5 ("child protection plans at
    31 March by length of time"). A plan is open at 31 March of year Y when it started on or
    before that date and has no end date or ended after it. Length runs from the plan start to
    31 March in calendar months: 3 months or less (started on or after the date 3 months
    before); more than 3 months and up to 6 months; more than 6 months and less than 1 year; 1 year
    and less than 2 years; 2 years or more. The DfE does not publish the day-level boundary
    rule; this is the reading of its band labels.

    Parameters
    ----------
    years
        Years ending 31 March to report; default every year from the first plan start to the
        latest date in ``cpps`` or ``cin_episodes``. LAs are reported in each year in which they
        have at least one open plan.

    Returns
    -------
    pandas.DataFrame
        ``la_code, year, cpp_at31`` and, for each band in :data:`D5_BANDS`, the count and
        ``<band>_percent`` (0-100 of ``cpp_at31``).
    """
    c = tables.cpps
    if years is None:
        if len(c) == 0:
            years_arr = np.zeros(0, dtype=np.int64)
        else:
            last = pd.concat(
                [c["cpp_start_date"], c["cpp_end_date"], tables.cin_episodes["cin_referral_date"]]
            ).max()
            first_y = int(census_year(pd.Series([c["cpp_start_date"].min()])).iloc[0])
            last_y = int(census_year(pd.Series([last])).iloc[0])
            years_arr = np.arange(first_y, last_y + 1, dtype=np.int64)
    else:
        years_arr = np.asarray(sorted(set(int(y) for y in years)), dtype=np.int64)
    if len(years_arr) == 0:
        cols = ["la_code", "year", "cpp_at31", *D5_BANDS, *(f"{b}_percent" for b in D5_BANDS)]
        return pd.DataFrame({k: pd.Series(dtype="int64") for k in cols}).astype({"la_code": object})
    # Expand each plan over the years at whose 31 March it is open: from the year of its start
    # to the year before the year of its end (census_year(end) - 1), clipped to `years_arr`.
    first = census_year(c["cpp_start_date"]).to_numpy(dtype="float64")
    last = (census_year(c["cpp_end_date"]) - 1).astype("float64").fillna(float(years_arr.max()))
    first = np.maximum(first, years_arr.min())
    last = np.minimum(last.to_numpy(), years_arr.max())
    n_years = np.maximum(last - first + 1, 0).astype(np.int64)
    rows = np.repeat(np.arange(len(c)), n_years)
    offset = np.arange(len(rows)) - np.repeat(np.cumsum(n_years) - n_years, n_years)
    yr = first[rows].astype(np.int64) + offset
    keep = np.isin(yr, years_arr)
    rows, yr = rows[keep], yr[keep]
    start = c["cpp_start_date"].to_numpy(dtype="datetime64[ns]")[rows]
    ref_by_year = {int(y): year_end(int(y)) for y in np.unique(yr)}
    ref_dates = pd.Series(list(ref_by_year.values()), index=list(ref_by_year.keys()))
    bounds = {
        m: add_months(ref_dates, -m).reindex(yr).to_numpy(dtype="datetime64[ns]")
        for m in (3, 6, 12, 24)
    }
    band = np.select(
        [
            start >= bounds[3],
            start >= bounds[6],
            start > bounds[12],
            start > bounds[24],
        ],
        list(range(4)),
        default=4,
    )
    frame = pd.DataFrame(
        {"la_code": c["la_code"].to_numpy()[rows], "year": yr, "band": np.asarray(D5_BANDS)[band]}
    )
    out = pd.crosstab([frame["la_code"], frame["year"]], frame["band"])
    out = out.reindex(columns=list(D5_BANDS), fill_value=0)
    out.columns.name = None
    out.insert(0, "cpp_at31", out.sum(axis=1))
    out = out.reset_index().astype({"year": "int64"})
    for b in D5_BANDS:
        out[b] = out[b].astype("int64")
        out[f"{b}_percent"] = _pct(out[b], out["cpp_at31"])
    out["cpp_at31"] = out["cpp_at31"].astype("int64")
    return out
