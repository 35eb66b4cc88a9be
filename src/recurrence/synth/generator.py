"""The vectorised data-generating process of the synthetic CIN cohort.

The model (full equations and a plain-words account in ``docs/synthetic_model.md``)::

    LA l  --u_l-->  family f: problems P_f (8 binaries), stress S_f, resistance R_f, frailty F_f,
                     moves between LAs (rate m)
                       |
    child i (age, sex, disability D_i)
                       |
    true maltreatment events: Poisson process with intensity
        lambda_i(t) = lambda_0 F_f exp(b'P_f + b_S S_f + b_D D_i + b_R R_f + u_l) * M_i(t)
        M_i(t) = service multiplier set at the close of the last episode
                 (x4 no detailed assessment, x2 no service within 60 days,
                  x0.68^exp(-g R_f) after attendance) and x h_open while an episode is open
                       |  each event is referred with probability p_ref(R_f); plus
                       |  need referrals at rate nu_i (x kappa in the 12 months after a closure)
    referral -> NFA | assessment (factors 1B..5B recorded with probability falling in R_f)
             -> not in need | CIN support | section 47 -> child protection plan (category)
             -> closure -> next referral ...
    censoring: 18th birthday, death, 31 March of the final year.

Every child is simulated from birth, so the full history before the observed window exists in
the truth (needed for NI 65, "previously the subject of a plan ... however long ago"); the
observed tables hold the episodes that were open at some time in the window
``[1 April (final_year - years), 31 March final_year]``.

Vectorisation: all children of a batch advance together, one referral at a time (the loop runs
over the referral index k, not over children). Random numbers are counter-based
(:mod:`recurrence.synth._rng`), so every child's history is a pure function of (seed, its key,
parameters): results do not depend on batch sizes or the number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from recurrence.synth import _rng
from recurrence.synth.config import SynthConfig

YEAR = 365.25
"""Days per year (rates in the configuration are per year)."""

# Slots: one number per purpose of a random draw (never reuse or renumber: outputs depend on them).
S_FAM_SIZE, S_FAM_COMMON, S_FAM_R, S_FAM_FRAILTY, S_FAM_BIRTH, S_FAM_NMOVES = 1, 2, 3, 4, 5, 6
S_FAM_ETHNIC = 7
S_FAM_PROBLEM = 10  # + problem index (0..8)
S_MOVE_TIME, S_MOVE_DEST = 30, 31
S_CH_GAP, S_CH_SEX, S_CH_DIS, S_CH_DEATH, S_CH_DISCODE = 40, 41, 42, 43, 44
S_REF_GAP, S_REF_CAUSE, S_UNREF_N, S_UNREF_T, S_OPEN_N, S_OPEN_T = 50, 51, 52, 53, 54, 55
S_NFA, S_A_DELAY, S_A_LEN, S_NIN, S_S47, S_S47_DELAY = 60, 61, 62, 63, 64, 65
S_ICPC_DELAY, S_PLAN, S_PLAN_LEN, S_STEP, S_CIN_LEN, S_CLOSE_SHORT = 66, 67, 68, 69, 70, 71
S_TIMELY, S_ATTEND, S_ICPC_HELD = 72, 73, 74
S_CAT1, S_CAT2, S_CAT_CHANGE, S_CAT3, S_CAT4 = 80, 81, 82, 83, 84
S_SOURCE, S_NEED, S_RC, S_FACTOR, S_SUBST_KIND, S_PREV_RECALL = 90, 91, 92, 100, 120, 121
S_LA_EFFECT, S_LA_PLAN = 200, 201

PROBLEMS: tuple[str, ...] = (
    "pp_substance",
    "pp_mental_health",
    "pp_domestic_abuse",
    "pp_learning_disability",
    "pp_criminality",
    "pp_financial",
    "pp_low_support",
    "pp_parent_maltreated",
)
"""The eight parental problems of the truth table (the seed, section 4)."""

CATEGORIES = np.array(["NEG", "EMO", "PHY", "SAB", "MUL"], dtype=object)
_OTHER_CATEGORY_SHARES = np.array([0.48, 0.20, 0.32])
"""PHY, SAB, MUL shares among plans not NEG/EMO (DCSF 2009: 13%, 6%, about 9% of all plans)."""

ETHNICITIES = np.array(
    ["WBRI", "WOTH", "MWBC", "MOTH", "APKN", "AIND", "ABAN", "AOTH", "BAFR", "BCRB", "BOTH",
     "CHNE", "OOTH", "WIRT", "NOBT"],
    dtype=object,
)
_ETHNIC_P = np.array(
    [0.70, 0.05, 0.03, 0.03, 0.03, 0.015, 0.015, 0.01, 0.03, 0.02, 0.01, 0.005, 0.02, 0.005, 0.02]
)
DISABILITY_KINDS = np.array(
    ["LD", "AUT", "COMM", "BEH", "MOB", "HAND", "PC", "CON", "VIS", "HEAR"], dtype=object
)
REFERRAL_SOURCES = np.array(
    ["1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4", "5A", "5B",
     "5C", "5D", "6", "7", "8", "9", "10"],
    dtype=object,
)
_SOURCE_P = np.array(
    [0.04, 0.02, 0.01, 0.01, 0.01, 0.01, 0.10, 0.01, 0.02, 0.02, 0.02, 0.04, 0.07, 0.10, 0.04,
     0.01, 0.01, 0.28, 0.05, 0.04, 0.05, 0.04]
)
_SOURCE_P = _SOURCE_P / _SOURCE_P.sum()

FACTOR_PROBLEMS: tuple[tuple[str, int], ...] = (
    ("1B", 0),  # alcohol misuse (parent): substance misuse, alcohol kind
    ("2B", 0),  # drug misuse (parent): substance misuse, drug kind
    ("3B", 2),  # domestic abuse (parent)
    ("4B", 1),  # mental health (parent)
    ("5B", 3),  # learning disability (parent)
)
"""Census B factor -> index of the parental problem in :data:`PROBLEMS` it records."""


@dataclass(frozen=True)
class Window:
    """The simulated calendar, in days since 1970-01-01."""

    start: float
    end: float
    final_year: int
    years: int

    @classmethod
    def make(cls, final_year: int, years: int) -> Window:
        start = _day(f"{final_year - years}-04-01")
        end = _day(f"{final_year}-03-31")
        return cls(start=start, end=end, final_year=final_year, years=years)


def _day(iso: str) -> float:
    return float(np.datetime64(iso, "D").astype(np.int64))


@dataclass(frozen=True)
class Context:
    """Everything a worker needs to simulate one LA."""

    config: SynthConfig
    window: Window
    la_codes: NDArray[np.int64]
    la_weights: NDArray[np.float64]
    la_keys: NDArray[np.uint64]
    la_effect: NDArray[np.float64]
    la_plan_effect: NDArray[np.float64]


def make_context(
    config: SynthConfig, years: int, seed: int, la_codes: Iterable[str], la_pop: ArrayLike
) -> Context:
    """Window, LA keys (``SeedSequence(seed).spawn``) and LA random effects."""
    codes = np.array([int(c) for c in la_codes], dtype=np.int64)
    w = np.asarray(la_pop, dtype=np.float64)
    keys = _rng.la_keys(seed, len(codes))
    return Context(
        config=config,
        window=Window.make(config.final_year, years),
        la_codes=codes,
        la_weights=w / w.sum(),
        la_keys=keys,
        la_effect=config.la_sd * _rng.normal(keys, S_LA_EFFECT),
        la_plan_effect=config.la_plan_sd * _rng.normal(keys, S_LA_PLAN),
    )


def allocate(n: int, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """Split ``n`` children over LAs in proportion to ``weights`` (largest remainder, no randomness)."""
    raw = n * weights
    base = np.floor(raw).astype(np.int64)
    rest = n - int(base.sum())
    order = np.lexsort((np.arange(len(raw)), -(raw - base)))
    base[order[:rest]] += 1
    return base


def _expit(x: NDArray[np.float64] | float) -> Any:
    return special.expit(x)


# --------------------------------------------------------------------------------------------
# One LA
# --------------------------------------------------------------------------------------------


def simulate_las(
    ctx: Context, las: Sequence[int], targets: Sequence[int], max_families: int = 400_000
) -> Iterator[dict[str, dict[str, NDArray[Any]]]]:
    """Simulate LAs ``las`` (indices, ascending) until each has its target number of contacted children.

    Each LA's families are simulated in order of their serial number; its cohort is the first
    ``target`` children with an observed episode, in (family serial, birth order). Consecutive
    LAs are simulated together, in one vectorised pass of about ``max_families`` families (to
    bound memory and keep arrays cache-sized), and topped up with further families until each
    has its target. Because every draw is keyed (:mod:`recurrence.synth._rng`), neither the
    grouping nor the batch sizes change the result.

    Yields, for each group of consecutive LAs, record kind ("children", "referrals", "events")
    -> column arrays, holding only the selected children (with their full histories), in
    simulation order (callers sort).
    """
    todo = [(int(la), int(t)) for la, t in zip(las, targets, strict=True) if t > 0]
    # Families simulated per contacted child: a first guess, then the running measured ratio, so
    # that few families are simulated beyond those needed (the rest are thrown away).
    seen = {"families": 0, "contacted": 0}
    i = 0
    while i < len(todo):
        group: dict[int, int] = {}
        total = 0
        while i < len(todo):
            la, t = todo[i]
            nf = _families_for(t, seen)
            if group and total + nf > max_families:
                break
            group[la] = t
            total += nf
            i += 1
        yield _simulate_group(ctx, group, seen)


def _families_for(need: int, seen: dict[str, int]) -> int:
    """Families to simulate for ``need`` more contacted children (a 5% margin plus 64)."""
    per_child = seen["families"] / seen["contacted"] if seen["contacted"] > 1000 else 3.0
    return 64 + int(np.ceil(1.05 * per_child * need))


def _simulate_group(
    ctx: Context, need: dict[int, int], seen: dict[str, int]
) -> dict[str, dict[str, NDArray[Any]]]:
    """Simulate the LAs of ``need`` (LA -> children wanted) until each has its children."""
    need = dict(need)
    next_serial = dict.fromkeys(need, 0)
    pieces: list[dict[str, dict[str, NDArray[Any]]]] = []
    while True:
        batch = [(la, _families_for(n, seen)) for la, n in need.items() if n > 0]
        if not batch:
            break
        fam_la = np.concatenate([np.full(nf, la, dtype=np.int64) for la, nf in batch])
        serial = np.concatenate(
            [np.arange(next_serial[la], next_serial[la] + nf, dtype=np.uint64) for la, nf in batch]
        )
        quota = np.zeros(len(ctx.la_codes), dtype=np.int64)
        for la, _ in batch:
            quota[la] = need[la]
        sim, n_contacted = _simulate_batch(ctx, fam_la, serial, quota)
        got = np.bincount(sim["children"]["origin_la"], minlength=quota.size)
        for la, nf in batch:
            need[la] -= int(got[la])
            next_serial[la] += nf
        seen["families"] += fam_la.size
        seen["contacted"] += n_contacted
        pieces.append(sim)
    out = _concat_sims(pieces)
    out["events"] = _events(out)
    del out["segments"]
    return out


def _concat_sims(pieces: list[dict[str, dict[str, NDArray[Any]]]]) -> dict[str, dict[str, NDArray[Any]]]:
    """Concatenate selections, shifting child indices."""
    sizes = [p["children"]["child"].size for p in pieces]
    offsets = np.cumsum([0, *sizes])[:-1]
    out: dict[str, dict[str, NDArray[Any]]] = {}
    out["children"] = _concat([p["children"] for p in pieces])
    out["children"]["child"] = np.arange(int(sum(sizes)))
    for kind in ("referrals", "segments"):
        cols = []
        for off, p in zip(offsets, pieces, strict=True):
            c = dict(p[kind])
            c["child"] = c["child"] + off
            cols.append(c)
        out[kind] = _concat(cols)
    return out


def _concat(cols: list[dict[str, NDArray[Any]]]) -> dict[str, NDArray[Any]]:
    return {name: np.concatenate([c[name] for c in cols]) for name in cols[0]}


def _simulate_batch(
    ctx: Context, fam_la: NDArray[np.int64], serial: NDArray[np.uint64], quota: NDArray[np.int64]
) -> tuple[dict[str, dict[str, NDArray[Any]]], int]:
    """Simulate families (origin LA ``fam_la``, serial numbers ``serial``) from the first birth.

    Families of one LA are contiguous and in serial order. Of each LA's contacted children the
    first ``quota[la]`` (in batch order) are kept: the result holds their records only,
    renumbered 0..n-1, with the number of contacted children in the batch.
    """
    cfg = ctx.config
    win = ctx.window
    n_fam = fam_la.size

    # ---- families --------------------------------------------------------------------------
    fam_uid = (fam_la.astype(np.uint64) << np.uint64(32)) | serial
    fkey = _rng.mix(fam_uid ^ ctx.la_keys[fam_la])
    size = 1 + _truncated_poisson(_rng.uniform(fkey, S_FAM_SIZE), cfg.mean_extra_siblings, 4)
    common = _rng.normal(fkey, S_FAM_COMMON)
    rho = cfg.problem_correlation
    prevs = (
        cfg.prev_substance, cfg.prev_mental_health, cfg.prev_domestic_abuse,
        cfg.prev_learning_disability, cfg.prev_criminality, cfg.prev_financial,
        cfg.prev_low_support, cfg.prev_parent_maltreated, cfg.prev_family_stress,
    )
    binaries = np.empty((n_fam, len(prevs)), dtype=bool)
    for j, prev in enumerate(prevs):
        z = np.sqrt(rho) * common + np.sqrt(1 - rho) * _rng.normal(fkey, S_FAM_PROBLEM + j)
        binaries[:, j] = z > special.ndtri(1 - prev)
    pp = binaries[:, :8]
    stress = binaries[:, 8]
    rr = cfg.resistance_problem_correlation
    resist = rr * common + np.sqrt(1 - rr**2) * _rng.normal(fkey, S_FAM_R)
    # Log-normal frailty with mean 1 and variance frailty_variance (cheaper than a gamma draw
    # by inversion, and as standard in frailty models).
    sig2 = np.log1p(cfg.frailty_variance)
    frailty = np.exp(np.sqrt(sig2) * _rng.normal(fkey, S_FAM_FRAILTY) - sig2 / 2)
    ethnic = np.searchsorted(np.cumsum(_ETHNIC_P), _rng.uniform(fkey, S_FAM_ETHNIC) * _ETHNIC_P.sum())
    ethnic = np.minimum(ethnic, len(ETHNICITIES) - 1)
    # Oldest child born so that every family has a child under 18 at some time in the window.
    first_birth = (win.start - 18 * YEAR) + _rng.uniform(fkey, S_FAM_BIRTH) * (win.end - win.start + 18 * YEAR)

    # ---- children --------------------------------------------------------------------------
    fam_of = np.repeat(np.arange(n_fam), size)
    order = _ranks(size)
    ckey = _rng.derive(fkey[fam_of], order + 1000)
    gaps = np.where(order == 0, 0.0, YEAR * (1.0 + 2.0 * _rng.exponential(ckey, S_CH_GAP)))
    birth = first_birth[fam_of] + _group_cumsum(gaps, size)
    born = birth <= win.end
    fam_of, order, ckey, birth = fam_of[born], order[born], ckey[born], birth[born]
    n = len(birth)
    child_uid = (fam_uid[fam_of] << np.uint64(3)) | order.astype(np.uint64)
    sex_u = _rng.uniform(ckey, S_CH_SEX)
    disabled = _rng.uniform(ckey, S_CH_DIS) < cfg.prev_child_disability
    death = birth + _rng.exponential(ckey, S_CH_DEATH) * YEAR / cfg.death_rate
    adult = birth + 18 * YEAR
    life_end = np.minimum(adult, death)
    end = np.minimum(life_end, win.end)

    # ---- moves between LAs (family level) ----------------------------------------------------
    moves = _simulate_moves(ctx, fam_la, fkey, first_birth, n_fam)

    # ---- linear predictors -------------------------------------------------------------------
    hr_specific = np.full(8, np.log(cfg.hr_per_problem))
    hr_specific[0] = np.log(cfg.hr_substance)
    hr_specific[2] = np.log(cfg.hr_domestic_abuse)
    hr_specific[5] = np.log(cfg.hr_financial)
    hr_specific[6] = np.log(cfg.hr_low_support)
    eta_fam = (
        pp @ hr_specific
        + np.log(cfg.hr_family_stress) * stress
        + np.log(cfg.hr_resistance) * resist
        + ctx.la_effect[fam_la]
        + np.log(frailty)
    )
    eta = eta_fam[fam_of] + np.log(cfg.hr_disability) * disabled
    R = resist[fam_of]
    p_ref = _expit(cfg.referral_logit + cfg.referral_resistance_log_or * R)
    lam0 = cfg.maltreatment_rate / YEAR
    need = cfg.need_referral_rate / YEAR * np.where(disabled, cfg.hr_need_disability, 1.0)
    n_pp_child = pp.sum(axis=1)[fam_of]

    # ---- the referral loop -----------------------------------------------------------------------
    refs: list[dict[str, NDArray[Any]]] = []
    segs: list[dict[str, NDArray[Any]]] = []
    act = np.arange(n)
    t = birth.copy()
    log_s = np.zeros(n)
    kappa_end = np.full(n, -np.inf)
    has_plan = np.zeros(n, dtype=bool)
    k = 0
    while act.size:
        ka = ckey[act]
        ta, ea = t[act], end[act]
        lam = lam0 * np.exp(eta[act] + log_s[act])
        lref = p_ref[act] * lam
        nu = need[act]
        t1 = np.clip(kappa_end[act], ta, ea)
        rho1 = lref + cfg.rereferral_multiplier * nu
        rho2 = lref + nu
        e = _rng.exponential(ka, S_REF_GAP, k)
        h1 = rho1 * (t1 - ta)
        r = np.where(e < h1, ta + e / rho1, t1 + (e - h1) / rho2)
        referred = r < ea
        r_end = np.minimum(r, ea)
        rate_at_r = np.where(r < t1, rho1, rho2)
        cause_mal = _rng.uniform(ka, S_REF_CAUSE, k) < lref / rate_at_r
        # Unreferred maltreatment before the referral (or before censoring).
        mu = (1 - p_ref[act]) * lam * (r_end - ta)
        segs.append(_segment(act, k, ta, r_end, mu, False))
        # ---- episodes of the referred children --------------------------------------------
        sel = np.flatnonzero(referred)
        a = act[sel]
        kk = ckey[a]
        rr_ = r[sel]
        ep = _episode(
            ctx, fam_la, kk, k, rr_, a, fam_of, moves, birth, R, n_pp_child, has_plan, life_end,
            cause_mal[sel],
        )
        ep["cause_mal"] = cause_mal[sel]
        # Maltreatment while the episode is open (known to services; not a new referral).
        close_cap = np.minimum(ep["closure"], end[a])
        mu_open = cfg.hr_open_episode * lam[sel] * np.maximum(close_cap - rr_, 0.0)
        segs.append(_segment(a, k, rr_, close_cap, mu_open, True))
        refs.append({"child": a, "k": np.full(a.size, k, dtype=np.int64), "day": rr_, **ep})
        # Service multiplier after this episode.
        weak = np.exp(-cfg.resistance_weakening * R[a])
        new_log_s = np.where(
            ~ep["assessed"], np.log(cfg.hr_no_assessment),
            np.where(ep["indicated"] & ~ep["timely"], np.log(cfg.hr_no_service_60d),
                     np.where(ep["attended"], np.log(cfg.hr_attendance) * weak, 0.0)),
        )
        log_s[a] = new_log_s
        has_plan[a] |= ep["plan"]
        nxt = np.floor(ep["closure"]) + 1.0
        t[a] = nxt
        kappa_end[a] = nxt + YEAR
        act = a[nxt < end[a]]
        k += 1

    ref = _concat(refs) if refs else {}
    seg = _concat(segs)
    # Contact: an episode open at some time in the window.
    in_window = (ref["day"] <= win.end) & (ref["closure"] >= win.start)
    contacted = np.zeros(n, dtype=bool)
    contacted[ref["child"][in_window]] = True
    # Keep each LA's first quota[la] contacted children (an LA's children are contiguous).
    ci = np.flatnonzero(contacted)
    ci_la = fam_la[fam_of[ci]]
    run_start = np.r_[True, ci_la[1:] != ci_la[:-1]] if ci.size else np.zeros(0, dtype=bool)
    pos = np.arange(ci.size)
    rank_in_la = pos - np.maximum.accumulate(np.where(run_start, pos, 0))
    kept = ci[rank_in_la < quota[ci_la]]
    newidx = np.full(n, -1, dtype=np.int64)
    newidx[kept] = np.arange(kept.size)
    fk = fam_of[kept]
    children = {
        "child": np.arange(kept.size), "uid": child_uid[kept], "key": ckey[kept], "family": fk,
        "family_uid": fam_uid[fk], "order": order[kept], "birth": birth[kept], "death": death[kept],
        "end": end[kept], "life_end": life_end[kept], "sex_u": sex_u[kept], "disabled": disabled[kept],
        "resistance": R[kept], "frailty": frailty[fk], "stress": stress[fk], "ethnic": ethnic[fk],
        "origin_la": fam_la[fk],
        **{name: pp[fk, j] for j, name in enumerate(PROBLEMS)},
    }
    # Did the family move LA while this child was under 18 (and before the window end)?
    n_before_end = _moves_before(moves, fk, end[kept])
    n_before_birth = _moves_before(moves, fk, birth[kept])
    children["moved_la"] = n_before_end > n_before_birth
    out = {"children": children}
    for kind, cols in (("referrals", ref), ("segments", seg)):
        m = newidx[cols["child"]] >= 0
        out[kind] = {name: v[m] for name, v in cols.items()}
        out[kind]["child"] = newidx[out[kind]["child"]]
    return out, int(ci.size)


def _moves_before(
    moves: dict[str, NDArray[Any]], fam: NDArray[np.int64], day: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Number of moves of family ``fam`` strictly before ``day``."""
    mk = moves["key"]
    hi = np.searchsorted(mk, fam.astype(np.float64) * _FAM_SPAN + day, side="left")
    lo = np.searchsorted(mk, fam.astype(np.float64) * _FAM_SPAN - _FAM_SPAN / 2, side="left")
    return (hi - lo).astype(np.int64)


