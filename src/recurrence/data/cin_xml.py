"""Streaming reader of CIN census XML returns (schema years 2017-18 to 2025-26).

One file is one local authority's return for one census year, as submitted to the DfE:
``Message > Header, Children > Child > ChildIdentifiers, ChildCharacteristics, CINdetails+``,
with ``Assessments``, ``CINPlanDates``, ``Section47`` and ``ChildProtectionPlans`` (with
``Reviews``) inside each ``CINdetails`` (``../shared/spec/cin_census/CIN_schema_*.xsd``).

Safety and memory
-----------------
Every parse uses lxml with entity resolution off, no network access, no DTD loading and
lxml's ``huge_tree`` limits on. A document whose prolog carries a DOCTYPE (and so possibly
entity declarations: "billion laughs", external entities) is refused as a whole before any
record is read. The streaming parse (:func:`lxml.etree.iterparse`) converts each ``Child``
element to row values and then clears it together with its already-processed siblings, so it
holds one child's subtree at a time whatever the file size; the fast path holds the tree of
one piece (about :data:`PIECE_BYTES` of XML). Rows accumulate in plain lists and become
DataFrames once per file or piece (or once per chunk with :func:`iter_cin_xml_chunks`).

Pieces, workers and the fast path
---------------------------------
:func:`parse_cin_xml_files` (used by :func:`parse_cin_xml`, ``read_cin(..., workers=N)`` and
``recurrence read-cin --workers N``) cuts a large file into pieces of about
:data:`PIECE_BYTES` at ``<Child`` start tags: each piece is parsed as the document "bytes
before the first ``<Child``" + the slice + ``</Children></Message>``, so a process holds one
piece at a time however large the file. With ``workers > 1`` files and pieces are parsed in
joblib's loky worker processes. Each piece (and each file no larger than a piece) is first
offered to the fast path for clean returns (:mod:`recurrence.data.cin_xml_clean`), which
declines anything the full reader would note or reject; the full reader then parses it.

The result is always that of :func:`parse_streaming` (the reference: the whole file in one
pass, one ``Child`` at a time, as :func:`iter_cin_xml_chunks` reads it): pieces are
concatenated in file order, and a file is parsed by :func:`parse_streaming` instead (which
also gives the whole-file error, if any) when any piece fails, when pieces disagree about
the header, or when a child id was kept in two pieces (the streaming parse would reject the
later one as a duplicate). A cut at a ``<Child`` that is not a child of ``Children`` (inside
a comment, a CDATA section, a nested ``Child``) leaves a piece that is not well-formed,
because the wrapper closes exactly ``Children`` and ``Message``, so it too falls back.

Whole-file errors
-----------------
These raise :class:`recurrence.errors.InputFileError` naming the file and the problem, and no
tables are returned: file missing or unreadable, empty, not XML, malformed XML (including a
truncated file), a DOCTYPE / entity declarations, a root element other than ``Message``, and a
missing or invalid ``Header/Source/LEA`` (every row needs its 3-digit LA code).

Record-level problems (granularity)
-----------------------------------
Every ``Child``, ``CINdetails``, ``Assessments``, ``AssessmentFactors``, ``CINPlanDates``,
``Section47``, ``ChildProtectionPlans`` and ``CPPreviewDate`` ends up either in its table or as
exactly one row of the ``rejections`` table (:mod:`recurrence.data.rejections`). The rules:

- *A record is rejected* (with everything nested in it, each nested record getting its own row
  "<kind> rejected") when its key element is missing or not a valid date (``LAchildID``,
  ``CINreferralDate``, ``AssessmentActualStartDate``, ``CINPlanStartDate``,
  ``S47ActualStartDate``, ``CPPstartDate``, ``CPPreviewDate``), when **any** date in it is
  invalid (``2023-02-30``, text) or outside 1800-2200, when an end date precedes its start
  (``CINclosureDate`` < ``CINreferralDate``, ``CPPendDate`` < ``CPPstartDate``,
  ``CINPlanEndDate`` < ``CINPlanStartDate``, ``AssessmentAuthorisationDate`` <
  ``AssessmentActualStartDate``, ``PersonDeathDate`` < ``PersonBirthDate``), when a
  single-valued element is repeated, and when it duplicates an earlier record of the same file
  (same child id; same child and referral date; same child and plan start; and so on, the keys
  of :mod:`recurrence.data.schema`). Dates reject the record rather than being blanked because a
  missing end date means "still open": blanking a bad closure date would invent an open case.
- *A value is dropped but the record kept* (one ``record == "field"`` row) for an unknown code
  in a coded field (``ReferralSource``, ``PrimaryNeedCode``, ``ReasonForClosure``, categories of
  abuse, ``Ethnicity``, a ``Disability``), an invalid yes/no (``ReferralNFA``,
  ``ICPCnotRequired``), an invalid ``NumberOfPreviousCPP``, and an invalid ``UPN`` (not used
  for linkage). A missing code is "not recorded" and implies nothing false, so the referral,
  which matters for recurrence, is kept. An invalid or missing ``Sex`` / ``GenderCurrent`` gives
  ``sex = "U"`` (unknown) with a field row.
- An assessment factor is its own record: an unknown factor (the ``RB`` of the d2i sample)
  rejects that factor only.
- Unknown elements and stray text inside a ``Child`` are ignored with a field row;
  ``Child`` elements outside ``Children`` are rejected as "misplaced record".
- Cross-record date logic (a plan starting before its referral, as in the liia sample) is not
  checked: such records are structurally valid and load as recorded.
- Missing optional elements, and missing elements that the XSD requires but that are not keys
  (``ReferralSource``, ``Ethnicity``...), load as missing values without a rejection row; so do
  empty elements (``<PrimaryNeedCode/>``) and empty optional blocks (``<Disabilities/>``,
  ``<FactorsIdentifiedAtAssessment/>``, ``<Reviews/>``), which the XSD forbids but LA software
  writes.
- Elements known to the census but not held in the tables (``FormerUPN``, ``UPNunknown``,
  header details) are read past without a row.

Values
------
Yes/no accepts ``true/false/TRUE/FALSE/1/0`` (:data:`recurrence.data.codes.YES_NO_VALUES`).
``GenderCurrent`` 1/2/0/9 becomes sex M/F/U/U; ``Sex`` M/F/U is accepted in any schema year.
``Disabilities`` become a space-joined sorted list of distinct codes. Assessment factors are
checked against the union of all schema years' codes. The census year (year ending 31 March)
is that of ``Header/CollectionDetails/ReferenceDate`` (a date after 31 March counts in the next
year ending 31 March); ``Year`` is used only when ``ReferenceDate`` is absent.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from lxml import etree

from recurrence.data import codes
from recurrence.data import rejections as rj
from recurrence.data.schema import CINTables
from recurrence.errors import InputFileError

ROOT_TAG: Final = "Message"

SAFE_PARSE: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
}
"""lxml options of every parse of a return (streaming, prolog check, fast path): entities are
never resolved, nothing is fetched from the network, no DTD is loaded, and lxml's limits on
text size and tree depth stay on."""


def _canonical(allowed: frozenset[str]) -> dict[str, str]:
    """Code -> one shared ``str`` object of it.

    Rows store the shared object rather than the string lxml made for that element: a
    national year holds millions of coded values but only a few hundred distinct codes. That
    saves memory, and it keeps the later hashing and comparing of these columns (linking,
    validation) in cache: the per-element strings lie scattered over the heap among the
    parse's freed objects. With the calling process parsing about half the pieces of a
    national year itself, linking and validating took 28.9 and 31.2 s (two runs) with
    per-element strings and 23.7 s with shared codes, against 18.6 s when every string came
    unpickled from a worker (see :func:`parse_in_parallel` for why the caller now only
    collects).
    """
    return {c: c for c in allowed}


_ETHNICITY = _canonical(codes.ETHNICITY_CODES)
_DISABILITY = codes.DISABILITY_CODES
_REFSOURCE = _canonical(codes.REFERRAL_SOURCE_CODES)
_NEED = _canonical(codes.PRIMARY_NEED_CODES)
_CLOSURE = _canonical(codes.REASON_FOR_CLOSURE_CODES)
_ABUSE = _canonical(codes.CATEGORY_OF_ABUSE_CODES)
_FACTORS = _canonical(codes.ASSESSMENT_FACTOR_CODES)
_JOINED_DISABILITIES: dict[str, str] = {}
_YES_NO = codes.YES_NO_VALUES
_GENDER = codes.GENDER_CURRENT_TO_SEX
_SEX = _canonical(codes.SEX_CODES)

# [0-9], not \d: in Python \d also matches other scripts' digits, which xs:date forbids. The
# optional time zone is xs:date's: Z or an offset from -14:00 to +14:00.
_UPN_RE: Final = re.compile(r"^[A-Za-z][0-9]{11}[A-Za-z0-9]$")
_DATE_RE: Final = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?$"
)
_MIN_DATE: Final = dt.date(1800, 1, 1)
_MAX_DATE: Final = dt.date(2200, 12, 31)

# Children of each record element: single-valued leaves, and repeatable sub-records.
_CHILD_IDS: Final = frozenset(
    {
        "LAchildID",
        "UPN",
        "FormerUPN",
        "UPNunknown",
        "PersonBirthDate",
        "ExpectedPersonBirthDate",
        "GenderCurrent",
        "Sex",
        "PersonDeathDate",
    }
)
_EPISODE_LEAVES: Final = frozenset(
    {
        "CINreferralDate",
        "ReferralSource",
        "PrimaryNeedCode",
        "CINclosureDate",
        "ReasonForClosure",
        "DateOfInitialCPC",
        "ReferralNFA",
    }
)
_ASSESSMENT_LEAVES: Final = frozenset(
    {"AssessmentActualStartDate", "AssessmentInternalReviewDate", "AssessmentAuthorisationDate"}
)
_CIN_PLAN_LEAVES: Final = frozenset({"CINPlanStartDate", "CINPlanEndDate"})
_S47_LEAVES: Final = frozenset(
    {"S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC", "ICPCnotRequired"}
)
_CPP_LEAVES: Final = frozenset(
    {
        "CPPstartDate",
        "CPPendDate",
        "InitialCategoryOfAbuse",
        "LatestCategoryOfAbuse",
        "NumberOfPreviousCPP",
    }
)

_KEY_ELEMENT: Final[dict[str, str]] = {
    "child": "LAchildID",
    "episode": "CINreferralDate",
    "assessment": "AssessmentActualStartDate",
    "factor": "AssessmentFactors",
    "cin_plan": "CINPlanStartDate",
    "section47": "S47ActualStartDate",
    "cpp": "CPPstartDate",
    "review": "CPPreviewDate",
}

# Output columns per table (without la_code and child_key, added when frames are built/linked).
TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "children": (
        "la_child_id",
        "person_birth_date",
        "expected_person_birth_date",
        "sex",
        "ethnicity",
        "disabilities",
        "person_death_date",
        "upn",
    ),
    "cin_episodes": (
        "la_child_id",
        "cin_referral_date",
        "referral_source",
        "primary_need_code",
        "cin_closure_date",
        "reason_for_closure",
        "date_of_initial_cpc",
        "referral_nfa",
    ),
    "assessments": (
        "la_child_id",
        "cin_referral_date",
        "assessment_actual_start_date",
        "assessment_internal_review_date",
        "assessment_authorisation_date",
    ),
    "assessment_factors": (
        "la_child_id",
        "cin_referral_date",
        "assessment_actual_start_date",
        "assessment_factor",
    ),
    "cin_plans": ("la_child_id", "cin_referral_date", "cin_plan_start_date", "cin_plan_end_date"),
    "section47": (
        "la_child_id",
        "cin_referral_date",
        "s47_actual_start_date",
        "initial_cpc_target",
        "date_of_initial_cpc",
        "icpc_not_required",
    ),
    "cpps": (
        "la_child_id",
        "cin_referral_date",
        "cpp_start_date",
        "cpp_end_date",
        "initial_category_of_abuse",
        "latest_category_of_abuse",
        "number_of_previous_cpp",
    ),
    "cpp_reviews": ("la_child_id", "cin_referral_date", "cpp_start_date", "cpp_review_date"),
}
_DATE_COLUMNS: Final = frozenset(
    {
        "person_birth_date",
        "expected_person_birth_date",
        "person_death_date",
        "cin_referral_date",
        "cin_closure_date",
        "date_of_initial_cpc",
        "assessment_actual_start_date",
        "assessment_internal_review_date",
        "assessment_authorisation_date",
        "cin_plan_start_date",
        "cin_plan_end_date",
        "s47_actual_start_date",
        "initial_cpc_target",
        "cpp_start_date",
        "cpp_end_date",
        "cpp_review_date",
    }
)
_BOOL_COLUMNS: Final = frozenset({"referral_nfa", "icpc_not_required"})
_INT_COLUMNS: Final = frozenset({"number_of_previous_cpp"})


@dataclass(frozen=True)
class ParsedReturn:
    """One LA-year return (or one chunk of it) before linkage.

    ``tables`` maps table name to a frame with the columns of :data:`TABLE_COLUMNS` plus
    ``la_code`` (``children`` also has ``upn``, used by :mod:`recurrence.data.linkage` to derive
    ``child_key`` and then dropped). ``census_year`` is the year ending 31 March of the return
    (``None`` when the header gives no date).
    """

    path: str
    la_code: str
    census_year: int | None
    tables: dict[str, pd.DataFrame]
    rejections: pd.DataFrame


class _Rec:
    """One parsed record: leaf values, record-level errors, value notes and nested records."""

    __slots__ = ("errs", "kind", "notes", "subs", "vals")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.vals: dict[str, str] = {}
        self.errs: list[tuple[str, str | None, str | None]] = []
        self.notes: list[tuple[str, str | None, str | None]] = []
        self.subs: list[_Rec] = []


_date_cache: dict[str, tuple[str | None, str | None]] = {}


def check_date(text: str) -> tuple[str | None, str | None]:
    """Return ``(iso_date, None)`` for a valid ``xs:date`` text, else ``(None, reason)``.

    A timezone suffix (allowed by ``xs:date``) is dropped. Results are cached because census
    dates repeat heavily (a national year holds only a few thousand distinct dates).
    """
    hit = _date_cache.get(text)
    if hit is not None:
        return hit
    m = _DATE_RE.match(text)
    result: tuple[str | None, str | None]
    if m is None:
        result = (None, rj.INVALID_DATE)
    else:
        try:
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            result = (None, rj.INVALID_DATE)
        else:
            if _MIN_DATE <= d <= _MAX_DATE:
                result = (d.isoformat(), None)
            else:
                result = (None, rj.DATE_OUT_OF_RANGE)
    if len(_date_cache) > 200_000:
        _date_cache.clear()
    _date_cache[text] = result
    return result


_ELEMENTS = etree.Element  # iterchildren(tag=...) filter: elements only, no comments / PIs


def _tail(el: Any, sub: Any, rec: _Rec) -> None:
    tail = sub.tail
    if tail and not tail.isspace():
        rec.notes.append((rj.STRAY_TEXT, f"{el.tag}/{sub.tag}", tail.strip()))


def _leaf_text(sub: Any, rec: _Rec) -> str:
    """Text of a leaf that has child nodes: comments and processing instructions are skipped
    (the text around them is the value); an element inside a leaf is an unknown element.
    """
    parts = [sub.text or ""]
    for node in sub:
        if isinstance(node.tag, str):
            rec.notes.append((rj.UNKNOWN_ELEMENT, f"{sub.tag}/{node.tag}", None))
        parts.append(node.tail or "")
    return "".join(parts).strip()


def _collect(el: Any, rec: _Rec, leaves: frozenset[str], subs: dict[str, Any]) -> None:
    """Read ``el``'s children into ``rec``: leaves into vals, sub-records through ``subs``."""
    text = el.text  # _stray inlined: this runs for every record of a national file
    if text and not text.isspace():
        rec.notes.append((rj.STRAY_TEXT, el.tag, text.strip()))
    vals = rec.vals
    seen: set[str] = set()  # leaves met, empty ones included, so a later repeat is caught
    for sub in el.iterchildren(_ELEMENTS):
        tag = sub.tag
        tail = sub.tail
        if tail and not tail.isspace():
            _tail(el, sub, rec)
        if tag in leaves:
            if len(sub):
                text = _leaf_text(sub, rec)
            else:
                text = sub.text
                text = text.strip() if text else ""
            if tag in seen:
                rec.errs.append((rj.REPEATED_ELEMENT, tag, text))
            else:
                seen.add(tag)
                if text:
                    vals[tag] = text
        elif tag in subs:
            if tag in _SINGLE_LISTS:
                # The XSD allows one such list; the items of a second are still kept (no value
                # is ambiguous), and the repeat is reported.
                if tag in seen:
                    rec.notes.append((rj.REPEATED_ELEMENT, f"{el.tag}/{tag}", None))
                seen.add(tag)
            subs[tag](sub, rec)
        else:
            rec.notes.append((rj.UNKNOWN_ELEMENT, f"{el.tag}/{tag}", None))


