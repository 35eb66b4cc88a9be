from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recurrence.data import io, schema
from recurrence.errors import InputFileError


def _tables() -> schema.CINTables:
    children = pd.DataFrame(
        {
            "child_key": ["K1", "K2"],
            "la_code": ["201", "202"],
            "la_child_id": ["C1", "C2"],
            "person_birth_date": ["2010-05-01", None],
            "expected_person_birth_date": [None, "2024-01-01"],
            "sex": ["F", "U"],
            "ethnicity": ["WBRI", None],
            "disabilities": ["NONE", "AUT LD"],
            "person_death_date": [None, None],
        }
    )
    episodes = pd.DataFrame(
        {
            "child_key": ["K1"],
            "la_code": ["201"],
            "la_child_id": ["C1"],
            "cin_referral_date": ["2020-01-02"],
            "referral_source": ["1A"],
            "primary_need_code": ["N1"],
            "cin_closure_date": [None],
            "reason_for_closure": [None],
            "date_of_initial_cpc": [None],
            "referral_nfa": [False],
            "census_year": [2020],
        }
    )
    return schema.CINTables.from_mapping({"children": children, "cin_episodes": episodes}).validate()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    tables = _tables()
    io.write_tables(tables, tmp_path, fmt=io.check_format(fmt))
    back = io.read_tables(tmp_path)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(getattr(back, name), frame, check_dtype=True)


def test_csv_is_byte_deterministic(tmp_path: Path) -> None:
    io.write_tables(_tables(), tmp_path / "a")
    io.write_tables(_tables(), tmp_path / "b")
    for p in (tmp_path / "a").iterdir():
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes()


def test_missing_required_table_names_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="missing table children"):
        io.read_tables(tmp_path)


def test_bad_format_rejected() -> None:
    with pytest.raises(ValueError, match="csv, parquet"):
        io.check_format("xlsx")


def test_a_bad_date_is_one_line_naming_row_and_column(tmp_path: Path) -> None:
    io.write_tables(_tables(), tmp_path)
    path = tmp_path / "cin_episodes.csv"
    path.write_text(path.read_text().replace("2020-01-02", "2008-13-45"))
    with pytest.raises(InputFileError) as exc:
        io.read_tables(tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg and "cin_episodes.csv" in msg
    assert "row 2, column 'cin_referral_date': cannot read '2008-13-45'" in msg


def test_a_schema_failure_is_one_line_naming_row_and_column(tmp_path: Path) -> None:
    io.write_tables(_tables(), tmp_path)
    path = tmp_path / "children.csv"
    path.write_text(path.read_text().replace("WBRI", "ZZZ"))
    with pytest.raises(InputFileError) as exc:
        io.read_tables(tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg and "children.csv" in msg
    assert "row 2, column 'ethnicity': value 'ZZZ'" in msg
