"""Time from an index event to the next referral or plan of the same child (survival data).

One row per index event (a referral, the closure of a CIN episode, or the end of a child
protection plan) with the time in
days to the child's next outcome event (a referral, or the start of a plan) in **any LA**, linked
through ``child_key``, censored at the 18th birthday, death or the end of the data, whichever
comes first (see :mod:`recurrence.tables._censoring`).

Definitions
-----------
- The next outcome is the first one dated *strictly after* the index date.
- ``index="referral", outcome="plan"``: the next plan is the first plan belonging to a *later*
  referral (``cin_referral_date`` after the index referral). A plan that follows from the index
  referral itself is the response to it, not a recurrence.
- ``index="closure"``: CIN episodes with a closure date only (``CINclosureDate``). Time runs
  from the end of involvement, as in studies of re-referral after case closure (Goldacre et al.
  2025, below). It differs from ``index="referral"`` (the DfE's re-referral measure, which
  counts from the previous referral date) in one way that matters for models: the months an
  episode stays open are inside the 12 months after its referral but not after its closure, and
  a new referral is rarely made while an episode is open. Families whose episodes last longer
  (more needs recorded, a plan) therefore have less time "at risk" of a re-referral counted from
  the referral date, which can hide or reverse their higher rate of recurrence.
- ``index="plan_end"``: plans with an end date only. A plan starting on the day after another
  ends in a different LA is often a transfer between councils, not new maltreatment; such pairs
  are kept (the data cannot tell them apart) and have ``time`` 1.
- An event on the censoring date itself counts as an event.

The seed (C4EO 2010) reports recurrence as fixed-window risks: re-reports within 60 days
(section 4, e.g. Fuller and Wells 2003) and repeat referrals within 12 months (data annexe); it
does not analyse time to recurrence. This table gives the time-to-event form of those outcomes,
as used by Goldacre et al. (2025, *Children and Youth Services Review* 169, 108113: re-referral
after case closure, censored); a fixed-window risk is its event indicator with ``time`` at most
the window.
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

import numpy as np
import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.models.base import check_literal
from recurrence.tables._censoring import child_censoring
from recurrence.tables._common import as_timestamp
from recurrence.tables._dates import age_at, as_datetime, census_year

log = logging.getLogger(__name__)

IndexEvent = Literal["referral", "closure", "plan_end"]
OutcomeEvent = Literal["referral", "plan"]

_SHIFT = np.int64(1 << 22)  # > any day number used below (days since 1900 + margin)
_ORIGIN = pd.Timestamp("1900-01-01")


def to_days(dates: pd.Series) -> np.ndarray:
    """Whole days since 1 January 1900 as float (NaN for missing)."""
    d = as_datetime(dates)
    return ((d - _ORIGIN).dt.days).to_numpy(dtype="float64", na_value=np.nan)


def _keys(gid: np.ndarray, day: np.ndarray) -> np.ndarray:
    return gid.astype(np.int64) * _SHIFT + day.astype(np.int64)


def next_after(
    index_gid: np.ndarray,
    index_day: np.ndarray,
    event_gid: np.ndarray,
    event_day: np.ndarray,
    event_value: np.ndarray | None = None,
) -> np.ndarray:
    """For each index, the smallest ``event_value`` among events of the same group with
    ``event_day`` strictly greater than ``index_day`` (NaN if none).

    Without ``event_value`` the value is the event day itself (the next event). Vectorised by
    one sort and ``searchsorted`` on a combined (group, day) integer key.
    """
    values = event_day if event_value is None else event_value
    order = np.lexsort((event_day, event_gid))
    g_s, d_s, v_s = event_gid[order], event_day[order], values[order].astype("float64")
    # Suffix minimum of the value within each group (reverse cumulative min).
    rev = pd.Series(v_s[::-1]).groupby(g_s[::-1], sort=False).cummin().to_numpy()[::-1]
    keys = _keys(g_s, d_s)
    pos = np.searchsorted(keys, _keys(index_gid, index_day), side="right")
    ok = pos < len(keys)
    safe = np.minimum(pos, max(len(keys) - 1, 0))
    if len(keys):
        ok &= g_s[safe] == index_gid
    out = np.full(len(index_gid), np.nan)
    if len(keys):
        out[ok] = rev[safe[ok]]
    return out


def time_to_recurrence(
    tables: CINTables,
    *,
    index: IndexEvent,
    outcome: OutcomeEvent,
    end_of_data: object,
) -> pd.DataFrame:
    """Survival table: time from each index event to the child's next referral or plan.

    Parameters
    ----------
    tables
        A CIN dataset (uses ``children``, ``cin_episodes``, ``cpps``).
    index
        ``"referral"`` (every referral), ``"closure"`` (every closed CIN episode, from its
        ``cin_closure_date``) or ``"plan_end"`` (every ended plan).
    outcome
        ``"referral"`` (next referral in any LA) or ``"plan"`` (next plan start in any LA).
    end_of_data
        Last date of follow-up (e.g. 31 March of the last census year).

    Returns
    -------
    pandas.DataFrame
        One row per included index event: ``child_key, la_code, la_child_id, index_date, year``
        (year ending 31 March of the index), ``age_at_index`` (completed years; NaN if no birth
        date), ``next_date`` (outcome date if observed before censoring, else ``NaT``),
        ``censor_date``, ``censor_reason`` (18th_birthday, death, end_of_data), ``time`` (int
        days from index to event or censoring, > 0) and ``event`` (int 1 = outcome observed,
        0 = censored).

        Index events on or after the child's censoring date (referrals after death or after the
        18th birthday in bad data, or after ``end_of_data``) cannot be followed: they are left
        out, counted in ``frame.attrs["excluded_index_events"]`` (a dict reason -> count) and
        logged as a warning.
    """
    check_literal("index", index, get_args(IndexEvent))
    check_literal("outcome", outcome, get_args(OutcomeEvent))
    eod = as_timestamp(end_of_data, "end_of_data")
    cens = child_censoring(tables, eod)
    gid_of = pd.Series(np.arange(len(cens), dtype=np.int64), index=cens.index)

    if index == "referral":
        src = tables.cin_episodes
        idx = src[["child_key", "la_code", "la_child_id"]].copy()
        idx["index_date"] = src["cin_referral_date"]
    elif index == "closure":
        src = tables.cin_episodes.loc[tables.cin_episodes["cin_closure_date"].notna()]
        idx = src[["child_key", "la_code", "la_child_id"]].copy()
        idx["index_date"] = src["cin_closure_date"]
    else:
        src = tables.cpps.loc[tables.cpps["cpp_end_date"].notna()]
        idx = src[["child_key", "la_code", "la_child_id"]].copy()
        idx["index_date"] = src["cpp_end_date"]
    idx = idx.reset_index(drop=True)
    i_gid = gid_of.reindex(idx["child_key"]).to_numpy()
    i_day = to_days(idx["index_date"])

    if outcome == "referral":
        ev = tables.cin_episodes
        e_gid = gid_of.reindex(ev["child_key"]).to_numpy()
        nxt = next_after(i_gid, i_day, e_gid, to_days(ev["cin_referral_date"]))
    else:
        ev = tables.cpps
        e_gid = gid_of.reindex(ev["child_key"]).to_numpy()
        start = to_days(ev["cpp_start_date"])
        if index == "referral":
            # Only plans of later referrals: key the search on the plan's referral date and take
            # the earliest start among them.
            nxt = next_after(i_gid, i_day, e_gid, to_days(ev["cin_referral_date"]), start)
        else:
            nxt = next_after(i_gid, i_day, e_gid, start)

    c = cens.reindex(idx["child_key"])
    c_day = to_days(c["censor_date"].reset_index(drop=True))
    keep = i_day < c_day
    reasons = c["censor_reason"].to_numpy()
    excluded = {
        f"after_{r}": int(np.sum(~keep & (reasons == r))) for r in ("18th_birthday", "death", "end_of_data")
    }
    if (~keep).any():
        log.warning(
            "time_to_recurrence: %d index events on or after the child's censoring date left out (%s)",
            int((~keep).sum()),
            ", ".join(f"{k}: {v}" for k, v in excluded.items() if v),
        )
    event = np.isfinite(nxt) & (nxt <= c_day)
    stop = np.where(event, nxt, c_day)
    out = idx.copy()
    out["year"] = census_year(out["index_date"])
    birth = c["birth_date"].reset_index(drop=True)
    out["age_at_index"] = age_at(birth, out["index_date"])
    out["next_date"] = pd.Series(
        np.where(event, nxt, np.nan), dtype="float64"
    ).pipe(lambda s: _ORIGIN + pd.to_timedelta(s, unit="D"))
    out["censor_date"] = c["censor_date"].to_numpy()
    out["censor_reason"] = reasons
    out["time"] = (stop - i_day).round()
    out["event"] = event.astype("int64")
    out = out.loc[keep].reset_index(drop=True)
    out["time"] = out["time"].astype("int64")
    out.attrs["excluded_index_events"] = excluded
    return out
