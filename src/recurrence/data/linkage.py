"""Linking returns into one dataset: ``child_key``, cross-LA linkage and de-duplication.

A researcher holds a folder of CIN returns from several LAs and census years. The same child
and the same episode appear in several of them (an episode open across 31 March is returned
in every census year it was open, with whatever was added since). The rules used here:

Child key (:func:`child_key`)
    From the UPN when one is recorded (in any of the child's returns within an LA; the latest
    return's UPN wins), else from ``la_code`` and ``la_child_id``. The UPN is the key the NPD's
    pupil matching reference is built on, so a child who moves LA keeps one ``child_key``
    exactly when both LAs recorded the UPN, which reproduces the NPD's linkage (and its gaps:
    children without a UPN cannot be followed across LAs). The key is the first 20 hex digits
    of ``sha256(LINKAGE_SALT + kind + value)`` prefixed ``U`` (UPN) or ``L`` (LA + child id),
    so the key is not the UPN itself. This is pseudonymisation, not anonymisation: the salt is
    public and the UPN space can be enumerated.
Children
    One row per (``la_code``, ``la_child_id``); the row from the latest census year wins (ties:
    the later file in input order), because later returns carry corrections.
Episodes
    One row per (``la_code``, ``la_child_id``, ``cin_referral_date``), from the latest census
    year that returned it (ties: the later file). Earlier copies are the same episode reported
    again, not errors, so they do not appear in ``rejections``; ``cin_episodes.census_year``
    records the census year the kept copy came from.
Records nested in episodes
    A census year returns the assessments, plans and reviews active in that year, so an episode
    open over several years has its history spread over several returns. Assessments, CIN
    plans, section 47 enquiries, plans and reviews are therefore pooled over all returns and
    de-duplicated on their own keys (the keys of :mod:`recurrence.data.schema`; the latest copy
    wins). Factors are taken from the kept copy of their assessment (a later return may correct
    them). A plan is identified by (``la_code``, ``la_child_id``, ``cpp_start_date``); its
    reviews follow it, and take its ``cin_referral_date`` if a return filed it under another
    referral date.
Within one file
    Duplicates are rejected by the reader (:mod:`recurrence.data.cin_xml`), never merged.

Every table is sorted by its unique key (:func:`sort_tables`), so output does not depend on
input order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final, Protocol

import numpy as np
import pandas as pd

from recurrence.data.schema import SCHEMAS, TABLE_NAMES, CINTables, coerce_table, empty_table

LINKAGE_SALT: Final = b"recurrence/cin-linkage/v1:"
"""Constant salt of the child-key hash (public: keys are pseudonyms, not secrets)."""

EPISODE_KEY: Final = ["la_code", "la_child_id", "cin_referral_date"]
CHILD_ID: Final = ["la_code", "la_child_id"]

SORT_KEYS: Final[dict[str, list[str]]] = {
    "children": ["la_code", "la_child_id"],
    "cin_episodes": EPISODE_KEY,
    "assessments": [*EPISODE_KEY, "assessment_actual_start_date"],
    "assessment_factors": [*EPISODE_KEY, "assessment_actual_start_date", "assessment_factor"],
    "cin_plans": [*EPISODE_KEY, "cin_plan_start_date"],
    "section47": [*EPISODE_KEY, "s47_actual_start_date"],
    "cpps": ["la_code", "la_child_id", "cpp_start_date"],
    "cpp_reviews": ["la_code", "la_child_id", "cpp_start_date", "cpp_review_date"],
}
"""The unique key of each table (as in :mod:`recurrence.data.schema`), used to sort it."""


class ParsedLike(Protocol):
    """What :func:`link_returns` needs of a parsed return (see ``cin_xml.ParsedReturn``)."""

    @property
    def path(self) -> str: ...
    @property
    def la_code(self) -> str: ...
    @property
    def census_year(self) -> int | None: ...
    @property
    def tables(self) -> dict[str, pd.DataFrame]: ...
    @property
    def rejections(self) -> pd.DataFrame: ...


def _digest(kind: bytes, value: str) -> str:
    return hashlib.sha256(LINKAGE_SALT + kind + value.encode("utf-8")).hexdigest()[:20]


def child_key(la_code: str, la_child_id: str, upn: str | None = None) -> str:
    """The cross-LA linkage key of one child record (see the module docstring).

    Parameters
    ----------
    la_code, la_child_id
        The LA and the LA's child id, used when no UPN is recorded.
    upn
        The unique pupil number (case-insensitive), or ``None``/empty when not recorded.
    """
    if upn:
        return "U" + _digest(b"UPN:", upn.strip().upper())
    return "L" + _digest(b"LA:", f"{la_code}\x1f{la_child_id}")


def child_keys(la_code: pd.Series, la_child_id: pd.Series, upn: pd.Series) -> pd.Series:
    """Vectorised :func:`child_key` over aligned series (missing UPN -> LA-based key).

    The same digests as :func:`child_key`, computed in one loop with the salted prefixes
    bound once: a national year has hundreds of thousands of children, and the per-call
    overhead of :func:`child_key` was most of the cost.
    """
    sha = hashlib.sha256
    upn_prefix = LINKAGE_SALT + b"UPN:"
    la_prefix = LINKAGE_SALT + b"LA:"
    out: list[str] = []
    append = out.append
    for la, cid, u in zip(la_code.tolist(), la_child_id.tolist(), upn.tolist(), strict=True):
        if u is None or (isinstance(u, float) and np.isnan(u)) or not u:
            text = f"{la}\x1f{cid}".encode()
            append("L" + sha(la_prefix + text).hexdigest()[:20])
        else:
            append("U" + sha(upn_prefix + u.strip().upper().encode()).hexdigest()[:20])
    return pd.Series(out, index=la_code.index, dtype=object)


def sort_tables(tables: CINTables) -> CINTables:
    """Sort every table by its unique key (rejections keep their order) and reset the index."""
    out = {}
    for name, frame in tables.items():
        if name in SORT_KEYS and len(frame):
            frame = frame.sort_values(SORT_KEYS[name], kind="stable")
        out[name] = frame.reset_index(drop=True)
    return CINTables(**out)


def _order_returns(returns: Sequence[ParsedLike]) -> list[int]:
    """Indices of ``returns`` from oldest to newest census year (missing year first; ties keep input order)."""
    return sorted(
        range(len(returns)),
        key=lambda i: (returns[i].census_year if returns[i].census_year is not None else -1, i),
    )


def link_returns(returns: Sequence[ParsedLike], *, validate: bool = True) -> CINTables:
    """Link parsed returns into one de-duplicated :class:`CINTables` (rules in the module docstring).

    Parameters
    ----------
    returns
        Parsed returns or chunks of returns (chunks of one file share its census year, and are
        disjoint because the reader rejects within-file duplicates).
    validate
        Validate every table against :mod:`recurrence.data.schema` before returning.
    """
    if not returns:
        tables = CINTables.empty()
        return tables.validate() if validate else tables
    order = _order_returns(returns)
    rank = {i: r for r, i in enumerate(order)}  # later rank = newer return

    def gather(name: str) -> pd.DataFrame:
        frames = []
        for i in order:
            f = returns[i].tables[name]
            if len(f):
                f = f.assign(_rank=rank[i], _year=returns[i].census_year)
                frames.append(f)
        if not frames:
            f = returns[order[0]].tables[name].iloc[0:0]
            return f.assign(_rank=pd.Series(dtype="int64"), _year=pd.Series(dtype="Int64"))
        return pd.concat(frames, ignore_index=True)

    children = gather("children")
    # The latest non-missing UPN of each LA child record, over all its returns.
    upns = children.loc[children["upn"].notna(), [*CHILD_ID, "upn"]].drop_duplicates(
        CHILD_ID, keep="last"
    )
    given = None
    if "child_key" in children.columns:
        # Readers that carry their own linkage key (the NPD's pupil matching reference).
        given = children.loc[children["child_key"].notna(), [*CHILD_ID, "child_key"]]
        given = given.drop_duplicates(CHILD_ID, keep="last").rename(columns={"child_key": "_given"})
        children = children.drop(columns=["child_key"])
    children = children.drop(columns=["upn"]).drop_duplicates(CHILD_ID, keep="last")
    children = children.merge(upns, on=CHILD_ID, how="left")
    children["child_key"] = child_keys(
        children["la_code"], children["la_child_id"], children["upn"]
    )
    if given is not None:
        children = children.merge(given, on=CHILD_ID, how="left")
        children["child_key"] = children["_given"].where(
            children["_given"].notna(), children["child_key"]
        )
        children = children.drop(columns=["_given"])
    keys = children[[*CHILD_ID, "child_key"]]

    episodes = gather("cin_episodes").drop_duplicates(EPISODE_KEY, keep="last")
    episodes = episodes.assign(census_year=episodes["_year"].astype("Int64"))
    out: dict[str, pd.DataFrame] = {"children": children, "cin_episodes": episodes}
    for name in ("assessments", "cin_plans", "section47", "cpps", "cpp_reviews"):
        out[name] = gather(name).drop_duplicates(SORT_KEYS[name], keep="last")
    # Factors come with the copy of their assessment that was kept (a later return may correct them).
    kept = out["assessments"][[*SORT_KEYS["assessments"], "_rank"]]
    out["assessment_factors"] = gather("assessment_factors").merge(
        kept, on=[*SORT_KEYS["assessments"], "_rank"], how="inner"
    )
    # A review belongs to the plan kept under (LA, child, plan start), whatever referral it was filed under.
    plan_ref = out["cpps"][["la_code", "la_child_id", "cpp_start_date", "cin_referral_date"]]
    out["cpp_reviews"] = (
        out["cpp_reviews"]
        .drop(columns=["cin_referral_date"])
        .merge(plan_ref, on=SORT_KEYS["cpps"], how="inner")
    )
    rejection_frames = [returns[i].rejections for i in range(len(returns))]
    attach = _KeyAttacher(keys)

    result: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        if name == "rejections":
            frames = [f for f in rejection_frames if len(f)]
            result[name] = (
                coerce_table(name, pd.concat(frames, ignore_index=True))
                if frames
                else empty_table(name)
            )
            continue
        frame = attach(name, out[name].drop(columns=["child_key"], errors="ignore"))
        if name == "cin_episodes":
            frame["census_year"] = frame["census_year"].astype("Int64")
        result[name] = _finalise(name, frame) if len(frame) else empty_table(name)
    tables = CINTables(**result)
    return tables.validate() if validate else tables


class _KeyAttacher:
    """Attach ``child_key`` to a table and sort it by its unique key, without object merges.

    Equivalent to ``frame.merge(keys, on=CHILD_ID, how="left")`` followed by
    :func:`sort_tables` (a stable sort on :data:`SORT_KEYS`), but much faster on a national
    year: pandas' merge and multi-column sort factorise the object columns ``la_code`` and
    ``la_child_id`` again for every table. Here each row's child is found by one hash lookup
    (in C, by child id, when child ids are unique across LAs), its position in the sorted
    children gives an integer sort key, and the remaining key columns
    (dates, the factor code) become integers, so one stable ``numpy.lexsort`` orders the table
    exactly as the stable pandas sort would. A key column with missing values falls back to
    the pandas sort, whose placement of missing values (last) the integer codes do not mimic.
    """

    def __init__(self, keys: pd.DataFrame) -> None:
        keys = keys.reset_index(drop=True)
        self.la = keys["la_code"].to_numpy(dtype=object)
        cid = keys["la_child_id"].to_numpy(dtype=object)
        # Child ids are usually unique across LAs too: then one C hash lookup per row finds
        # the child (and its LA is checked); else a dict keyed by (LA, child id).
        self.by_id = pd.Index(cid)
        self.index: dict[tuple[str, str], int] | None = None
        if not self.by_id.is_unique:
            self.index = {
                k: i for i, k in enumerate(zip(self.la.tolist(), cid.tolist(), strict=True))
            }
        self.child_key = keys["child_key"].to_numpy(dtype=object)
        # rank[i]: position of key row i when the children are sorted by (la_code, la_child_id).
        order = keys.sort_values(CHILD_ID, kind="stable").index.to_numpy()
        self.rank = np.empty(len(keys), dtype=np.int64)
        self.rank[order] = np.arange(len(keys), dtype=np.int64)

    def _positions(self, frame: pd.DataFrame) -> np.ndarray:
        """Row of ``keys`` holding each row's (la_code, la_child_id); -1 where none does."""
        la = frame["la_code"].to_numpy(dtype=object)
        cid = frame["la_child_id"].to_numpy(dtype=object)
        if self.index is None:
            pos = self.by_id.get_indexer(cid)
            found = pos >= 0
            pos[found & (self.la[np.where(found, pos, 0)] != la)] = -1
            return pos
        get = self.index.get
        return np.fromiter(
            (get(k, -1) for k in zip(la.tolist(), cid.tolist(), strict=True)),
            dtype=np.int64,
            count=len(frame),
        )

    def __call__(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.reset_index(drop=True)
        if not len(frame):
            return frame.assign(child_key=pd.Series(dtype=object))
        pos = self._positions(frame)
        if (pos < 0).any():
            # Only reachable if a sub-record's child row is missing, which the reader prevents.
            raise AssertionError(f"{name}: rows without a child record")
        frame["child_key"] = self.child_key[pos]
        sort_cols: list[np.ndarray] = [self.rank[pos]]
        for col in SORT_KEYS[name][2:]:
            s = frame[col]
            if s.isna().any():
                return frame.sort_values(SORT_KEYS[name], kind="stable")
            if pd.api.types.is_datetime64_any_dtype(s.dtype):
                sort_cols.append(s.to_numpy(dtype="datetime64[ns]").view(np.int64))
            else:
                sort_cols.append(pd.factorize(s, sort=True)[0])
        # numpy.lexsort sorts by the last key first and is stable, like sort_values(kind="stable").
        order = np.lexsort(sort_cols[::-1])
        return frame.take(order)


def _finalise(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Select and order the schema's columns, casting only where a reader's dtype may differ.

    The readers already build typed columns (str or None, datetime64[ns], boolean, Int64), so
    the per-value conversion of :func:`recurrence.data.schema.coerce_table` is not needed here;
    this keeps linking a national-size year fast.
    """
    out = {}
    for col, column in SCHEMAS[name].columns.items():
        s = frame[col]
        dtype = str(column.dtype)
        if dtype == "str":
            if s.dtype != object:
                s = s.astype(object)
            missing = s.isna()
            if missing.any():  # NaN -> None; a column without missing values is left as is
                s = s.where(~missing, None)
        elif str(s.dtype) != dtype:
            s = s.astype(dtype)
        out[col] = s.reset_index(drop=True)
    return pd.DataFrame(out)