_SINGLE_LISTS: Final = frozenset({"Disabilities", "FactorsIdentifiedAtAssessment", "Reviews"})
"""List elements that occur at most once in their record (``maxOccurs = 1`` in the XSDs)."""


def _list_items(el: Any, rec: _Rec, item_tag: str, kind: str | None) -> None:
    """Read a container of repeated leaves (Disabilities, Factors..., Reviews)."""
    text = el.text
    if text and not text.isspace():
        rec.notes.append((rj.STRAY_TEXT, el.tag, text.strip()))
    for sub in el.iterchildren(_ELEMENTS):
        tag = sub.tag
        tail = sub.tail
        if tail and not tail.isspace():
            _tail(el, sub, rec)
        if tag != item_tag:
            rec.notes.append((rj.UNKNOWN_ELEMENT, f"{el.tag}/{tag}", None))
            continue
        if len(sub):
            text = _leaf_text(sub, rec)
        else:
            text = sub.text
            text = text.strip() if text else ""
        if kind is None:
            rec.vals[f"{item_tag}#{len(rec.vals)}"] = text
        else:
            item = _Rec(kind)
            if text:
                item.vals[item_tag] = text
            rec.subs.append(item)


def _assessment(el: Any, parent: _Rec) -> None:
    rec = _Rec("assessment")
    _collect(
        el,
        rec,
        _ASSESSMENT_LEAVES,
        {
            "FactorsIdentifiedAtAssessment": lambda e, r: _list_items(
                e, r, "AssessmentFactors", "factor"
            )
        },
    )
    parent.subs.append(rec)


