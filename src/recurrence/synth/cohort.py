"""Assemble simulated histories into census tables and truth tables; :func:`generate`.

Observed tables follow :mod:`recurrence.data.schema` exactly (the readers' columns), holding the
episodes open at some time in the window ``[1 April (final_year - years), 31 March final_year]``
as the LAs would have returned them: dates after 31 March of the final year are unknown (an open
episode has no closure date), and records about a child are under the LA where the referral was
made, with that LA's own ``la_child_id``. The truth tables hold everything, including history
before the window and maltreatment that was never referred.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from numpy.typing import NDArray

from recurrence.data import codes
from recurrence.data.io import TableFormat, write_tables
from recurrence.data.schema import DATE, SCHEMAS, TABLE_NAMES, CINTables, empty_table
from recurrence.errors import ModelInputError
from recurrence.synth import _rng
from recurrence.synth import generator as g
from recurrence.synth.config import SynthConfig
from recurrence.synth.las import load_la_populations

OutputFormat = Literal["csv", "parquet", "xml"]
FIRST_CENSUS_YEAR = 2009
"""First CIN census collection year (2008-09); ``census_year`` is missing for earlier episodes."""
TRUTH_TABLES: tuple[str, ...] = ("truth", "truth_events", "truth_referrals")


@dataclass(frozen=True)
class SyntheticCohort:
    """A synthetic linked CIN cohort with the truth behind it.

    Attributes
    ----------
    tables
        The observed census tables (:class:`recurrence.data.schema.CINTables`).
    truth
        One row per child (see ``docs/synthetic_model.md`` for every column).
    truth_events
        Every true maltreatment event from birth to the window end, referred or not.
    truth_referrals
        Every referral (also those before the window), with the service variables that are
        never recorded in the census (service within 60 days, attendance).
    config, preset, seed, years, n_children
        How the cohort was made (written to the manifest).
    """

    tables: CINTables
    truth: pd.DataFrame
    truth_events: pd.DataFrame
    truth_referrals: pd.DataFrame
    config: SynthConfig
    preset: str
    seed: int
    years: int
    n_children: int
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | os.PathLike[str], fmt: str = "csv") -> list[Path]:
        """Write the census tables, the truth tables and ``manifest.json`` to ``out_dir``.

        ``fmt`` is ``"csv"``, ``"parquet"`` or ``"xml"``. With ``"xml"`` the census tables are
        written as CIN census returns, one file per LA and census year from 2008-09 (the first
        CIN census) to the final year, ``xml/cin_<la>_<year>.xml``
        (:func:`recurrence.data.cin_xml_writer.write_cin_xml`), each holding what the LA
        would have returned that year (:func:`census_year_tables`); the truth tables are CSV.
        Files are written atomically and deterministically (no timestamps), so the same seed
        gives byte-identical files. Returns the written paths (manifest last).
        """
        from recurrence.synth.manifest import write_manifest

        fmt = check_output_format(fmt)
        extra = {
            "truth": self.truth,
            "truth_events": self.truth_events,
            "truth_referrals": self.truth_referrals,
        }
        out = Path(out_dir)
        if fmt == "xml":
            paths = self._write_xml(out)
            paths += _write_frames(extra, out)
        else:
            tfmt: TableFormat = fmt
            paths = write_tables(self.tables, out, tfmt, extra=extra)
        manifest = write_manifest(self, paths, out)
        return [*paths, manifest]

    def _write_xml(self, out: Path) -> list[Path]:
        from recurrence.data.cin_xml_writer import write_cin_xml

        xml_dir = out / "xml"
        xml_dir.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        first = max(FIRST_CENSUS_YEAR, self.config.final_year - self.years + 1)
        for year in range(first, self.config.final_year + 1):
            yearly = census_year_tables(self.tables, year)
            for la in sorted(set(yearly.children["la_code"])):
                path = xml_dir / f"cin_{la}_{year}.xml"
                write_cin_xml(yearly, path, la_code=la, collection_year=year)
                paths.append(path)
        return paths


def generate(
    *,
    n_children: int,
    years: int,
    seed: int,
    preset: str = "england-2009",
    config: SynthConfig | None = None,
    n_jobs: int = 1,
) -> SyntheticCohort:
    """Generate a synthetic cohort of ``n_children`` children in contact with children's social care.

    Parameters
    ----------
    n_children
        Number of distinct children with at least one CIN episode open at some time in the
        window (the issue's N).
    years
        Length of the observed window in years, ending 31 March of the preset's final year.
    seed
        Integer seed; the same seed, preset and configuration give identical tables whatever
        ``n_jobs`` is.
    preset
        ``"england-2009"`` or ``"england-2025"`` (:mod:`recurrence.synth.presets`).
    config
        A full configuration overriding the preset's (for example
        ``preset_config("england-2009").replace(mobility_rate=0.1)``).
    n_jobs
        Worker processes (joblib); LAs are shared out between them.
    """
    from recurrence.synth.presets import PRESETS, preset_config

    if preset not in PRESETS:
        raise ModelInputError(f"preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    if n_children < 1:
        raise ModelInputError(f"n_children must be at least 1; got {n_children}")
    if not 1 <= years <= 30:
        raise ModelInputError(f"years must be between 1 and 30; got {years}")
    if n_jobs < 1:
        raise ModelInputError(f"n_jobs must be at least 1; got {n_jobs}")
    cfg = config if config is not None else preset_config(preset)
    las = load_la_populations(cfg.population_year)
    ctx = g.make_context(cfg, years, seed, las["la_code"], las["population_0_17"])
    targets = g.allocate(n_children, ctx.la_weights)
    jobs = list(range(len(targets)))
    if n_jobs == 1:
        results = [g.simulate_las(ctx, jobs, [int(t) for t in targets])]
    else:
        # Interleave LAs so that workers get similar loads; order is restored by sorting later.
        chunks = [jobs[j::n_jobs] for j in range(n_jobs)]
        results = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(g.simulate_las)(ctx, chunk, [int(targets[i]) for i in chunk]) for chunk in chunks
        )
    tables, truth, events, referrals = assemble(ctx, results)
    return SyntheticCohort(
        tables=tables, truth=truth, truth_events=events, truth_referrals=referrals, config=cfg,
        preset=preset, seed=seed, years=years, n_children=n_children,
    )


# --------------------------------------------------------------------------------------------


def _masked(values: NDArray[Any], valid: NDArray[np.bool_]) -> NDArray[Any]:
    """``values`` as an object array with ``None`` where not ``valid``."""
    out = np.asarray(values, dtype=object).copy()
    out[~valid] = None
    return out


def _dates(days: NDArray[Any], valid: NDArray[np.bool_] | None = None) -> NDArray[Any]:
    d = np.floor(np.where(np.isfinite(days), days, 0)).astype(np.int64).astype("datetime64[D]")
    out = d.astype("datetime64[ns]")
    if valid is not None:
        out[~valid] = np.datetime64("NaT")
    return out


def _census_year(days: NDArray[np.float64]) -> NDArray[np.int64]:
    """Census year (ending 31 March) of each day."""
    d = np.floor(days).astype(np.int64).astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (d.astype("datetime64[M]").astype(np.int64) % 12) + 1
    return year + (month >= 4)


def _str(x: NDArray[Any]) -> NDArray[Any]:
    return np.asarray(x).astype(str).astype(object)


def assemble(
    ctx: g.Context, results: list[dict[str, dict[str, NDArray[Any]]]]
) -> tuple[CINTables, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Turn per-LA simulation output into the observed and truth tables (sorted, typed)."""
    cfg = ctx.config
    win = ctx.window
    offsets = np.cumsum([0] + [len(r["children"]["child"]) for r in results])
    ch = {k: np.concatenate([r["children"][k] for r in results]) for k in results[0]["children"]}
    ref = {k: np.concatenate([r["referrals"][k] for r in results]) for k in results[0]["referrals"]}
    ev = {k: np.concatenate([r["events"][k] for r in results]) for k in results[0]["events"]}
    ref["child"] = ref["child"] + np.repeat(offsets[:-1], [len(r["referrals"]["child"]) for r in results])
    ev["child"] = ev["child"] + np.repeat(offsets[:-1], [len(r["events"]["child"]) for r in results])
    # Put children in a canonical order (by uid) whatever the worker split was.
    perm = np.argsort(ch["uid"], kind="stable")
    rank = np.empty_like(perm)
    rank[perm] = np.arange(perm.size)
    ch = {k: v[perm] for k, v in ch.items()}
    ref["child"] = rank[ref["child"]]
    ev["child"] = rank[ev["child"]]
    ckey = ch["key"]
    child_key = _str(ch["uid"])
    la_code_str = np.array([f"{c:03d}" for c in ctx.la_codes], dtype=object)

    # Order referrals by child then time (k is already time order within a child).
    o = np.lexsort((ref["k"], ref["child"]))
    ref = {k: v[o] for k, v in ref.items()}
    rc = ref["child"]
    rkey = ckey[rc]
    kk = ref["k"]
    day = ref["day"]
    la = ref["la"]
    m = len(day)

    # ---- post-hoc draws that do not feed back into the dynamics --------------------------------
    cat_init = _category(cfg, rkey, kk, g.S_CAT1, g.S_CAT2)
    change = _rng.uniform(rkey, g.S_CAT_CHANGE, kk) < cfg.category_change_probability
    cat_latest = np.where(change, _category(cfg, rkey, kk, g.S_CAT3, g.S_CAT4), cat_init)
    src = np.minimum(
        np.searchsorted(np.cumsum(g._SOURCE_P), _rng.uniform(rkey, g.S_SOURCE, kk)), len(g._SOURCE_P) - 1
    )
    # Referral source 5D exists from the 2023-24 return (collection year 2024) only.
    five_d = int(np.flatnonzero(g.REFERRAL_SOURCES == "5D")[0])
    five_c = int(np.flatnonzero(g.REFERRAL_SOURCES == "5C")[0])
    src = np.where((src == five_d) & (_census_year(day) < 2024), five_c, src)
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
    recorded_prev = prev_same + (known_any - known_same)
    prev_same_la_ever = np.zeros(m, dtype=np.int64)
    prev_any_la = np.zeros(m, dtype=np.int64)
    prev_rec = np.zeros(m, dtype=np.int64)
    prev_same_la_ever[pl] = prev_same
    prev_any_la[pl] = prev_any
    prev_rec[pl] = recorded_prev

    # ---- which referrals are observed ------------------------------------------------------------
    obs = (day <= win.end) & (ref["closure"] >= win.start)
    id_num = _rng.mix(ch["uid"][rc] ^ ctx.la_keys[la])
    # One string object per (child, LA), shared by that record's rows.
    uniq, inverse = np.unique(id_num, return_inverse=True)
    uniq_str = _str(uniq)
    la_child_id_all = uniq_str[inverse]
    closed = ref["closure"] <= win.end
    ref_cols = {
        "child_key": child_key[rc], "la_code": la_code_str[la], "la_child_id": la_child_id_all,
        "_la": la, "_id": id_num,
    }

    def sub(mask: NDArray[np.bool_]) -> dict[str, NDArray[Any]]:
        return {k: v[mask] for k, v in ref_cols.items()}

    # cin_episodes
    life_end = ch["life_end"][rc]
    died = (ch["death"][rc] <= ch["life_end"][rc] + 0.5) & (np.floor(ref["closure"]) >= np.floor(life_end))
    aged_out = ~died & (np.floor(ref["closure"]) >= np.floor(life_end))
    reason = np.where(
        died, "RC2",
        np.where(aged_out, "RC6", np.where(ref["nfa"] | ref["nin"], "RC8", "RC7")),
    ).astype(object)
    need_code = np.where(
        ref["cause_mal"], "N1",
        np.where(ch["disabled"][rc], "N2",
                 np.array(["N4", "N5", "N6", "N8", "N9"], dtype=object)[
                     np.minimum((_rng.uniform(rkey, g.S_NEED, kk) * 5).astype(int), 4)]),
    ).astype(object)
    # The CIN census began in 2008-09: an episode closed before then was never returned.
    cy = np.minimum(_census_year(np.minimum(ref["closure"], win.end)), win.final_year)
    cy_obj = pd.array(np.where(cy >= FIRST_CENSUS_YEAR, cy, 0), dtype="Int64")
    cy_obj[cy < FIRST_CENSUS_YEAR] = pd.NA
    icpc_obs = ref["icpc_held"] & (ref["icpc"] <= win.end)
    episodes = ({
        **sub(obs),
        "cin_referral_date": _dates(day[obs]),
        "referral_source": g.REFERRAL_SOURCES[src[obs]],
        "primary_need_code": need_code[obs],
        "cin_closure_date": _dates(ref["closure"][obs], closed[obs]),
        "reason_for_closure": _masked(reason[obs], closed[obs]),
        "date_of_initial_cpc": _dates(ref["icpc"][obs], icpc_obs[obs]),
        "referral_nfa": ref["nfa"][obs],
        "census_year": cy_obj[obs],
    })

    # assessments (started by the window end)
    am = obs & ref["assessed"] & (ref["a_start"] <= win.end)
    auth_ok = ref["a_auth"] <= win.end
    assessments = ({
        **sub(am),
        "cin_referral_date": _dates(day[am]),
        "assessment_actual_start_date": _dates(ref["a_start"][am]),
        "assessment_internal_review_date": _dates(ref["a_start"][am], np.zeros(am.sum(), bool)),
        "assessment_authorisation_date": _dates(ref["a_auth"][am], auth_ok[am]),
    })

    # assessment factors (recorded at authorisation)
    factors = _factors(ctx, ch, ref, rc, rkey, kk, am & auth_ok, cat_init, ref_cols)

    # section 47
    sm = obs & ref["s47"] & (ref["s47_start"] <= win.end)
    section47 = ({
        **sub(sm),
        "cin_referral_date": _dates(day[sm]),
        "s47_actual_start_date": _dates(ref["s47_start"][sm]),
        "initial_cpc_target": _dates(ref["s47_start"][sm] + 21),
        "date_of_initial_cpc": _dates(ref["icpc"][sm], icpc_obs[sm]),
        "icpc_not_required": ~ref["icpc_held"][sm],
    })

    # child protection plans
    cm = obs & plan & (ref["icpc"] <= win.end)
    end_ok = ref["plan_end"] <= win.end
    cpps = ({
        **sub(cm),
        "cin_referral_date": _dates(day[cm]),
        "cpp_start_date": _dates(ref["icpc"][cm]),
        "cpp_end_date": _dates(ref["plan_end"][cm], end_ok[cm]),
        "initial_category_of_abuse": g.CATEGORIES[cat_init[cm]],
        "latest_category_of_abuse": g.CATEGORIES[cat_latest[cm]],
        "number_of_previous_cpp": prev_rec[cm],
    })

    # reviews: 3 months after the start, then every 6 months while the plan is open
    ci = np.flatnonzero(cm)
    last = np.minimum(ref["plan_end"][ci] - 1, win.end)
    first = ref["icpc"][ci] + 90
    n_rev = np.where(last >= first, np.floor((last - first) / 182).astype(np.int64) + 1, 0)
    ri = np.repeat(ci, n_rev)
    rday = np.repeat(first, n_rev) + 182 * g._ranks(n_rev)
    reviews = ({
        **{k: v[ri] for k, v in ref_cols.items()},
        "cin_referral_date": _dates(day[ri]),
        "cpp_start_date": _dates(ref["icpc"][ri]),
        "cpp_review_date": _dates(rday),
    })

    # children: one record per (child, LA) with an observed episode
    rec = pd.DataFrame({"c": rc[obs], "la": la[obs]}).drop_duplicates()
    rec = rec.sort_values(["c", "la"], kind="stable")
    c_idx = rec["c"].to_numpy()
    la_idx = rec["la"].to_numpy()
    death_known = (ch["death"][c_idx] <= win.end) & (ch["death"][c_idx] < ch["birth"][c_idx] + 18 * g.YEAR)
    dis_kind = g.DISABILITY_KINDS[
        np.minimum((_rng.uniform(ckey[c_idx], g.S_CH_DISCODE) * len(g.DISABILITY_KINDS)).astype(int),
                   len(g.DISABILITY_KINDS) - 1)
    ]
    sex = np.where(ch["sex_u"][c_idx] < 0.51, "M", np.where(ch["sex_u"][c_idx] < 0.995, "F", "U"))
    c_id_num = _rng.mix(ch["uid"][c_idx] ^ ctx.la_keys[la_idx])
    children = ({
        "_la": la_idx, "_id": c_id_num,
        "child_key": child_key[c_idx],
        "la_code": la_code_str[la_idx],
        "la_child_id": uniq_str[np.searchsorted(uniq, c_id_num)],
        "person_birth_date": _dates(ch["birth"][c_idx]),
        "expected_person_birth_date": _dates(ch["birth"][c_idx], np.zeros(len(c_idx), bool)),
        "sex": sex.astype(object),
        "ethnicity": g.ETHNICITIES[ch["ethnic"][c_idx]],
        "disabilities": np.where(ch["disabled"][c_idx], dis_kind, "NONE").astype(object),
        "person_death_date": _dates(ch["death"][c_idx], death_known),
    })

    tables = CINTables(
        children=_frame("children", children, []),
        cin_episodes=_frame("cin_episodes", episodes, ["cin_referral_date"]),
        assessments=_frame("assessments", assessments, ["cin_referral_date"]),
        assessment_factors=_frame("assessment_factors", factors, ["cin_referral_date", "_fcode"]),
        cin_plans=empty_table("cin_plans"),
        section47=_frame("section47", section47, ["cin_referral_date"]),
        cpps=_frame("cpps", cpps, ["cpp_start_date"]),
        cpp_reviews=_frame("cpp_reviews", reviews, ["cpp_start_date", "cpp_review_date"]),
        rejections=empty_table("rejections"),
    )

    truth, events, referrals = _truth(ctx, ch, ref, ev, child_key, la_code_str, obs, prev_same_la_ever,
                                      prev_any_la, prev_rec, cat_init, cat_latest, la_child_id_all)
    return tables, truth, events, referrals


