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

Reading the file
----------------
The file must be UTF-8 (a byte-order mark is allowed). Its delimiter, whatever its suffix
(``.csv``, ``.tsv``, ``.txt``), is taken from the header line: the only one of comma, tab, pipe
and semicolon found there, else the one that splits it into the most known column names; a
header with none of them, or where two tie, is a file error. Cells may be quoted (``"3B,4B"``,
line breaks inside quotes). Blank lines are skipped. A row with fewer or more fields than the
header is a file error naming its line: a truncated or mis-delimited extract is not read
partially (pandas would pad the row with blanks or shift its cells). Row numbers in rejections
are the line numbers where rows start.

Rows and rejections
-------------------
Each row gives one child record, one episode and at most one assessment, section 47 enquiry
and plan. A row is rejected (``record == "episode"``, ``source_file == "path/name.csv:row N"``
with N the line number in the file, header = line 1) when its child id, LA code, referral date or
census year is missing or invalid, or its closure date precedes the referral; its plan,
assessment (with its factors, ``"assessment rejected"``) and section 47 are then rejected with
it, and the row adds no child record. A bad plan or assessment (invalid start, end before
start) rejects only that record; so do a plan's, assessment's or section 47's values on a row
without its start date (``missing required element``, as in :mod:`recurrence.data.cin_xml`;
``value`` lists the values found). Unknown codes and invalid counts drop the value with a
``field`` row, as in :mod:`recurrence.data.cin_xml`.

A row identical to an earlier loaded row (every cell equal, spaces around cells aside) is
rejected as ``duplicate episode`` (``value`` ``"row N repeated"``, N the line of the first), its
plan, assessment and section 47 with it (``"episode rejected"``), so that every input row is
either loaded or rejected; a repeat of a rejected row is rejected for the same fault.

Rows repeating an episode (same LA, census year, child and referral date) add their plan or
assessment (a repeated plan start is rejected as ``duplicate cpp``); the episode's own fields,
repeated on each row and sometimes blank there, are combined: a value given on any row is kept.
Two different values of one episode field reject the episode: every row of it is rejected as
``repeated element`` (the reason the XML reader gives an element given twice), with
``element`` the column and ``value`` ``"first != other"``. Episodes repeated across census
years are de-duplicated by :mod:`recurrence.data.linkage` (the latest year wins).

The child's values (birth date, death date, sex, ethnicity, disabilities, PMR), repeated on
every loaded row of one child record (same LA, census year and child id), are combined the same
way: a value given on any row is kept, and blanks, invalid values (each with its ``field`` row)
and sex ``U`` (not known) conflict with nothing; disabilities are compared as sets of codes.
Two different values of one child field do not reject the child, unlike an episode conflict:
the child and all its episodes, plans and assessments are kept, and only that value is dropped
(left missing: birth date and ethnicity blank, sex ``U``, the PMR replaced by the LA-based key),
with one ``field`` row per conflicting field, ``repeated element``, at the row where the second
value appears, ``element`` the column and ``value`` every value found (``"a != b"``). A
child's history is not in doubt when, say, one row's ethnicity is mistyped, and dropping it
would bias recurrence towards children with fewer rows; a conflicting birth date is not
guessed, since it decides ages and the 18th-birthday censoring (a child with no birth date is
not censored by age). The expected birth date and UPN are not read from flat extracts (no
column is assumed for them; the PMR stands in for the UPN), so they are always missing.
"""

from __future__ import annotations

import csv
import io
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
from recurrence.data.cin_xml import TABLE_COLUMNS, check_date, gc_paused, is_previous_cpp_count
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


class _Combined:
    """Values of one record (an episode or a child) combined over the rows that repeat it.

    Attributes
    ----------
    values
        Field -> value (a value missing or dropped on one row is taken from another row).
    texts
        Field -> the text of its value (for the rejection of a conflict).
    conflicts
        Field given two different values -> index of the row where the second appeared, in the
        order the conflicts appeared (``None`` while there is none).
    written
        Whether the record's row has been added to its table.
    """

    # Lean on purpose: an extract has a record per child and per episode, and the garbage
    # collector traverses every dict and list alive, so the lists of other values are made only
    # for a conflict.
    __slots__ = ("_others", "conflicts", "texts", "values", "written")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.texts: dict[str, str] = {}
        self.conflicts: dict[str, int] | None = None
        self._others: dict[str, list[tuple[Any, str]]] | None = None
        self.written = False

    def add(self, field: str, value: Any, text: str | None, row: int = -1) -> None:
        """Combine row ``row``'s value of ``field`` (``None``: missing or dropped)."""
        if value is None or text is None:
            return
        if field not in self.values:
            self.values[field] = value
            self.texts[field] = text
        elif value != self.values[field]:
            if self._others is None or self.conflicts is None:
                self._others, self.conflicts = {}, {}
            others = self._others.setdefault(field, [])
            if all(value != v for v, _t in others):
                others.append((value, text))
                self.conflicts.setdefault(field, row)

    def all_texts(self, field: str) -> list[str]:
        """The text of each distinct value of ``field``, in row order."""
        others = (self._others or {}).get(field, [])
        return [self.texts[field], *(t for _v, t in others)]

    @property
    def conflict(self) -> tuple[str, str] | None:
        """``(field, "first != other")`` for the first field given two different values."""
        for field in self.conflicts or ():
            texts = self.all_texts(field)
            return field, f"{texts[0]} != {texts[1]}"
        return None


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