def _cin_plan(el: Any, parent: _Rec) -> None:
    rec = _Rec("cin_plan")
    _collect(el, rec, _CIN_PLAN_LEAVES, {})
    parent.subs.append(rec)


def _section47(el: Any, parent: _Rec) -> None:
    rec = _Rec("section47")
    _collect(el, rec, _S47_LEAVES, {})
    parent.subs.append(rec)


def _cpp(el: Any, parent: _Rec) -> None:
    rec = _Rec("cpp")
    _collect(
        el,
        rec,
        _CPP_LEAVES,
        {"Reviews": lambda e, r: _list_items(e, r, "CPPreviewDate", "review")},
    )
    parent.subs.append(rec)


_EPISODE_SUBS: Final = {
    "Assessments": _assessment,
    "CINPlanDates": _cin_plan,
    "Section47": _section47,
    "ChildProtectionPlans": _cpp,
}


def _episode(el: Any, parent: _Rec) -> None:
    rec = _Rec("episode")
    _collect(el, rec, _EPISODE_LEAVES, _EPISODE_SUBS)
    parent.subs.append(rec)


def _identifiers(el: Any, rec: _Rec) -> None:
    if "#ids" in rec.vals:
        rec.errs.append((rj.REPEATED_ELEMENT, "ChildIdentifiers", None))
        return
    rec.vals["#ids"] = ""
    _collect(el, rec, _CHILD_IDS, {})


