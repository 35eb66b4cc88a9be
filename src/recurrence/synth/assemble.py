"""Assembly of simulated histories into the census tables and the truth tables, in two steps.

1. :func:`prepare` runs where a group of LAs was simulated (a worker process, or the caller):
   it puts the chunk's children in canonical order (by ``uid``), makes the post-hoc draws that do
   not feed back into the dynamics (categories, referral sources, need codes, recorded previous
   plans, assessment factors) and reduces everything to small numeric arrays (dates as int32 day
   numbers, codes as small integers). It holds no Python objects, so a worker's result is cheap
   to send back.
2. :func:`build` runs in the calling process: it joins the prepared groups (contiguous LA
   ranges in LA order, so the canonical child order is their concatenation), puts the census
   tables in their fixed row order and makes the string columns and the frames.

Why this shape: at England scale (3.4 million children, 7 million referrals, about 38 million
table rows) the cost is in sorting and in Python string objects, not in arithmetic. Sorting is done
once, on the (LA, LA child id) records, and every census table is a subset of the observed
referrals in that order, so no table needs its own multi-key sort. Every string is created in the
order its table reads it, because gathering object pointers in random order costs a cache miss
per row, many times the cost of a sequential gather. Frames are built without consolidating
object columns into one 2-D block (``copy=False``), which would copy every column once more.

Row orders are exactly those of the census return convention used throughout: by LA, then the
number behind the LA child id, then the table's date (and factor code). Within one LA child id,
referral dates, plan start dates and review dates all increase with the referral number (a new
referral starts the day after the previous episode closed, and a plan ends before its episode
closes), so ordering the observed referrals by (record, referral number) orders every table.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from recurrence.data import codes
from recurrence.synth import _rng
from recurrence.synth import generator as g
from recurrence.synth.config import SynthConfig

if TYPE_CHECKING:
    import pandas as pd

    from recurrence.data.schema import CINTables

Part = dict[str, dict[str, NDArray[Any]]]
"""A prepared chunk: record kind -> column -> array (numbers only)."""

FIRST_CENSUS_YEAR = 2009
"""First CIN census collection year (2008-09); ``census_year`` is missing for earlier episodes."""
FIRST_CIN_PLAN_YEAR = 2022
"""First collection year with CIN plan dates (``CINPlanDates``, the 2021-22 return; schema 2022)."""
NAT = np.iinfo(np.int32).min
"""Missing date in the int32 day numbers of a prepared chunk."""
_NS_PER_DAY = 86_400 * 10**9
_LA_BITS = 10
"""Bits for the LA index in (child, LA) pair keys (at most 1,024 LAs)."""

REASONS = np.array(["RC2", "RC6", "RC8", "RC7"], dtype=object)
NEEDS = np.array(["N1", "N2", "N4", "N5", "N6", "N8", "N9"], dtype=object)
SEXES = np.array(["M", "F", "U"], dtype=object)
DISABILITIES = np.array([*g.DISABILITY_KINDS, "NONE"], dtype=object)
CAUSES = np.array(["need", "maltreatment"], dtype=object)
_FACTOR_ORDER: tuple[str, ...] = tuple(
    sorted({"1B", "2B", "3B", "4B", "5B", "16A", "17A", "18A", "18C", "19A", "19C", "6A", "20", "21"})
)
"""Factor codes in string order: a code's rank here is its sort key within an assessment."""
FACTORS = np.array(_FACTOR_ORDER, dtype=object)
assert set(_FACTOR_ORDER) <= codes.ASSESSMENT_FACTOR_CODES


# --------------------------------------------------------------------------------------------
# Step 1: one chunk, numbers only
# --------------------------------------------------------------------------------------------


def _days(x: NDArray[Any], valid: NDArray[np.bool_] | None = None) -> NDArray[np.int32]:
    """Floor of day numbers as int32 (non-finite -> day 0), :data:`NAT` where not ``valid``."""
    d = np.floor(np.where(np.isfinite(x), x, 0)).astype(np.int32)
    if valid is not None:
        d[~valid] = NAT
    return d


def census_year(days: NDArray[np.float64]) -> NDArray[np.int64]:
    """Census year (ending 31 March) of each day."""
    d = np.floor(days).astype(np.int64).astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (d.astype("datetime64[M]").astype(np.int64) % 12) + 1
    return year + (month >= 4)


def simulate_and_prepare(ctx: g.Context, las: list[int], targets: list[int]) -> list[Part]:
    """Simulate LAs ``las`` to their ``targets`` and reduce the result to numbers (one chunk).

    Each group of consecutive LAs is prepared as soon as it is simulated, so the arrays stay
    about a group in size (faster than whole-chunk arrays, which outgrow the CPU caches). Runs
    in worker processes: this module imports pandas only inside the functions of step 2.
    """
    return [prepare(ctx, sim) for sim in g.simulate_las(ctx, las, [targets[i] for i in las])]


