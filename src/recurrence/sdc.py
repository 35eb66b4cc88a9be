"""Statistical disclosure control (SDC) for tables released from child-level CIN data.

Anyone who analyses CIN-level data in a secure setting (the ONS Secure Research Service, the
DfE's own environment, an LA's analytical team) must have every output checked before it leaves.
The rules applied here follow the practice of the DfE's published children-in-need statistics and
the Five Safes output-checking guidance (ONS SRS "Statistical disclosure control guidance";
Eurostat/SDC handbook, Hundepool et al. 2012, ch. 4 on tabular data):

* **No child identifiers, birth dates or free text.** Columns named like a child or family
  identifier (``child_key``, ``la_child_id``, ``upn``, ``family_id``, the NPD pupil matching
  reference...), a birth or death date, or free text (notes, comments) may not appear in an output.
  Long text cells (more than :attr:`SDCRules.max_text_length` characters) in a table derived from
  child-level data are treated as free text.
* **Primary suppression.** A count of children, episodes or plans in ``1 .. threshold - 1``
  (default threshold 10) is replaced by the DfE suppression marker ``"c"``. Zero is published as
  zero by default (the DfE publishes true zeros; ``suppress_zeros=True`` suppresses them too).
* **Secondary (complementary) suppression.** Where counts add up to a published total (the parts
  of a row to its row total, or the rows of a column to a column total such as LAs to England),
  a single suppressed cell could be recovered by subtraction. In every such line with exactly one
  suppressed cell the smallest other positive cell is suppressed as well (the usual
  "next-smallest cell" heuristic; Hundepool et al. 2012, s. 4.4), repeated until stable.
* **Extremes and quantiles.** The minimum or maximum of a group (and a range) is one child's
  own value, so a column named like one (``min``, ``max``, ``minimum``, ``maximum``, ``range``)
  may not appear in a child-level table (the "unsafe" class of the output-checking guidance,
  Bond, Brandt & de Wolf 2015, ESSnet *Guidelines for the checking of output based on
  microdata research*). A quantile (``median``, ``percentile``, ``quantile``, ``p25``,
  ``q1``) may be published only for a group of at least ``threshold`` children: its
  declaration names the column holding the group's size (``group_sizes``), and where that size
  is suppressed or below the threshold the quantile must be suppressed too.
* **Rounding.** Every published count is rounded to the nearest ``rounding_base`` (default 5, as
  the DfE publishes counts in its CIN statistics), half rounded up. Rates and percentages are
  computed from unrounded counts before rounding, again as the DfE does, and are suppressed when
  a count they are derived from is suppressed. A ratio declared in ``ratios`` (a percentage of
  one count over another) is instead recomputed from the *published* counts: written to several
  digits from the exact counts it would give them back and undo the rounding, and two ratios on
  nested counts could then be differenced down to a single child. The checker verifies it.

:func:`suppress_and_round` applies the rules to a table; :func:`check_outputs` scans every CSV in
an output folder and raises :class:`DisclosureError` naming the file and cell of the first
problem (and listing all of them). Which columns of a file hold counts is declared per file in a
``disclosure.json`` beside the outputs (see :class:`TableDeclaration`); in an undeclared file a
column is treated as a count when its name matches :attr:`SDCRules.count_column_pattern`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recurrence.errors import RecurrenceError

#: The name of the per-folder declaration file read by :func:`check_outputs`.
DECLARATIONS_FILE = "disclosure.json"

#: Column names (normalised: lower case, non-alphanumerics removed) that identify a child or
#: family, or carry a birth or death date. The census/NPD names and the package's own.
DEFAULT_IDENTIFIER_COLUMNS: frozenset[str] = frozenset(
    {
        "childkey",
        "lachildid",
        "cinlachildid",
        "cinlachildidanon",
        "upn",
        "formerupn",
        "upnunknown",
        "pupilmatchingref",
        "pupilmatchingrefanonymous",
        "cinpupilmatchingrefanonymous",
        "pmr",
        "familyid",
        "personid",
        "personbirthdate",
        "expectedpersonbirthdate",
        "persondeathdate",
        "cinpersonbirthdate",
        "dob",
        "dateofbirth",
        "birthdate",
        "postcode",
        "name",
        "forename",
        "surname",
    }
)

#: Regular expressions (on the lower-cased column name) that also mark an identifier column.
DEFAULT_IDENTIFIER_PATTERNS: tuple[str, ...] = (
    r"birth_?date",
    r"date_?of_?birth",
    r"death_?date",
    r"(^|_)upn($|_)",
    r"child_?(key|id)($|_)",
    r"family_?id($|_)",
    r"pupil_?matching",
    r"(^|_)pupil_?id($|_)",
    r"child_?identifier",
    r"(^|_)dob($|_)",
    r"post_?code",
)

#: Regular expressions (on the lower-cased column name) that mark a free-text column.
DEFAULT_FREE_TEXT_PATTERNS: tuple[str, ...] = (
    r"(^|_)notes?($|_)",
    r"comment",
    r"free_?text",
    r"narrative",
    r"case_?summary",
)


class DisclosureError(RecurrenceError):
    """An output breaks the disclosure rules; the message names the file and cell.

    ``violations`` holds every problem found, the first of which is in the message.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        first = self.violations[0]
        more = len(self.violations) - 1
        tail = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        super().__init__(f"disclosure check failed: {first.message}{tail}")


