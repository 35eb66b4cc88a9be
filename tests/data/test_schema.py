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


@pytest.mark.parametrize("bad", [7, 2.5, b"C1", pd.Timestamp("2020-01-01"), ("C", "1")])
@pytest.mark.parametrize("column", ["la_child_id", "disabilities"])
def test_text_columns_reject_a_non_str_value(column: str, bad: object) -> None:
    # The text dtype is checked in C (infer_dtype); a single non-str value among str and
    # missing values must still fail, with pandera's own wrong-dtype report naming the value.
    frame = pd.concat([_child(), _child(la_child_id="C2", disabilities=None)], ignore_index=True)
    frame[column] = pd.Series([frame.loc[0, column], bad], dtype=object)
    with pytest.raises(pandera.errors.SchemaErrors) as info:
        schema.validate_table("children", frame)
    failures = info.value.failure_cases
    wrong = failures[(failures["check"] == "dtype('str')") & (failures["column"] == column)]
    assert len(wrong) == 1
    assert wrong["index"].tolist() == [1]


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA])
def test_text_columns_accept_str_and_missing_values(missing: object) -> None:
    frame = pd.concat([_child(), _child(la_child_id="C2")], ignore_index=True)
    frame["disabilities"] = pd.Series(["LD", missing], dtype=object)
    out = schema.validate_table("children", frame)
    assert out["disabilities"].tolist()[0] == "LD"
    assert str(schema.SCHEMAS["children"].columns["disabilities"].dtype) == "str"


def test_text_dtype_check_agrees_with_pandera_elementwise_check() -> None:
    # Same verdict as pandera's element-wise NpString check on mixed inputs.
    from pandera.engines import pandas_engine

    plain = pandas_engine.Engine.dtype(str)
    cases: list[list[object]] = [
        ["a", None, float("nan")],
        [],
        [None, None],
        ["a", 1],
        ["a", b"b"],
        ["a", pd.NaT],
        [1.5, None],
    ]
    for values in cases:
        s = pd.Series(values, dtype=object)
        fast = schema.STR.check(pandas_engine.Engine.dtype(s.dtype), s)
        slow = plain.check(pandas_engine.Engine.dtype(s.dtype), s)
        fast_ok = fast if isinstance(fast, bool) else bool(fast.all())
        assert fast_ok == bool(slow.all()), values


@pytest.mark.parametrize(
    "values",
    [
        ["201", "20", "x01", "201", "9999"],  # str only: the per-distinct-value path
        ["201", None, "20"],  # missing values: pandera's own implementation
        ["201", 201, ""],  # a non-str value: pandera's own implementation
        ["", "1", ""],
    ],
)
def test_fast_text_checks_report_what_the_builtin_checks_report(values: list[object]) -> None:
    import pandera.pandas as pa

    frame = pd.DataFrame({"x": pd.Series(values, dtype=object)})
    pairs = [
        (schema._str_matches(r"^\d{3}$"), pa.Check.str_matches(r"^\d{3}$")),
        (schema._non_empty(), pa.Check.str_length(min_value=1)),
    ]
    failed: list[bool] = []
    for fast, builtin in pairs:
        reports: list[object] = []
        for check in (fast, builtin):
            s = pa.DataFrameSchema({"x": pa.Column(object, check, nullable=True)})
            try:
                s.validate(frame, lazy=True)
                reports.append("passed")
            except pandera.errors.SchemaErrors as exc:
                reports.append((str(exc), exc.failure_cases.to_dict("list")))
        assert reports[0] == reports[1]
        failed.append(reports[0] != "passed")
    # every case fails at least one check, so reports (not just "passed") are compared
    assert any(failed)