def simulate_to_file(ctx: g.Context, las: list[int], targets: list[int], path: str) -> str:
    """:func:`simulate_and_prepare` in a worker, the result written to ``path`` (pickle protocol 5).

    A worker's result is several hundred MB of arrays at England scale. Through loky's result
    pipe, waiting for and receiving it took 7.3 s in a run under the bench lock; a file in the
    caller's private temporary directory, read back from the page cache, is much faster.
    """
    parts = simulate_and_prepare(ctx, las, targets)
    with open(path, "wb") as fh:
        pickle.dump(parts, fh, protocol=5)
    return path


def prepare(ctx: g.Context, sim: dict[str, dict[str, NDArray[Any]]]) -> Part:
    """Reduce one group of LAs' simulation (:func:`generator.simulate_las`) to the numbers the tables need.

    Kinds in the result: ``child`` (one row per child, by ``uid``), ``ref`` (every referral, by
    child then referral number), ``pair`` (every (child, LA) with a referral), ``rec`` (every
    (child, LA) with an observed episode: a census child record), ``obs`` (observed referrals, in
    ``ref`` order), ``fac`` (assessment factor rows, by observed referral then code) and ``ev``
    (true maltreatment events, by child then day). Indices point within the chunk.
    """
    cfg = ctx.config
    win = ctx.window
    ch0, ref0, ev0 = sim["children"], sim["referrals"], sim["events"]
    perm = np.argsort(ch0["uid"], kind="stable")
    rank = np.empty_like(perm)
    rank[perm] = np.arange(perm.size)
    ch = {k: v[perm] for k, v in ch0.items()}
    n = perm.size
    # Referrals by child then referral number (one argsort of a combined integer key).
    rc0 = rank[ref0["child"]].astype(np.int64)
    kspan = int(ref0["k"].max(initial=0)) + 1
    o = np.argsort(rc0 * kspan + ref0["k"])
    ref = {k: v[o] for k, v in ref0.items()}
    rc = rc0[o]
    del rc0, o
    ckey = ch["key"]
    rkey = ckey[rc]
    kk = ref["k"]
    day = ref["day"]
    la = ref["la"]
    m = day.size

    # ---- post-hoc draws that do not feed back into the dynamics --------------------------------
    cat_init = _category(cfg, rkey, kk, g.S_CAT1, g.S_CAT2)
    change = _rng.uniform(rkey, g.S_CAT_CHANGE, kk) < cfg.category_change_probability
    cat_latest = np.where(change, _category(cfg, rkey, kk, g.S_CAT3, g.S_CAT4), cat_init).astype(np.int8)
    src = np.minimum(
        np.searchsorted(np.cumsum(g._SOURCE_P), _rng.uniform(rkey, g.S_SOURCE, kk)), len(g._SOURCE_P) - 1
    )
    # Referral source 5D exists from the 2023-24 return (collection year 2024) only.
    five_d = int(np.flatnonzero(g.REFERRAL_SOURCES == "5D")[0])
    five_c = int(np.flatnonzero(g.REFERRAL_SOURCES == "5C")[0])
    src = np.where((src == five_d) & (census_year(day) < 2024), five_c, src).astype(np.int8)
    plan = ref["plan"]
    # Plans in order; number of previous plans (any LA, with imperfect recall of other LAs' plans).
    pl = np.flatnonzero(plan)
    pl_child = rc[pl]
    pl_la = la[pl]
    recall = _rng.uniform(rkey[pl], g.S_PREV_RECALL, kk[pl]) < cfg.previous_cpp_other_la_recall
    prev_any = _exclusive_group_count(pl_child)
    pair = pl_child.astype(np.int64) * 1000 + pl_la
    prev_same = _exclusive_group_count_unsorted(pair)
    known_any = _exclusive_group_cumsum(recall.astype(np.int64), pl_child)
    known_same = _exclusive_group_cumsum_unsorted(recall.astype(np.int64), pair)
    prev_same_la_ever = np.zeros(m, dtype=np.int64)
    prev_any_la = np.zeros(m, dtype=np.int64)
    prev_rec = np.zeros(m, dtype=np.int64)
    prev_same_la_ever[pl] = prev_same
    prev_any_la[pl] = prev_any
    prev_rec[pl] = prev_same + (known_any - known_same)

    # ---- episodes as returned -------------------------------------------------------------------
    closure = ref["closure"]
    obs = (day <= win.end) & (closure >= win.start)
    closed = closure <= win.end
    life_end = ch["life_end"][rc]
    ends_life = np.floor(closure) >= np.floor(life_end)
    died = (ch["death"][rc] <= life_end + 0.5) & ends_life
    aged_out = ~died & ends_life
    reason = np.where(died, 0, np.where(aged_out, 1, np.where(ref["nfa"] | ref["nin"], 2, 3))).astype(np.int8)
    other_need = 2 + np.minimum((_rng.uniform(rkey, g.S_NEED, kk) * 5).astype(int), 4)
    need = np.where(ref["cause_mal"], 0, np.where(ch["disabled"][rc], 1, other_need)).astype(np.int8)
    # The CIN census began in 2008-09: an episode closed before then was never returned.
    cy = np.minimum(census_year(np.minimum(closure, win.end)), win.final_year)
    cy = np.where(cy >= FIRST_CENSUS_YEAR, cy, 0).astype(np.int16)
    icpc = ref["icpc"]
    icpc_obs = ref["icpc_held"] & (icpc <= win.end)
    am = ref["assessed"] & (ref["a_start"] <= win.end)
    auth_ok = ref["a_auth"] <= win.end
    sm = ref["s47"] & (ref["s47_start"] <= win.end)
    cm = plan & (icpc <= win.end)
    # CIN plans: the support period of an episode assessed as in need, after the assessment (or
    # the section 47 enquiry's conference) or, for a child protection plan, from its end to the
    # episode's closure (step-down). Returned from the 2021-22 census, which added CINPlanDates.
    support_start = np.where(
        plan, ref["plan_end"], np.maximum(ref["a_auth"], np.where(ref["s47"], icpc, ref["a_auth"]))
    )
    cinp = (
        ref["indicated"] & (closure > support_start) & (support_start <= win.end)
        & (cy >= FIRST_CIN_PLAN_YEAR)
    )
    # Reviews: 3 months after the start, then every 6 months while the plan is open.
    last = np.minimum(ref["plan_end"] - 1, win.end)
    first = icpc + 90
    n_rev = np.where(cm & (last >= first), np.floor((last - first) / 182).astype(np.int64) + 1, 0)
    oi = np.flatnonzero(obs)
    fac_i, fcode = _factors(cfg, ch, ref, rc, rkey, kk, cat_init, oi, am[oi] & auth_ok[oi])

    # ---- census child records: one per (child, LA) with an observed episode -----------------
    pair_obs = (rc[oi].astype(np.int64) << _LA_BITS) | la[oi]
    upair, rec_of = np.unique(pair_obs, return_inverse=True)
    rec_child = upair >> _LA_BITS
    rec_la = upair & ((1 << _LA_BITS) - 1)
    cdeath = ch["death"][rec_child]
    death_known = (cdeath <= win.end) & (cdeath < ch["birth"][rec_child] + 18 * g.YEAR)
    n_kinds = len(g.DISABILITY_KINDS)
    dis_kind = np.minimum((_rng.uniform(ckey[rec_child], g.S_CH_DISCODE) * n_kinds).astype(int), n_kinds - 1)
    sex_u = ch["sex_u"][rec_child]
    # ---- every (child, LA) with a referral: the LA child ids of the truth -------------------------
    upair_all, pair_of = np.unique((rc.astype(np.int64) << _LA_BITS) | la, return_inverse=True)
    pair_child = upair_all >> _LA_BITS
    pair_la = upair_all & ((1 << _LA_BITS) - 1)

    # ---- truth per child ------------------------------------------------------------------------
    ec = rank[ev0["child"]]
    o = np.lexsort((ev0["day"], ec))
    ec, eday = ec[o], ev0["day"][o]
    # Type 2 'no positive change despite intervention': a true maltreatment event within the
    # window after the closure of an episode with a service delivered within 60 days.
    served = np.flatnonzero(ref["timely"])
    h = 1.0e6
    ekey = ec.astype(np.float64) * h + eday
    lo = np.searchsorted(ekey, rc[served].astype(np.float64) * h + closure[served], side="right")
    hi = np.searchsorted(
        ekey, rc[served].astype(np.float64) * h + closure[served] + cfg.no_change_window_days, side="right",
    )
    no_change = np.zeros(n, dtype=bool)
    no_change[rc[served][hi > lo]] = True
    threshold = float(np.asarray(g.special.ndtri(1 - cfg.resistant_share)))

    child = {
        "uid": ch["uid"], "family_uid": ch["family_uid"], "origin_la": ch["origin_la"].astype(np.int16),
        "birth": _days(ch["birth"]), "death": _days(ch["death"], ch["death"] <= win.end),
        "resistance": ch["resistance"], "trait": ch["resistance"] > threshold, "no_change": no_change,
        **{name: ch[name] for name in g.PROBLEMS},
        "stress": ch["stress"],
        "n_pp": np.sum([ch[name] for name in g.PROBLEMS], axis=0).astype(np.int64),
        "disabled": ch["disabled"], "frailty": ch["frailty"], "moved_la": ch["moved_la"],
        "n_ev": np.bincount(ec, minlength=n).astype(np.int64),
        "n_ref": np.bincount(rc, minlength=n).astype(np.int64),
    }
    truth_ref = {
        "child": rc, "la": la.astype(np.int16), "pair": pair_of.astype(np.int64), "day": _days(day),
        "cause_mal": ref["cause_mal"], "assessed": ref["assessed"], "indicated": ref["indicated"],
        "s47": ref["s47"], "plan": plan, "icpc": _days(icpc, plan), "plan_end": _days(ref["plan_end"], plan),
        "cat_init": cat_init.astype(np.int8), "cat_latest": cat_latest,
        "prev_same": prev_same_la_ever, "prev_any": prev_any_la, "prev_rec": prev_rec,
        "timely": ref["timely"], "attended": ref["attended"], "closure": _days(closure), "obs": obs,
    }
    observed = {
        "rec": rec_of.astype(np.int64), "within": _exclusive_group_count_unsorted(rec_of),
        "day": _days(day[oi]), "src": src[oi], "need": need[oi],
        "closure": _days(closure[oi], closed[oi]), "reason": np.where(closed[oi], reason[oi], -1).astype(np.int8),
        "icpc_obs": _days(icpc[oi], icpc_obs[oi]), "nfa": ref["nfa"][oi], "cy": cy[oi],
        "am": am[oi], "a_start": _days(ref["a_start"][oi]), "a_auth": _days(ref["a_auth"][oi], auth_ok[oi]),
        "sm": sm[oi], "s47_start": _days(ref["s47_start"][oi]), "icpc_target": _days(ref["s47_start"][oi] + 21),
        "icpc_not_required": ~ref["icpc_held"][oi],
        "cm": cm[oi], "icpc": _days(icpc[oi]), "plan_end": _days(ref["plan_end"][oi], ref["plan_end"][oi] <= win.end),
        "cat_init": cat_init[oi].astype(np.int8), "cat_latest": cat_latest[oi], "prev_rec": prev_rec[oi],
        "n_rev": n_rev[oi], "rev_first": first[oi],
        "cinp": cinp[oi], "cinp_start": _days(support_start[oi]),
        "n_fac": np.bincount(fac_i, minlength=oi.size).astype(np.int64),
    }
    return {
        "child": child,
        "ref": truth_ref,
        "obs": observed,
        "fac": {"code": fcode},
        "rec": {
            "child": rec_child, "la": rec_la.astype(np.uint16),
            "id": _rng.mix(ch["uid"][rec_child] ^ ctx.la_keys[rec_la]),
            "birth": _days(ch["birth"][rec_child]), "death": _days(cdeath, death_known),
            "sex": np.where(sex_u < 0.51, 0, np.where(sex_u < 0.995, 1, 2)).astype(np.int8),
            "ethnic": ch["ethnic"][rec_child].astype(np.int8),
            "disability": np.where(ch["disabled"][rec_child], dis_kind, n_kinds).astype(np.int8),
        },
        "pair": {"id": _rng.mix(ch["uid"][pair_child] ^ ctx.la_keys[pair_la])},
        "ev": {
            "child": ec.astype(np.int64), "day": _days(eday), "referred": ev0["referred"][o],
            "open": ev0["open"][o], "in_window": (eday >= win.start) & (eday <= win.end),
        },
    }