@dataclass(frozen=True)
class SDCRules:
    """Thresholds and patterns of the disclosure rules (all configurable).

    Attributes
    ----------
    threshold
        Smallest count that may be published; counts in ``1 .. threshold - 1`` are suppressed.
        Default 10, the usual minimum cell size for child-level outputs from secure settings.
    rounding_base
        Published counts are rounded to the nearest multiple of this (default 5, as the DfE
        publishes). ``1`` switches rounding off.
    suppress_zeros
        Also suppress zero counts (default ``False``: a zero is published as the DfE does).
    marker
        The text that replaces a suppressed cell (``"c"``, the DfE's "confidential" symbol).
    max_text_length
        A text cell longer than this in a child-level table is treated as free text.
    identifier_columns, identifier_patterns, free_text_patterns
        Names and regular expressions of forbidden columns (see the module docstring).
    count_column_pattern
        In a file without a declaration, columns whose lower-cased name matches this regular
        expression are checked as counts.
    extreme_column_pattern, quantile_column_pattern
        Lower-cased column names of group extremes (never released from child-level tables)
        and of quantiles (released only with a declared group size; see the module docstring).
    """

    threshold: int = 10
    rounding_base: int = 5
    suppress_zeros: bool = False
    marker: str = "c"
    max_text_length: int = 200
    identifier_columns: frozenset[str] = DEFAULT_IDENTIFIER_COLUMNS
    identifier_patterns: tuple[str, ...] = DEFAULT_IDENTIFIER_PATTERNS
    free_text_patterns: tuple[str, ...] = DEFAULT_FREE_TEXT_PATTERNS
    count_column_pattern: str = (
        r"^(?!.*(percent|pct|rate|share|proportion|ratio|mean|median|years|days))"
        r"(n|count|number|frequency|numerator|denominator|n_[a-z0-9_]+|[a-z0-9_]+_count"
        r"|[a-z0-9_]*(children|plans|plan_starts|cpp_start|cpp_subsequent|referrals|events"
        r"|at_risk|becoming_subject)[a-z0-9_]*)$"
    )

    extreme_column_pattern: str = r"(^|_)(min|max|minimum|maximum|range)(_|$)"
    quantile_column_pattern: str = r"(^|_)(median|quantile|percentile|p[0-9]{1,2}|q[1-3])(_|$)"

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"threshold must be at least 1; got {self.threshold}")
        if self.rounding_base < 1:
            raise ValueError(f"rounding_base must be at least 1; got {self.rounding_base}")
        if not self.marker:
            raise ValueError("marker must be a non-empty string")

    def is_identifier(self, column: str) -> bool:
        """Whether a column name denotes a child/family identifier or a birth/death date."""
        low = str(column).strip().lower()
        if re.sub(r"[^a-z0-9]", "", low) in self.identifier_columns:
            return True
        return any(re.search(p, low) for p in self.identifier_patterns)

    def is_free_text(self, column: str) -> bool:
        """Whether a column name denotes free text."""
        low = str(column).strip().lower()
        return any(re.search(p, low) for p in self.free_text_patterns)

    def needs_suppression(self, value: float) -> bool:
        """Whether an (unrounded) count must be suppressed."""
        if value == 0:
            return self.suppress_zeros
        return 0 < value < self.threshold

    def round_count(self, value: float) -> int:
        """Round a non-negative count to the nearest ``rounding_base``, halves up."""
        base = self.rounding_base
        return int(math.floor(value / base + 0.5) * base)


