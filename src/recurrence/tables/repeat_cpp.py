"""Repeat child protection plans, per plan.

A plan is a *repeat* when the same child had been the subject of an earlier child protection
plan. The package derives this two ways, because the sources disagree about whose history counts
and the data can see only part of it:

1. **Derived from the plan history in the data** (:func:`repeat_cpps` columns ``*_same_la`` and
   ``*_any_la``): an earlier plan of the same child in the same LA (the rule of NI 65, National
   Indicators handbook of definitions (CLG 2008; definition by DCSF): previous plans "of that council"), or in any LA through
   the cross-LA linkage key ``child_key``.
2. **As recorded** (``repeat_recorded``): the LA's ``NumberOfPreviousCPP`` > 0. The CIN census
   guide asks for the number of previous plans the child has been the subject of, in any LA and
   however long ago, so it should equal the any-LA derivation when the data hold the child's whole
   history. It is the source of today's DfE table D3 (*Characteristics of children in need*,
   "plans which are a second or subsequent plan").

Left truncation: a plan before the first date of the data (before the CIN census began in
2008-09, or before an extract starts) is invisible to the derivation, so derived flags
undercount repeats early in the data; ``repeat_recorded`` does not suffer from this but depends on
the LA's recording. ``history_start`` lets a caller emulate a later start of history.
"""

from __future__ import annotations

import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.tables._common import SCOPE_KEYS, as_timestamp
from recurrence.tables._dates import census_year
from recurrence.tables._history import prior_history

PLAN_ID_COLUMNS = ["child_key", "la_code", "la_child_id", "cin_referral_date", "cpp_start_date"]


def plans_in_history(tables: CINTables, history_start: object | None = None) -> pd.DataFrame:
    """Return the ``cpps`` table as data beginning at ``history_start`` would hold it.

    A census that begins on ``history_start`` returns the plans that start on or after it and
    also the plans still open then (no end date, or an end on or after it), with their earlier
    start dates: only plans that had ended before ``history_start`` are unseen.
    """
    cpps = tables.cpps
    if history_start is not None:
        start = as_timestamp(history_start, "history_start")
        end = cpps["cpp_end_date"]
        seen = (cpps["cpp_start_date"] >= start) | end.isna() | (end >= start)
        cpps = cpps.loc[seen]
    return cpps.reset_index(drop=True)


def repeat_cpps(tables: CINTables, *, history_start: object | None = None) -> pd.DataFrame:
    """One row per child protection plan with repeat-plan flags (derived and recorded).

    Parameters
    ----------
    tables
        A CIN dataset; uses ``cpps`` only.
    history_start
        Optional date: plans that had ended before it are treated as unseen (dropped from the
        history and from the output), to emulate data that begin later (left truncation);
        plans open on that date stay, as a census beginning then would return them.

    Returns
    -------
    pandas.DataFrame
        ``child_key, la_code, la_child_id, cin_referral_date, cpp_start_date, cpp_end_date,
        year`` (year ending 31 March of the plan start), ``number_of_previous_cpp`` (as
        recorded), and for each scope ``s`` in ``same_la`` / ``any_la``:

        ``n_previous_{s}``
            number of the child's plans that started strictly before this one (plans starting
            the same day, e.g. a transfer recorded by two LAs, are not "previous");
        ``last_previous_end_{s}``
            latest recorded end date among those earlier plans (``NaT`` if none ended);
        ``previous_open_{s}``
            true when an earlier plan has no end date (still open when this one started);
        ``repeat_{s}``
            ``n_previous_{s} > 0``.

        ``repeat_recorded`` is ``number_of_previous_cpp > 0`` (nullable boolean, missing when
        the count was not recorded). ``repeat_any_la`` and ``repeat_recorded`` disagree
        where history is truncated, where children cannot be linked across LAs, or where
        LAs record the count incompletely.
    """
    cpps = plans_in_history(tables, history_start)
    out = cpps[[*PLAN_ID_COLUMNS, "cpp_end_date", "number_of_previous_cpp"]].copy()
    out.insert(6, "year", census_year(out["cpp_start_date"]))
    for scope, keys in SCOPE_KEYS.items():
        h = prior_history(cpps, keys, "cpp_start_date", "cpp_end_date")
        out[f"n_previous_{scope}"] = h.n_prior.astype("int64")
        out[f"last_previous_end_{scope}"] = h.max_prior_end
        out[f"previous_open_{scope}"] = h.prior_open.astype(bool)
        out[f"repeat_{scope}"] = (h.n_prior > 0).astype(bool)
    out["repeat_recorded"] = (out["number_of_previous_cpp"] > 0).astype("boolean")
    return out