def _category(
    cfg: SynthConfig, keys: NDArray[np.uint64], k: NDArray[np.int64], slot_a: int, slot_b: int
) -> NDArray[np.int64]:
    """Category index into :data:`generator.CATEGORIES` (NEG, EMO, PHY, SAB, MUL)."""
    u1 = _rng.uniform(keys, slot_a, k)
    u2 = _rng.uniform(keys, slot_b, k)
    p_ne = float(g._expit(cfg.neg_emo_logit))
    ne = u1 < p_ne
    neg = u2 < cfg.neglect_share_of_neg_emo
    other = 2 + np.minimum(np.searchsorted(np.cumsum(g._OTHER_CATEGORY_SHARES), u2), 2)
    return np.where(ne, np.where(neg, 0, 1), other).astype(np.int64)


def _factors(
    cfg: SynthConfig, ch: dict[str, NDArray[Any]], ref: dict[str, NDArray[Any]], rc: NDArray[np.int64],
    rkey: NDArray[np.uint64], kk: NDArray[np.int64], cat: NDArray[np.int64], oi: NDArray[np.int64],
    mask: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Assessment factors: B codes recorded with probability falling in resistance, abuse codes.

    Returns, for each factor row, the index of its referral among the observed referrals ``oi``
    and the code's rank in :data:`FACTORS`, sorted by referral then code (a code appears at most
    once per assessment by construction).
    """
    pos = np.flatnonzero(mask)
    idx = oi[pos]
    c = rc[idx]
    keys = rkey[idx]
    k = kk[idx]
    R = ch["resistance"][c]
    p_true = g._expit(cfg.disclosure_logit + cfg.disclosure_resistance_log_or * R)
    kind = _rng.uniform(ch["key"][c], g.S_SUBST_KIND)  # alcohol only / drugs only / both
    subst = ch["pp_substance"][c]
    present = {
        "1B": subst & (kind < 0.65),
        "2B": subst & (kind >= 0.40),
        "3B": ch["pp_domestic_abuse"][c],
        "4B": ch["pp_mental_health"][c],
        "5B": ch["pp_learning_disability"][c],
    }
    schema_new = census_year(ref["a_auth"][idx]) >= 2021
    rank = {code: i for i, code in enumerate(_FACTOR_ORDER)}
    rows_i: list[NDArray[np.int64]] = []
    rows_code: list[NDArray[np.int64]] = []
    for j, (code, pres) in enumerate(present.items()):
        u = _rng.uniform(keys, g.S_FACTOR + j, k)
        hit = np.where(pres, u < p_true, u < cfg.factor_false_positive)
        rows_i.append(np.flatnonzero(hit))
        rows_code.append(np.full(int(hit.sum()), rank[code], dtype=np.int64))
    # Abuse factor for maltreatment referrals (recorded when disclosed or observed).
    mal = ref["cause_mal"][idx] & (_rng.uniform(keys, g.S_FACTOR + 10, k) < 0.8)
    cc = cat[idx]
    phy = np.where(schema_new, rank["18C"], rank["18A"])
    sab = np.where(schema_new, rank["19C"], rank["19A"])
    abuse = np.select(
        [cc == 0, cc == 1, cc == 2, cc == 3], [rank["16A"], rank["17A"], phy, sab], rank["16A"]
    ).astype(np.int64)
    rows_i.append(np.flatnonzero(mal))
    rows_code.append(abuse[mal])
    mul = mal & (cc == 4)
    rows_i.append(np.flatnonzero(mul))
    rows_code.append(np.full(int(mul.sum()), rank["17A"], dtype=np.int64))
    # Child's own disability.
    dis = ch["disabled"][c] & (_rng.uniform(keys, g.S_FACTOR + 11, k) < 0.6)
    rows_i.append(np.flatnonzero(dis))
    rows_code.append(np.full(int(dis.sum()), rank["6A"], dtype=np.int64))
    ii = np.concatenate(rows_i)
    fcode = np.concatenate(rows_code)
    # No factor at all: 21 when closed as not in need, otherwise 20 (other).
    has = np.zeros(idx.size, dtype=bool)
    has[ii] = True
    none = np.flatnonzero(~has)
    ii = np.concatenate([ii, none])
    fcode = np.concatenate([fcode, np.where(ref["nin"][idx][none], rank["21"], rank["20"])])
    row = pos[ii]
    o = np.argsort(row * len(_FACTOR_ORDER) + fcode)
    return row[o], fcode[o].astype(np.int8)


def _exclusive_group_count(group: NDArray[np.int64]) -> NDArray[np.int64]:
    """0, 1, 2, ... within runs of equal values of a sorted ``group``."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, group[1:] != group[:-1]]
    idx = np.arange(group.size)
    return idx - np.maximum.accumulate(np.where(start, idx, 0))


