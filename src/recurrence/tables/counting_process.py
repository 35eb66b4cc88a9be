"""Counting-process ``(start, stop]`` table of recurrent referrals with time-varying covariates.

Layout (Andersen & Gill 1982; Therneau & Grambsch 2000, *Modeling Survival Data*, ch. 8): one
row per child and interval ``(start, stop]`` over which every covariate is constant; ``event``
is 1 when a new referral of the child (in any LA, linked by ``child_key``) falls at ``stop``.
The same rows serve

- Andersen-Gill models: ``start``/``stop``/``event`` with a cluster on ``child_key``;
- Prentice-Williams-Peterson (PWP) total-time models: add strata on ``event_number``;
- PWP gap-time models: ``gap_start``/``gap_stop`` (time since the previous referral) with strata
  on ``event_number``.

Time scale: whole days since the child's **first referral in the data** (day 0, the time
origin). ``start_date``/``stop_date`` give the calendar dates of the interval ends. Follow-up
ends at the 18th birthday, death or ``end_of_data``, whichever is first
(:mod:`recurrence.tables._censoring`); a child whose first referral is on or after that date
contributes no rows and is counted in ``frame.attrs["excluded_children"]``.

Every date at which something about the child is recorded (referral, completed assessment, plan
start or end) starts a new interval, even when the covariates do not change (e.g. one plan
ending and another starting the same day); such splits do not change partial likelihoods.

Time-varying covariates, each the value holding from ``start`` (exclusive) to ``stop``
(inclusive), i.e. changes take effect at the interval that *begins* on the day of the change:

``pp_*`` and ``n_parental_problems``
    Parental problems identified at the end of the child's latest completed assessment (census
    assessment factors 1B alcohol, 2B drugs, 3B domestic abuse, 4B mental health, 5B learning
    disability, 6B physical disability; the parental problems of the seed, C4EO 2010 section 4;
    :data:`recurrence.data.codes.PARENTAL_PROBLEM_FACTORS`). An assessment takes effect at its
    ``assessment_authorisation_date`` (factors are recorded at the end of an assessment), or at
    its start date when no authorisation date is recorded. Before any assessment the indicators
    are 0 and ``assessed`` is 0. Assessments completed on the same day are combined (a factor
    is present if any of them records it).
``episode_open``
    1 while a CIN episode of the child (any LA) is open: from ``cin_referral_date`` until
    ``cin_closure_date`` (no closure date: open to the end of follow-up). The census guide says
    a referral is not recorded while the child's case is open, so intervals with
    ``episode_open == 1`` are largely not at risk of a new referral; a recurrence analysis may
    drop them from the risk set (or use them as a check), rather than enter the column as a
    covariate, which would be near-separated.
``plan_active``
    1 while a child protection plan (any LA) is open: from ``cpp_start_date`` until
    ``cpp_end_date`` (open plans stay active to the end of follow-up).
``n_prior_referrals``
    Number of distinct referral days of the child on or before ``start`` (so 1 in the first
    interval: the index referral). Several referrals on one day (e.g. two LAs) count once and
    are one event.
``event_number``
    The ordinal of the re-referral the interval is at risk of (1 = first re-referral); equal to
    ``n_prior_referrals``. Use as PWP stratum.
``la_code``
    LA of the child's latest referral on or before ``start`` (for clustering by LA).
``age_years``
    Age in completed years at ``start_date`` (NaN without a birth date).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from recurrence.data.codes import PARENTAL_PROBLEM_FACTORS
from recurrence.data.schema import CINTables
from recurrence.tables._censoring import child_censoring
from recurrence.tables._common import as_timestamp
from recurrence.tables._dates import age_at, as_datetime

log = logging.getLogger(__name__)

PARENTAL_PROBLEM_COLUMNS: dict[str, str] = {
    code: f"pp_{name}" for code, name in PARENTAL_PROBLEM_FACTORS.items()
}
"""Census factor code -> covariate column (``1B`` -> ``pp_alcohol_misuse``, ...)."""

_ORIGIN = pd.Timestamp("1900-01-01")


_ORIGIN_EPOCH_DAYS = int((_ORIGIN - pd.Timestamp("1970-01-01")).days)


def _to_dates(days: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_days` for whole, non-missing day numbers."""
    return (days.astype(np.int64) + _ORIGIN_EPOCH_DAYS).astype("datetime64[D]").astype("datetime64[ns]")


def _days(dates: pd.Series) -> np.ndarray:
    return (as_datetime(dates) - _ORIGIN).dt.days.to_numpy(dtype="float64", na_value=np.nan)