def _frame(name: str, cols: dict[str, Any], by: list[str]) -> pd.DataFrame:
    """Table ``name`` with the schema's column order and dtypes, sorted by LA, then the LA child
    id's number (a fixed order, cheaper than string order), then ``by`` (stable).

    Built once from arrays: converting through pandas per value costs minutes at England scale.
    """
    keys: list[Any] = [cols["_la"], cols["_id"]]
    for col in by:
        kv = np.asarray(cols[col])
        keys.append(np.unique(kv, return_inverse=True)[1] if kv.dtype == object else kv)
    order = np.lexsort(keys[::-1]) if len(keys[0]) else np.zeros(0, dtype=np.int64)
    out: dict[str, Any] = {}
    for col, column in SCHEMAS[name].columns.items():
        dtype = str(column.dtype)
        raw = cols[col]
        v: Any = raw.take(order) if isinstance(raw, pd.api.extensions.ExtensionArray) else np.asarray(raw)[order]
        if dtype == "boolean":
            v = pd.array(np.asarray(v, dtype=bool), dtype="boolean")
        elif dtype == "Int64":
            v = pd.array(v, dtype="Int64")
        elif dtype == DATE:
            v = np.asarray(v, dtype=DATE)
        else:
            v = np.asarray(v, dtype=object)
        out[col] = v
    return pd.DataFrame(out)


