"""Recurrent-event Cox models from a counting-process frame: Andersen-Gill and PWP.

The frame has one row per ``(start, stop]`` interval of a child (``id``), with an event
indicator at ``stop`` (e.g. a re-referral or a repeat child protection plan). Intervals may also
be split where a time-varying covariate changes.

* Andersen-Gill (AG; Andersen & Gill 1982, Ann. Stat. 10:1100): one common baseline hazard, all
  events of a child in one risk process; robust SE clustered by child (or family/LA) account for
  within-child dependence.
* Prentice-Williams-Peterson (PWP; Prentice, Williams & Peterson 1981, Biometrika 68:373):
  stratified by event number (the k-th recurrence has its own baseline hazard; a child is at
  risk for event k only after event k-1), on total time since the origin ("total") or on gap
  time since the previous event ("gap": the clock restarts at each event; the time scale's
  origin, 0, is the start for the first event). Strata with few
  children are usually pooled: ``max_stratum`` pools event numbers above it.

All are :func:`~recurrence.models.cox.coxph` fits; estimates are log hazard ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from recurrence.errors import ModelInputError
from recurrence.models.base import check_literal
from recurrence.models.cox.model import CoxResults, coxph


def event_number(data: pd.DataFrame, *, id: str, start: str, event: str) -> pd.Series:
    """Event number of each interval: 1 + the child's events in earlier intervals.

    Intervals are ordered by ``start`` within ``id``; the result is aligned to ``data.index``.
    """
    for c in (id, start, event):
        if c not in data.columns:
            raise ModelInputError(f"column {c!r} is not in the data")
    order = data.sort_values([id, start], kind="stable")
    prior = order.groupby(id, sort=False)[event].cumsum() - order[event]
    return (prior + 1).astype(np.int64).reindex(data.index).rename("event_number")


def gap_times(
    data: pd.DataFrame, *, id: str, start: str, stop: str, event: str
) -> tuple[pd.Series, pd.Series]:
    """Gap-time intervals: times since the child's previous event (0 before the first event).

    Each interval is shifted by the ``stop`` of the child's latest event before it, so the clock
    of event ``k`` starts at event ``k - 1`` (and event 1's at the time origin, 0) even when
    intervals in between are missing, for example time in an open episode left out of the
    risk set: that time then counts as late entry (``gap_start > 0``), as with R's
    ``Surv(gap_start, gap_stop, event)``. Intervals split inside an episode keep its clock
    running. Aligned to ``data.index``.
    """
    order = data.sort_values([id, start], kind="stable")
    event_stop = order[stop].where(order[event] > 0)
    previous = event_stop.groupby(order[id], sort=False).shift(1)
    previous = previous.groupby(order[id], sort=False).ffill().fillna(0)
    gap_start = (order[start] - previous).reindex(data.index).rename("gap_start")
    gap_stop = (order[stop] - previous).reindex(data.index).rename("gap_stop")
    return gap_start, gap_stop


def andersen_gill(
    data: pd.DataFrame,
    *,
    id: str,
    covariates: Sequence[str],
    event: str,
    start: str,
    stop: str,
    cluster: str | None = None,
    strata: str | Sequence[str] | None = None,
    weights: str | None = None,
    ties: Literal["efron", "breslow"] = "efron",
) -> CoxResults:
    """Andersen-Gill model: counting-process Cox, robust SE clustered by ``cluster`` or ``id``."""
    return coxph(
        data,
        covariates=covariates,
        event=event,
        time=stop,
        start=start,
        strata=strata,
        cluster=cluster if cluster is not None else id,
        weights=weights,
        ties=ties,
    )


def pwp(
    data: pd.DataFrame,
    *,
    id: str,
    covariates: Sequence[str],
    event: str,
    start: str,
    stop: str,
    timescale: Literal["total", "gap"] = "total",
    max_stratum: int | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    ties: Literal["efron", "breslow"] = "efron",
) -> CoxResults:
    """Prentice-Williams-Peterson model, stratified by event number, total or gap time.

    Parameters
    ----------
    timescale
        "total": intervals on the original time scale; "gap": time since the previous event.
    max_stratum
        Pool event numbers above this into one stratum (``None``: no pooling).
    cluster
        Robust-SE cluster column; default ``id``.
    """
    check_literal("timescale", timescale, ("total", "gap"))
    if max_stratum is not None and max_stratum < 1:
        raise ModelInputError(f"max_stratum must be >= 1; got {max_stratum}")
    number = event_number(data, id=id, start=start, event=event)
    frame = data.copy()

    def free(name: str) -> str:
        # Readable names, since coxph's errors quote them; never overwrite a user column.
        while name in frame.columns:
            name += "_"
        return name

    tmp_n = free("event_number")
    frame[tmp_n] = number if max_stratum is None else number.clip(upper=max_stratum)
    if timescale == "gap":
        tmp_a, tmp_b = free("gap_start"), free("gap_stop")
        frame[tmp_a], frame[tmp_b] = gap_times(data, id=id, start=start, stop=stop, event=event)
    else:
        tmp_a, tmp_b = start, stop
    return coxph(
        frame,
        covariates=covariates,
        event=event,
        time=tmp_b,
        start=tmp_a,
        strata=tmp_n,
        cluster=cluster if cluster is not None else id,
        weights=weights,
        ties=ties,
    )