def _assessment_changes(tables: CINTables, gid_of: pd.Series) -> pd.DataFrame:
    """One row per assessment: child group, effective day (days since 1900) and B indicators.

    Factors are matched to their assessment on (LA, child id, referral date, assessment start)
    by one group numbering over both tables and a scatter into an assessments x 6 matrix.
    Factors recorded against an assessment missing from ``assessments`` still count (they show
    an assessment was completed) and are dated at the assessment start.
    """
    a = tables.assessments
    f = tables.assessment_factors
    id_cols = ["la_code", "la_child_id", "cin_referral_date", "assessment_actual_start_date"]
    pp_cols = list(PARENTAL_PROBLEM_COLUMNS.values())
    code_index = {code: i for i, code in enumerate(PARENTAL_PROBLEM_COLUMNS)}
    both = pd.concat(
        [a[[*id_cols, "child_key"]], f[[*id_cols, "child_key"]]], ignore_index=True
    )
    grp = both.groupby(id_cols, sort=False, dropna=False).ngroup().to_numpy()
    n_groups = int(grp.max()) + 1 if len(grp) else 0
    g_a, g_f = grp[: len(a)], grp[len(a) :]
    mat = np.zeros((n_groups, len(pp_cols)), dtype=np.float64)
    ci = f["assessment_factor"].map(code_index).to_numpy(dtype="float64", na_value=np.nan)
    hit = ~np.isnan(ci)
    mat[g_f[hit], ci[hit].astype(np.int64)] = 1.0
    when_a = a["assessment_authorisation_date"].fillna(a["assessment_actual_start_date"])
    has_assessment = np.zeros(n_groups, dtype=bool)
    has_assessment[g_a] = True
    orphan_rows = np.flatnonzero(~has_assessment[g_f])
    # One row per orphan group (its first factor row).
    _, first = np.unique(g_f[orphan_rows], return_index=True)
    orphan_rows = orphan_rows[first]
    keys = np.concatenate(
        [a["child_key"].to_numpy(dtype=object), f["child_key"].to_numpy(dtype=object)[orphan_rows]]
    )
    when = np.concatenate(
        [_days(when_a), _days(f["assessment_actual_start_date"].iloc[orphan_rows])]
    )
    rows = np.concatenate([g_a, g_f[orphan_rows]])
    out = pd.DataFrame({"gid": gid_of.reindex(keys).to_numpy(dtype="float64"), "day": when})
    out[pp_cols] = mat[rows]
    return out