@dataclass(frozen=True)
class TableDeclaration:
    """What a released table holds, so that :func:`check_outputs` can check it.

    Attributes
    ----------
    count_columns
        Columns holding counts of children, episodes, plans or events from child-level data.
    child_level
        Whether the table is derived from child-level data (synthetic or real). Tables that are
        not (simulation-study summaries, published LA tables, the registry of reported effects)
        are still checked for identifiers and free-text columns, but not for cell sizes; give the
        ``reason``.
    reason
        Why a table is not child-level (required when ``child_level`` is ``False``).
    rows_additive
        The count columns of a row are parts of a whole (published as ``row_total`` or derivable
        by addition), so a single suppressed part per row must be protected.
    row_total
        Name of the row-total column, when published.
    column_groups
        ``None``: the rows of a count column do not add up to a published total. A tuple of
        column names: within each group of rows (``()`` = the whole table) the counts add up to a
        total (e.g. LAs to England within a year), so a single suppressed cell per group and
        column must be protected.
    dependent
        Derived columns (rates, percentages) and the count columns each is computed from; a
        derived cell is suppressed whenever one of its counts is.
    ratios
        ``{column: (numerator, denominator, scale)}``: columns equal to ``scale * numerator /
        denominator`` of the published (rounded) counts, suppressed with either count.
    group_sizes
        ``{quantile column: size column}``: the number of children each published quantile
        (a median time, a percentile) is computed from.
    """

    count_columns: tuple[str, ...] = ()
    child_level: bool = True
    reason: str = ""
    rows_additive: bool = False
    row_total: str | None = None
    column_groups: tuple[str, ...] | None = None
    dependent: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ratios: Mapping[str, tuple[str, str, float]] = field(default_factory=dict)
    group_sizes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.child_level and not self.reason:
            raise ValueError("a table declared not child-level must give the reason")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (sorted, so that the declaration file is deterministic)."""
        out = asdict(self)
        out["count_columns"] = list(self.count_columns)
        out["column_groups"] = None if self.column_groups is None else list(self.column_groups)
        out["dependent"] = {k: list(v) for k, v in sorted(self.dependent.items())}
        out["ratios"] = {k: list(v) for k, v in sorted(self.ratios.items())}
        out["group_sizes"] = dict(sorted(self.group_sizes.items()))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TableDeclaration:
        """Inverse of :meth:`to_json`."""
        groups = data.get("column_groups")
        return cls(
            count_columns=tuple(data.get("count_columns", ())),
            child_level=bool(data.get("child_level", True)),
            reason=str(data.get("reason", "")),
            rows_additive=bool(data.get("rows_additive", False)),
            row_total=data.get("row_total"),
            column_groups=None if groups is None else tuple(groups),
            dependent={k: tuple(v) for k, v in dict(data.get("dependent", {})).items()},
            ratios={k: (str(v[0]), str(v[1]), float(v[2]))
                    for k, v in dict(data.get("ratios", {})).items()},
            group_sizes={str(k): str(v) for k, v in dict(data.get("group_sizes", {})).items()},
        )


@dataclass(frozen=True)
class Violation:
    """One broken rule: the file, the cell (1-based data row, column) and what is wrong."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str


# --------------------------------------------------------------------------------------------
# Applying the rules
# --------------------------------------------------------------------------------------------


def _lines_with_single(mask: np.ndarray, axis: int) -> np.ndarray:
    """Indices of the lines (rows for axis=1, columns for axis=0) with exactly one True."""
    return np.flatnonzero(mask.sum(axis=axis) == 1)


