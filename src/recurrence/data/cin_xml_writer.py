"""Write CIN census XML: one LA's return for one census year, valid against the official XSD.

:func:`write_cin_xml` is the inverse of :mod:`recurrence.data.cin_xml` for the tables' content:
reading what it writes gives back the same tables (``tests/data/test_cin_xml_writer.py`` checks
the round trip and validates the output against ``../shared/spec/cin_census/CIN_schema_*.xsd``
when that folder is present).

Output follows the element order of the XSD sequences (``ChildIdentifiers``,
``ChildCharacteristics``, ``CINdetails`` with ``Assessments``, ``CINPlanDates``,
``Section47``, ``ReferralNFA``, ``ChildProtectionPlans``). It is written with
:class:`lxml.etree.xmlfile`, one ``Child`` element at a time, so memory beyond the input tables
does not grow with the number of children.

Schema-year behaviour
---------------------
- Sex: the 2024-25 return replaced ``GenderCurrent`` (1/2/0) by ``Sex`` (M/F/U). With
  ``sex_element="auto"`` the writer writes ``Sex`` for collection years 2025 onwards (2024-25
  and later) and ``GenderCurrent`` before. The XSD files at hand (up to ``CIN_schema_2024.xsd``)
  predate the change, so a file with ``Sex`` validates only against the 2024 schema with that
  one element substituted; pass ``sex_element="GenderCurrent"`` to validate against the files
  as they are.
- ``CINPlanDates`` exist from the 2021-22 return (schema 2022); for earlier collection years the
  writer raises ``ValueError`` if the tables hold CIN plans rather than dropping them.
- Assessment factors, referral sources and reasons for closure are checked against the codes of
  the target schema year (``18A``/``19A`` up to 2019-20, ``18B``.. from 2020-21, ``24A`` from
  2021-22, ``5D`` and ``RC9`` from 2022-23, whose returns use the 2024 schema file); a code the
  year does not admit raises ``ValueError``.

Values the XSD requires but the tables lack (a missing ``ReferralSource``, ``Ethnicity`` or
``NumberOfPreviousCPP``) are omitted, so such output is well-formed but not schema-valid. The
XSD types ``NumberOfPreviousCPP`` as ``positiveInteger``; a recorded 0 is written as 0 (the
tables allow it), which the XSD rejects. No UPN is written: the tables hold only the hashed
``child_key``, so a re-read file derives ``child_key`` from ``la_code`` and ``la_child_id``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
from lxml import etree

from recurrence.data import codes
from recurrence.data.schema import CINTables

SexElement = Literal["auto", "GenderCurrent", "Sex"]
SEX_ELEMENTS: tuple[str, ...] = get_args(SexElement)

_SubElement = etree.SubElement

_REFSOURCE_SINCE_2024 = frozenset({"5D"})
_CLOSURE_SINCE_2024 = frozenset({"RC9"})


def sex_element_for(collection_year: int, sex_element: str = "auto") -> str:
    """The element the writer uses for sex in ``collection_year`` (see module docstring)."""
    if sex_element not in SEX_ELEMENTS:
        raise ValueError(
            f"sex_element must be one of {', '.join(SEX_ELEMENTS)}; got {sex_element!r}"
        )
    if sex_element == "auto":
        return "Sex" if collection_year >= 2025 else "GenderCurrent"
    return sex_element


def _iso(series: pd.Series) -> list[str | None]:
    text = series.dt.strftime("%Y-%m-%d")
    return [None if pd.isna(v) else v for v in text]


def _text(series: pd.Series) -> list[str | None]:
    return [
        None if v is None or (isinstance(v, float) and v != v) or v is pd.NA else str(v)
        for v in series
    ]


def _bool(series: pd.Series) -> list[str | None]:
    return [
        None if v is pd.NA or v is None else ("true" if v else "false")
        for v in series.astype(object)
    ]


def _int(series: pd.Series) -> list[str | None]:
    return [None if v is pd.NA or v is None else str(int(v)) for v in series.astype(object)]


def _rows(frame: pd.DataFrame, converters: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Columns converted to text, zipped into tuples (in ``converters`` order)."""
    cols = [conv(frame[col]) for col, conv in converters.items()]
    return list(zip(*cols, strict=True)) if cols and len(frame) else []