def _truncated_poisson(u: NDArray[np.float64], mean: float, cap: int) -> NDArray[np.int64]:
    return np.minimum(_rng.poisson(u, np.full(u.shape, mean)), cap)


def _ranks(size: NDArray[np.int64]) -> NDArray[np.int64]:
    """0, 1, ..., size-1 for each group, concatenated."""
    starts = np.repeat(np.cumsum(size) - size, size)
    return np.arange(int(size.sum())) - starts


def _group_cumsum(x: NDArray[np.float64], size: NDArray[np.int64]) -> NDArray[np.float64]:
    c = np.cumsum(x)
    ends = np.cumsum(size)
    base = np.repeat(np.concatenate([[0.0], c[ends[:-1] - 1]]) if len(size) else np.zeros(0), size)
    return c - base


def _segment(
    child: NDArray[np.int64], k: int, lo: NDArray[np.float64], hi: NDArray[np.float64],
    mu: NDArray[np.float64], open_: bool,
) -> dict[str, NDArray[Any]]:
    """A stretch of constant maltreatment intensity whose unreferred events are drawn later.

    Events are only placed for children who end up in the cohort (most simulated children never
    are), which is why the loop records segments rather than events.
    """
    return {
        "child": child, "k": np.full(child.size, k, dtype=np.int64), "lo": lo, "hi": hi, "mu": mu,
        "open": np.full(child.size, open_),
    }


