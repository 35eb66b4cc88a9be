"""Typed tables of child-level CIN data, validated with pandera when built.

The package holds a CIN dataset as eight tables that mirror the census XML structure
(``Child`` > ``CINdetails`` > ``Assessments`` / ``Section47`` / ``ChildProtectionPlans`` >
``Reviews``). Column names are the census element names in snake_case (``CINreferralDate`` ->
``cin_referral_date``) so that a researcher can map a column back to the DfE specification
without a lookup table.

Every table carries

``child_key``
    The cross-LA linkage key. In NPD extracts it is the pupil matching reference
    (``CIN_PupilMatchingRefAnonymous``); from XML returns it is derived from the UPN when one is
    recorded, otherwise from ``la_code`` and ``la_child_id`` (so a child without a UPN cannot be
    linked across LAs, exactly as in the NPD). In synthetic data it is the generator's child id.
``la_code``
    The three-digit DfE local-authority code (``LEA`` in the XML header).
``la_child_id``
    The LA's own child identifier (``LAchildID``), kept as recorded.

Dates are ``datetime64[ns]`` (missing = ``NaT``); codes are strings checked against
:mod:`recurrence.data.codes`; counts are nullable ``Int64``.

Episode key: within an LA a CIN episode is identified by (``la_child_id``, ``cin_referral_date``),
which is how the DfE census identifies it (CIN census guide: a child may have several
CINdetails in one year, distinguished by referral date). Child-protection plans within an
episode are identified by ``cpp_start_date``; assessments by ``assessment_actual_start_date``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api.types import infer_dtype
from pandera.engines import pandas_engine

from recurrence.data import codes

DATE = "datetime64[ns]"


class _Str(pandas_engine.NpString):
    """pandera's ``str`` dtype (object column of ``str`` or missing values), checked in C.

    pandera checks ``str`` by mapping ``isinstance(x, str)`` over every value in Python: most
    of the validation time of a census year (tens of millions of values; at 100,000 children
    validation took 4.1 s with it and 1.4-1.5 s with this check).
    :func:`pandas.api.types.infer_dtype` with ``skipna=True`` walks the array in C and answers
    ``"string"`` (or ``"empty"``) only when every value is a ``str`` or a missing value that
    ``isna`` also counts as missing, i.e. exactly when pandera's check passes. Any other
    answer falls back to pandera's own check, so failures (and their messages) are pandera's.
    Prints, and so dispatches in :mod:`recurrence.data.linkage` and elsewhere, as ``"str"``.
    """

    def check(self, pandera_dtype: Any, data_container: Any = None) -> Any:
        if data_container is not None and infer_dtype(data_container, skipna=True) in (
            "string",
            "empty",
        ):
            return True
        return super().check(pandera_dtype, data_container)


# pandera's immutable dataclass decorator gives the dtype a no-argument __init__, which mypy
# cannot see through (it reads numpy_engine.DataType.__init__(dtype)).
STR: Final = _Str()  # type: ignore[call-arg]
"""The dtype of every text column (see :class:`_Str`)."""


def _all_str(s: pd.Series) -> bool:
    """True when every value of ``s`` is a ``str`` (no missing value), checked in C."""
    return s.dtype == object and infer_dtype(s, skipna=False) == "string"


def _str_matches(pattern: str) -> pa.Check:
    """pandera's ``Check.str_matches(pattern)``, with the regex run once per distinct value.

    pandera runs the regex on every row (``Series.str.match``); ``la_code`` is checked in every
    table, millions of rows holding a handful of distinct codes. A column of ``str`` values is
    factorised in C and the regex applied to its distinct values only; anything else (missing
    values, non-``str`` values) goes through pandera's own implementation. Name, error text and
    statistics are the built-in check's, so failure reports are unchanged.
    """
    builtin = pa.Check.str_matches(pattern)
    regex = re.compile(pattern)

    def check(s: pd.Series) -> pd.Series:
        if not _all_str(s):
            return s.str.match(pattern, na=False)
        codes, uniques = pd.factorize(s)
        ok = np.fromiter((regex.match(u) is not None for u in uniques), bool, len(uniques))
        return pd.Series(ok[codes], index=s.index)

    return pa.Check(check, name=builtin.name, error=builtin.error, statistics=builtin.statistics)


def _non_empty() -> pa.Check:
    """pandera's ``Check.str_length(min_value=1)``, as one C comparison with ``""``.

    For ``str`` values, length at least 1 is exactly "not the empty string"; other columns go
    through pandera's per-value ``Series.str.len``. Name, error text and statistics are the
    built-in check's.
    """
    builtin = pa.Check.str_length(min_value=1)

    def check(s: pd.Series) -> pd.Series:
        if not _all_str(s):
            return s.str.len() >= 1
        return pd.Series(s.to_numpy(dtype=object) != "", index=s.index, dtype=bool)

    return pa.Check(check, name=builtin.name, error=builtin.error, statistics=builtin.statistics)


_LA_CODE = pa.Column(STR, _str_matches(codes.LA_CODE_PATTERN), nullable=False)
_KEY = pa.Column(STR, _non_empty(), nullable=False)


def _code(values: frozenset[str], nullable: bool = True) -> pa.Column:
    return pa.Column(STR, pa.Check.isin(sorted(values)), nullable=nullable)


def _date(nullable: bool = True) -> pa.Column:
    return pa.Column(DATE, nullable=nullable)


def _ids() -> dict[str, pa.Column]:
    return {"child_key": _KEY, "la_code": _LA_CODE, "la_child_id": _KEY}


CHILDREN: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "person_birth_date": _date(),
        "expected_person_birth_date": _date(),
        "sex": _code(codes.SEX_CODES, nullable=False),
        "ethnicity": _code(codes.ETHNICITY_CODES),
        "disabilities": pa.Column(STR, nullable=True),
        "person_death_date": _date(),
    },
    unique=["la_code", "la_child_id"],
    strict=True,
    ordered=True,
    name="children",
    description="One row per child record in an LA. `disabilities` is a space-joined, sorted "
    "list of census disability codes ('NONE' when recorded as none; missing when not recorded).",
)

CIN_EPISODES: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "cin_referral_date": _date(nullable=False),
        "referral_source": _code(codes.REFERRAL_SOURCE_CODES),
        "primary_need_code": _code(codes.PRIMARY_NEED_CODES),
        "cin_closure_date": _date(),
        "reason_for_closure": _code(codes.REASON_FOR_CLOSURE_CODES),
        "date_of_initial_cpc": _date(),
        "referral_nfa": pa.Column("boolean", nullable=True),
        "census_year": pa.Column("Int64", pa.Check.in_range(2009, 2100), nullable=True),
    },
    unique=["la_code", "la_child_id", "cin_referral_date"],
    strict=True,
    ordered=True,
    name="cin_episodes",
    description="One row per referral (CINdetails). `census_year` is the latest census year "
    "(year ending 31 March) in which the episode was returned.",
)

ASSESSMENTS: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "cin_referral_date": _date(nullable=False),
        "assessment_actual_start_date": _date(nullable=False),
        "assessment_internal_review_date": _date(),
        "assessment_authorisation_date": _date(),
    },
    unique=["la_code", "la_child_id", "cin_referral_date", "assessment_actual_start_date"],
    strict=True,
    ordered=True,
    name="assessments",
)

ASSESSMENT_FACTORS: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "cin_referral_date": _date(nullable=False),
        "assessment_actual_start_date": _date(nullable=False),
        "assessment_factor": _code(codes.ASSESSMENT_FACTOR_CODES, nullable=False),
    },
    unique=[
        "la_code",
        "la_child_id",
        "cin_referral_date",
        "assessment_actual_start_date",
        "assessment_factor",
    ],
    strict=True,
    ordered=True,
    name="assessment_factors",
    description="Factors identified at the end of assessment, long form (one row per factor).",
)

CIN_PLANS: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "cin_referral_date": _date(nullable=False),
        "cin_plan_start_date": _date(nullable=False),
        "cin_plan_end_date": _date(),
    },
    unique=["la_code", "la_child_id", "cin_referral_date", "cin_plan_start_date"],
    strict=True,
    ordered=True,
    name="cin_plans",
    description="CIN plan dates (CINPlanDates, census 2021-22 onwards: schema 2022).",
)

SECTION47: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "cin_referral_date": _date(nullable=False),
        "s47_actual_start_date": _date(nullable=False),
        "initial_cpc_target": _date(),
        "date_of_initial_cpc": _date(),
        "icpc_not_required": pa.Column("boolean", nullable=True),
    },
    unique=["la_code", "la_child_id", "cin_referral_date", "s47_actual_start_date"],
    strict=True,
    ordered=True,
    name="section47",
)

CPPS: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "cin_referral_date": _date(nullable=False),
        "cpp_start_date": _date(nullable=False),
        "cpp_end_date": _date(),
        "initial_category_of_abuse": _code(codes.CATEGORY_OF_ABUSE_CODES),
        "latest_category_of_abuse": _code(codes.CATEGORY_OF_ABUSE_CODES),
        "number_of_previous_cpp": pa.Column("Int64", pa.Check.ge(0), nullable=True),
    },
    unique=["la_code", "la_child_id", "cpp_start_date"],
    strict=True,
    ordered=True,
    name="cpps",
    description="Child protection plans. `number_of_previous_cpp` is as recorded by the LA "
    "(NumberOfPreviousCPP: previous plans in any LA, per the census guide).",
)

CPP_REVIEWS: Final = pa.DataFrameSchema(
    {
        **_ids(),
        "cin_referral_date": _date(nullable=False),
        "cpp_start_date": _date(nullable=False),
        "cpp_review_date": _date(nullable=False),
    },
    unique=["la_code", "la_child_id", "cpp_start_date", "cpp_review_date"],
    strict=True,
    ordered=True,
    name="cpp_reviews",
)

REJECTIONS: Final = pa.DataFrameSchema(
    {
        "source_file": pa.Column(STR, nullable=False),
        "record": pa.Column(STR, nullable=False),
        "la_code": pa.Column(STR, nullable=True),
        "la_child_id": pa.Column(STR, nullable=True),
        "element": pa.Column(STR, nullable=True),
        "value": pa.Column(STR, nullable=True),
        "reason": pa.Column(STR, nullable=False),
    },
    strict=True,
    ordered=True,
    name="rejections",
    description="Records that could not be loaded, with the reason. `record` is the kind of "
    "record rejected (child, episode, assessment, factor, cin_plan, section47, cpp, review) "
    "and `source_file` the file as it was given, folder included (and row for flat files).",
)

SCHEMAS: Final[dict[str, pa.DataFrameSchema]] = {
    "children": CHILDREN,
    "cin_episodes": CIN_EPISODES,
    "assessments": ASSESSMENTS,
    "assessment_factors": ASSESSMENT_FACTORS,
    "cin_plans": CIN_PLANS,
    "section47": SECTION47,
    "cpps": CPPS,
    "cpp_reviews": CPP_REVIEWS,
    "rejections": REJECTIONS,
}
"""Table name -> schema, in the order tables are written."""

TABLE_NAMES: Final[tuple[str, ...]] = tuple(SCHEMAS)


def empty_table(name: str) -> pd.DataFrame:
    """Return an empty, correctly typed table ``name``."""
    schema = SCHEMAS[name]
    return pd.DataFrame(
        {col: pd.Series(dtype=_pandas_dtype(c)) for col, c in schema.columns.items()}
    )


def _pandas_dtype(column: pa.Column) -> str:
    dtype = str(column.dtype)
    return "object" if dtype == "str" else dtype


def coerce_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast ``frame`` to the dtypes of table ``name`` and order its columns.

    Strings stay ``object`` with missing values as ``None``; dates become ``datetime64[ns]``.
    Raises ``KeyError`` naming the missing columns.
    """
    schema = SCHEMAS[name]
    missing = [c for c in schema.columns if c not in frame.columns]
    if missing:
        raise KeyError(f"table {name!r} lacks columns: {', '.join(missing)}")
    out = {}
    for col, column in schema.columns.items():
        s = frame[col]
        dtype = _pandas_dtype(column)
        try:
            if dtype == DATE:
                s = pd.to_datetime(s, errors="raise").astype(DATE)
            elif dtype == "object":
                s = s.astype(object).where(s.notna(), None)
                s = s.map(lambda v: v if v is None else str(v))
            elif dtype == "boolean":
                s = _to_boolean(s)
            elif dtype == "Int64" and s.dtype == object:
                s = pd.to_numeric(s, errors="raise").astype("Int64")
            else:
                s = s.astype(dtype)
        except (ValueError, TypeError) as exc:
            raise ValueError(_first_bad_cell(frame[col], col, dtype, exc)) from exc
        out[col] = s.reset_index(drop=True)
    return pd.DataFrame(out)