def _tables(frames: dict[str, pd.DataFrame]) -> CINTables:
    """Build :class:`CINTables` with the schema's dtypes without a per-value conversion.

    ``coerce_table`` maps every string through Python, which costs minutes at England scale;
    here the columns are built with the right dtypes already, so only the order and the dtypes
    of boolean and count columns are set. Tests check the result against the schemas.
    """
    out = {}
    for name in TABLE_NAMES:
        if name not in frames:
            out[name] = empty_table(name)
            continue
        frame = frames[name]
        cols = {}
        for col, column in SCHEMAS[name].columns.items():
            dtype = str(column.dtype)
            v = frame[col]
            if dtype == "boolean":
                v = v.astype("boolean")
            elif dtype == "Int64":
                v = v.astype("Int64")
            elif dtype == DATE:
                v = v.astype(DATE)
            else:
                v = v.astype(object)
            cols[col] = v.reset_index(drop=True)
        out[name] = pd.DataFrame(cols)
    return CINTables(**out)


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


def _factors(
    ctx: g.Context, ch: dict[str, NDArray[Any]], ref: dict[str, NDArray[Any]], rc: NDArray[np.int64],
    rkey: NDArray[np.uint64], kk: NDArray[np.int64], mask: NDArray[np.bool_],
    cat: NDArray[np.int64], ref_cols: dict[str, NDArray[Any]],
) -> dict[str, NDArray[Any]]:
    """Assessment factors: B codes recorded with probability falling in resistance, abuse codes."""
    cfg = ctx.config
    idx = np.flatnonzero(mask)
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
    schema_new = _census_year(ref["a_auth"][idx]) >= 2021
    # Codes are carried as ranks in the sorted list _FACTOR_ORDER (cheap to sort and to turn into
    # strings); a code appears at most once per assessment by construction.
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
    sel = idx[ii]
    return {
        **{key: v[sel] for key, v in ref_cols.items()},
        "cin_referral_date": _dates(ref["day"][sel]),
        "assessment_actual_start_date": _dates(ref["a_start"][sel]),
        "assessment_factor": _FACTOR_STR[fcode],
        "_fcode": fcode,
    }