def _exclusive_group_count_unsorted(group: NDArray[np.int64]) -> NDArray[np.int64]:
    """Like :func:`_exclusive_group_count` for an unsorted ``group`` (stable order within groups)."""
    o = np.argsort(group, kind="stable")
    out = np.empty(group.size, dtype=np.int64)
    out[o] = _exclusive_group_count(group[o])
    return out


def _exclusive_group_cumsum(x: NDArray[np.int64], group: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sum of ``x`` over earlier rows of the same group (``group`` sorted)."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    c = np.cumsum(x) - x
    start = np.r_[True, group[1:] != group[:-1]]
    base = np.maximum.accumulate(np.where(start, np.arange(group.size), 0))
    return c - c[base]


def _exclusive_group_cumsum_unsorted(x: NDArray[np.int64], group: NDArray[np.int64]) -> NDArray[np.int64]:
    o = np.argsort(group, kind="stable")
    out = np.empty(group.size, dtype=np.int64)
    out[o] = _exclusive_group_cumsum(x[o], group[o])
    return out


# --------------------------------------------------------------------------------------------
# Step 2: all chunks, in the calling process
# --------------------------------------------------------------------------------------------


def public_child_key(ctx: g.Context, uid: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The ``child_key`` of each child: a seed-keyed bijection of its internal id.

    The internal id packs the origin LA, the family and the birth order (so that siblings and
    LAs can be simulated together); written out as it was, ``child_key >> 3`` gave the family
    and ``child_key >> 35`` the LA, structure no real linkage key carries. The SplitMix64
    bijection keeps keys distinct and deterministic for a seed.
    """
    salt = _rng.mix(np.asarray([ctx.la_keys[0] ^ np.uint64(0x9E3779B97F4A7C15)], dtype=np.uint64))[0]
    return _rng.mix(np.asarray(uid, dtype=np.uint64) ^ salt)


def _str(x: NDArray[Any]) -> NDArray[Any]:
    """Decimal strings of integers, as an object array (one new ``str`` per element)."""
    return np.asarray(x).astype(str).astype(object)


def _ns(d: NDArray[np.int32]) -> NDArray[Any]:
    """int32 day numbers (:data:`NAT` = missing) -> ``datetime64[ns]``."""
    x = d.astype(np.int64) * _NS_PER_DAY
    x[d == NAT] = np.iinfo(np.int64).min
    return x.view("datetime64[ns]")


def _masked(lookup: NDArray[Any], code: NDArray[Any], valid: NDArray[np.bool_]) -> NDArray[Any]:
    """``lookup[code]`` with ``None`` where not ``valid``."""
    out = lookup[code]
    out[~valid] = None
    return out


def _join(parts: list[Part], kind: str, col: str, offsets: NDArray[np.int64] | None = None) -> NDArray[Any]:
    """Column ``col`` of ``kind`` over all chunks (index columns shifted by ``offsets``).

    The column is removed from the chunks as it is joined, so each array is held once.
    """
    arrs = [p[kind].pop(col) for p in parts]
    if offsets is not None:
        arrs = [a + off for a, off in zip(arrs, offsets, strict=True)]
    return arrs[0] if len(arrs) == 1 else np.concatenate(arrs)


def _offsets(parts: list[Part], kind: str) -> NDArray[np.int64]:
    """Index of each chunk's first row of ``kind`` in the joined arrays."""
    sizes = [len(next(iter(p[kind].values()))) for p in parts]
    return np.cumsum([0, *sizes])[:-1].astype(np.int64)


def build(
    ctx: g.Context, parts: list[Part]
) -> tuple[CINTables, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Join prepared chunks (in LA order) into the observed and truth tables (sorted, typed).

    The chunks' arrays are consumed (removed from ``parts``) as they are used.
    """
    from recurrence.data.schema import CINTables, empty_table

    la_code = np.array([f"{c:03d}" for c in ctx.la_codes], dtype=object)
    child_off = _offsets(parts, "child")
    rec_off = _offsets(parts, "rec")
    pair_off = _offsets(parts, "pair")

    # ---- the census record order: by LA, then the number behind the LA child id, then child ------
    rec_child = _join(parts, "rec", "child", child_off)
    rec_la = _join(parts, "rec", "la")
    rec_id = _join(parts, "rec", "id")
    by_id = np.argsort(rec_id, kind="stable")
    order = by_id[np.argsort(rec_la[by_id], kind="stable")]
    del by_id
    n_rec = order.size
    uid = _join(parts, "child", "uid")
    # Strings in the order the census tables read them (see the module docstring).
    ck_rec = _str(public_child_key(ctx, uid[rec_child[order]]))
    lcid_rec = _str(rec_id[order])
    la_rec = rec_la[order]
    del rec_child, rec_id

    # Observed referrals: the position of each in the sorted order.
    rec = _join(parts, "obs", "rec", rec_off)
    within = _join(parts, "obs", "within")
    counts = np.bincount(rec, minlength=n_rec)[order]
    start = np.empty(n_rec, dtype=np.int64)
    start[order] = np.cumsum(counts) - counts
    dest = start[rec] + within
    inv = np.empty(rec.size, dtype=np.int64)
    inv[dest] = np.arange(rec.size)
    rank_of_rec = np.empty(n_rec, dtype=np.int64)
    rank_of_rec[order] = np.arange(n_rec)
    r = rank_of_rec[rec][inv]
    del rec, within, counts, start, rank_of_rec

    # The three identifier columns of each census record, in record order.
    rec_ids = {"child_key": ck_rec, "la_code": la_code[la_rec], "la_child_id": lcid_rec}
    del ck_rec, la_rec, lcid_rec

    def obs(col: str) -> NDArray[Any]:
        return _join(parts, "obs", col)[inv]

    def ids(rows: NDArray[Any] | slice) -> dict[str, NDArray[Any]]:
        rr = r[rows]
        return {name: v[rr] for name, v in rec_ids.items()}

    tables: dict[str, pd.DataFrame] = {}
    o_day = obs("day")
    o_icpc_obs = obs("icpc_obs")
    closed = obs("closure")
    reason = obs("reason")
    tables["cin_episodes"] = _frame("cin_episodes", {
        **ids(slice(None)),
        "cin_referral_date": _ns(o_day),
        "referral_source": g.REFERRAL_SOURCES[obs("src")],
        "primary_need_code": NEEDS[obs("need")],
        "cin_closure_date": _ns(closed),
        "reason_for_closure": _masked(REASONS, reason, reason >= 0),
        "date_of_initial_cpc": _ns(o_icpc_obs),
        "referral_nfa": obs("nfa"),
        "census_year": _census_year_array(obs("cy")),
    })
    del reason

    am = obs("am")
    a_start = obs("a_start")
    tables["assessments"] = _frame("assessments", {
        **ids(am),
        "cin_referral_date": _ns(o_day[am]),
        "assessment_actual_start_date": _ns(a_start[am]),
        "assessment_internal_review_date": _ns(np.full(int(am.sum()), NAT, dtype=np.int32)),
        "assessment_authorisation_date": _ns(obs("a_auth")[am]),
    })
    del am

    # Factor rows follow their referral in sorted order, codes in order within a referral.
    n_fac_in = _join(parts, "obs", "n_fac")
    fcode = _join(parts, "fac", "code")
    fstart_in = np.cumsum(n_fac_in) - n_fac_in
    n_fac = n_fac_in[inv]
    fstart = np.cumsum(n_fac) - n_fac
    fdest = np.repeat(fstart[dest] - fstart_in, n_fac_in) + np.arange(fcode.size)
    fsorted = np.empty_like(fcode)
    fsorted[fdest] = fcode
    fo = np.repeat(np.arange(n_fac.size), n_fac)
    del n_fac_in, fcode, fstart_in, fstart, fdest, dest
    tables["assessment_factors"] = _frame("assessment_factors", {
        **ids(fo),
        "cin_referral_date": _ns(o_day[fo]),
        "assessment_actual_start_date": _ns(a_start[fo]),
        "assessment_factor": FACTORS[fsorted],
    })
    del fo, fsorted, a_start

    sm = obs("sm")
    tables["section47"] = _frame("section47", {
        **ids(sm),
        "cin_referral_date": _ns(o_day[sm]),
        "s47_actual_start_date": _ns(obs("s47_start")[sm]),
        "initial_cpc_target": _ns(obs("icpc_target")[sm]),
        "date_of_initial_cpc": _ns(o_icpc_obs[sm]),
        "icpc_not_required": obs("icpc_not_required")[sm],
    })
    del sm, o_icpc_obs

    cp = obs("cinp")
    tables["cin_plans"] = _frame("cin_plans", {
        **ids(cp),
        "cin_referral_date": _ns(o_day[cp]),
        "cin_plan_start_date": _ns(obs("cinp_start")[cp]),
        "cin_plan_end_date": _ns(closed[cp]),
    })
    del cp, closed

    cm = obs("cm")
    o_icpc = obs("icpc")
    tables["cpps"] = _frame("cpps", {
        **ids(cm),
        "cin_referral_date": _ns(o_day[cm]),
        "cpp_start_date": _ns(o_icpc[cm]),
        "cpp_end_date": _ns(obs("plan_end")[cm]),
        "initial_category_of_abuse": g.CATEGORIES[obs("cat_init")[cm]],
        "latest_category_of_abuse": g.CATEGORIES[obs("cat_latest")[cm]],
        "number_of_previous_cpp": obs("prev_rec")[cm],
    })
    del cm

    n_rev = obs("n_rev")
    rev_first = obs("rev_first")
    ri = np.repeat(np.arange(n_rev.size), n_rev)
    rday = np.repeat(rev_first, n_rev) + 182 * g._ranks(n_rev)
    tables["cpp_reviews"] = _frame("cpp_reviews", {
        **ids(ri),
        "cin_referral_date": _ns(o_day[ri]),
        "cpp_start_date": _ns(o_icpc[ri]),
        "cpp_review_date": _ns(_days(rday)),
    })
    del n_rev, rev_first, ri, rday, o_icpc, o_day
    for p in parts:
        p.pop("obs")
        p.pop("fac")

    tables["children"] = _frame("children", {
        **rec_ids,
        "person_birth_date": _ns(_join(parts, "rec", "birth")[order]),
        "expected_person_birth_date": _ns(np.full(n_rec, NAT, dtype=np.int32)),
        "sex": SEXES[_join(parts, "rec", "sex")[order]],
        "ethnicity": g.ETHNICITIES[_join(parts, "rec", "ethnic")[order]],
        "disabilities": DISABILITIES[_join(parts, "rec", "disability")[order]],
        "person_death_date": _ns(_join(parts, "rec", "death")[order]),
    })

    # ---- truth: by child (uid), events by child then day, referrals by child then number ---------
    # New LA child id strings for the truth referrals, in their order (not shared with the census
    # records: a shared string would be read in random order, see the module docstring).
    lcid_pair = _str(_join(parts, "pair", "id"))
    truth, events, referrals = _truth(ctx, parts, uid, child_off, pair_off, la_code, lcid_pair)
    tables_ = CINTables(
        children=tables["children"],
        cin_episodes=tables["cin_episodes"],
        assessments=tables["assessments"],
        assessment_factors=tables["assessment_factors"],
        cin_plans=tables["cin_plans"],
        section47=tables["section47"],
        cpps=tables["cpps"],
        cpp_reviews=tables["cpp_reviews"],
        rejections=empty_table("rejections"),
    )
    return tables_, truth, events, referrals


def _census_year_array(cy: NDArray[np.int16]) -> Any:
    """Census years (0 = before the first census) as a nullable Int64 array."""
    import pandas as pd

    na = cy == 0
    return pd.arrays.IntegerArray(cy.astype(np.int64), na)


def _frame(name: str, cols: dict[str, Any]) -> pd.DataFrame:
    """Table ``name`` from columns already in row order, with the schema's column order and dtypes.

    ``copy=False`` keeps pandas from stacking the object columns into one 2-D block (a copy of
    every column).
    """
    import pandas as pd

    from recurrence.data.schema import DATE, SCHEMAS

    out: dict[str, Any] = {}
    for col, column in SCHEMAS[name].columns.items():
        dtype = str(column.dtype)
        v = cols[col]
        if dtype == "boolean":
            v = pd.arrays.BooleanArray(np.asarray(v, dtype=bool), np.zeros(len(v), dtype=bool))
        elif dtype == "Int64":
            if not isinstance(v, pd.arrays.IntegerArray):
                v = pd.arrays.IntegerArray(np.asarray(v, dtype=np.int64), np.zeros(len(v), dtype=bool))
        elif dtype == DATE:
            v = np.asarray(v, dtype=DATE)
        else:
            v = np.asarray(v, dtype=object)
        out[col] = v
    return pd.DataFrame(out, copy=False)


def _truth(
    ctx: g.Context, parts: list[Part], uid: NDArray[np.uint64], child_off: NDArray[np.int64],
    pair_off: NDArray[np.int64], la_code: NDArray[Any], lcid_pair: NDArray[Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three truth tables (one row per child; per event; per referral)."""
    import pandas as pd

    child_key = _str(public_child_key(ctx, uid))
    del uid
    fam = _join(parts, "child", "family_uid")
    # One string per family, shared by its children's rows (siblings are adjacent in uid order).
    new_fam = np.r_[True, fam[1:] != fam[:-1]] if fam.size else np.zeros(0, dtype=bool)
    family_id = _str(fam[new_fam])[np.cumsum(new_fam) - 1]
    del fam, new_fam

    def col(name: str) -> NDArray[Any]:
        return _join(parts, "child", name)

    trait = col("trait")
    no_change = col("no_change")
    truth = pd.DataFrame({
        "child_key": child_key,
        "family_id": family_id,
        "origin_la_code": la_code[col("origin_la")],
        "birth_date": _ns(col("birth")),
        "death_date": _ns(col("death")),
        "latent_resistance": col("resistance"),
        "resistant_trait": trait,
        "no_change_after_services": no_change,
        "highly_resistant": trait | no_change,
        **{name: col(name) for name in g.PROBLEMS},
        "family_stress": col("stress"),
        "n_parental_problems": col("n_pp"),
        "disability": col("disabled"),
        "frailty": col("frailty"),
        "moved_la": col("moved_la"),
        "n_true_events": col("n_ev"),
        "n_referrals": col("n_ref"),
    }, copy=False)
    del trait, no_change

    ec = _join(parts, "ev", "child", child_off)
    events = pd.DataFrame({
        "child_key": child_key[ec],
        "family_id": family_id[ec],
        "event_date": _ns(_join(parts, "ev", "day")),
        "referred": _join(parts, "ev", "referred"),
        "during_open_episode": _join(parts, "ev", "open"),
        "in_window": _join(parts, "ev", "in_window"),
    }, copy=False)
    del ec

    def rcol(name: str) -> NDArray[Any]:
        return _join(parts, "ref", name)

    rc = _join(parts, "ref", "child", child_off)
    plan = rcol("plan")
    referrals = pd.DataFrame({
        "child_key": child_key[rc],
        "la_code": la_code[rcol("la")],
        "la_child_id": lcid_pair[_join(parts, "ref", "pair", pair_off)],
        "referral_date": _ns(rcol("day")),
        "cause": CAUSES[rcol("cause_mal").astype(np.int8)],
        "assessed": rcol("assessed"),
        "in_need": rcol("indicated"),
        "section47": rcol("s47"),
        "cpp": plan,
        "cpp_start_date": _ns(rcol("icpc")),
        "cpp_end_date": _ns(rcol("plan_end")),
        "category": _masked(g.CATEGORIES, rcol("cat_init"), plan),
        "latest_category": _masked(g.CATEGORIES, rcol("cat_latest"), plan),
        "previous_cpp_same_la": rcol("prev_same"),
        "previous_cpp_any_la": rcol("prev_any"),
        "number_of_previous_cpp_recorded": rcol("prev_rec"),
        "service_within_60d": rcol("timely"),
        "attended": rcol("attended"),
        "closure_date": _ns(rcol("closure")),
        "observed": rcol("obs"),
    }, copy=False)
    return truth, events, referrals