def _characteristics(el: Any, rec: _Rec) -> None:
    if "#chars" in rec.vals:
        rec.errs.append((rj.REPEATED_ELEMENT, "ChildCharacteristics", None))
        return
    rec.vals["#chars"] = ""
    _collect(
        el,
        rec,
        frozenset({"Ethnicity"}),
        {"Disabilities": lambda e, r: _list_items(e, r, "Disability", None)},
    )


_NO_LEAVES: Final[frozenset[str]] = frozenset()
_CHILD_SUBS: Final = {
    "ChildIdentifiers": _identifiers,
    "ChildCharacteristics": _characteristics,
    "CINdetails": _episode,
}


class _ReturnParser:
    """Turns ``Child`` elements of one file into column lists and rejection rows."""

    def __init__(self, source_file: str) -> None:
        self.source_file = source_file
        self.log = rj.RejectionLog(source_file)
        # One tuple per kept record (in TABLE_COLUMNS order), transposed into columns once per
        # chunk: one list append per record is much cheaper than one per column.
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self._reset_cols()
        # Keys already loaded, for duplicate detection. Only child ids must be remembered for
        # the whole file: every other key starts with the child id, and a child id occurs once
        # (a repeat is rejected), so those sets are emptied for each child, which keeps the
        # parser's memory to one entry per child however long the file.
        self.seen: dict[str, set[tuple[str, ...]]] = {k: set() for k in rj.RECORD_KINDS}
        self._per_child = [s for k, s in self.seen.items() if k != "child"]
        self.n_children = 0

    def _reset_cols(self) -> None:
        self.rows = {t: [] for t in TABLE_COLUMNS}

    # -- rejection helpers -------------------------------------------------------------
    def _reject(
        self, rec: _Rec, reason: str, element: str | None, value: str | None, cid: str | None
    ) -> None:
        self.log.add(rec.kind, reason, la_child_id=cid, element=element, value=value)
        self._cascade(rec, cid)

    def _cascade(self, rec: _Rec, cid: str | None) -> None:
        reason = rj.PARENT_REJECTED.format(kind=rec.kind)
        for sub in rec.subs:
            key = _KEY_ELEMENT[sub.kind]
            self.log.add(sub.kind, reason, la_child_id=cid, element=key, value=sub.vals.get(key))
            self._cascade(sub, cid)

    def _notes(self, rec: _Rec, cid: str | None) -> None:
        for reason, element, value in rec.notes:
            self.log.add(rj.FIELD, reason, la_child_id=cid, element=element, value=value)

    def _date(self, rec: _Rec, tag: str) -> str | None:
        """Validated ISO date of leaf ``tag`` (missing -> None; invalid -> record error)."""
        text = rec.vals.get(tag)
        if text is None:
            return None
        # Inline cache hit: this runs for every date of a national file.
        hit = _date_cache.get(text)
        iso, reason = hit if hit is not None else check_date(text)
        if reason is not None:
            rec.errs.append((reason, tag, text))
        return iso

    def _code(self, rec: _Rec, tag: str, allowed: dict[str, str]) -> str | None:
        text = rec.vals.get(tag)
        if text is None:
            return None
        code = allowed.get(text)
        if code is None:
            rec.notes.append((rj.UNKNOWN_CODE, tag, text))
        return code

    def _yes_no(self, rec: _Rec, tag: str) -> bool | None:
        text = rec.vals.get(tag)
        if text is None:
            return None
        value = _YES_NO.get(text)
        if value is None:
            rec.notes.append((rj.INVALID_YES_NO, tag, text))
        return value

    @staticmethod
    def _order(rec: _Rec, start: str | None, end: str | None, end_tag: str) -> None:
        if start is not None and end is not None and end < start:
            rec.errs.append((rj.END_BEFORE_START, end_tag, f"{end} < {start}"))

    def _key(self, rec: _Rec, cid: str | None) -> str | None:
        """ISO date of the record's key element, recording an error when missing."""
        tag = _KEY_ELEMENT[rec.kind]
        if tag not in rec.vals:
            rec.errs.append((rj.MISSING_REQUIRED, tag, None))
            return None
        return self._date(rec, tag)

    def _duplicate(self, rec: _Rec, key: tuple[str, ...]) -> bool:
        seen = self.seen[rec.kind]
        if key in seen:
            return True
        seen.add(key)
        return False

    # -- records -----------------------------------------------------------------------
    def child(self, el: Any, misplaced: bool) -> None:
        self.n_children += 1
        rec = _Rec("child")
        _collect(el, rec, _NO_LEAVES, _CHILD_SUBS)
        raw_id = rec.vals.get("LAchildID")
        cid = raw_id
        if misplaced:
            parent = el.getparent()
            where = parent.tag if parent is not None else None
            self._notes(rec, cid)
            self._reject(rec, rj.MISPLACED_RECORD, f"{where}/Child", cid, cid)
            return
        if raw_id is None:
            rec.errs.append((rj.MISSING_REQUIRED, "LAchildID", None))
        birth = self._date(rec, "PersonBirthDate")
        expected = self._date(rec, "ExpectedPersonBirthDate")
        death = self._date(rec, "PersonDeathDate")
        self._order(rec, birth, death, "PersonDeathDate")
        sex = None
        for tag, mapping in (("Sex", None), ("GenderCurrent", _GENDER)):
            text = rec.vals.get(tag)
            if text is None or sex is not None:
                continue
            value = (_SEX if mapping is None else mapping).get(text)
            if value is None:
                rec.notes.append((rj.UNKNOWN_CODE, tag, text))
            sex = value
        if sex is None:
            if "Sex" not in rec.vals and "GenderCurrent" not in rec.vals:
                rec.notes.append((rj.MISSING_REQUIRED, "Sex", None))
            sex = "U"
        ethnicity = self._code(rec, "Ethnicity", _ETHNICITY)
        disabilities: set[str] = set()
        recorded = False
        for k, v in rec.vals.items():
            if k.startswith("Disability#"):
                if v in _DISABILITY:
                    disabilities.add(v)
                    recorded = True
                else:
                    rec.notes.append((rj.UNKNOWN_CODE, "Disability", v))
        upn = rec.vals.get("UPN")
        if upn is not None and not _UPN_RE.match(upn):
            rec.notes.append((rj.INVALID_UPN, "UPN", upn))
            upn = None
        if rec.notes:
            self._notes(rec, cid)
        if rec.errs:
            reason, element, value = rec.errs[0]
            self._reject(rec, reason, element, value, cid)
            return
        assert cid is not None
        if self._duplicate(rec, (cid,)):
            self._reject(rec, rj.DUPLICATE.format(kind="child"), "LAchildID", cid, cid)
            return
        for keys in self._per_child:
            if keys:
                keys.clear()
        self.rows["children"].append(
            (
                cid,
                birth,
                expected,
                sex,
                ethnicity,
                joined_disabilities(disabilities) if recorded else None,
                death,
                upn.upper() if upn else None,
            )
        )
        for ep in rec.subs:
            self.episode(ep, cid)

    def _finish(self, rec: _Rec, cid: str, key: tuple[str, ...] | None) -> bool:
        """Write notes, reject on errors or duplicate key; True when the record is kept."""
        if rec.notes:
            self._notes(rec, cid)
        if rec.errs:
            reason, element, value = rec.errs[0]
            self._reject(rec, reason, element, value, cid)
            return False
        assert key is not None
        if self._duplicate(rec, key):
            tag = _KEY_ELEMENT[rec.kind]
            self._reject(rec, rj.DUPLICATE.format(kind=rec.kind), tag, rec.vals.get(tag), cid)
            return False
        return True

    def episode(self, rec: _Rec, cid: str) -> None:
        ref = self._key(rec, cid)
        closure = self._date(rec, "CINclosureDate")
        icpc = self._date(rec, "DateOfInitialCPC")
        self._order(rec, ref, closure, "CINclosureDate")
        source = self._code(rec, "ReferralSource", _REFSOURCE)
        need = self._code(rec, "PrimaryNeedCode", _NEED)
        reason = self._code(rec, "ReasonForClosure", _CLOSURE)
        nfa = self._yes_no(rec, "ReferralNFA")
        if not self._finish(rec, cid, None if ref is None else (cid, ref)):
            return
        assert ref is not None
        self.rows["cin_episodes"].append((cid, ref, source, need, closure, reason, icpc, nfa))
        for sub in rec.subs:
            getattr(self, sub.kind)(sub, cid, ref)

    def assessment(self, rec: _Rec, cid: str, ref: str) -> None:
        start = self._key(rec, cid)
        review = self._date(rec, "AssessmentInternalReviewDate")
        auth = self._date(rec, "AssessmentAuthorisationDate")
        self._order(rec, start, auth, "AssessmentAuthorisationDate")
        if not self._finish(rec, cid, None if start is None else (cid, ref, start)):
            return
        assert start is not None
        self.rows["assessments"].append((cid, ref, start, review, auth))
        f = self.rows["assessment_factors"]
        for item in rec.subs:
            code = item.vals.get("AssessmentFactors")
            if code is None:
                self.log.add(
                    "factor", rj.MISSING_REQUIRED, la_child_id=cid, element="AssessmentFactors"
                )
                continue
            if code not in _FACTORS:
                self.log.add(
                    "factor",
                    rj.UNKNOWN_CODE,
                    la_child_id=cid,
                    element="AssessmentFactors",
                    value=code,
                )
                continue
            code = _FACTORS[code]
            if self._duplicate(item, (cid, ref, start, code)):
                self.log.add(
                    "factor",
                    rj.DUPLICATE.format(kind="factor"),
                    la_child_id=cid,
                    element="AssessmentFactors",
                    value=code,
                )
                continue
            f.append((cid, ref, start, code))

    def cin_plan(self, rec: _Rec, cid: str, ref: str) -> None:
        start = self._key(rec, cid)
        end = self._date(rec, "CINPlanEndDate")
        self._order(rec, start, end, "CINPlanEndDate")
        if not self._finish(rec, cid, None if start is None else (cid, ref, start)):
            return
        self.rows["cin_plans"].append((cid, ref, start, end))

    def section47(self, rec: _Rec, cid: str, ref: str) -> None:
        start = self._key(rec, cid)
        target = self._date(rec, "InitialCPCtarget")
        icpc = self._date(rec, "DateOfInitialCPC")
        not_required = self._yes_no(rec, "ICPCnotRequired")
        if not self._finish(rec, cid, None if start is None else (cid, ref, start)):
            return
        self.rows["section47"].append((cid, ref, start, target, icpc, not_required))

    def cpp(self, rec: _Rec, cid: str, ref: str) -> None:
        start = self._key(rec, cid)
        end = self._date(rec, "CPPendDate")
        self._order(rec, start, end, "CPPendDate")
        initial = self._code(rec, "InitialCategoryOfAbuse", _ABUSE)
        latest = self._code(rec, "LatestCategoryOfAbuse", _ABUSE)
        previous: int | None = None
        text = rec.vals.get("NumberOfPreviousCPP")
        if text is not None:
            if is_previous_cpp_count(text):
                previous = int(text)
            else:
                rec.notes.append((rj.INVALID_NUMBER, "NumberOfPreviousCPP", text))
        if not self._finish(rec, cid, None if start is None else (cid, start)):
            return
        assert start is not None
        self.rows["cpps"].append((cid, ref, start, end, initial, latest, previous))
        r = self.rows["cpp_reviews"]
        for item in rec.subs:
            date = self._key(item, cid)
            if not self._finish(item, cid, None if date is None else (cid, start, date)):
                continue
            r.append((cid, ref, start, date))

    # -- frames ------------------------------------------------------------------------
    def take_frames(self, la_code: str) -> dict[str, pd.DataFrame]:
        """Build this chunk's frames (with ``la_code``) and start new column lists."""
        frames = {}
        for table, rows in self.rows.items():
            names = TABLE_COLUMNS[table]
            columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
            data: dict[str, Any] = {"la_code": [la_code] * len(rows)}
            for col, values in zip(names, columns, strict=True):
                if col in _DATE_COLUMNS:
                    data[col] = pd.to_datetime(pd.Series(values, dtype=object), format="%Y-%m-%d")
                elif col in _BOOL_COLUMNS:
                    data[col] = pd.array(values, dtype="boolean")
                elif col in _INT_COLUMNS:
                    data[col] = pd.array(values, dtype="Int64")
                else:
                    # numpy builds the object column directly: pandas' sequence-to-object
                    # path costs about three times as much per value (millions of values).
                    data[col] = np.array(values, dtype=object)
            frame = pd.DataFrame(data)
            for col in frame.columns:
                if col in _DATE_COLUMNS:
                    frame[col] = frame[col].astype("datetime64[ns]")
            frames[table] = frame
        self._reset_cols()
        return frames

    def take_rejections(self, la_code: str) -> pd.DataFrame:
        self.log.la_code = la_code
        frame = self.log.to_frame()
        self.log = rj.RejectionLog(self.source_file, la_code)
        return frame


