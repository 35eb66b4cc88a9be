"""NPD-style flat extract reader: column variants, de-duplication across years, row rejections."""

from __future__ import annotations

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
            rej["source_file"] + "|" + rej["record"] + "|" + rej["reason"],
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
    assert t.rejections["source_file"].tolist() == ["bad.csv:row 2"]


def _extract(tmp_path: Path, text: str, name: str = "x.csv") -> Path:
    """Write a small extract (``text`` is dedented CSV)."""
    p = tmp_path / name
    p.write_text("\n".join(line.strip() for line in text.strip().splitlines()) + "\n")
    return p


def _rows(rej: pd.DataFrame) -> list[tuple[str, str, str, str | None, str]]:
    """Rejections as (source_file, record, element, value, reason) tuples, in order."""
    return [
        (r.source_file, r.record, r.element, None if pd.isna(r.value) else r.value, r.reason)
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
    assert factors["source_file"].eq("x.csv:row 2").all()


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
