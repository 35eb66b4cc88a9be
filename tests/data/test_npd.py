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