def _secondary_in_line(values: np.ndarray, suppressed: np.ndarray) -> int | None:
    """Pick the complementary cell of a line: the smallest positive unsuppressed cell.

    Returns its index, or ``None`` when no cell can protect the suppressed one (then the caller
    suppresses the total instead). Ties go to the first cell, so the choice is deterministic.
    """
    candidates = np.flatnonzero(~suppressed & (values > 0))
    if candidates.size == 0:
        candidates = np.flatnonzero(~suppressed)
    if candidates.size == 0:
        return None
    return int(candidates[np.argmin(values[candidates])])


def primary_and_secondary_mask(
    counts: pd.DataFrame,
    rules: SDCRules,
    *,
    rows_additive: bool = False,
    row_total: str | None = None,
    column_groups: Sequence[str] | None = None,
    group_keys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Boolean frame of the cells to suppress (primary and secondary), same shape as ``counts``.

    ``counts`` holds only count columns (no missing values); ``row_total``, when given, is one of
    them. ``group_keys`` holds the ``column_groups`` columns, aligned with ``counts``.
    """
    values = counts.to_numpy(dtype=float)
    needs = np.vectorize(rules.needs_suppression, otypes=[bool])
    mask = needs(values) if values.size else np.zeros(values.shape, dtype=bool)
    cols = list(counts.columns)
    total_idx = cols.index(row_total) if row_total is not None else None
    part_idx = [i for i in range(len(cols)) if i != total_idx]

    if column_groups is None:
        groups: list[np.ndarray] = []
    elif len(column_groups) == 0 or group_keys is None:
        groups = [np.arange(len(counts))]
    else:
        codes = group_keys.reset_index(drop=True).groupby(list(column_groups), sort=True).ngroup()
        groups = [np.flatnonzero(codes.to_numpy() == g) for g in np.unique(codes.to_numpy())]

    # Iterate row and column protection until nothing changes: protecting a row can create a
    # single suppressed cell in a column and vice versa. Each pass suppresses at least one more
    # cell or stops, so the loop ends after at most values.size passes.
    for _ in range(values.size + 1):
        changed = False
        if rows_additive and part_idx:
            sub = mask[:, part_idx]
            for r in range(len(values)):
                n_sup = int(sub[r].sum()) + (
                    int(mask[r, total_idx]) if total_idx is not None else 0
                )
                if n_sup != 1:
                    continue
                pick = _secondary_in_line(values[r, part_idx], sub[r])
                if pick is not None:
                    mask[r, part_idx[pick]] = True
                elif total_idx is not None:
                    mask[r, total_idx] = True
                else:
                    continue
                changed = True
                sub = mask[:, part_idx]
        for rows in groups:
            if len(rows) < 2:
                continue
            for c in range(len(cols)):
                col_mask = mask[rows, c]
                if int(col_mask.sum()) != 1:
                    continue
                pick = _secondary_in_line(values[rows, c], col_mask)
                if pick is not None:
                    mask[rows[pick], c] = True
                    changed = True
        if not changed:
            break
    return pd.DataFrame(mask, index=counts.index, columns=counts.columns)


def suppress_and_round(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    rules: SDCRules | None = None,
    rows_additive: bool = False,
    row_total: str | None = None,
    column_groups: Sequence[str] | None = None,
    dependent: Mapping[str, Sequence[str]] | None = None,
    ratios: Mapping[str, tuple[str, str, float]] | None = None,
    drop_identifiers: bool = True,
) -> pd.DataFrame:
    """Return a copy of ``frame`` that is safe to release under ``rules``.

    Parameters
    ----------
    frame
        An aggregate table (one row per LA, year, category...). Not modified.
    count_columns
        Columns holding counts of children, episodes, plans or events (non-negative integers;
        missing values stay missing and are written as empty cells).
    rules
        Thresholds and markers; default :class:`SDCRules()` (threshold 10, rounding to 5).
    rows_additive, row_total, column_groups
        Which counts add up to a published total, for secondary suppression; see
        :class:`TableDeclaration`.
    dependent
        Derived columns (rates, percentages computed from the unrounded counts) and the counts
        each comes from; they are blanked with the marker whenever one of those counts is
        suppressed.
    ratios
        ``{column: (numerator, denominator, scale)}``: the column is (re)computed as ``scale *
        numerator / denominator`` from the rounded counts, and is the marker when either is
        suppressed (empty when the denominator is 0 or missing).
    drop_identifiers
        Drop identifier and free-text columns (default). With ``False`` they raise
        :class:`DisclosureError` instead.

    Returns
    -------
    pandas.DataFrame
        Count columns become ``object`` columns of Python ``int`` (rounded) or the marker;
        dependent columns keep their values or the marker.
    """
    rules = rules or SDCRules()
    count_columns = list(count_columns)
    dependent = {k: list(v) for k, v in (dependent or {}).items()}
    ratios = dict(ratios or {})
    for col, (num, den, _) in ratios.items():
        dependent.setdefault(col, [num, den])
    missing = [c for c in [*count_columns, *dependent, *(column_groups or ())] if c not in frame]
    missing += [c for deps in dependent.values() for c in deps if c not in count_columns]
    if row_total is not None and row_total not in count_columns:
        missing.append(row_total)
    if missing:
        raise ValueError(
            f"suppress_and_round: unknown or undeclared columns {sorted(set(missing))}"
        )

    out = frame.copy()
    forbidden = [c for c in out.columns if rules.is_identifier(c) or rules.is_free_text(c)]
    if forbidden and not drop_identifiers:
        raise DisclosureError(
            [
                Violation(
                    "<frame>", None, c, None, "identifier", f"column {c!r} may not be released"
                )
                for c in forbidden
            ]
        )
    out = out.drop(columns=forbidden)

    raw = out[count_columns].apply(pd.to_numeric, errors="raise")
    if (raw < 0).to_numpy(dtype=bool, na_value=False).any():
        raise ValueError("suppress_and_round: counts must be non-negative")
    isna = raw.isna()
    mask = (
        primary_and_secondary_mask(
            raw.fillna(0),
            rules,
            rows_additive=rows_additive,
            row_total=row_total,
            column_groups=column_groups,
            group_keys=out[list(column_groups)] if column_groups else None,
        )
        & ~isna
    )

    for col in count_columns:
        vals: list[Any] = []
        for v, sup, na in zip(
            raw[col].tolist(), mask[col].tolist(), isna[col].tolist(), strict=True
        ):
            if na:
                vals.append(None)
            elif sup:
                vals.append(rules.marker)
            else:
                vals.append(rules.round_count(float(v)))
        out[col] = pd.Series(vals, index=out.index, dtype=object)
    for col, (num, den, scale) in ratios.items():
        n = pd.to_numeric(out[num].where(out[num] != rules.marker), errors="coerce")
        d = pd.to_numeric(out[den].where(out[den] != rules.marker), errors="coerce")
        with np.errstate(divide="ignore", invalid="ignore"):
            out[col] = (scale * n / d).where(d > 0)
    for derived, sources in dependent.items():
        hit = mask[sources].any(axis=1)
        series = out[derived].astype(object)
        series[hit] = rules.marker
        out[derived] = series
    return out


# --------------------------------------------------------------------------------------------
# Checking released outputs
# --------------------------------------------------------------------------------------------


def read_declarations(out_dir: str | Path) -> dict[str, TableDeclaration]:
    """Read the ``disclosure.json`` files under ``out_dir`` (relative POSIX path -> declaration).

    Each folder's file declares the files beside it (and below it, by relative path), so a
    command's output folder keeps its declarations when it is checked as part of a larger
    folder; a nearer declaration wins. Empty when there is none.
    """
    root = Path(out_dir)
    found = sorted(root.rglob(DECLARATIONS_FILE), key=lambda p: len(p.relative_to(root).parts))
    out: dict[str, TableDeclaration] = {}
    for path in found:
        prefix = path.parent.relative_to(root).as_posix()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            decls = {k: TableDeclaration.from_json(v) for k, v in data.items()}
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: not a valid disclosure declaration file ({exc})") from exc
        for k, v in decls.items():
            out[k if prefix == "." else f"{prefix}/{k}"] = v
    return out


def write_declarations(out_dir: str | Path, declarations: Mapping[str, TableDeclaration]) -> Path:
    """Write ``out_dir/disclosure.json`` deterministically (sorted keys)."""
    path = Path(out_dir) / DECLARATIONS_FILE
    data = {k: declarations[k].to_json() for k in sorted(declarations)}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _cell_message(file: str, row: int, column: str, text: str) -> str:
    return f"{file}: row {row}, column {column!r}: {text}"


def _check_count_cell(value: str, rules: SDCRules) -> str | None:
    """Why a released count cell breaks the rules, or ``None`` if it is fine."""
    v = value.strip()
    if v == "" or v == rules.marker or v.lower() in {"nan", "na", "x", "z", "u", ":"}:
        return None
    try:
        num = float(v)
    except ValueError:
        return f"value {value!r} is neither a count nor the suppression marker {rules.marker!r}"
    if not math.isfinite(num) or num < 0 or num != int(num):
        return f"value {value!r} is not a non-negative whole count"
    if rules.needs_suppression(num):
        return f"count {v} is below the threshold {rules.threshold} and is not suppressed"
    if int(num) % rules.rounding_base != 0:
        return f"count {v} is not rounded to the nearest {rules.rounding_base}"
    return None


def check_frame(
    frame: pd.DataFrame,
    name: str,
    rules: SDCRules | None = None,
    declaration: TableDeclaration | None = None,
) -> list[Violation]:
    """Every rule a released table (read as text) breaks; ``name`` labels it in messages."""
    rules = rules or SDCRules()
    frame = frame.reset_index(drop=True)
    found: list[Violation] = []
    for col in frame.columns:
        if rules.is_identifier(col):
            found.append(
                Violation(
                    name,
                    None,
                    str(col),
                    None,
                    "identifier",
                    f"{name}: column {col!r} is a child identifier or birth/death date",
                )
            )
        elif rules.is_free_text(col):
            found.append(
                Violation(
                    name, None, str(col), None, "free-text", f"{name}: column {col!r} is free text"
                )
            )
    child_level = declaration.child_level if declaration is not None else True
    if not child_level:
        return found
    found.extend(_check_identifier_values(frame, name))
    found.extend(_check_extremes_and_quantiles(frame, name, rules, declaration))

    if declaration is not None:
        count_cols = [c for c in declaration.count_columns if c in frame.columns]
        absent = [c for c in declaration.count_columns if c not in frame.columns]
        for c in absent:
            found.append(
                Violation(
                    name,
                    None,
                    c,
                    None,
                    "declaration",
                    f"{name}: declared count column {c!r} is not in the file",
                )
            )
    else:
        pattern = re.compile(rules.count_column_pattern)
        count_cols = [c for c in frame.columns if pattern.match(str(c).lower())]

    text = frame.astype(str)
    for col in count_cols:
        for i, value in enumerate(text[col].tolist(), start=1):
            problem = _check_count_cell(value, rules)
            if problem:
                found.append(
                    Violation(
                        name, i, str(col), value, "count", _cell_message(name, i, str(col), problem)
                    )
                )
    for col in frame.columns:
        if col in count_cols or frame[col].dtype != object:
            continue
        for i, value in enumerate(text[col].tolist(), start=1):
            if len(value) > rules.max_text_length:
                found.append(
                    Violation(
                        name,
                        i,
                        str(col),
                        value[:40] + "...",
                        "free-text",
                        _cell_message(
                            name,
                            i,
                            str(col),
                            f"text of {len(value)} characters looks like free text",
                        ),
                    )
                )
    if declaration is not None and count_cols:
        found.extend(_check_secondary(text, name, rules, declaration, count_cols))
        found.extend(_check_ratios(text, name, rules, declaration))
        for derived, sources in declaration.dependent.items():
            if derived not in frame.columns:
                continue
            for i, (d, *srcs) in enumerate(
                zip(text[derived], *[text[s] for s in sources if s in text], strict=True), start=1
            ):
                if any(s == rules.marker for s in srcs) and d != rules.marker:
                    found.append(
                        Violation(
                            name,
                            i,
                            derived,
                            d,
                            "dependent",
                            _cell_message(
                                name, i, derived, f"derived value {d} reveals a suppressed count"
                            ),
                        )
                    )
    return found


def _check_extremes_and_quantiles(
    frame: pd.DataFrame, name: str, rules: SDCRules, declaration: TableDeclaration | None
) -> list[Violation]:
    """Extreme-value columns, and quantiles without a group of ``threshold`` children."""
    found: list[Violation] = []
    sizes = {} if declaration is None else dict(declaration.group_sizes)
    extreme = re.compile(rules.extreme_column_pattern)
    quantile = re.compile(rules.quantile_column_pattern)
    text = frame.astype(str)
    for col in frame.columns:
        low = str(col).strip().lower()
        if extreme.search(low):
            found.append(Violation(
                name, None, str(col), None, "extreme",
                f"{name}: column {col!r} looks like a group minimum, maximum or range, which is "
                "one child's own value; publish quantiles of large enough groups instead",
            ))
            continue
        if not quantile.search(low):
            continue
        size_col = sizes.get(str(col))
        if size_col is None or size_col not in frame.columns:
            found.append(Violation(
                name, None, str(col), None, "quantile",
                f"{name}: quantile column {col!r} has no declared group-size column "
                "(TableDeclaration.group_sizes) to show each value comes from at least "
                f"{rules.threshold} children",
            ))
            continue
        for i, (q, n) in enumerate(zip(text[col], text[size_col], strict=True), start=1):
            if q in (rules.marker, "", "nan", "<NA>", "None"):
                continue
            try:
                small = n == rules.marker or float(n) < rules.threshold
            except ValueError:
                small = True
            if small:
                found.append(Violation(
                    name, i, str(col), q, "quantile",
                    _cell_message(name, i, str(col),
                                  f"quantile {q} published for a group of {n} (< {rules.threshold} "
                                  "or suppressed)"),
                ))
    return found


_DATE_VALUE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].*)?$")
_UPN_VALUE = re.compile(r"^[A-Z][0-9]{11}[0-9A-Z]$")


def _check_identifier_values(frame: pd.DataFrame, name: str) -> list[Violation]:
    """Cells that look like a full date or a UPN, whatever their column is called.

    In a table derived from child-level data a full date (a referral, a plan start, a birth)
    or a unique pupil number can point to one child; aggregate tables hold years, not dates.
    Reports the first such cell of each column.
    """
    found = []
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        for i, value in enumerate(frame[col].astype(str).tolist(), start=1):
            what = ("a full date" if _DATE_VALUE.match(value)
                    else "a unique pupil number" if _UPN_VALUE.match(value) else None)
            if what:
                found.append(
                    Violation(
                        name, i, str(col), value, "identifier",
                        _cell_message(name, i, str(col), f"value {value!r} looks like {what}"),
                    )
                )
                break
    return found


def _check_ratios(
    text: pd.DataFrame, name: str, rules: SDCRules, declaration: TableDeclaration
) -> list[Violation]:
    """Declared ratios must equal ``scale * numerator / denominator`` of the published counts."""
    found = []
    for col, (num, den, scale) in declaration.ratios.items():
        if col not in text.columns or num not in text.columns or den not in text.columns:
            continue
        for i, (r, n, d) in enumerate(zip(text[col], text[num], text[den], strict=True), start=1):
            if rules.marker in (n, d):
                continue  # the dependent check covers suppressed counts
            try:
                value, nv, dv = float(r), float(n), float(d)
            except ValueError:
                continue
            if dv > 0 and not math.isclose(value, scale * nv / dv, rel_tol=1e-5, abs_tol=1e-9):
                found.append(
                    Violation(
                        name, i, col, r, "ratio",
                        _cell_message(name, i, col, f"ratio {r} is not {scale:g} x {n} / {d} "
                                      "of the published counts: it reveals the exact counts"),
                    )
                )
    return found


def _check_secondary(
    text: pd.DataFrame,
    name: str,
    rules: SDCRules,
    decl: TableDeclaration,
    count_cols: list[str],
) -> list[Violation]:
    """Lines (additive rows, column groups) with exactly one suppressed cell."""
    found: list[Violation] = []
    sup = text[count_cols] == rules.marker
    if decl.rows_additive:
        for i, n in enumerate(sup.sum(axis=1).tolist(), start=1):
            if n == 1:
                col = str(sup.columns[sup.iloc[i - 1].to_numpy()][0])
                found.append(
                    Violation(
                        name,
                        i,
                        col,
                        rules.marker,
                        "secondary",
                        _cell_message(
                            name,
                            i,
                            col,
                            "the only suppressed cell of an additive row can be "
                            "recovered from the row total",
                        ),
                    )
                )
    if decl.column_groups is not None:
        keys = list(decl.column_groups)
        grouped: Iterable[tuple[Any, pd.DataFrame]] = (
            sup.groupby([text[k] for k in keys], sort=True) if keys else [((), sup)]
        )
        for _, g in grouped:
            if len(g) < 2:
                continue
            for col in count_cols:
                if int(g[col].sum()) == 1:
                    row = int(g.index[g[col].to_numpy()][0]) + 1
                    found.append(
                        Violation(
                            name,
                            row,
                            col,
                            rules.marker,
                            "secondary",
                            _cell_message(
                                name,
                                row,
                                col,
                                "the only suppressed cell of its column group can "
                                "be recovered from the column total",
                            ),
                        )
                    )
    return found


def check_outputs(
    out_dir: str | Path,
    rules: SDCRules | None = None,
    declarations: Mapping[str, TableDeclaration] | None = None,
    *,
    raise_on_failure: bool = True,
) -> list[Violation]:
    """Check every CSV under ``out_dir`` against ``rules``.

    Parameters
    ----------
    out_dir
        The folder of released outputs; every ``*.csv`` in it (recursively) is read as text.
    rules
        Default :class:`SDCRules()`.
    declarations
        Relative POSIX path -> :class:`TableDeclaration`; default: ``out_dir/disclosure.json``.
        Undeclared files are treated as child-level with count columns found by
        :attr:`SDCRules.count_column_pattern`.
    raise_on_failure
        Raise :class:`DisclosureError` (message naming the first file and cell) when any rule is
        broken (default); otherwise return the violations.

    Returns
    -------
    list of Violation
        Empty when every output passes.
    """
    rules = rules or SDCRules()
    root = Path(out_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"output folder {root} does not exist")
    decls = dict(declarations) if declarations is not None else read_declarations(root)
    found: list[Violation] = []
    for path in sorted(root.rglob("*.csv")):
        rel = path.relative_to(root).as_posix()
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        found.extend(check_frame(frame, rel, rules, decls.get(rel)))
    if found and raise_on_failure:
        raise DisclosureError(found)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m recurrence.sdc OUT_DIR [--threshold N] [--rounding B]``: check a folder.

    For output checking in a secure setting before release. Prints every violation (file, row,
    column, problem) and returns 1 when there are any, 0 when the folder passes.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m recurrence.sdc",
        description="Check every CSV in a folder (and its subfolders) against the disclosure "
        "rules, using the disclosure.json declarations found there.",
    )
    parser.add_argument("out_dir", type=Path, help="folder of outputs to be released")
    parser.add_argument(
        "--threshold", type=int, default=SDCRules.threshold,
        help="smallest count that may be published (default %(default)s)",
    )
    parser.add_argument(
        "--rounding", type=int, default=SDCRules.rounding_base,
        help="base that published counts are rounded to (default %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        rules = SDCRules(threshold=args.threshold, rounding_base=args.rounding)
        found = check_outputs(args.out_dir, rules, raise_on_failure=False)
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    for v in found:
        print(v.message)
    n_files = len(list(Path(args.out_dir).rglob("*.csv")))
    print(
        f"{len(found)} disclosure problem(s) in {n_files} CSV file(s) under {args.out_dir} "
        f"(threshold {rules.threshold}, rounding to {rules.rounding_base})"
    )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
