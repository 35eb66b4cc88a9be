"""Reader of NPD-style flat CIN extracts: one row per child, episode and census year.

The National Pupil Database (NPD) releases the CIN census as flat tables whose columns carry a
``CIN_`` prefix (DfE, *NPD Children in Need data tables*, in the "NPD data dictionary" /
Find & Explore Data in Education; names vary by release and by how the extract was exported,
e.g. Stata lower-cases them). Matching here is case-insensitive, and each field accepts the
alternative names listed below (first match wins).

Column dictionary assumed (``*`` = required; a missing required column is a whole-file error)
----------------------------------------------------------------------------------------------
=============================  ====================================================================
field                          accepted column names
=============================  ====================================================================
``la_child_id`` *              CIN_LAchildID_Anon, CIN_LAchildID
``la_code`` *                  CIN_LA, LA, CIN_LA_Code, LA_Code (3-digit DfE code)
``cin_referral_date`` *        CIN_ReferralDate
census year *                  CIN_AcademicYear, CIN_ACADYR, CIN_CensusYear, AcademicYear,
                               CensusYear ("2021/2022", "2021/22", "202122" or "2022": the year
                               ending 31 March is the later year)
``child_key``                  CIN_PupilMatchingRefAnonymous, PupilMatchingRefAnonymous (the
                               NPD's linkage key; rows without one use LA + child id)
``person_birth_date``          CIN_PersonBirthDate, CIN_DOB; else CIN_YearOfBirth with
                               CIN_MonthOfBirth (the NPD releases month and year only; the day is
                               then set to the 1st, an approximation of under one month)
``person_death_date``          CIN_PersonDeathDate
``sex``                        CIN_Sex, CIN_Gender, CIN_GenderCurrent (M/F/U or 1/2/0/9)
``ethnicity``                  CIN_Ethnicity
``disabilities``               CIN_Disability, CIN_Disabilities (codes separated by space, comma
                               or semicolon)
episode                        CIN_ReferralSource, CIN_PrimaryNeedCode, CIN_CINClosureDate
                               (or CIN_ClosureDate), CIN_ReasonForClosure, CIN_DateOfInitialCPC,
                               CIN_ReferralNFA
assessment                     CIN_AssessmentActualStartDate, CIN_AssessmentInternalReviewDate,
                               CIN_AssessmentAuthorisationDate; factors in CIN_Factors or
                               CIN_AssessmentFactors (codes separated by space, comma or
                               semicolon)
section 47                     CIN_S47ActualStartDate, CIN_InitialCPCtarget, CIN_ICPCnotRequired
plan                           CIN_CPPstartDate, CIN_CPPendDate, CIN_InitialCategoryOfAbuse,
                               CIN_LatestCategoryOfAbuse, CIN_NumberOfPreviousCPP
=============================  ====================================================================

Dates may be ISO (``2021-04-01``, optionally with a time) or ``dd/mm/yyyy``, in ASCII digits
(other scripts' digits make a date, year or count invalid).

Rows and rejections
-------------------
Each row gives one child record, one episode and at most one assessment, section 47 enquiry
and plan. A row is rejected (``record == "episode"``, ``source_file == "name.csv:row N"`` with N
the line number in the file, header = line 1) when its child id, LA code, referral date or
census year is missing or invalid, or its closure date precedes the referral; its plan,
assessment (with its factors, ``"assessment rejected"``) and section 47 are then rejected with
it, and the row adds no child record. A bad plan or assessment (invalid start, end before
start) rejects only that record; so do a plan's, assessment's or section 47's values on a row
without its start date (``missing required element``, as in :mod:`recurrence.data.cin_xml`;
``value`` lists the values found). Unknown codes and invalid counts drop the value with a
``field`` row, as in :mod:`recurrence.data.cin_xml`.

Rows repeating an episode (same LA, census year, child and referral date) add their plan or
assessment (a repeated plan start is rejected as ``duplicate cpp``); the episode's own fields,
repeated on each row and sometimes blank there, are combined: a value given on any row is kept.
Two different values of one episode field reject the episode: every row of it is rejected as
``repeated element`` (the reason the XML reader gives an element given twice), with
``element`` the column and ``value`` ``"first != other"``. Episodes repeated across census
years are de-duplicated by :mod:`recurrence.data.linkage` (the latest year wins).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import pandas as pd

from recurrence.data import codes
from recurrence.data import rejections as rj
from recurrence.data.cin_xml import TABLE_COLUMNS, check_date, is_previous_cpp_count
from recurrence.errors import InputFileError

ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "la_child_id": ("CIN_LAchildID_Anon", "CIN_LAchildID"),
    "la_code": ("CIN_LA", "LA", "CIN_LA_Code", "LA_Code"),
    "cin_referral_date": ("CIN_ReferralDate",),
    "census_year": (
        "CIN_AcademicYear",
        "CIN_ACADYR",
        "CIN_CensusYear",
        "AcademicYear",
        "CensusYear",
    ),
    "child_key": ("CIN_PupilMatchingRefAnonymous", "PupilMatchingRefAnonymous"),
    "person_birth_date": ("CIN_PersonBirthDate", "CIN_DOB"),
    "year_of_birth": ("CIN_YearOfBirth",),
    "month_of_birth": ("CIN_MonthOfBirth",),
    "person_death_date": ("CIN_PersonDeathDate",),
    "sex": ("CIN_Sex", "CIN_Gender", "CIN_GenderCurrent"),
    "ethnicity": ("CIN_Ethnicity",),
    "disabilities": ("CIN_Disability", "CIN_Disabilities"),
    "referral_source": ("CIN_ReferralSource",),
    "primary_need_code": ("CIN_PrimaryNeedCode",),
    "cin_closure_date": ("CIN_CINClosureDate", "CIN_ClosureDate"),
    "reason_for_closure": ("CIN_ReasonForClosure",),
    "date_of_initial_cpc": ("CIN_DateOfInitialCPC",),
    "referral_nfa": ("CIN_ReferralNFA",),
    "assessment_actual_start_date": ("CIN_AssessmentActualStartDate",),
    "assessment_internal_review_date": ("CIN_AssessmentInternalReviewDate",),
    "assessment_authorisation_date": ("CIN_AssessmentAuthorisationDate",),
    "factors": ("CIN_Factors", "CIN_AssessmentFactors"),
    "s47_actual_start_date": ("CIN_S47ActualStartDate",),
    "initial_cpc_target": ("CIN_InitialCPCtarget",),
    "icpc_not_required": ("CIN_ICPCnotRequired",),
    "cpp_start_date": ("CIN_CPPstartDate",),
    "cpp_end_date": ("CIN_CPPendDate",),
    "initial_category_of_abuse": ("CIN_InitialCategoryOfAbuse",),
    "latest_category_of_abuse": ("CIN_LatestCategoryOfAbuse",),
    "number_of_previous_cpp": ("CIN_NumberOfPreviousCPP",),
}
"""Field -> accepted column names (matched case-insensitively, first found wins)."""

REQUIRED: Final = ("la_child_id", "la_code", "cin_referral_date", "census_year")

EPISODE_FIELDS: Final = (
    "cin_closure_date",
    "referral_source",
    "primary_need_code",
    "reason_for_closure",
    "date_of_initial_cpc",
    "referral_nfa",
)
"""Episode-level fields: repeated (sometimes blank) on every row of an episode, and combined."""

SUB_RECORDS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "assessment": (
        "assessment_actual_start_date",
        ("assessment_internal_review_date", "assessment_authorisation_date", "factors"),
    ),
    "section47": ("s47_actual_start_date", ("initial_cpc_target", "icpc_not_required")),
    "cpp": (
        "cpp_start_date",
        (
            "cpp_end_date",
            "initial_category_of_abuse",
            "latest_category_of_abuse",
            "number_of_previous_cpp",
        ),
    ),
}
"""Record kind a row may carry -> (its key field, its other fields)."""

_SPLIT = re.compile(r"[\s,;]+")
# [0-9], not \d: \d also matches other scripts' digits (Arabic-Indic, ...), which int() accepts.
_DMY = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
_ISO_TIME = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"
)

_Problem = tuple[str, str, str | None]
"""``(reason, column, value)`` of a rejection."""


@dataclass(frozen=True)
class NPDReturn:
    """One (LA, census year) slice of an extract, in the form :func:`link_returns` takes."""

    path: str
    la_code: str
    census_year: int | None
    tables: dict[str, pd.DataFrame]
    rejections: pd.DataFrame


class _Episode:
    """Episode-level values combined over the rows that repeat one episode.

    Attributes
    ----------
    values
        Field -> value (a value missing or dropped on one row is taken from another row).
    texts
        Field -> the text its value came from (for the rejection of a conflict).
    conflict
        ``(field, "first != other")`` for the first field given two different values, if any.
    written
        Whether the episode row has been added to its table.
    """

    __slots__ = ("conflict", "texts", "values", "written")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.texts: dict[str, str] = {}
        self.conflict: tuple[str, str] | None = None
        self.written = False

    def add(self, field: str, value: Any, text: str | None) -> None:
        """Combine one row's value of ``field`` (``None``: missing or dropped)."""
        if value is None or text is None:
            return
        old = self.values.get(field)
        if old is None:
            self.values[field] = value
            self.texts[field] = text
        elif old != value and self.conflict is None:
            self.conflict = (field, f"{self.texts[field]} != {text}")