def _events(sim: dict[str, dict[str, NDArray[Any]]]) -> dict[str, NDArray[Any]]:
    """True maltreatment events of the selected children: unreferred ones from the segments,
    and one referred event at each referral caused by maltreatment."""
    keys = sim["children"]["key"]
    seg = sim["segments"]
    parts = []
    for open_, slot_n, slot_t in ((False, S_UNREF_N, S_UNREF_T), (True, S_OPEN_N, S_OPEN_T)):
        m = seg["open"] == open_
        c = seg["child"][m]
        parts.append(_scatter_events(
            c, keys[c], seg["k"][m], seg["lo"][m], seg["hi"][m], seg["mu"][m], slot_n, slot_t, open_,
        ))
    ref = sim["referrals"]
    hit = ref["cause_mal"]
    parts.append({
        "child": ref["child"][hit], "day": ref["day"][hit], "referred": np.ones(int(hit.sum()), dtype=bool),
        "open": np.zeros(int(hit.sum()), dtype=bool),
    })
    return _concat(parts)


def _scatter_events(
    child: NDArray[np.int64], keys: NDArray[np.uint64], k: NDArray[np.int64], lo: NDArray[np.float64],
    hi: NDArray[np.float64], mu: NDArray[np.float64], slot_n: int, slot_t: int, open_: bool,
) -> dict[str, NDArray[Any]]:
    """Poisson(mu) unreferred events per segment placed uniformly in [lo, hi)."""
    cnt = _rng.poisson(_rng.uniform(keys, slot_n, k), mu)
    tot = int(cnt.sum())
    idx = np.repeat(np.arange(child.size), cnt)
    j = _ranks(cnt)
    ekeys = _rng.derive(keys[idx], j + 1)
    u = _rng.uniform(ekeys, slot_t, k[idx])
    day = lo[idx] + u * (hi[idx] - lo[idx])
    return {
        "child": child[idx], "day": day, "referred": np.zeros(tot, dtype=bool),
        "open": np.full(tot, open_),
    }


