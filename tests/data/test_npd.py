"""NPD-style flat extract reader: column variants, de-duplication across years, row rejections."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from recurrence.data.npd import census_year_of, parse_npd
from recurrence.data.reader import read_cin
from recurrence.errors import InputFileError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "npd" / "cin_extract.csv"


def test_reads_and_deduplicates_episodes_across_years() -> None:
    t = read_cin([FIXTURE])
    eps = t.cin_episodes.set_index(["la_code", "la_child_id"])
    # A1's referral appears in 2020/21 and 2021/22: kept once, from the later year (closed there)
    a1 = eps.loc[("318", "A1")]
    assert a1["census_year"] == 2022
    assert a1["cin_closure_date"] == pd.Timestamp("2021-06-30")
    assert len(t.cin_episodes) == 4
    # its plan, open in 2020/21 and ended in 2021/22, is kept once with the later end date
    plan = t.cpps[(t.cpps["la_child_id"] == "A1")]
    assert len(plan) == 1 and plan["cpp_end_date"].iloc[0] == pd.Timestamp("2021-06-01")
    # the assessment reported only in 2020/21 survives de-duplication
    assert set(t.assessments["la_child_id"]) == {"A1", "A2"}


def test_pupil_matching_reference_links_across_las() -> None:
    t = read_cin([FIXTURE])
    kids = t.children.set_index(["la_code", "la_child_id"])
    assert kids.loc[("318", "A1"), "child_key"] == "PMR0001" == kids.loc[("319", "B7"), "child_key"]
    assert kids.loc[("318", "A3"), "child_key"].startswith("L")  # no PMR: LA-based key


def test_values_and_dates() -> None:
    t = read_cin([FIXTURE])
    kids = t.children.set_index("la_child_id")
    assert kids.loc["A1", "person_birth_date"] == pd.Timestamp("2012-03-01")  # month/year only
    assert (
        kids.loc["A1", "sex"] == "M"
        and kids.loc["A2", "sex"] == "F"
        and kids.loc["A3", "sex"] == "M"
    )
    assert kids.loc["A2", "disabilities"] == "AUT LD"
    a2 = t.cin_episodes.set_index("la_child_id").loc["A2"]
    assert a2["cin_referral_date"] == pd.Timestamp("2021-11-02")  # dd/mm/yyyy
    assert t.assessment_factors.set_index("la_child_id").loc["A2", "assessment_factor"] == "21"


def test_bad_rows_are_rejected_with_row_numbers() -> None:
    rej = read_cin([FIXTURE]).rejections
    rows = dict(
        zip(
            rej["source_file"].str.removeprefix(f"{FIXTURE.parent}/")
            + "|"
            + rej["record"]
            + "|"
            + rej["reason"],
            rej["value"],
            strict=True,
        )
    )
    assert rows["cin_extract.csv:row 5|factor|unknown code"] == "RB"
    assert "cin_extract.csv:row 6|cpp|end date before start date" in rows
    assert rows["cin_extract.csv:row 6|field|unknown code"] == "99"
    assert rows["cin_extract.csv:row 7|episode|invalid date"] == "2021-13-01"
    assert "cin_extract.csv:row 7|cpp|episode rejected" in rows
    assert "cin_extract.csv:row 8|episode|missing required element" in rows


def test_lower_and_upper_case_columns(tmp_path: Path) -> None:
    text = FIXTURE.read_text()
    header, rest = text.split("\n", 1)
    for variant in (header.lower(), header.upper()):
        p = tmp_path / "x.csv"
        p.write_text(variant + "\n" + rest)
        t = read_cin([p])
        assert len(t.cin_episodes) == 4 and len(t.cpps) == 2


def test_missing_required_column_is_a_file_error(tmp_path: Path) -> None:
    frame = pd.read_csv(FIXTURE, dtype=str).drop(columns=["CIN_ReferralDate"])
    p = tmp_path / "no_ref.csv"
    frame.to_csv(p, index=False)
    with pytest.raises(
        InputFileError, match=r"no_ref\.csv: missing required column CIN_ReferralDate"
    ):
        parse_npd(p)


def test_census_year_formats() -> None:
    assert census_year_of("2021/2022") == 2022
    assert census_year_of("2021/22") == 2022
    assert census_year_of("202122") == 2022
    assert census_year_of("2022") == 2022
    assert census_year_of("2021/2023") is None
    assert census_year_of("x") is None


def test_all_rows_rejected_still_reports_them(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(
        "CIN_LAchildID_Anon,CIN_LA,CIN_ACADYR,CIN_ReferralDate\nA,318,2021/22,not a date\n"
    )
    t = read_cin([p])
    assert t.cin_episodes.empty
    assert t.rejections["reason"].tolist() == ["invalid date"]
    assert t.rejections["source_file"].tolist() == [f"{p}:row 2"]


def _extract(tmp_path: Path, text: str, name: str = "x.csv") -> Path:
    """Write a small extract (``text`` is dedented CSV)."""
    p = tmp_path / name
    p.write_text("\n".join(line.strip() for line in text.strip().splitlines()) + "\n")
    return p


def _rows(rej: pd.DataFrame) -> list[tuple[str, str, str, str | None, str]]:
    """Rejections as (source_file, record, element, value, reason) tuples, in order.

    ``source_file`` is cut to the file name (the files here sit in ``tmp_path``).
    """
    return [
        (Path(r.source_file).name, r.record, r.element, None if pd.isna(r.value) else r.value, r.reason)
        for r in rej.itertuples()
    ]


def test_rows_repeating_an_episode_combine_its_values(tmp_path: Path) -> None:
    """A value blank on one row of an episode and given on another is kept, not lost."""
    p = _extract(
        tmp_path,
        """
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_CINClosureDate,CIN_ReasonForClosure,CIN_PrimaryNeedCode,CIN_CPPstartDate
        A1,318,2021/2022,2021-05-01,,,N1,2021-06-01
        A1,318,2021/2022,01/05/2021,2022-01-10,RC1,,2021-09-01
        A1,318,2021/2022,2021-05-01,10/01/2022,,N1,
        """,
    )
    t = read_cin([p])
    assert len(t.cin_episodes) == 1
    ep = t.cin_episodes.iloc[0]
    assert ep["cin_closure_date"] == pd.Timestamp("2022-01-10")
    assert ep["reason_for_closure"] == "RC1" and ep["primary_need_code"] == "N1"
    assert len(t.cpps) == 2
    # the same date written two ways is one value, not a conflict
    assert t.rejections.empty


def test_conflicting_episode_values_reject_the_episode(tmp_path: Path) -> None:
    p = _extract(
        tmp_path,
        """
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_CINClosureDate,CIN_AssessmentActualStartDate,CIN_Factors,CIN_CPPstartDate
        A1,318,2021/2022,2021-05-01,2022-01-10,2021-05-03,"3B,4B",2021-06-01
        A1,318,2021/2022,2021-05-01,,,,2021-07-01
        A1,318,2021/2022,2021-05-01,2022-02-01,,,2021-09-01
        A2,318,2021/2022,2021-05-01,2022-01-10,,,
        """,
        name="conflict.csv",
    )
    t = read_cin([p])
    # A1's episode is not loaded with either closure date, nor is anything in it
    assert t.cin_episodes["la_child_id"].tolist() == ["A2"]
    assert t.cpps.empty and t.assessments.empty and t.assessment_factors.empty
    assert t.children["la_child_id"].tolist() == ["A2"]  # as for any rejected row
    conflict = ("CIN_CINClosureDate", "2022-01-10 != 2022-02-01", "repeated element")
    assert _rows(t.rejections) == [
        ("conflict.csv:row 2", "episode", *conflict),
        (
            "conflict.csv:row 2",
            "assessment",
            "CIN_AssessmentActualStartDate",
            "2021-05-03",
            "episode rejected",
        ),
        ("conflict.csv:row 2", "factor", "CIN_Factors", "3B", "assessment rejected"),
        ("conflict.csv:row 2", "factor", "CIN_Factors", "4B", "assessment rejected"),
        ("conflict.csv:row 2", "cpp", "CIN_CPPstartDate", "2021-06-01", "episode rejected"),
        ("conflict.csv:row 3", "episode", *conflict),
        ("conflict.csv:row 3", "cpp", "CIN_CPPstartDate", "2021-07-01", "episode rejected"),
        ("conflict.csv:row 4", "episode", *conflict),
        ("conflict.csv:row 4", "cpp", "CIN_CPPstartDate", "2021-09-01", "episode rejected"),
    ]


def test_rejected_episode_rejects_its_assessment_factors(tmp_path: Path) -> None:
    p = _extract(
        tmp_path,
        """
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_AssessmentActualStartDate,CIN_Factors
        A1,318,2021/2022,2021-02-30,2021-05-02,"3B,4B"
        """,
    )
    rej = read_cin([p]).rejections
    factors = rej[rej["record"] == "factor"]
    assert factors["value"].tolist() == ["3B", "4B"]
    assert factors["reason"].eq("assessment rejected").all()
    assert factors["source_file"].eq(f"{p}:row 2").all()


def test_record_values_without_their_start_date_are_rejected(tmp_path: Path) -> None:
    """Plan, assessment or section 47 values on a row with no start date: missing required."""
    p = _extract(
        tmp_path,
        """
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_AssessmentActualStartDate,CIN_Factors,CIN_InitialCPCtarget,CIN_CPPstartDate,CIN_CPPendDate,CIN_InitialCategoryOfAbuse,CIN_NumberOfPreviousCPP
        A1,318,2021/2022,2021-05-01,,"3B,4B",2021-05-20,,2021-09-01,NEG,1
        A2,318,2021/2022,2021-13-01,,21,,,,PHY,
        """,
        name="orphans.csv",
    )
    t = read_cin([p])
    assert len(t.cin_episodes) == 1  # the episode itself is kept
    assert t.assessments.empty and t.section47.empty and t.cpps.empty
    missing = "missing required element"
    assert _rows(t.rejections) == [
        ("orphans.csv:row 2", "assessment", "CIN_AssessmentActualStartDate", None, missing),
        ("orphans.csv:row 2", "factor", "CIN_Factors", "3B", "assessment rejected"),
        ("orphans.csv:row 2", "factor", "CIN_Factors", "4B", "assessment rejected"),
        (
            "orphans.csv:row 2",
            "section47",
            "CIN_S47ActualStartDate",
            "CIN_InitialCPCtarget=2021-05-20",
            missing,
        ),
        (
            "orphans.csv:row 2",
            "cpp",
            "CIN_CPPstartDate",
            "CIN_CPPendDate=2021-09-01; CIN_InitialCategoryOfAbuse=NEG; CIN_NumberOfPreviousCPP=1",
            missing,
        ),
        # in a rejected episode the same records are rejected with it
        ("orphans.csv:row 3", "episode", "CIN_ReferralDate", "2021-13-01", "invalid date"),
        (
            "orphans.csv:row 3",
            "assessment",
            "CIN_AssessmentActualStartDate",
            None,
            "episode rejected",
        ),
        ("orphans.csv:row 3", "factor", "CIN_Factors", "21", "assessment rejected"),
        (
            "orphans.csv:row 3",
            "cpp",
            "CIN_CPPstartDate",
            "CIN_InitialCategoryOfAbuse=PHY",
            "episode rejected",
        ),
    ]


def test_non_ascii_digits_are_rejected_not_read(tmp_path: Path) -> None:
    """A superscript plan count is a field rejection (it crashed ``int``); other scripts'
    digits are not dates or years (``\\d`` and ``int`` accept Arabic-Indic digits)."""
    arabic_date = "٢٠٢١-٠٥-٠١"  # 2021-05-01 in Arabic-Indic digits
    p = _extract(
        tmp_path,
        f"""
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_CPPstartDate,CIN_CPPendDate,CIN_NumberOfPreviousCPP
        A1,318,2021/2022,2021-05-01,2021-06-01,,²
        A2,318,2021/2022,{arabic_date},,,
        A3,318,2021/2022,٠١/٠٥/٢٠٢١,,,
        A4,318,٢٠٢٢,2021-05-01,,,
        A5,318,2021/2022,2021-05-01,2021-06-01,{arabic_date},
        """,
        name="digits.csv",
    )
    t = read_cin([p])
    assert t.cin_episodes["la_child_id"].tolist() == ["A1", "A5"]
    assert t.cpps["la_child_id"].tolist() == ["A1"]
    assert t.cpps["number_of_previous_cpp"].isna().all()
    assert _rows(t.rejections) == [
        ("digits.csv:row 2", "field", "CIN_NumberOfPreviousCPP", "²", "invalid number"),
        ("digits.csv:row 3", "episode", "CIN_ReferralDate", arabic_date, "invalid date"),
        ("digits.csv:row 4", "episode", "CIN_ReferralDate", "٠١/٠٥/٢٠٢١", "invalid date"),
        ("digits.csv:row 5", "episode", "CIN_ACADYR", "٢٠٢٢", "invalid number"),
        ("digits.csv:row 6", "cpp", "CIN_CPPendDate", arabic_date, "invalid date"),
    ]


def test_child_values_are_combined_over_the_rows_of_a_child(tmp_path: Path) -> None:
    """A child value given on one row and blank (or sex unknown) on another is kept."""
    p = _extract(
        tmp_path,
        """
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_PersonBirthDate,CIN_Sex,CIN_Ethnicity,CIN_Disability,CIN_PupilMatchingRefAnonymous
        A1,318,2021/2022,2021-05-01,2012-03-01,M,,AUT LD,PMR1
        A1,318,2021/2022,2021-09-01,,U,WBRI,,
        A1,318,2021/2022,2022-01-10,01/03/2012,,,"LD,AUT",PMR1
        """,
    )
    t = read_cin([p])
    assert len(t.cin_episodes) == 3 and len(t.children) == 1
    kid = t.children.iloc[0]
    assert kid["person_birth_date"] == pd.Timestamp("2012-03-01")
    assert kid["sex"] == "M" and kid["ethnicity"] == "WBRI" and kid["disabilities"] == "AUT LD"
    assert kid["child_key"] == "PMR1"
    assert t.rejections.empty


def test_conflicting_child_values_are_dropped_with_a_field_row(tmp_path: Path) -> None:
    """Two values of one child field: the child and its history are kept, the value is not."""
    p = _extract(
        tmp_path,
        """
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_PersonBirthDate,CIN_Sex,CIN_Ethnicity,CIN_CPPstartDate
        A1,318,2021/2022,2021-05-01,2012-03-01,M,WBRI,2021-06-01
        A1,318,2021/2022,2021-09-01,2012-03-01,F,WIRI,
        A1,318,2021/2022,2022-01-10,2013-03-01,M,WBRI,
        A1,318,2022/2023,2022-06-01,2014-01-01,F,WBRI,
        A2,318,2021/2022,2021-05-01,2015-01-01,F,WBRI,
        """,
        name="kids.csv",
    )
    y2022, y2023 = parse_npd(p)
    assert len(y2022.tables["cin_episodes"]) == 4 and len(y2022.tables["cpps"]) == 1
    kids = y2022.tables["children"].set_index("la_child_id")
    a1 = kids.loc["A1"]
    assert pd.isna(a1["person_birth_date"]) and pd.isna(a1["ethnicity"]) and a1["sex"] == "U"
    assert kids.loc["A2", "person_birth_date"] == pd.Timestamp("2015-01-01")
    # another census year is another child record: its values are its own
    a1_next = y2023.tables["children"].iloc[0]
    assert a1_next["person_birth_date"] == pd.Timestamp("2014-01-01") and a1_next["sex"] == "F"
    repeated = "repeated element"
    assert _rows(y2022.rejections) == [
        ("kids.csv:row 3", "field", "CIN_Sex", "M != F", repeated),
        ("kids.csv:row 3", "field", "CIN_Ethnicity", "WBRI != WIRI", repeated),
        ("kids.csv:row 4", "field", "CIN_PersonBirthDate", "2012-03-01 != 2013-03-01", repeated),
    ]


def test_rows_of_a_rejected_episode_give_no_child_values(tmp_path: Path) -> None:
    """A rejected row adds no child record, so its values cannot conflict with the child's."""
    p = _extract(
        tmp_path,
        """
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_Ethnicity
        A1,318,2021/2022,2021-05-01,WBRI
        A1,318,2021/2022,2021-13-01,WIRI
        """,
    )
    t = read_cin([p])
    assert t.children["ethnicity"].tolist() == ["WBRI"]
    assert t.rejections["reason"].tolist() == ["invalid date"]