_FACTOR_ORDER: tuple[str, ...] = tuple(
    sorted({"1B", "2B", "3B", "4B", "5B", "16A", "17A", "18A", "18C", "19A", "19C", "6A", "20", "21"})
)
_FACTOR_STR = np.array(_FACTOR_ORDER, dtype=object)
assert set(_FACTOR_ORDER) <= codes.ASSESSMENT_FACTOR_CODES


def _truth(
    ctx: g.Context, ch: dict[str, NDArray[Any]], ref: dict[str, NDArray[Any]], ev: dict[str, NDArray[Any]],
    child_key: NDArray[Any], la_code_str: NDArray[Any], obs: NDArray[np.bool_],
    prev_same: NDArray[np.int64], prev_any: NDArray[np.int64], prev_rec: NDArray[np.int64],
    cat_init: NDArray[np.int64], cat_latest: NDArray[np.int64], la_child_id: NDArray[Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cfg = ctx.config
    win = ctx.window
    n = len(child_key)
    rc = ref["child"]
    # events, sorted by child then day
    o = np.lexsort((ev["day"], ev["child"]))
    ec, eday = ev["child"][o], ev["day"][o]
    # Type 2 'no positive change despite intervention': a true maltreatment event within the
    # window after the closure of an episode with a service delivered within 60 days.
    served = np.flatnonzero(ref["timely"])
    h = 1.0e6
    ekey = ec.astype(np.float64) * h + eday
    lo = np.searchsorted(ekey, rc[served].astype(np.float64) * h + ref["closure"][served], side="right")
    hi = np.searchsorted(
        ekey, rc[served].astype(np.float64) * h + ref["closure"][served] + cfg.no_change_window_days,
        side="right",
    )
    no_change = np.zeros(n, dtype=bool)
    no_change[rc[served][hi > lo]] = True
    threshold = float(np.asarray(g.special.ndtri(1 - cfg.resistant_share)))
    trait = ch["resistance"] > threshold
    # One string per child, shared by its event rows (saves memory at England scale).
    family_id = _str(ch["family_uid"])
    n_ev = np.bincount(ec, minlength=n)
    n_ref = np.bincount(rc, minlength=n)
    pp_cols = {name: ch[name] for name in g.PROBLEMS}
    n_pp = np.sum([ch[name] for name in g.PROBLEMS], axis=0)
    truth = pd.DataFrame({
        "child_key": child_key,
        "family_id": family_id,
        "origin_la_code": la_code_str[ch["origin_la"]],
        "birth_date": _dates(ch["birth"]),
        "death_date": _dates(ch["death"], ch["death"] <= win.end),
        "latent_resistance": ch["resistance"],
        "resistant_trait": trait,
        "no_change_after_services": no_change,
        "highly_resistant": trait | no_change,
        **pp_cols,
        "family_stress": ch["stress"],
        "n_parental_problems": n_pp.astype(np.int64),
        "disability": ch["disabled"],
        "frailty": ch["frailty"],
        "moved_la": ch["moved_la"],
        "n_true_events": n_ev.astype(np.int64),
        "n_referrals": n_ref.astype(np.int64),
    })
    events = pd.DataFrame({
        "child_key": child_key[ec],
        "family_id": family_id[ec],
        "event_date": _dates(eday),
        "referred": ev["referred"][o],
        "during_open_episode": ev["open"][o],
        "in_window": (eday >= win.start) & (eday <= win.end),
    })
    referrals = pd.DataFrame({
        "child_key": child_key[rc],
        "la_code": la_code_str[ref["la"]],
        "la_child_id": la_child_id,
        "referral_date": _dates(ref["day"]),
        "cause": np.where(ref["cause_mal"], "maltreatment", "need").astype(object),
        "assessed": ref["assessed"],
        "in_need": ref["indicated"],
        "section47": ref["s47"],
        "cpp": ref["plan"],
        "cpp_start_date": _dates(ref["icpc"], ref["plan"]),
        "cpp_end_date": _dates(ref["plan_end"], ref["plan"]),
        "category": _masked(g.CATEGORIES[cat_init], ref["plan"]),
        "latest_category": _masked(g.CATEGORIES[cat_latest], ref["plan"]),
        "previous_cpp_same_la": prev_same,
        "previous_cpp_any_la": prev_any,
        "number_of_previous_cpp_recorded": prev_rec,
        "service_within_60d": ref["timely"],
        "attended": ref["attended"],
        "closure_date": _dates(ref["closure"]),
        "observed": obs,
    })
    return truth, events, referrals


def _write_frames(frames: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Write extra frames as deterministic CSV, atomically per file."""
    from recurrence.data.io import write_frame

    paths = []
    for name, frame in frames.items():
        target = out / f"{name}.csv"
        tmp = out / f".{name}.csv.tmp"
        write_frame(frame, tmp, "csv")
        os.replace(tmp, target)
        paths.append(target)
    return paths


def census_year_tables(tables: CINTables, year: int) -> CINTables:
    """What the LAs would have returned in the census year ending 31 March ``year``.

    Episodes open at some time from 1 April ``year - 1`` to 31 March ``year``; records that
    started after 31 March ``year`` are dropped and dates after it are unknown (closure,
    authorisation, plan end, initial conference, death). ``census_year`` is set to ``year``.
    """
    start = pd.Timestamp(f"{year - 1}-04-01")
    ref = pd.Timestamp(f"{year}-03-31")
    key = ["la_code", "la_child_id", "cin_referral_date"]
    ep = tables.cin_episodes
    keep = (ep["cin_referral_date"] <= ref) & (ep["cin_closure_date"].isna() | (ep["cin_closure_date"] >= start))
    ep = ep[keep].copy()
    late = ep["cin_closure_date"] > ref
    ep.loc[late, "cin_closure_date"] = pd.NaT
    ep.loc[late, "reason_for_closure"] = None
    ep.loc[ep["date_of_initial_cpc"] > ref, "date_of_initial_cpc"] = pd.NaT
    ep["census_year"] = pd.array([year] * len(ep), dtype="Int64")
    eps = ep[key]

    def within(frame: pd.DataFrame, date_col: str) -> pd.DataFrame:
        f = frame.merge(eps, on=key, how="inner")
        return f[f[date_col] <= ref].copy()

    asm = within(tables.assessments, "assessment_actual_start_date")
    unauth = asm["assessment_authorisation_date"] > ref
    asm.loc[unauth, "assessment_authorisation_date"] = pd.NaT
    authorised = asm[~asm["assessment_authorisation_date"].isna()][[*key, "assessment_actual_start_date"]]
    fac = tables.assessment_factors.merge(authorised, on=[*key, "assessment_actual_start_date"])
    s47 = within(tables.section47, "s47_actual_start_date")
    s47.loc[s47["date_of_initial_cpc"] > ref, "date_of_initial_cpc"] = pd.NaT
    cpp = within(tables.cpps, "cpp_start_date")
    cpp.loc[cpp["cpp_end_date"] > ref, "cpp_end_date"] = pd.NaT
    rev = within(tables.cpp_reviews, "cpp_review_date")
    ch = tables.children.merge(ep[["la_code", "la_child_id"]].drop_duplicates(), on=["la_code", "la_child_id"])
    ch.loc[ch["person_death_date"] > ref, "person_death_date"] = pd.NaT
    frames = {"children": ch, "cin_episodes": ep, "assessments": asm, "assessment_factors": fac,
              "section47": s47, "cpps": cpp, "cpp_reviews": rev}
    return _tables({k: v.reset_index(drop=True) for k, v in frames.items()})


def check_output_format(fmt: str) -> OutputFormat:
    """Return ``fmt`` if it is a table format :meth:`SyntheticCohort.write` accepts."""
    if fmt not in get_args(OutputFormat):
        raise ModelInputError(f"format must be one of {', '.join(get_args(OutputFormat))}; got {fmt!r}")
    return fmt  # type: ignore[return-value]


__all__ = ["SyntheticCohort", "assemble", "generate"]