def _leaf(parent: Any, tag: str, value: str | None) -> None:
    if value is not None:
        _SubElement(parent, tag).text = value


def _check_codes(tables: CINTables, collection_year: int) -> None:
    schema_year = codes.schema_year_for_collection(collection_year)
    allowed = codes.ASSESSMENT_FACTORS_BY_SCHEMA[schema_year]
    bad = sorted(set(tables.assessment_factors["assessment_factor"].dropna()) - allowed)
    if bad:
        raise ValueError(f"assessment factors {bad} are not in the {schema_year} CIN schema")
    if schema_year < 2024:
        bad = sorted(set(tables.cin_episodes["referral_source"].dropna()) & _REFSOURCE_SINCE_2024)
        bad += sorted(set(tables.cin_episodes["reason_for_closure"].dropna()) & _CLOSURE_SINCE_2024)
        if bad:
            raise ValueError(f"codes {bad} are not in the {schema_year} CIN schema")
    if schema_year < 2022 and len(tables.cin_plans):
        raise ValueError("CINPlanDates exist only from the 2021-22 return (collection year 2022)")


def write_cin_xml(
    tables: CINTables,
    path: str | os.PathLike[str],
    *,
    la_code: str,
    collection_year: int,
    sex_element: SexElement = "auto",
    software_code: str = "recurrence",
    created: dt.datetime | None = None,
) -> int:
    """Write the children of ``la_code`` in ``tables`` as one CIN census return.

    Parameters
    ----------
    tables
        The tables to write; rows of other LAs are ignored.
    path
        Output file. Written to a temporary sibling and renamed, so a failure leaves no file.
    la_code
        3-digit DfE LA code, written as ``Header/Source/LEA``.
    collection_year
        The year in which the census year ends (2024 for 2023-24); ``ReferenceDate`` is
        31 March of it, ``Year`` is it.
    sex_element
        ``"auto"`` (``Sex`` from 2025, else ``GenderCurrent``), ``"GenderCurrent"`` or ``"Sex"``.
    software_code, created
        ``Header/Source/SoftwareCode`` and ``DateTime`` (default: midnight of the reference
        date, so output is byte-deterministic).

    Returns
    -------
    int
        Number of ``Child`` elements written.
    """
    sex_tag = sex_element_for(collection_year, sex_element)
    if len(la_code) != 3 or not la_code.isdigit():
        raise ValueError(f"la_code must be a 3-digit LA code; got {la_code!r}")
    sub = CINTables(
        **{
            name: frame[frame["la_code"] == la_code]
            for name, frame in tables.items()
            if name != "rejections"
        },
        rejections=tables.rejections,
    )
    _check_codes(sub, collection_year)
    reference = dt.date(collection_year, 3, 31)
    stamp = created or dt.datetime(reference.year, reference.month, reference.day)

    episodes = _group(
        sub.cin_episodes.sort_values(["la_child_id", "cin_referral_date"]),
        1,
        {
            "la_child_id": _text,
            "cin_referral_date": _iso,
            "referral_source": _text,
            "primary_need_code": _text,
            "cin_closure_date": _iso,
            "reason_for_closure": _text,
            "date_of_initial_cpc": _iso,
            "referral_nfa": _bool,
        },
    )
    assessments = _group(
        sub.assessments.sort_values(
            ["la_child_id", "cin_referral_date", "assessment_actual_start_date"]
        ),
        2,
        {
            "la_child_id": _text,
            "cin_referral_date": _iso,
            "assessment_actual_start_date": _iso,
            "assessment_internal_review_date": _iso,
            "assessment_authorisation_date": _iso,
        },
    )
    factors = _group(
        sub.assessment_factors.sort_values(
            [
                "la_child_id",
                "cin_referral_date",
                "assessment_actual_start_date",
                "assessment_factor",
            ]
        ),
        3,
        {
            "la_child_id": _text,
            "cin_referral_date": _iso,
            "assessment_actual_start_date": _iso,
            "assessment_factor": _text,
        },
    )
    cin_plans = _group(
        sub.cin_plans.sort_values(["la_child_id", "cin_referral_date", "cin_plan_start_date"]),
        2,
        {
            "la_child_id": _text,
            "cin_referral_date": _iso,
            "cin_plan_start_date": _iso,
            "cin_plan_end_date": _iso,
        },
    )
    s47 = _group(
        sub.section47.sort_values(["la_child_id", "cin_referral_date", "s47_actual_start_date"]),
        2,
        {
            "la_child_id": _text,
            "cin_referral_date": _iso,
            "s47_actual_start_date": _iso,
            "initial_cpc_target": _iso,
            "date_of_initial_cpc": _iso,
            "icpc_not_required": _bool,
        },
    )
    cpps = _group(
        sub.cpps.sort_values(["la_child_id", "cin_referral_date", "cpp_start_date"]),
        2,
        {
            "la_child_id": _text,
            "cin_referral_date": _iso,
            "cpp_start_date": _iso,
            "cpp_end_date": _iso,
            "initial_category_of_abuse": _text,
            "latest_category_of_abuse": _text,
            "number_of_previous_cpp": _int,
        },
    )
    reviews = _group(
        sub.cpp_reviews.sort_values(["la_child_id", "cpp_start_date", "cpp_review_date"]),
        (0, 2),
        {
            "la_child_id": _text,
            "cin_referral_date": _iso,
            "cpp_start_date": _iso,
            "cpp_review_date": _iso,
        },
    )
    children = _rows(
        sub.children.sort_values("la_child_id"),
        {
            "la_child_id": _text,
            "person_birth_date": _iso,
            "expected_person_birth_date": _iso,
            "sex": _text,
            "ethnicity": _text,
            "disabilities": _text,
            "person_death_date": _iso,
        },
    )

    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    n = 0
    try:
        with etree.xmlfile(str(tmp), encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element("Message"):
                xf.write(
                    _header(la_code, collection_year, reference, stamp, software_code),
                    pretty_print=True,
                )
                with xf.element("Children"):
                    for row in children:
                        xf.write(
                            _child(
                                row,
                                sex_tag,
                                episodes,
                                assessments,
                                factors,
                                cin_plans,
                                s47,
                                cpps,
                                reviews,
                            ),
                            pretty_print=True,
                        )
                        n += 1
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n


def _group(
    frame: pd.DataFrame, key_len: int | tuple[int, int], converters: dict[str, Any]
) -> dict[tuple[Any, ...], list[tuple[Any, ...]]]:
    """Rows (as text tuples) grouped by their first ``key_len`` fields (or the fields in a
    ``(i, j)`` pair), keeping order."""
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in _rows(frame, converters):
        key = row[:key_len] if isinstance(key_len, int) else (row[key_len[0]], row[key_len[1]])
        groups[key].append(row)
    return groups


def _header(la_code: str, year: int, reference: dt.date, stamp: dt.datetime, software: str) -> Any:
    header = etree.Element("Header")
    details = _SubElement(header, "CollectionDetails")
    _leaf(details, "Collection", "CIN")
    _leaf(details, "Year", str(year))
    _leaf(details, "ReferenceDate", reference.isoformat())
    source = _SubElement(header, "Source")
    _leaf(source, "SourceLevel", "L")
    _leaf(source, "LEA", la_code)
    _leaf(source, "SoftwareCode", software)
    _leaf(source, "Release", "1")
    _leaf(source, "SerialNo", "001")
    _leaf(source, "DateTime", stamp.replace(microsecond=0).isoformat())
    return header


def _child(
    row: tuple[Any, ...],
    sex_tag: str,
    episodes: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    assessments: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    factors: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    cin_plans: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    s47: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    cpps: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    reviews: dict[tuple[Any, ...], list[tuple[Any, ...]]],
) -> Any:
    cid, birth, expected, sex, ethnicity, disabilities, death = row
    child = etree.Element("Child")
    ids = _SubElement(child, "ChildIdentifiers")
    _leaf(ids, "LAchildID", cid)
    _leaf(ids, "PersonBirthDate", birth)
    _leaf(ids, "ExpectedPersonBirthDate", expected)
    if sex is not None:
        _leaf(ids, sex_tag, sex if sex_tag == "Sex" else codes.SEX_TO_GENDER_CURRENT[sex])
    _leaf(ids, "PersonDeathDate", death)
    chars = _SubElement(child, "ChildCharacteristics")
    _leaf(chars, "Ethnicity", ethnicity)
    if disabilities:
        block = _SubElement(chars, "Disabilities")
        for code in disabilities.split():
            _leaf(block, "Disability", code)
    for ep in episodes.get((cid,), ()):
        _episode(child, ep, assessments, factors, cin_plans, s47, cpps, reviews)
    return child


def _episode(
    child: Any,
    ep: tuple[Any, ...],
    assessments: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    factors: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    cin_plans: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    s47: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    cpps: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    reviews: dict[tuple[Any, ...], list[tuple[Any, ...]]],
) -> None:
    cid, ref, source, need, closure, reason, icpc, nfa = ep
    el = _SubElement(child, "CINdetails")
    _leaf(el, "CINreferralDate", ref)
    _leaf(el, "ReferralSource", source)
    _leaf(el, "PrimaryNeedCode", need)
    _leaf(el, "CINclosureDate", closure)
    _leaf(el, "ReasonForClosure", reason)
    _leaf(el, "DateOfInitialCPC", icpc)
    key = (cid, ref)
    for a in assessments.get(key, ()):
        block = _SubElement(el, "Assessments")
        _leaf(block, "AssessmentActualStartDate", a[2])
        _leaf(block, "AssessmentInternalReviewDate", a[3])
        _leaf(block, "AssessmentAuthorisationDate", a[4])
        found = factors.get((cid, ref, a[2]), ())
        if found:
            fblock = _SubElement(block, "FactorsIdentifiedAtAssessment")
            for f in found:
                _leaf(fblock, "AssessmentFactors", f[3])
    for p in cin_plans.get(key, ()):
        block = _SubElement(el, "CINPlanDates")
        _leaf(block, "CINPlanStartDate", p[2])
        _leaf(block, "CINPlanEndDate", p[3])
    for s in s47.get(key, ()):
        block = _SubElement(el, "Section47")
        _leaf(block, "S47ActualStartDate", s[2])
        _leaf(block, "InitialCPCtarget", s[3])
        _leaf(block, "DateOfInitialCPC", s[4])
        _leaf(block, "ICPCnotRequired", s[5])
    _leaf(el, "ReferralNFA", nfa)
    for c in cpps.get(key, ()):
        block = _SubElement(el, "ChildProtectionPlans")
        _leaf(block, "CPPstartDate", c[2])
        _leaf(block, "CPPendDate", c[3])
        _leaf(block, "InitialCategoryOfAbuse", c[4])
        _leaf(block, "LatestCategoryOfAbuse", c[5])
        _leaf(block, "NumberOfPreviousCPP", c[6])
        found = reviews.get((cid, c[2]), ())
        if found:
            rblock = _SubElement(block, "Reviews")
            for r in found:
                _leaf(rblock, "CPPreviewDate", r[3])


def write_cin_returns(
    tables: CINTables,
    out_dir: str | os.PathLike[str],
    *,
    collection_year: int,
    la_codes: Iterable[str] | None = None,
    sex_element: SexElement = "auto",
) -> list[Path]:
    """Write one return per LA (``<out_dir>/cin_<la>_<year>.xml``); returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    las = sorted(set(tables.children["la_code"])) if la_codes is None else list(la_codes)
    paths = []
    for la in las:
        p = out / f"cin_{la}_{collection_year}.xml"
        write_cin_xml(
            tables, p, la_code=la, collection_year=collection_year, sex_element=sex_element
        )
        paths.append(p)
    return paths