@pytest.mark.parametrize(
    ("name", "sep"),
    [("tabs.txt", "\t"), ("semi.csv", ";"), ("pipes.txt", "|"), ("commas.tsv", ",")],
)
def test_delimiter_is_taken_from_the_header(tmp_path: Path, name: str, sep: str) -> None:
    header = ["CIN_LAchildID", "CIN_LA", "CIN_ACADYR", "CIN_ReferralDate", "CIN_Factors"]
    row = ["A1", "318", "2021/2022", "2021-05-01", ""]
    p = tmp_path / name
    p.write_text(sep.join(header) + "\n" + sep.join(row) + "\n")
    t = read_cin([p])
    assert t.cin_episodes["la_child_id"].tolist() == ["A1"] and t.rejections.empty


def test_delimiter_beaten_by_the_known_columns(tmp_path: Path) -> None:
    """A comma header whose column name holds a semicolon is still read with commas."""
    p = tmp_path / "x.csv"
    p.write_text(
        "CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,notes; free text\n"
        "A1,318,2021/2022,2021-05-01,a; b\n"
    )
    assert read_cin([p]).cin_episodes["la_child_id"].tolist() == ["A1"]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (
            "CIN_LAchildID CIN_LA CIN_ACADYR CIN_ReferralDate",
            "line 1: cannot tell the delimiter: the header has no comma, tab, pipe or semicolon",
        ),
        (
            "a,b;c,d;e",
            "line 1: cannot tell the delimiter: ',' and ';' in the header each give 0 of the "
            "expected column names",
        ),
    ],
)
def test_undetermined_delimiter_is_a_file_error(tmp_path: Path, header: str, problem: str) -> None:
    p = tmp_path / "x.txt"
    p.write_text(header + "\nA1\n")
    with pytest.raises(InputFileError, match="^" + re.escape(f"{p}: {problem}")):
        parse_npd(p)