def _simulate_moves(
    ctx: Context, fam_la: NDArray[np.int64], fkey: NDArray[np.uint64], first_birth: NDArray[np.float64],
    n_fam: int,
) -> dict[str, NDArray[Any]]:
    """Family moves between LAs: Poisson times from the first birth to the window end."""
    cfg = ctx.config
    rate = -np.log1p(-cfg.mobility_rate) / YEAR if cfg.mobility_rate < 1 else 1.0
    span = ctx.window.end - first_birth
    nm = _rng.poisson(_rng.uniform(fkey, S_FAM_NMOVES), rate * span)
    fam = np.repeat(np.arange(n_fam), nm)
    j = _ranks(nm)
    mkeys = _rng.derive(fkey[fam], j + 1)
    day = first_birth[fam] + _rng.uniform(mkeys, S_MOVE_TIME) * span[fam]
    o = np.lexsort((day, fam))
    fam, day, mkeys = fam[o], day[o], mkeys[o]
    j = _ranks(nm)
    dest = fam_la[fam].copy()
    cw = np.cumsum(ctx.la_weights)
    u = _rng.uniform(mkeys, S_MOVE_DEST)
    prev = fam_la[fam].copy()
    for step in range(int(nm.max(initial=0))):
        m = j == step
        if step > 0:
            prev[m] = dest[np.flatnonzero(m) - 1]
        dest[m] = _draw_other_la(u[m], prev[m], ctx.la_weights, cw)
    # Search key: family * span + day (days since 1970 lie well within +-span/2).
    return {"family": fam, "day": day, "dest": dest, "key": fam.astype(np.float64) * _FAM_SPAN + day}