def joined_disabilities(recorded: set[str] | list[str]) -> str:
    """The ``disabilities`` value: distinct codes sorted and space-joined (one shared object)."""
    text = " ".join(sorted(set(recorded)))
    return _JOINED_DISABILITIES.setdefault(text, text)


def is_previous_cpp_count(text: str) -> bool:
    """Whether ``NumberOfPreviousCPP`` text is a count the reader keeps: 1 to 5 ASCII digits.

    ASCII only: ``str.isdigit`` alone also accepts superscripts and other scripts' digits,
    some of which ``int`` cannot convert (the XSD type, ``xs:positiveInteger``, allows only
    ASCII digits).
    """
    digits = text[1:] if text[:1] == "+" else text  # xs:positiveInteger allows a plus sign
    return digits.isascii() and digits.isdigit() and len(digits) < 6


def header_values(header: Any) -> tuple[str | None, int | None]:
    """``(la_code, census_year)`` of a return's ``Header`` element (either may be ``None``)."""
    la_code = (header.findtext("Source/LEA") or "").strip() or None
    census_year = _census_year(
        (header.findtext("CollectionDetails/ReferenceDate") or "").strip() or None,
        (header.findtext("CollectionDetails/Year") or "").strip() or None,
    )
    return la_code, census_year


def _census_year(ref_date: str | None, year: str | None) -> int | None:
    if ref_date is not None:
        iso, reason = check_date(ref_date)
        if reason is None and iso is not None:
            d = dt.date.fromisoformat(iso)
            return d.year if (d.month, d.day) <= (3, 31) else d.year + 1
    if year is not None and re.fullmatch(r"\d{4}", year):
        return int(year)
    return None


