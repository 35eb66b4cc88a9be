from __future__ import annotations

import pandas as pd
import pandera.errors
import pytest

from recurrence.data import schema


def _child(**over: object) -> pd.DataFrame:
    row = {
        "child_key": "K1",
        "la_code": "201",
        "la_child_id": "C1",
        "person_birth_date": "2010-05-01",
        "expected_person_birth_date": None,
        "sex": "F",
        "ethnicity": "WBRI",
        "disabilities": "NONE",
        "person_death_date": None,
    }
    row.update(over)
    return schema.coerce_table("children", pd.DataFrame([row]))


def test_valid_child_passes() -> None:
    out = schema.validate_table("children", _child())
    assert out.loc[0, "person_birth_date"] == pd.Timestamp("2010-05-01")


@pytest.mark.parametrize(
    ("column", "value"), [("la_code", "20"), ("sex", "X"), ("ethnicity", "ZZZZ")]
)
def test_bad_codes_fail(column: str, value: str) -> None:
    with pytest.raises(pandera.errors.SchemaErrors):
        schema.validate_table("children", _child(**{column: value}))


def test_duplicate_child_record_fails() -> None:
    frame = pd.concat([_child(), _child()], ignore_index=True)
    with pytest.raises(pandera.errors.SchemaErrors):
        schema.validate_table("children", frame)


def test_empty_tables_validate_and_have_schema_columns() -> None:
    tables = schema.CINTables.empty().validate()
    for name, frame in tables.items():
        assert list(frame.columns) == list(schema.SCHEMAS[name].columns)
        assert len(frame) == 0


def test_coerce_reports_missing_columns() -> None:
    with pytest.raises(KeyError, match="person_birth_date"):
        schema.coerce_table("children", pd.DataFrame({"child_key": ["a"]}))