_FAM_SPAN = 1.0e6
"""Spacing of families in the move search keys, in days."""


def _draw_other_la(
    u: NDArray[np.float64], current: NDArray[np.int64], w: NDArray[np.float64], cw: NDArray[np.float64]
) -> NDArray[np.int64]:
    """An LA other than ``current``, drawn in proportion to population."""
    wc = w[current]
    target = u * (1.0 - wc)
    lower = cw[current] - wc
    target = np.where(target >= lower, target + wc, target)
    return np.minimum(np.searchsorted(cw, target, side="right"), len(w) - 1).astype(np.int64)


def la_at(
    moves: dict[str, NDArray[Any]], fam: NDArray[np.int64], day: NDArray[np.float64], origin: int | NDArray[np.int64]
) -> NDArray[np.int64]:
    """LA index of family ``fam`` at time ``day`` (moves sorted by family then day)."""
    mk = moves["key"]
    q = fam.astype(np.float64) * _FAM_SPAN + day
    pos = np.searchsorted(mk, q, side="right")
    prev_ok = (pos > 0) & (moves["family"][np.maximum(pos - 1, 0)] == fam) if mk.size else np.zeros(fam.size, bool)
    out = np.broadcast_to(np.asarray(origin, dtype=np.int64), fam.shape).copy()
    if mk.size:
        out[prev_ok] = moves["dest"][pos[prev_ok] - 1]
    return out