def _flat_date(text: str) -> tuple[str | None, str | None]:
    # ASCII only, whatever check_date's pattern: int() reads other scripts' digits.
    if not text.isascii():
        return None, rj.INVALID_DATE
    m = _DMY.match(text)
    if m:
        text = f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    else:
        m = _ISO_TIME.match(text)
        if m:
            text = m.group(1)
    return check_date(text)


def census_year_of(text: str) -> int | None:
    """Year ending 31 March from an NPD academic/census year ("2021/2022", "2021/22", "202122", "2022")."""
    t = text.strip()
    m = re.fullmatch(r"([0-9]{4})\s*[/-]\s*([0-9]{2}|[0-9]{4})", t) or re.fullmatch(
        r"([0-9]{4})([0-9]{2})", t
    )
    if m:
        start = int(m.group(1))
        end = m.group(2)
        year = int(end) if len(end) == 4 else (start // 100) * 100 + int(end)
        if year < start:
            year += 100
        return year if year == start + 1 else None
    if re.fullmatch(r"[0-9]{4}", t):
        return int(t)
    return None


def _columns(header: Sequence[str], path: str) -> dict[str, str]:
    lower: dict[str, str] = {}
    for col in header:
        lower.setdefault(col.strip().lower(), col)
    found: dict[str, str] = {}
    for field, names in ALIASES.items():
        for name in names:
            if name.lower() in lower:
                found[field] = lower[name.lower()]
                break
    for field in REQUIRED:
        if field not in found:
            raise InputFileError(
                path,
                f"missing required column {ALIASES[field][0]} (or {', '.join(ALIASES[field][1:]) or 'no alias'})",
            )
    return found


def _factor_items(text: str | None) -> list[str]:
    """Factor codes of a ``CIN_Factors`` cell (separated by space, comma or semicolon)."""
    return [c for c in _SPLIT.split(text) if c] if text else []


def parse_npd(path: str | os.PathLike[str]) -> list[NPDReturn]:
    """Parse an NPD-style CSV/TSV extract into one :class:`NPDReturn` per (LA, census year).

    Parameters
    ----------
    path
        The extract (``.tsv`` is read tab-separated, anything else comma-separated).

    Returns
    -------
    list of NPDReturn
        One per (LA, census year), sorted; the rejections of the whole file are in the first.
        When every row is rejected, a single empty slice (LA ``"000"``) carries them.

    Raises
    ------
    InputFileError
        The file is missing, unreadable as CSV, or lacks a required column.
    """
    p = Path(path)
    name = p.name
    try:
        sep = "\t" if p.suffix.lower() == ".tsv" else ","
        frame = pd.read_csv(p, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputFileError(str(p), "file not found") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputFileError(str(p), f"not a readable CSV extract ({exc})") from exc
    cols = _columns(list(frame.columns), str(p))
    data = {field: frame[col].str.strip().tolist() for field, col in cols.items()}
    n = len(frame)

    def get(field: str, i: int) -> str | None:
        v = data.get(field)
        if v is None:
            return None
        return v[i] or None

    def column(field: str) -> str:
        """The file's column for ``field``, or its usual name when the file has none."""
        return cols.get(field, ALIASES[field][0])

    def code(field: str, allowed: frozenset[str], i: int, notes: list[_Problem]) -> str | None:
        v = get(field, i)
        if v is None or v in allowed:
            return v
        notes.append((rj.UNKNOWN_CODE, cols[field], v))
        return None

    def date(field: str, i: int) -> tuple[str | None, _Problem | None]:
        v = get(field, i)
        if v is None:
            return None, None
        iso, why = _flat_date(v)
        return iso, None if why is None else (why, cols[field], v)

    def yes_no(field: str, i: int, notes: list[_Problem]) -> bool | None:
        v = get(field, i)
        if v is None:
            return None
        out = codes.YES_NO_VALUES.get(v, codes.YES_NO_VALUES.get(v.lower()))
        if out is None:
            notes.append((rj.INVALID_YES_NO, cols[field], v))
        return out

    def carries(kind: str, i: int) -> bool:
        """Whether row ``i`` has any value of a record of ``kind`` (its key or another field)."""
        key, others = SUB_RECORDS[kind]
        return any(get(f, i) is not None for f in (key, *others))

    def reject_record(kind: str, reason: str, i: int, reject: Any) -> None:
        """Reject row ``i``'s record of ``kind`` (an assessment's factors with it)."""
        key, others = SUB_RECORDS[kind]
        value = get(key, i)
        if value is None:
            # No key to name the record by: the values it had go into ``value`` instead, so
            # that what was not loaded can be found (factors get rows of their own below).
            value = (
                "; ".join(
                    f"{cols[f]}={get(f, i)}"
                    for f in others
                    if f != "factors" and get(f, i) is not None
                )
                or None
            )
        reject(kind, reason, element=column(key), value=value)
        if kind == "assessment":
            for f in _factor_items(get("factors", i)):
                reject(
                    "factor",
                    rj.PARENT_REJECTED.format(kind="assessment"),
                    element=cols["factors"],
                    value=f,
                )

    # Pass 1: row-level checks, and each episode's values combined over the rows repeating it.
    # A flat extract repeats the episode's fields on every assessment/plan row, sometimes blank,
    # so no single row is authoritative: pass 2 must know, from an episode's first row, the
    # combined values and whether two rows conflict.
    row_err: list[_Problem | None] = []
    row_key: list[tuple[str, int, str, str] | None] = []
    row_notes: list[list[_Problem]] = []
    episodes: dict[tuple[str, int, str, str], _Episode] = {}
    for i in range(n):
        cid = get("la_child_id", i)
        la = get("la_code", i)
        ref_text = get("cin_referral_date", i)
        year_text = get("census_year", i)
        notes: list[_Problem] = []
        err: _Problem | None = None
        year = census_year_of(year_text) if year_text else None
        ref, reason = _flat_date(ref_text) if ref_text else (None, rj.MISSING_REQUIRED)
        closure_text = get("cin_closure_date", i)
        closure, creason = _flat_date(closure_text) if closure_text else (None, None)
        if cid is None:
            err = (rj.MISSING_REQUIRED, cols["la_child_id"], None)
        elif la is None or not codes.is_la_code(la):
            err = (rj.MISSING_REQUIRED if la is None else rj.UNKNOWN_CODE, cols["la_code"], la)
        elif year is None:
            err = (
                rj.MISSING_REQUIRED if year_text is None else rj.INVALID_NUMBER,
                cols["census_year"],
                year_text,
            )
        elif reason is not None:
            err = (reason, cols["cin_referral_date"], ref_text)
        elif creason is not None:
            err = (creason, cols["cin_closure_date"], closure_text)
        elif closure is not None and ref is not None and closure < ref:
            err = (rj.END_BEFORE_START, cols["cin_closure_date"], f"{closure} < {ref}")
        row_err.append(err)
        row_notes.append(notes)
        if err is not None:
            row_key.append(None)
            continue
        assert cid is not None and la is not None and year is not None and ref is not None
        key = (la, year, cid, ref)
        row_key.append(key)
        ep = episodes.setdefault(key, _Episode())
        ep.add("cin_closure_date", closure, closure_text)
        for field, allowed in (
            ("referral_source", codes.REFERRAL_SOURCE_CODES),
            ("primary_need_code", codes.PRIMARY_NEED_CODES),
            ("reason_for_closure", codes.REASON_FOR_CLOSURE_CODES),
        ):
            ep.add(field, code(field, allowed, i, notes), get(field, i))
        icpc, ierr = date("date_of_initial_cpc", i)
        if ierr is not None:
            notes.append(ierr)
        ep.add("date_of_initial_cpc", icpc, get("date_of_initial_cpc", i))
        ep.add("referral_nfa", yes_no("referral_nfa", i, notes), get("referral_nfa", i))

    # Pass 2: rejections in row order, and the tables.
    groups: dict[tuple[str, int], dict[str, dict[str, list[Any]]]] = {}
    keys: dict[tuple[str, int], dict[str, list[str | None]]] = {}
    log = rj.RejectionLog(name)
    seen: dict[tuple[str, int], set[tuple[str, ...]]] = {}

    for i in range(n):
        src = f"{name}:row {i + 2}"
        # Every rejection of this row carries the same file/row, child and LA.
        reject = partial(
            log.add, la_child_id=get("la_child_id", i), source_file=src, la_code=get("la_code", i)
        )
        err, ep_key, notes = row_err[i], row_key[i], row_notes[i]
        episode = None if ep_key is None else episodes[ep_key]
        if episode is not None and episode.conflict is not None:
            # Two rows give one episode field different values. The episode is rejected rather
            # than kept with the value dropped (the ``field`` rows used for unknown codes): the
            # XML reader rejects an episode with an element given twice ("repeated element")
            # and the two readers should agree; and a dropped closure date or reason would
            # leave a closed episode open, changing the spells the analyses are built on.
            # Every row of the episode is rejected, as each bad row is, so that each row's
            # content is accounted for.
            err = (rj.REPEATED_ELEMENT, cols[episode.conflict[0]], episode.conflict[1])
        if err is not None:
            reject("episode", err[0], element=err[1], value=err[2])
            for kind in SUB_RECORDS:
                if carries(kind, i):
                    reject_record(kind, rj.PARENT_REJECTED.format(kind="episode"), i, reject)
            for reason_, element, value in notes:
                reject(rj.FIELD, reason_, element=element, value=value)
            continue
        assert episode is not None and ep_key is not None
        la, year, cid, ref = ep_key
        g = (la, year)
        if g not in groups:
            groups[g] = {t: {c: [] for c in cs} for t, cs in TABLE_COLUMNS.items()}
            keys[g] = {"child_key": []}
            seen[g] = set()
        t = groups[g]

        # child
        birth, berr = date("person_birth_date", i)
        yob, mob = get("year_of_birth", i), get("month_of_birth", i)
        if birth is None and berr is None and yob is not None and mob is not None:
            birth, why = _flat_date(f"{yob}-{mob.zfill(2)}-01")
            if why is not None:
                berr = (why, cols["year_of_birth"], f"{yob}-{mob}")
        if berr is not None:
            notes.append(berr)
            birth = None
        death, derr = date("person_death_date", i)
        if derr is not None:
            notes.append(derr)
            death = None
        sex_text = get("sex", i)
        sex = "U"
        if sex_text is not None:
            mapped = (
                sex_text.upper()
                if sex_text.upper() in codes.SEX_CODES
                else codes.GENDER_CURRENT_TO_SEX.get(sex_text)
            )
            if mapped is None:
                notes.append((rj.UNKNOWN_CODE, cols["sex"], sex_text))
            else:
                sex = mapped
        dis_text = get("disabilities", i)
        dis: str | None = None
        if dis_text is not None:
            items = [c for c in _SPLIT.split(dis_text) if c]
            good = sorted({c for c in items if c in codes.DISABILITY_CODES})
            for c in items:
                if c not in codes.DISABILITY_CODES:
                    notes.append((rj.UNKNOWN_CODE, cols["disabilities"], c))
            dis = " ".join(good) or None
        c = t["children"]
        c["la_child_id"].append(cid)
        c["person_birth_date"].append(birth)
        c["expected_person_birth_date"].append(None)
        c["sex"].append(sex)
        c["ethnicity"].append(code("ethnicity", codes.ETHNICITY_CODES, i, notes))
        c["disabilities"].append(dis)
        c["person_death_date"].append(death)
        c["upn"].append(None)
        keys[g]["child_key"].append(get("child_key", i))
        # episode: written once, at its first row, with the values combined over its rows
        if not episode.written:
            episode.written = True
            e = t["cin_episodes"]
            e["la_child_id"].append(cid)
            e["cin_referral_date"].append(ref)
            for field in EPISODE_FIELDS:
                e[field].append(episode.values.get(field))
        # The enquiry's own conference date is its row's (in the XML, Section47 has its own
        # DateOfInitialCPC); an invalid one was noted in pass 1.
        icpc = date("date_of_initial_cpc", i)[0]
        # A record's values without its key (start date) cannot be loaded: rejected as in the
        # XML reader, which rejects a record lacking its key element.
        for kind, (key_field, _others) in SUB_RECORDS.items():
            if get(key_field, i) is None and carries(kind, i):
                reject_record(kind, rj.MISSING_REQUIRED, i, reject)
        if get("assessment_actual_start_date", i) is not None:
            _assessment(t, seen[g], reject, cid, ref, partial(date, i=i), get("factors", i), cols)
        if get("s47_actual_start_date", i) is not None:
            start, serr = date("s47_actual_start_date", i)
            target, terr = date("initial_cpc_target", i)
            bad = serr or terr
            if bad is not None:
                reject(
                    "section47",
                    bad[0],
                    element=bad[1],
                    value=bad[2],
                )
            elif ("s47", cid, ref, str(start)) in seen[g]:
                reject(
                    "section47",
                    rj.DUPLICATE.format(kind="section47"),
                    element=cols["s47_actual_start_date"],
                    value=start,
                )
            else:
                seen[g].add(("s47", cid, ref, str(start)))
                s = t["section47"]
                s["la_child_id"].append(cid)
                s["cin_referral_date"].append(ref)
                s["s47_actual_start_date"].append(start)
                s["initial_cpc_target"].append(target)
                s["date_of_initial_cpc"].append(icpc)
                s["icpc_not_required"].append(yes_no("icpc_not_required", i, notes))
        if get("cpp_start_date", i) is not None:
            start, serr = date("cpp_start_date", i)
            end, eerr = date("cpp_end_date", i)
            bad = serr or eerr
            if bad is None and start is not None and end is not None and end < start:
                bad = (rj.END_BEFORE_START, cols["cpp_end_date"], f"{end} < {start}")
            prev_text = get("number_of_previous_cpp", i)
            # is_previous_cpp_count: ASCII digits only (int() fails on '²', a digit to isdigit)
            prev = (
                int(prev_text)
                if prev_text is not None and is_previous_cpp_count(prev_text)
                else None
            )
            if prev_text is not None and prev is None:
                notes.append((rj.INVALID_NUMBER, cols["number_of_previous_cpp"], prev_text))
            initial = code("initial_category_of_abuse", codes.CATEGORY_OF_ABUSE_CODES, i, notes)
            latest = code("latest_category_of_abuse", codes.CATEGORY_OF_ABUSE_CODES, i, notes)
            if bad is not None:
                reject(
                    "cpp",
                    bad[0],
                    element=bad[1],
                    value=bad[2],
                )
            elif ("cpp", cid, str(start)) in seen[g]:
                reject(
                    "cpp",
                    rj.DUPLICATE.format(kind="cpp"),
                    element=cols["cpp_start_date"],
                    value=start,
                )
            else:
                seen[g].add(("cpp", cid, str(start)))
                plans = t["cpps"]
                plans["la_child_id"].append(cid)
                plans["cin_referral_date"].append(ref)
                plans["cpp_start_date"].append(start)
                plans["cpp_end_date"].append(end)
                plans["initial_category_of_abuse"].append(initial)
                plans["latest_category_of_abuse"].append(latest)
                plans["number_of_previous_cpp"].append(prev)
        for reason_, element, value in notes:
            reject(
                rj.FIELD,
                reason_,
                element=element,
                value=value,
            )

    from recurrence.data.cin_xml import _BOOL_COLUMNS, _DATE_COLUMNS, _INT_COLUMNS

    out: list[NPDReturn] = []
    rejections = log.to_frame()
    for idx, (g, t) in enumerate(sorted(groups.items())):
        la, year = g
        frames = {}
        for table, tcols in t.items():
            d: dict[str, Any] = {"la_code": [la] * len(tcols["la_child_id"])}
            for col, values in tcols.items():
                if col in _DATE_COLUMNS:
                    d[col] = pd.to_datetime(
                        pd.Series(values, dtype=object), format="%Y-%m-%d"
                    ).astype("datetime64[ns]")
                elif col in _BOOL_COLUMNS:
                    d[col] = pd.array(values, dtype="boolean")
                elif col in _INT_COLUMNS:
                    d[col] = pd.array(values, dtype="Int64")
                else:
                    d[col] = pd.Series(values, dtype=object)
            frames[table] = pd.DataFrame(d)
        frames["children"]["child_key"] = pd.Series(keys[g]["child_key"], dtype=object)
        # One child row per LA child id within a census year: the last row's values.
        frames["children"] = frames["children"].drop_duplicates(
            ["la_code", "la_child_id"], keep="last"
        )
        out.append(
            NPDReturn(
                path=str(p),
                la_code=la,
                census_year=year,
                tables=frames,
                rejections=rejections if idx == 0 else rejections.iloc[0:0],
            )
        )
    if not out:
        # Every row was rejected: still report them, through an empty slice.
        empty = {
            t: pd.DataFrame(
                {"la_code": pd.Series(dtype=object), **{c: pd.Series(dtype=object) for c in cs}}
            )
            for t, cs in TABLE_COLUMNS.items()
        }
        for tname, tcols_ in TABLE_COLUMNS.items():
            for col in tcols_:
                if col in _DATE_COLUMNS:
                    empty[tname][col] = empty[tname][col].astype("datetime64[ns]")
        out.append(
            NPDReturn(
                path=str(p), la_code="000", census_year=None, tables=empty, rejections=rejections
            )
        )
    return out


def _assessment(
    t: dict[str, dict[str, list[Any]]],
    seen: set[tuple[str, ...]],
    reject: Any,
    cid: str,
    ref: str,
    date: Any,
    factor_text: str | None,
    cols: dict[str, str],
) -> None:
    """Add one row's assessment and its factors, or reject them (``reject``: the row's log)."""
    start, serr = date("assessment_actual_start_date")
    review, rerr = date("assessment_internal_review_date")
    auth, aerr = date("assessment_authorisation_date")
    bad = serr or rerr or aerr
    if bad is None and start is not None and auth is not None and auth < start:
        bad = (rj.END_BEFORE_START, cols["assessment_authorisation_date"], f"{auth} < {start}")
    items = _factor_items(factor_text)
    key = ("assessment", cid, ref, str(start))
    if bad is None and key in seen:
        bad = (rj.DUPLICATE.format(kind="assessment"), cols["assessment_actual_start_date"], start)
    if bad is not None:
        # A rejected assessment takes its factors with it, each logged with the reason.
        reject("assessment", bad[0], element=bad[1], value=bad[2])
        for f in items:
            reject(
                "factor",
                rj.PARENT_REJECTED.format(kind="assessment"),
                element=cols["factors"],
                value=f,
            )
        return
    seen.add(key)
    a = t["assessments"]
    a["la_child_id"].append(cid)
    a["cin_referral_date"].append(ref)
    a["assessment_actual_start_date"].append(start)
    a["assessment_internal_review_date"].append(review)
    a["assessment_authorisation_date"].append(auth)
    f_cols = t["assessment_factors"]
    done: set[str] = set()
    for f in items:
        if f not in codes.ASSESSMENT_FACTOR_CODES:
            reject(
                "factor",
                rj.UNKNOWN_CODE,
                element=cols["factors"],
                value=f,
            )
        elif f in done:
            reject(
                "factor",
                rj.DUPLICATE.format(kind="factor"),
                element=cols["factors"],
                value=f,
            )
        else:
            done.add(f)
            f_cols["la_child_id"].append(cid)
            f_cols["cin_referral_date"].append(ref)
            f_cols["assessment_actual_start_date"].append(start)
            f_cols["assessment_factor"].append(f)