def _check_prolog(path: str) -> None:
    """Refuse DOCTYPE / entity declarations and a wrong root before reading any record."""
    try:
        if os.path.getsize(path) == 0:
            raise InputFileError(path, "empty file")
        it = etree.iterparse(path, events=("start",), **SAFE_PARSE)
        for _event, el in it:
            info = el.getroottree().docinfo
            if info.doctype or info.internalDTD is not None or info.system_url:
                raise InputFileError(
                    path, "document carries a DOCTYPE / entity declarations; refused for safety"
                )
            if el.tag != ROOT_TAG:
                raise InputFileError(
                    path,
                    f"root element is <{el.tag}>, expected <{ROOT_TAG}> (not a CIN census return)",
                )
            return
        raise InputFileError(path, "not XML: no root element")
    except etree.XMLSyntaxError as exc:
        msg = str(exc.msg or exc)
        if "DOCTYPE" in msg or "Entity" in msg or "ENTITY" in msg:
            raise InputFileError(
                path, f"document carries a DOCTYPE / entity declarations ({msg})"
            ) from exc
        if exc.position[0] <= 1 and exc.position[1] <= 1:
            raise InputFileError(path, f"not XML ({msg})") from exc
        raise InputFileError(path, f"malformed XML at line {exc.position[0]}: {msg}") from exc
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror or exc})") from exc


def iter_cin_xml_chunks(
    path: str | os.PathLike[str], chunk_children: int | None = None
) -> Iterator[ParsedReturn]:
    """Parse one CIN XML return, yielding :class:`ParsedReturn` chunks of about ``chunk_children``.

    With ``chunk_children=None`` one chunk holds the whole file. Chunked reading keeps memory
    flat for consumers that process and discard each chunk; a whole-file error found late (a
    truncated file) is raised after earlier chunks were yielded, so such consumers must discard
    their output on error. :func:`parse_cin_xml` and :func:`read_cin_xml` never return partial
    results.
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        raise InputFileError(p, "is a directory, not a CIN XML file")
    _check_prolog(p)
    yield from _iter_source(p, p, chunk_children)


def _iter_source(
    source: str | io.BytesIO, p: str, chunk_children: int | None
) -> Iterator[ParsedReturn]:
    """The parse of :func:`iter_cin_xml_chunks` after the prolog check.

    ``source`` is the file itself, or (:func:`_parse_piece`) an in-memory document made of a
    slice of it; ``p`` is the path named in errors and in :attr:`ParsedReturn.path`.
    """
    # Rejections name the file as it was given (folder included), so that 2023/cin.xml and
    # 2024/cin.xml stay apart.
    parser = _ReturnParser(str(Path(p)))
    la_code: str | None = None
    census_year: int | None = None
    header_seen = False
    try:
        it = etree.iterparse(
            source,
            events=("end",),
            tag=("Header", "Child"),
            **SAFE_PARSE,
            # Drop whitespace-only text between elements while parsing (libxml2 blanks are a
            # subset of what str.isspace() ignores, so no stray text or value is lost): fewer
            # nodes to build and free, and .text/.tail of containers come back as None.
            remove_blank_text=True,
        )
        for _event, el in it:
            parent = el.getparent()
            if el.tag == "Header":
                if header_seen or parent is None or parent.getparent() is not None:
                    continue
                header_seen = True
                la_code, census_year = header_values(el)
                continue
            # Only Message/Children/Child is a census record: a Children nested elsewhere
            # (inside Header, say) holds misplaced records.
            holder = None if parent is None else parent.getparent()
            misplaced = (
                parent is None
                or parent.tag != "Children"
                or holder is None
                or holder.getparent() is not None
            )
            parser.child(el, misplaced)
            if not misplaced:
                el.clear()
                while el.getprevious() is not None:
                    _check_in_children(p, parent[0])
                    del parent[0]
            if chunk_children is not None and parser.n_children >= chunk_children:
                la = _check_la(p, la_code)
                yield _chunk(p, parser, la, census_year)
                parser.n_children = 0
        _check_structure(p, it.root)
    except etree.XMLSyntaxError as exc:
        msg = str(exc.msg or exc)
        raise InputFileError(p, f"malformed XML at line {exc.position[0]}: {msg}") from exc
    except OSError as exc:
        raise InputFileError(p, f"cannot read file ({exc.strerror or exc})") from exc
    la = _check_la(p, la_code)
    yield _chunk(p, parser, la, census_year)


def _unexpected(path: str, node: Any, where: str) -> InputFileError:
    tag = node.tag
    hint = " (CIN census returns use no XML namespace)" if tag.startswith("{") else ""
    return InputFileError(
        path,
        f"line {node.sourceline}: unexpected element <{tag}> in {where}{hint}; its content "
        "cannot be read as census records",
    )


def _check_in_children(path: str, node: Any) -> None:
    """Refuse an element in ``Children`` that is not a ``Child`` (comments and PIs are fine).

    A lower-case ``child``, a namespaced or prefixed ``Child`` would otherwise be skipped with
    every record in it: a whole-file error, because no record of it can be named.
    """
    if isinstance(node.tag, str) and node.tag != "Child":
        raise _unexpected(path, node, "Children")


def _check_structure(path: str, root: Any) -> None:
    """After the parse: ``Message`` holds only ``Header`` and ``Children``, which holds ``Child``
    (a ``Child`` elsewhere is a "misplaced record" rejection, not a file error).

    Children already parsed were removed from the tree as they went; what remains is checked
    here (elements after the last ``Child``, or anything beside ``Header`` and ``Children``).
    """
    if root is None:
        return
    for node in root:
        # A Child here was already rejected as a misplaced record.
        if not isinstance(node.tag, str) or node.tag in ("Header", "Child"):
            continue
        if node.tag != "Children":
            raise _unexpected(path, node, ROOT_TAG)
        for sub in node:
            _check_in_children(path, sub)


def _check_la(path: str, la_code: str | None) -> str:
    if la_code is None:
        raise InputFileError(path, "no Header/Source/LEA (3-digit LA code) before the children")
    if not codes.is_la_code(la_code):
        raise InputFileError(path, f"Header/Source/LEA is {la_code!r}, not a 3-digit LA code")
    return la_code


def _chunk(path: str, parser: _ReturnParser, la_code: str, census_year: int | None) -> ParsedReturn:
    return ParsedReturn(
        path=path,
        la_code=la_code,
        census_year=census_year,
        tables=parser.take_frames(la_code),
        rejections=parser.take_rejections(la_code),
    )


def parse_cin_xml(
    path: str | os.PathLike[str], *, workers: int = 1, piece_bytes: int | None = None
) -> ParsedReturn:
    """Parse one return completely (no linkage); see the module docstring for the rules.

    ``workers`` and ``piece_bytes`` are those of :func:`parse_cin_xml_files`; the result is the
    same whatever their values, and is that of :func:`parse_streaming`.
    """
    return parse_cin_xml_files([path], workers=workers, piece_bytes=piece_bytes)[0]


def parse_streaming(path: str | os.PathLike[str]) -> ParsedReturn:
    """The reference parse: the whole file in one pass, one ``Child`` at a time.

    Every other route (pieces, workers, the clean-return fast path of
    :mod:`recurrence.data.cin_xml_clean`) must give exactly this result, and falls back to it
    whenever it cannot; its whole-file errors are the ones reported.
    """
    with gc_paused():
        return next(iter(iter_cin_xml_chunks(path)))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a return is parsed.

    Parsing allocates millions of small tuples, dicts and strings that live until the
    frames are built, and none of them form reference cycles; with the collector running,
    its full collections walk every one of them again and again. Pausing it cut the time of
    one 16 MiB piece from 1.46 s to 1.10 s on average (twelve runs each, in alternating
    blocks of three, on this machine). Objects are freed by reference counting as usual
    meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_cin_xml(
    path: str | os.PathLike[str],
    *,
    validate: bool = True,
    workers: int = 1,
    piece_bytes: int | None = None,
) -> CINTables:
    """Read one CIN census XML return into validated :class:`CINTables`.

    Equivalent to ``recurrence.data.reader.read_cin([path])``: the return is linked on its own
    (``child_key`` from the UPN, or from LA and child id) and every episode gets the return's
    census year. ``workers`` and ``piece_bytes``: see :func:`parse_cin_xml_files`.
    """
    from recurrence.data.linkage import link_returns

    parsed = parse_cin_xml(path, workers=workers, piece_bytes=piece_bytes)
    return link_returns([parsed], validate=validate)


# -- parallel reading: files and pieces of files -------------------------------------------

PIECE_BYTES: Final = 16 * 2**20
"""Default size of the pieces a large return is cut into when it is read by several workers.