DELIMITERS: Final = (",", "\t", "|", ";")
"""Delimiters an extract may use; the one of a file is detected from its header line."""

_KNOWN_COLUMNS: Final = frozenset(name.lower() for names in ALIASES.values() for name in names)


def _delimiter(header: str, line: int, path: str) -> str:
    """The delimiter of a header line: the only candidate in it, or the one naming most columns.

    Counting known column names, not delimiter characters, keeps a comma extract with a column
    named ``"notes; free text"`` comma-separated (``csv.Sniffer`` guesses from character
    frequencies and can pick any character, even a letter).
    """
    found = [d for d in DELIMITERS if d in header]
    if not found:
        raise InputFileError(
            path,
            f"line {line}: cannot tell the delimiter: the header has no comma, tab, pipe or "
            "semicolon",
        )
    if len(found) == 1:
        return found[0]
    score = {
        d: sum(c.strip().lower() in _KNOWN_COLUMNS for c in next(csv.reader([header], delimiter=d)))
        for d in found
    }
    best = max(score.values())
    winners = [d for d in found if score[d] == best]
    if len(winners) > 1:
        names = " and ".join(repr(d) for d in winners)
        raise InputFileError(
            path,
            f"line {line}: cannot tell the delimiter: {names} in the header each give {best} of "
            "the expected column names",
        )
    return winners[0]


def _blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _read_rows(p: Path) -> tuple[list[str], list[tuple[str, ...]], list[int]]:
    """Header, data rows (cells stripped) and each row's line number (a file error for a
    malformed extract).

    Read with :mod:`csv` rather than pandas so that a row with too few or too many fields is
    seen (pandas pads it with blanks or shifts it) and that rejections can name a row's real
    line (pandas skips blank lines, and a quoted cell may span lines). Blank lines are skipped.
    Rows are kept as tuples: the garbage collector stops tracking tuples of strings, whereas
    a million lists would be traversed at every collection (twice the reading time).
    """
    path = str(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise InputFileError(path, "file not found") from exc
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            path,
            f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the extract as UTF-8",
        ) from exc
    # Same line splitting as the csv reader below (newline="": \n, \r\n or \r, kept).
    for number, text_line in enumerate(io.StringIO(text, newline=""), start=1):
        if text_line.strip():
            delimiter = _delimiter(text_line.rstrip("\r\n"), number, path)
            break
    else:
        raise InputFileError(path, "empty file: no header line")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[tuple[str, ...]] = []
    lines: list[int] = []
    end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if _blank(row):
                continue
            if header is None:
                header = row
            elif len(row) != len(header):
                raise InputFileError(
                    path,
                    f"line {start}: {len(row)} fields where the header has {len(header)} "
                    "(a truncated or malformed row)",
                )
            else:
                rows.append(tuple(map(str.strip, row)))
                lines.append(start)
    except csv.Error as exc:
        raise InputFileError(path, f"line {reader.line_num}: not readable as CSV ({exc})") from exc
    assert header is not None  # the header line found above is not blank
    return header, rows, lines