@pytest.mark.parametrize(
    ("row", "n"), [("A1,318,2021/2022", 3), ("A1,318,2021/2022,2021-05-01,,x", 6)]
)
def test_row_with_a_wrong_number_of_fields_is_a_file_error(
    tmp_path: Path, row: str, n: int
) -> None:
    p = tmp_path / "short.csv"
    p.write_text(
        "CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_CINClosureDate\n"
        "A0,318,2021/2022,2021-05-01,\n"
        f"{row}\n"
    )
    with pytest.raises(InputFileError) as exc:
        parse_npd(p)
    assert str(exc.value) == (
        f"{p}: line 3: {n} fields where the header has 5 (a truncated or malformed row)"
    )


def test_source_rows_are_line_numbers(tmp_path: Path) -> None:
    """Blank lines and quoted line breaks do not shift the row numbers of rejections."""
    p = tmp_path / "x.csv"
    p.write_text(
        "CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,Notes\n"
        '\nA1,318,2021/2022,2021-05-01,"two\nlines"\n'
        "A2,318,2021/2022,2021-13-01,\n"
    )
    t = read_cin([p])
    assert t.rejections["source_file"].tolist() == [f"{p}:row 5"]


def test_identical_rows_are_rejected_as_duplicate_episodes(tmp_path: Path) -> None:
    """Every exact repeat of a row is accounted for: input rows = episodes + rejections."""
    line = "A1,318,2021/2022,2021-05-01,2021-06-01"
    p = _extract(
        tmp_path,
        f"""
        CIN_LAchildID,CIN_LA,CIN_ACADYR,CIN_ReferralDate,CIN_CPPstartDate
        {line}
        {line}
        A1,318,2021/2022, 2021-05-01 ,2021-06-01
        A2,318,2021/2022,2021-13-01,
        A2,318,2021/2022,2021-13-01,
        """,
        name="dups.csv",
    )
    t = read_cin([p])
    assert len(t.cin_episodes) == 1 and len(t.cpps) == 1 and len(t.children) == 1
    dup = "duplicate episode"
    assert _rows(t.rejections) == [
        ("dups.csv:row 3", "episode", "CIN_ReferralDate", "row 2 repeated", dup),
        ("dups.csv:row 3", "cpp", "CIN_CPPstartDate", "2021-06-01", "episode rejected"),
        ("dups.csv:row 4", "episode", "CIN_ReferralDate", "row 2 repeated", dup),
        ("dups.csv:row 4", "cpp", "CIN_CPPstartDate", "2021-06-01", "episode rejected"),
        # a repeat of a rejected row is rejected for its own fault
        ("dups.csv:row 5", "episode", "CIN_ReferralDate", "2021-13-01", "invalid date"),
        ("dups.csv:row 6", "episode", "CIN_ReferralDate", "2021-13-01", "invalid date"),
    ]