Small enough that a worker holds little (one piece's bytes and rows) and that a national
return makes dozens of pieces to share between workers; large enough that the per-piece cost
(reading the prefix, building frames, sending them back) stays negligible.
"""

_CHILD_START: Final = re.compile(rb"<Child[\s>/]")
_SUFFIX: Final = b"</Children></Message>"
_SCAN_BYTES: Final = 2**20


@dataclass(frozen=True)
class _Task:
    """One unit of parallel work: a whole file (``prefix_end is None``) or one piece of it.

    A piece is the document ``file[:prefix_end] + file[start:end] + </Children></Message>``
    (no suffix for the last piece, ``end is None``, which runs to the end of the file).
    """

    path: str
    prefix_end: int | None = None
    start: int = 0
    end: int | None = None


def _find_child_start(f: io.BufferedReader, pos: int, limit: int | None) -> int | None:
    """Offset of the first ``<Child`` start tag at or after ``pos`` (before ``limit``), or None."""
    overlap = 7  # len(b"<Child") + 1: a match cut by a block boundary is found in the next block
    while limit is None or pos < limit:
        f.seek(pos)
        block = f.read(_SCAN_BYTES)
        if not block:
            return None
        m = _CHILD_START.search(block)
        if m is not None and (limit is None or pos + m.start() < limit):
            return pos + m.start()
        if m is not None or len(block) < _SCAN_BYTES:
            return None
        pos += len(block) - overlap
    return None


def _plan(path: str, piece_bytes: int) -> list[_Task]:
    """Cut one file into pieces at ``<Child`` start tags about ``piece_bytes`` apart.

    The cut is a plain byte search, so it may fall inside a comment, a CDATA section or a
    nested (misplaced) ``Child``; every such piece is not well-formed, because its wrapper
    closes exactly ``Children`` and ``Message``, and any failing piece sends the whole file
    back to the serial parse (:func:`_combine`). A file that cannot be cut usefully (small,
    no ``<Child`` in its first MiB, which every piece repeats, a prolog problem) is one
    whole-file task.
    """
    whole = [_Task(path)]
    try:
        if os.path.isdir(path):
            return whole
        size = os.path.getsize(path)
        if size <= piece_bytes:
            return whole
        _check_prolog(path)
        with open(path, "rb") as f:
            first = _find_child_start(f, 0, _SCAN_BYTES)
            if first is None or not _prefix_is_open_children(_read_at(f, 0, first)):
                return whole
            starts = [first]
            while True:
                nxt = _find_child_start(f, starts[-1] + piece_bytes, None)
                if nxt is None:
                    break
                starts.append(nxt)
    except (InputFileError, OSError):
        return whole
    if len(starts) < 2:
        return whole
    ends: list[int | None] = [*starts[1:], None]
    return [_Task(path, first, a, b) for a, b in zip(starts, ends, strict=True)]


def _read_at(f: io.BufferedReader, pos: int, end: int) -> bytes:
    f.seek(pos)
    return f.read(end - pos)


def _prefix_is_open_children(prefix: bytes) -> bool:
    """Whether ``prefix + </Children></Message>`` is a well-formed document.

    Every piece repeats the prefix (the bytes before the first ``<Child``), so the prefix must
    end where exactly ``Message > Children`` are open and nothing else is. Pieces in the middle
    of a file are protected by their neighbours (a cut inside a comment leaves the previous
    piece unterminated), but the prefix is not: a first ``<Child`` inside a comment would leave
    the comment open in every piece, and a stray ``-->`` later in a piece would then close it
    after swallowing children, a well-formed but wrong piece. Checking the prefix on its own
    rules that out; a prefix that fails sends the file to the serial parse.
    """
    parser = etree.XMLParser(**SAFE_PARSE)
    try:
        etree.fromstring(prefix + _SUFFIX, parser)
    except etree.XMLSyntaxError:
        return False
    return True


def _run_task(task: _Task, whole_limit: int | None = None) -> ParsedReturn | None:
    """Parse one task (what a worker executes); ``None`` if anything goes wrong.

    The document is first offered to the clean-return fast path
    (:func:`recurrence.data.cin_xml_clean.parse_clean`), and parsed by the full reader when
    that declines. A whole file is read into memory for the fast path only when it is no
    larger than ``whole_limit`` bytes (a large file that could not be cut, or any file when
    ``whole_limit`` is None, is streamed).

    Failures are not raised here: the calling process parses the file serially instead, which
    gives the authoritative error (and never depends on how the file was cut).
    """
    try:
        with gc_paused():
            return _parse_task(task, whole_limit)
    except Exception:
        return None


def _parse_task(task: _Task, whole_limit: int | None) -> ParsedReturn:
    """The work of :func:`_run_task`, raising on any failure."""
    # Imported here: the fast path module builds on this one.
    from recurrence.data.cin_xml_clean import parse_clean

    if task.prefix_end is None:
        if whole_limit is None or os.path.getsize(task.path) > whole_limit:
            return parse_streaming(task.path)
        _check_prolog(task.path)
        with open(task.path, "rb") as f:
            doc = f.read()
    else:
        with open(task.path, "rb") as f:
            prefix = f.read(task.prefix_end)
            f.seek(task.start)
            body = f.read(-1 if task.end is None else task.end - task.start)
        doc = b"".join((prefix, body, b"" if task.end is None else _SUFFIX))
        del body
    fast = parse_clean(doc, task.path)
    if fast is not None:
        return fast
    return next(iter(_iter_source(io.BytesIO(doc), task.path, None)))


def _combine(pieces: list[ParsedReturn | None]) -> ParsedReturn | None:
    """Concatenate the pieces of one file into the serial parse's result, or ``None``.

    ``None`` (parse the file serially) when a piece failed, when the pieces disagree on the
    header (LA or census year), or when a child id was kept in two pieces: duplicate children
    are detected across the whole file, so the serial parse would reject the later one.
    """
    if any(p is None for p in pieces):
        return None
    done = [p for p in pieces if p is not None]
    first = done[0]
    if any((p.la_code, p.census_year) != (first.la_code, first.census_year) for p in done):
        return None
    ids = pd.concat([p.tables["children"]["la_child_id"] for p in done], ignore_index=True)
    if ids.duplicated().any():
        return None
    tables = {}
    for name in first.tables:
        frames = [p.tables[name] for p in done if len(p.tables[name])]
        tables[name] = pd.concat(frames, ignore_index=True) if frames else first.tables[name]
    rej = [p.rejections for p in done if len(p.rejections)]
    rejections = pd.concat(rej, ignore_index=True) if rej else first.rejections
    return ParsedReturn(first.path, first.la_code, first.census_year, tables, rejections)


def parse_cin_xml_files(
    paths: Sequence[str | os.PathLike[str]], *, workers: int = 1, piece_bytes: int | None = None
) -> list[ParsedReturn]:
    """Parse several returns, in parallel and cutting large ones into pieces; results in order.

    Parameters
    ----------
    paths
        CIN XML returns.
    workers
        Processes to use (joblib's loky backend). With 1, files and pieces are parsed one
        after another in this process.
    piece_bytes
        Cut files larger than this into pieces at ``<Child>`` start tags and parse the pieces
        separately (default :data:`PIECE_BYTES`). Each piece, and each file no larger than
        this, is offered to the clean-return fast path first.

    Returns
    -------
    list of ParsedReturn
        One per path, in the order given, identical to :func:`parse_streaming` of each path
        whatever ``workers`` and ``piece_bytes`` are: pieces are concatenated in file order,
        and a file whose pieces do not reproduce the streaming parse exactly (see
        :func:`_combine`) is parsed by :func:`parse_streaming`. The first file in order with a
        whole-file problem raises its :class:`~recurrence.errors.InputFileError`, as the
        streaming parse does.
    """
    ps = [os.fspath(p) for p in paths]
    done = parse_in_parallel(ps, workers=workers, piece_bytes=piece_bytes)
    # Files that failed anywhere are parsed here, in order, so the first bad file raises.
    return [r if r is not None else parse_streaming(p) for p, r in zip(ps, done, strict=True)]


def parse_in_parallel(
    paths: Sequence[str], *, workers: int, piece_bytes: int | None = None
) -> list[ParsedReturn | None]:
    """The parallel part of :func:`parse_cin_xml_files`: ``None`` where a file must be parsed serially.

    Readers of mixed inputs (:func:`recurrence.data.reader.read_cin`) call this and then parse
    the ``None`` files in input order among their other files, so that the first bad input in
    order is the one reported, as in a serial read.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1; got {workers}")
    if piece_bytes is None:
        piece_bytes = PIECE_BYTES
    if piece_bytes < 1:
        raise ValueError(f"piece_bytes must be at least 1; got {piece_bytes}")
    # A whole file is read into memory for the fast path only up to the default piece size,
    # even when tests cut into tiny pieces.
    whole_limit = max(piece_bytes, PIECE_BYTES)
    plans = [_plan(p, piece_bytes) for p in paths]
    tasks = [t for plan in plans for t in plan]
    out: list[ParsedReturn | None] = []
    try:
        if workers == 1 or len(tasks) == 1:
            results: Iterator[ParsedReturn | None] = (_run_task(t, whole_limit) for t in tasks)
        else:
            import joblib

            # The calling process only collects: pieces parsed here leave their strings
            # scattered among the parse's freed objects, and linking and validating (which
            # walk those strings many times) ran slower on them than on pieces unpickled
            # from workers (23.7 s against 18.6 s, see _canonical); that cost more than
            # this process's share of the parsing saved.
            run = joblib.Parallel(
                n_jobs=min(workers, len(tasks)), backend="loky", return_as="generator"
            )
            results = iter(run(joblib.delayed(_run_task)(t, whole_limit) for t in tasks))
        for plan in plans:
            pieces = [next(results) for _ in plan]
            out.append(pieces[0] if len(pieces) == 1 else _combine(pieces))
    except Exception:
        # The pool itself failed (processes cannot start, a worker was killed for memory):
        # the files not done yet are left to the serial parse, which reports real problems.
        out.extend([None] * (len(plans) - len(out)))
    return out