def _episode(
    ctx: Context, fam_la: NDArray[np.int64], kk: NDArray[np.uint64], k: int, r: NDArray[np.float64],
    a: NDArray[np.int64], fam_of: NDArray[np.int64], moves: dict[str, NDArray[Any]],
    birth: NDArray[np.float64], R: NDArray[np.float64], n_pp: NDArray[np.int64],
    has_plan: NDArray[np.bool_], life_end: NDArray[np.float64], cause_mal: NDArray[np.bool_],
) -> dict[str, NDArray[Any]]:
    """The case process after a referral: NFA, assessment, section 47, plan, services, closure.

    All times are days since 1970-01-01; delays are whole days so that recorded dates keep
    their order after flooring.
    """
    cfg = ctx.config
    la_now = la_at(moves, fam_of[a], r, fam_la[fam_of[a]])
    nfa = _rng.uniform(kk, S_NFA, k) < cfg.nfa_probability
    assessed = ~nfa
    a_start = r + np.floor(_rng.uniform(kk, S_A_DELAY, k) * 8)
    a_len = np.minimum(1 + np.floor(_rng.exponential(kk, S_A_LEN, k) * cfg.assessment_mean_days), 64)
    a_auth = a_start + a_len
    nin = assessed & (_rng.uniform(kk, S_NIN, k) < cfg.not_in_need_probability)
    indicated = assessed & ~nin
    s47_logit = np.where(cause_mal, cfg.s47_logit_maltreatment, cfg.s47_logit_need) + (
        cfg.s47_log_or_previous * has_plan[a]
    )
    s47 = indicated & (_rng.uniform(kk, S_S47, k) < _expit(s47_logit))
    s47_start = a_start + np.floor(_rng.uniform(kk, S_S47_DELAY, k) * 6)
    young = (r - birth[a]) < 5 * YEAR
    plan_lin = (
        cfg.plan_logit + cfg.plan_log_or_under5 * young + cfg.plan_log_or_previous * has_plan[a]
        + cfg.plan_log_or_per_problem * n_pp[a] + ctx.la_plan_effect[la_now]
    )
    icpc = s47_start + 7 + np.floor(_rng.uniform(kk, S_ICPC_DELAY, k) * 15)
    # A plan needs a conference held while the child is still under 18 and alive.
    plan = s47 & (_rng.uniform(kk, S_PLAN, k) < _expit(plan_lin)) & (icpc < np.floor(life_end[a]))
    icpc_held = plan | (s47 & (_rng.uniform(kk, S_ICPC_HELD, k) < 0.25))
    # Durations are drawn only for plans (keyed draws: the subset does not change the values).
    plan_len = np.ones(r.size)
    pi = np.flatnonzero(plan)
    plan_len[pi] = np.maximum(
        1.0,
        np.floor(_rng.gamma(kk[pi], S_PLAN_LEN, cfg.plan_duration_shape,
                            cfg.plan_duration_mean_days / cfg.plan_duration_shape, k)),
    )
    lend = life_end[a]
    plan_end = np.minimum(icpc + plan_len, np.floor(lend))
    step = np.floor(_rng.exponential(kk, S_STEP, k) * cfg.step_down_mean_days)
    cin_len = 1 + np.floor(_rng.exponential(kk, S_CIN_LEN, k) * cfg.cin_support_mean_days)
    short = np.floor(_rng.uniform(kk, S_CLOSE_SHORT, k) * 3)
    closure = np.where(
        nfa, r + short,
        np.where(nin, a_auth + short,
                 np.where(plan, plan_end + step, np.maximum(a_auth, np.where(s47, icpc, a_auth)) + cin_len)),
    )
    closure = np.minimum(closure, np.floor(lend))
    closure = np.maximum(closure, np.where(plan, plan_end, r))
    timely = indicated & (_rng.uniform(kk, S_TIMELY, k) < cfg.timely_service_probability)
    attended = timely & (
        _rng.uniform(kk, S_ATTEND, k) < _expit(cfg.attendance_logit + cfg.attendance_resistance_log_or * R[a])
    )
    return {
        "la": la_now, "nfa": nfa, "assessed": assessed, "a_start": a_start, "a_auth": a_auth,
        "nin": nin, "indicated": indicated, "s47": s47, "s47_start": s47_start, "icpc": icpc,
        "icpc_held": icpc_held, "plan": plan, "plan_end": plan_end, "closure": closure,
        "timely": timely, "attended": attended, "young": young,
    }