def parse_npd(path: str | os.PathLike[str]) -> list[NPDReturn]:
    """Parse an NPD-style CSV/TSV extract into one :class:`NPDReturn` per (LA, census year).

    Parameters
    ----------
    path
        The extract (UTF-8; comma-, tab-, pipe- or semicolon-separated, detected from the
        header line whatever the suffix).

    Returns
    -------
    list of NPDReturn
        One per (LA, census year), sorted; the rejections of the whole file are in the first.
        When every row is rejected, a single empty slice (LA ``"000"``) carries them.

    Raises
    ------
    InputFileError
        The file is missing, not UTF-8, empty, of undetermined delimiter, has a row whose
        number of fields differs from the header's, or lacks a required column.
    """
    # The parse makes a few objects per cell and keeps them to the end; with the cyclic
    # collector running, its full collections re-walk them all (measured 1.3-1.7x slower on a
    # 210,000-row extract), and none of them form cycles.
    with gc_paused():
        return _parse_npd(path)


def _parse_npd(path: str | os.PathLike[str]) -> list[NPDReturn]:
    """The work of :func:`parse_npd`."""
    p = Path(path)
    name = str(p)  # as given, folder included (see cin_xml._iter_source)
    header, rows, lines = _read_rows(p)
    cols = _columns(header, str(p))
    # The first column of a name wins (as _columns matched it).
    data = {
        field: [row[idx] for row in rows]
        for field, idx in ((f, header.index(c)) for f, c in cols.items())
    }
    n = len(rows)

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

    def _child_values(child: _Combined, i: int, notes: list[_Problem]) -> None:
        """Combine row ``i``'s child values into ``child``; invalid ones become ``notes``."""
        birth, berr = date("person_birth_date", i)
        birth_text = get("person_birth_date", i)
        yob, mob = get("year_of_birth", i), get("month_of_birth", i)
        if birth is None and berr is None and yob is not None and mob is not None:
            birth_text = f"{yob}/{mob}"
            birth, why = _flat_date(f"{yob}-{mob.zfill(2)}-01")
            if why is not None:
                berr = (why, cols["year_of_birth"], f"{yob}-{mob}")
        if berr is not None:
            notes.append(berr)
            birth = None
        child.add("person_birth_date", birth, birth_text, i)
        death, derr = date("person_death_date", i)
        if derr is not None:
            notes.append(derr)
            death = None
        child.add("person_death_date", death, get("person_death_date", i), i)
        sex_text = get("sex", i)
        if sex_text is not None:
            mapped = (
                sex_text.upper()
                if sex_text.upper() in codes.SEX_CODES
                else codes.GENDER_CURRENT_TO_SEX.get(sex_text)
            )
            if mapped is None:
                notes.append((rj.UNKNOWN_CODE, cols["sex"], sex_text))
            elif mapped != "U":
                # "U" (not known) is no value: it does not conflict with M or F given elsewhere.
                child.add("sex", mapped, sex_text, i)
        ethnicity = code("ethnicity", codes.ETHNICITY_CODES, i, notes)
        child.add("ethnicity", ethnicity, get("ethnicity", i), i)
        dis_text = get("disabilities", i)
        if dis_text is not None:
            items = [c for c in _SPLIT.split(dis_text) if c]
            good = sorted({c for c in items if c in codes.DISABILITY_CODES})
            for c in items:
                if c not in codes.DISABILITY_CODES:
                    notes.append((rj.UNKNOWN_CODE, cols["disabilities"], c))
            # Compared as a set: "AUT LD" and "LD,AUT" are one value.
            child.add("disabilities", " ".join(good) or None, dis_text, i)
        child.add("child_key", get("child_key", i), get("child_key", i), i)

    # Pass 1: row-level checks, and each episode's values combined over the rows repeating it.
    # A flat extract repeats the episode's fields on every assessment/plan row, sometimes blank,
    # so no single row is authoritative: pass 2 must know, from an episode's first row, the
    # combined values and whether two rows conflict.
    row_err: list[_Problem | None] = []
    row_key: list[tuple[str, int, str, str] | None] = []
    row_notes: list[list[_Problem]] = []
    row_repeats: dict[int, int] = {}  # row index -> index of the identical row it repeats
    first_of: dict[tuple[str, ...], int] = {}
    episodes: dict[tuple[str, int, str, str], _Combined] = {}
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
        # An exact repeat of a loadable row (every cell equal once stripped, as cells are read)
        # adds nothing, but folding it into the first would hide that the input had it: it is
        # rejected in pass 2 as a duplicate episode, so that rows in = rows loaded + rejected.
        # A repeat of a rejected row is rejected for the same fault, as the row itself is.
        first = first_of.setdefault(rows[i], i)
        if first != i:
            row_repeats[i] = first
            continue
        ep = episodes.setdefault(key, _Combined())
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

    # Rows rejected as a whole: a row-level fault, an episode with conflicting values, or an
    # exact repeat of a row (checked in that order, so a repeat follows its first row's fate).
    for i in range(n):
        ep_key = row_key[i]
        if row_err[i] is not None or ep_key is None:
            continue
        conflict = episodes[ep_key].conflict
        if conflict is not None:
            # Two rows give one episode field different values. The episode is rejected rather
            # than kept with the value dropped (the ``field`` rows used for unknown codes): the
            # XML reader rejects an episode with an element given twice ("repeated element")
            # and the two readers should agree; and a dropped closure date or reason would
            # leave a closed episode open, changing the spells the analyses are built on.
            # Every row of the episode is rejected, as each bad row is, so that each row's
            # content is accounted for.
            row_err[i] = (rj.REPEATED_ELEMENT, cols[conflict[0]], conflict[1])
        elif i in row_repeats:
            row_err[i] = (
                rj.DUPLICATE.format(kind="episode"),
                cols["cin_referral_date"],
                f"row {lines[row_repeats[i]]} repeated",
            )

    # Children: one record per LA, census year and child id, its values combined over the
    # loaded rows of the child (a rejected row adds no child record, so none of its values).
    children: dict[tuple[str, int], dict[str, _Combined]] = {}
    for i in range(n):
        ep_key = row_key[i]
        if row_err[i] is not None or ep_key is None:
            continue
        la, year, cid, _ref = ep_key
        child = children.setdefault((la, year), {}).setdefault(cid, _Combined())
        _child_values(child, i, row_notes[i])
    child_columns = {
        "child_key": column("child_key"),
        "person_birth_date": column("person_birth_date")
        if "person_birth_date" in cols
        else f"{column('year_of_birth')}/{column('month_of_birth')}",
        "person_death_date": column("person_death_date"),
        "sex": column("sex"),
        "ethnicity": column("ethnicity"),
        "disabilities": column("disabilities"),
    }
    for kids in children.values():
        for child in kids.values():
            # Two rows of one child record disagree on a child value. The child is kept and
            # only that value is dropped (left missing), with a ``field`` row at the row where
            # the second value appears, listing every value found: the child's episodes, plans
            # and their dates are not in doubt, and rejecting them all for, say, one row's
            # ethnicity typo would bias recurrence (children with longer, messier histories
            # have more rows to disagree). Neither value is kept, because either may be the
            # wrong one: a birth date decides ages and the 18th-birthday censoring, so a
            # missing one (no age, no censoring by age; visible in the tables) is safer than a
            # guessed one. A missing sex is "U", a missing PMR the LA-based key.
            for field, at in (child.conflicts or {}).items():
                row_notes[at].append(
                    (rj.REPEATED_ELEMENT, child_columns[field], " != ".join(child.all_texts(field)))
                )
                child.values.pop(field, None)

    # Pass 2: rejections in row order, and the tables.
    groups: dict[tuple[str, int], dict[str, dict[str, list[Any]]]] = {}
    log = rj.RejectionLog(name)
    seen: dict[tuple[str, int], set[tuple[str, ...]]] = {}

    for i in range(n):
        src = f"{name}:row {lines[i]}"
        # Every rejection of this row carries the same file/row, child and LA.
        reject = partial(
            log.add, la_child_id=get("la_child_id", i), source_file=src, la_code=get("la_code", i)
        )
        err, ep_key, notes = row_err[i], row_key[i], row_notes[i]
        if err is not None:
            reject("episode", err[0], element=err[1], value=err[2])
            for kind in SUB_RECORDS:
                if carries(kind, i):
                    reject_record(kind, rj.PARENT_REJECTED.format(kind="episode"), i, reject)
            for reason_, element, value in notes:
                reject(rj.FIELD, reason_, element=element, value=value)
            continue
        assert ep_key is not None
        episode = episodes[ep_key]
        la, year, cid, ref = ep_key
        g = (la, year)
        if g not in groups:
            groups[g] = {t: {c: [] for c in cs} for t, cs in TABLE_COLUMNS.items()}
            seen[g] = set()
        t = groups[g]

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
        # One child row per LA child id within a census year, its values combined over its rows.
        c = t["children"]
        for cid, child in children[g].items():
            c["la_child_id"].append(cid)
            for col in c:
                if col != "la_child_id":
                    c[col].append(child.values.get(col, "U" if col == "sex" else None))
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
        frames["children"]["child_key"] = pd.Series(
            [k.values.get("child_key") for k in children[g].values()], dtype=object
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
