"""Vectorised look-ups of a record's earlier history within a group (a child, in one or any LA).

The analysis tables ask, for each dated record (a referral, a plan start), how many records of
the same child came *strictly* earlier, when the latest of them was, and the latest end date
among them. Records on the same day are not "earlier" than each other: two plans a child starts
on the same day in two LAs (a transfer recorded on one date) are not each other's previous plan.

Everything is done with one sort and numpy/pandas group operations, never a Python loop per
child, because these tables are built for national extracts (hundreds of thousands of children).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_NAT = np.iinfo(np.int64).min
_OPEN = np.iinfo(np.int64).max


@dataclass(frozen=True)
class PriorHistory:
    """Per-record history, aligned with the input frame's index.

    Attributes
    ----------
    n_prior
        Number of records of the same group dated strictly earlier (int64).
    last_prior_date
        Date of the latest strictly earlier record (``NaT`` when none).
    max_prior_end
        Latest end date among strictly earlier records; ``NaT`` when there is none. An earlier
        record with a missing end (still open) counts as open-ended: ``prior_open`` is then true.
    prior_open
        True when some strictly earlier record has no end date.
    """

    n_prior: pd.Series
    last_prior_date: pd.Series
    max_prior_end: pd.Series
    prior_open: pd.Series


def prior_history(
    frame: pd.DataFrame,
    keys: Sequence[str],
    date: str,
    end: str | None = None,
) -> PriorHistory:
    """Return, for each row of ``frame``, its strictly earlier history within ``keys``.

    Parameters
    ----------
    frame
        Records; ``date`` must have no missing values.
    keys
        Columns identifying the group (e.g. ``["la_code", "la_child_id"]`` for the same LA,
        ``["child_key"]`` for any LA).
    date
        The record's date column.
    end
        Optional end-date column (missing = still open) for ``max_prior_end``.
    """
    index = frame.index
    n = len(frame)
    if n == 0:
        empty_dates = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
        return PriorHistory(
            pd.Series(np.zeros(0, dtype=np.int64), index=index),
            empty_dates,
            empty_dates.copy(),
            pd.Series(np.zeros(0, dtype=bool), index=index),
        )
    gid = frame.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy()
    d = frame[date].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    order = np.lexsort((d, gid))
    g_s = gid[order]
    d_s = d[order]
    pos = np.arange(n)
    group_start = np.ones(n, dtype=bool)
    group_start[1:] = g_s[1:] != g_s[:-1]
    block_start = group_start.copy()
    block_start[1:] |= d_s[1:] != d_s[:-1]
    # Index of the first row of each row's group and of its same-date block.
    first_of_group = np.maximum.accumulate(np.where(group_start, pos, 0))
    first_of_block = np.maximum.accumulate(np.where(block_start, pos, 0))
    n_prior_s = first_of_block - first_of_group
    has_prior = n_prior_s > 0
    prev_row = first_of_block - 1  # last row of the previous block (valid when has_prior)
    last_prior_s = np.where(has_prior, d_s[np.maximum(prev_row, 0)], _NAT)

    max_end_s = np.full(n, _NAT, dtype=np.int64)
    open_s = np.zeros(n, dtype=bool)
    if end is not None:
        e = frame[end].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        e_s = np.where(e[order] == _NAT, _OPEN, e[order])
        # Running max of end dates within the group (open plans count as +infinity).
        cm = pd.Series(e_s).groupby(g_s, sort=False).cummax().to_numpy()
        prev_cm = np.where(has_prior, cm[np.maximum(prev_row, 0)], _NAT)
        open_s = prev_cm == _OPEN
        # Latest *known* end among earlier records when some are open: recompute ignoring opens.
        e_known = np.where(e_s == _OPEN, _NAT, e_s)
        cm_known = pd.Series(e_known).groupby(g_s, sort=False).cummax().to_numpy()
        max_end_s = np.where(has_prior, cm_known[np.maximum(prev_row, 0)], _NAT)

    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = pos

    def back(values: np.ndarray) -> np.ndarray:
        return values[inverse]

    def as_dates(values: np.ndarray) -> pd.Series:
        return pd.Series(back(values).astype("datetime64[ns]"), index=index)

    return PriorHistory(
        n_prior=pd.Series(back(n_prior_s).astype(np.int64), index=index),
        last_prior_date=as_dates(last_prior_s),
        max_prior_end=as_dates(max_end_s),
        prior_open=pd.Series(back(open_s), index=index),
    )
