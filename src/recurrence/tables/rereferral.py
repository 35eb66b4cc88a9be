"""Re-referrals within 12 months of a previous referral, per referral.

Definition (DfE, *Characteristics of children in need* and *Children in need: a focus on
re-referrals*, methodology; table C1): "A re-referral occurs when a child is referred within
12 months of a previous referral." The DfE derives it within each LA (records linked by the LA's
child identifier), so a referral following one in another council is not a re-referral in the
published figures; ``scope="any_la"`` follows the child across LAs through ``child_key`` instead.

The published wording does not fix the boundary. Here, with ``window="calendar"`` (default), a
referral is a re-referral when it falls on or before the date 12 calendar months after the
previous referral (a referral on 1 June 2010 after one on 1 June 2009 counts; one on 2 June 2010
does not). ``window="365d"`` uses at most 365 days instead (so, across a 29 February, the
anniversary itself is outside the window). Only the child's latest earlier referral matters,
and a referral on the same day as another (two LAs recording one event) is not "previous".
"""

from __future__ import annotations

from typing import Literal, get_args

import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.models.base import check_literal
from recurrence.tables._common import SCOPE_KEYS, Scope, check_scope
from recurrence.tables._dates import add_months, census_year, days_between
from recurrence.tables._history import prior_history

Window = Literal["calendar", "365d"]


def within_12_months(previous: pd.Series, current: pd.Series, window: Window) -> pd.Series:
    """True where ``current`` is within 12 months after ``previous`` (see the module docstring).

    Missing ``previous`` gives False.
    """
    check_literal("window", window, get_args(Window))
    if window == "calendar":
        limit = add_months(previous, 12)
        return (current <= limit).fillna(False).astype(bool) & previous.notna()
    days = days_between(previous, current)
    return (days <= 365).fillna(False).astype(bool) & previous.notna()


def rereferrals(
    tables: CINTables, *, scope: Scope = "same_la", window: Window = "calendar"
) -> pd.DataFrame:
    """One row per referral (CIN episode) with its re-referral flag.

    Parameters
    ----------
    tables
        A CIN dataset; uses ``cin_episodes``.
    scope
        ``"same_la"`` (DfE's derivation: the previous referral must be in the same LA, linked by
        ``la_child_id``) or ``"any_la"`` (any LA, linked by ``child_key``).
    window
        ``"calendar"`` (within 12 calendar months, anniversary included) or ``"365d"``.

    Returns
    -------
    pandas.DataFrame
        ``child_key, la_code, la_child_id, cin_referral_date, year`` (year ending 31 March of
        the referral), ``previous_referral_date`` (latest strictly earlier referral of the child
        in the scope; ``NaT`` if none in the data), ``days_since_previous`` (float days) and
        ``rereferral`` (bool). A first referral seen in the data is never a re-referral, even if
        the child had a referral before the data start (left truncation: the first 12 months of
        an extract undercount re-referrals).
    """
    scope = check_scope(scope)
    check_literal("window", window, get_args(Window))
    eps = tables.cin_episodes
    out = eps[["child_key", "la_code", "la_child_id", "cin_referral_date"]].copy()
    out["year"] = census_year(out["cin_referral_date"])
    h = prior_history(eps, SCOPE_KEYS[scope], "cin_referral_date")
    out["previous_referral_date"] = h.last_prior_date
    out["days_since_previous"] = days_between(h.last_prior_date, out["cin_referral_date"])
    out["rereferral"] = within_12_months(h.last_prior_date, out["cin_referral_date"], window)
    return out.reset_index(drop=True)