def _first_bad_cell(s: pd.Series, col: str, dtype: object, exc: Exception) -> str:
    """One line naming the first value of column ``col`` that cannot be cast, and its row.

    Rows are counted as in the CSV file (the header is row 1). pandas' own messages span
    several lines and give positions, not rows or columns.
    """
    values = s.reset_index(drop=True)
    present = values.notna()
    if dtype == DATE:
        bad = present & pd.to_datetime(values, errors="coerce").isna()
    elif dtype == "Int64":
        bad = present & pd.to_numeric(values, errors="coerce").isna()
    else:
        bad = pd.Series(False, index=values.index)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        return f"row {i + 2}, column {col!r}: cannot read {values.iloc[i]!r} as {dtype}"
    return f"column {col!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


def _to_boolean(s: pd.Series) -> pd.Series:
    if s.dtype == object:
        text = s.map(lambda v: None if v is None or v is pd.NA or v != v else str(v).lower())
        unknown = set(text.dropna()) - set(_BOOL_TEXT)
        if unknown:
            raise ValueError(f"not a yes/no value: {sorted(unknown)[0]!r}")
        s = text.map(lambda v: None if v is None else _BOOL_TEXT[v])
    return s.astype("boolean")


def validate_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate ``frame`` as table ``name``; raise ``pandera.errors.SchemaErrors`` listing all failures."""
    return SCHEMAS[name].validate(frame, lazy=True)


@dataclass(frozen=True)
class CINTables:
    """The tables of one linked CIN dataset.

    Built by the readers (:mod:`recurrence.data.cin_xml`, :mod:`recurrence.data.npd`), the
    synthetic generator and :func:`recurrence.data.io.read_tables`. Construction does not
    validate; call :meth:`validate` (the readers do so before returning).
    """

    children: pd.DataFrame
    cin_episodes: pd.DataFrame
    assessments: pd.DataFrame
    assessment_factors: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cpps: pd.DataFrame
    cpp_reviews: pd.DataFrame
    rejections: pd.DataFrame

    @classmethod
    def empty(cls) -> CINTables:
        return cls(**{name: empty_table(name) for name in TABLE_NAMES})

    @classmethod
    def from_mapping(cls, tables: Mapping[str, pd.DataFrame]) -> CINTables:
        """Build from a name -> frame mapping; absent tables are empty; frames are coerced."""
        return cls(
            **{
                name: coerce_table(name, tables[name]) if name in tables else empty_table(name)
                for name in TABLE_NAMES
            }
        )

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for f in fields(self):
            yield f.name, getattr(self, f.name)

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return dict(self.items())

    def validate(self) -> CINTables:
        """Validate every table against its schema and return ``self``."""
        for name, frame in self.items():
            validate_table(name, frame)
        return self

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {name: len(frame) for name, frame in self.items()}