def counting_process(tables: CINTables, *, end_of_data: object) -> pd.DataFrame:
    """Build the counting-process table of recurrent referrals (see the module docstring).

    Parameters
    ----------
    tables
        A CIN dataset (uses ``children``, ``cin_episodes``, ``assessments``,
        ``assessment_factors``, ``cpps``).
    end_of_data
        Last date of follow-up.

    Returns
    -------
    pandas.DataFrame
        Columns ``child_key, la_code, start, stop`` (int days since the first referral),
        ``event`` (int 0/1), ``event_number``, ``gap_start, gap_stop`` (days since the latest
        referral on or before ``start``), ``start_date, stop_date, origin_date, age_years``,
        the six ``pp_*`` columns, ``n_parental_problems``, ``assessed``, ``plan_active``,
        ``episode_open`` and ``n_prior_referrals`` (all int). Sorted by child then ``start``; for each child the
        intervals are contiguous, non-overlapping and have ``stop > start``.

    Notes
    -----
    Built with one sort of all change points and group-wise cumulative operations, without a
    loop over children.
    """
    eod = as_timestamp(end_of_data, "end_of_data")
    cens = child_censoring(tables, eod)
    eps = tables.cin_episodes
    origin = eps.groupby("child_key")["cin_referral_date"].min()
    cens = cens.loc[cens.index.isin(origin.index)].copy()
    cens["origin_date"] = origin.reindex(cens.index)
    excluded = int((cens["origin_date"] >= cens["censor_date"]).sum())
    if excluded:
        log.warning(
            "counting_process: %d children whose first referral is on or after their censoring "
            "date left out",
            excluded,
        )
    cens = cens.loc[cens["origin_date"] < cens["censor_date"]]
    gid_of = pd.Series(np.arange(len(cens), dtype=np.int64), index=cens.index)
    origin_day = _days(cens["origin_date"])
    censor_day = _days(cens["censor_date"])
    pp_cols = list(PARENTAL_PROBLEM_COLUMNS.values())

    def frame(gid: np.ndarray, day: np.ndarray, **cols: float | np.ndarray) -> pd.DataFrame:
        ok = ~np.isnan(gid.astype("float64")) & ~np.isnan(day)
        d: dict[str, np.ndarray] = {"gid": gid[ok].astype(np.int64), "day": day[ok]}
        for k, v in cols.items():
            arr = np.asarray(v)
            d[k] = arr[ok] if arr.ndim else np.full(int(ok.sum()), v)
        return pd.DataFrame(d)

    e_gid = gid_of.reindex(eps["child_key"]).to_numpy(dtype="float64")
    # LA codes travel as float category numbers so every group operation below is numeric.
    la_codes, la_names = pd.factorize(eps["la_code"])
    refs = frame(
        e_gid, _days(eps["cin_referral_date"]), ref=1.0, epi=1.0, la=la_codes.astype("float64")
    )
    closes = frame(e_gid, _days(eps["cin_closure_date"]), epi=-1.0)
    cp = tables.cpps
    p_gid = gid_of.reindex(cp["child_key"]).to_numpy(dtype="float64")
    starts = frame(p_gid, _days(cp["cpp_start_date"]), plan=1.0)
    ends = frame(p_gid, _days(cp["cpp_end_date"]), plan=-1.0)
    asm = _assessment_changes(tables, gid_of)
    asm = asm.loc[asm["gid"].notna() & asm["day"].notna()]
    asm = asm.assign(gid=asm["gid"].astype(np.int64), assessed=1.0)
    censor = pd.DataFrame({"gid": np.arange(len(cens), dtype=np.int64), "day": censor_day})

    ch = pd.concat([refs, closes, starts, ends, asm, censor], ignore_index=True)
    g = ch["gid"].to_numpy()
    # Changes before the origin (a plan or assessment dated before the first referral, which
    # only bad data produce) take effect at the origin; changes after censoring are dropped.
    ch["day"] = np.maximum(ch["day"].to_numpy(), origin_day[g])
    ch = ch.loc[ch["day"].to_numpy() <= censor_day[g]]
    for c in ("ref", "plan", "epi"):
        ch[c] = ch[c].fillna(0.0)
    ch = ch.sort_values(["gid", "day"], kind="stable")
    agg = ch.groupby(["gid", "day"], sort=True).agg(
        ref=("ref", "max"),
        plan=("plan", "sum"),
        epi=("epi", "sum"),
        la=("la", "last"),
        assessed=("assessed", "max"),
        **{c: (c, "max") for c in pp_cols},
    )
    agg = agg.reset_index()
    gid = agg["gid"].to_numpy()
    by = agg.groupby("gid", sort=False)
    agg["n_prior_referrals"] = by["ref"].cumsum()
    agg["plan_open"] = by["plan"].cumsum()
    agg["episodes_open"] = by["epi"].cumsum()
    filled = by[["la", "assessed", *pp_cols]].ffill()
    agg[["la", "assessed", *pp_cols]] = filled
    agg["last_ref_day"] = agg["day"].where(agg["ref"] > 0)
    agg["last_ref_day"] = agg.groupby("gid", sort=False)["last_ref_day"].ffill()

    nxt_same = np.zeros(len(agg), dtype=bool)
    nxt_same[:-1] = gid[1:] == gid[:-1]
    rows = np.flatnonzero(nxt_same)  # each row that has a following change point -> interval
    nxt = rows + 1
    day = agg["day"].to_numpy()
    o = origin_day[gid[rows]]
    out = pd.DataFrame(
        {
            "child_key": cens.index.to_numpy()[gid[rows]],
            "la_code": np.asarray(la_names, dtype=object)[agg["la"].to_numpy()[rows].astype(np.int64)],
            "start": (day[rows] - o).astype(np.int64),
            "stop": (day[nxt] - o).astype(np.int64),
            "event": (agg["ref"].to_numpy()[nxt] > 0).astype(np.int64),
        }
    )
    out["event_number"] = agg["n_prior_referrals"].to_numpy()[rows].astype(np.int64)
    last_ref = agg["last_ref_day"].to_numpy()[rows]
    out["gap_start"] = (day[rows] - last_ref).astype(np.int64)
    out["gap_stop"] = (day[nxt] - last_ref).astype(np.int64)
    out["start_date"] = _to_dates(day[rows])
    out["stop_date"] = _to_dates(day[nxt])
    out["origin_date"] = cens["origin_date"].to_numpy()[gid[rows]]
    out["age_years"] = age_at(
        pd.Series(cens["birth_date"].to_numpy()[gid[rows]]), out["start_date"]
    ).to_numpy()
    for c in pp_cols:
        out[c] = agg[c].fillna(0).to_numpy()[rows].astype(np.int64)
    out["n_parental_problems"] = out[pp_cols].sum(axis=1).astype(np.int64)
    out["assessed"] = agg["assessed"].fillna(0).to_numpy()[rows].astype(np.int64)
    out["plan_active"] = (agg["plan_open"].to_numpy()[rows] > 0).astype(np.int64)
    out["episode_open"] = (agg["episodes_open"].to_numpy()[rows] > 0).astype(np.int64)
    out["n_prior_referrals"] = out["event_number"].copy()
    out.attrs["excluded_children"] = excluded
    return out
