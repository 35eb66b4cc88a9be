"""Disclosure-control rules: suppression, secondary suppression, rounding and the output checker."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recurrence.sdc import (
    DisclosureError,
    SDCRules,
    TableDeclaration,
    check_frame,
    check_outputs,
    suppress_and_round,
    write_declarations,
)


def _write(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def test_rounding_to_nearest_five_halves_up() -> None:
    rules = SDCRules()
    assert [rules.round_count(v) for v in (10, 12, 12.5, 13, 17, 22, 0)] == [
        10,
        10,
        15,
        15,
        15,
        20,
        0,
    ]
    assert SDCRules(rounding_base=1).round_count(13) == 13


def test_primary_suppression_below_threshold_and_zero_kept() -> None:
    frame = pd.DataFrame({"la_code": ["201", "202", "203"], "n": [0, 7, 23]})
    out = suppress_and_round(frame, ["n"])
    assert out["n"].tolist() == [0, "c", 25]
    zeros = suppress_and_round(frame, ["n"], rules=SDCRules(suppress_zeros=True))
    assert zeros["n"].tolist() == ["c", "c", 25]
    strict = suppress_and_round(frame, ["n"], rules=SDCRules(threshold=30, rounding_base=1))
    assert strict["n"].tolist() == [0, "c", "c"]


def test_secondary_suppression_protects_row_total() -> None:
    # Row 1 has one small part (3); without a second suppression it equals total - 40 - 55.
    frame = pd.DataFrame(
        {"la_code": ["201", "202"], "a": [3, 30], "b": [40, 31], "d": [55, 32], "total": [98, 93]}
    )
    out = suppress_and_round(frame, ["a", "b", "d", "total"], rows_additive=True, row_total="total")
    row = out.iloc[0]
    assert row["a"] == "c"
    assert row["b"] == "c", "the smallest other part must be suppressed as the complement"
    assert row["d"] == 55 and row["total"] == 100
    assert out.iloc[1].tolist()[1:] == [30, 30, 30, 95]


def test_secondary_suppression_protects_column_totals_within_groups() -> None:
    frame = pd.DataFrame(
        {
            "year": [2024, 2024, 2024, 2025, 2025, 2025],
            "la_code": ["201", "202", "203"] * 2,
            "children": [4, 50, 12, 40, 60, 80],
        }
    )
    out = suppress_and_round(frame, ["children"], column_groups=["year"])
    assert out["children"].tolist() == ["c", 50, "c", 40, 60, 80]
    # The checker agrees that the table is safe, and flags the unprotected version.
    decl = TableDeclaration(count_columns=("children",), column_groups=("year",))
    from recurrence.sdc import check_frame

    assert check_frame(out.astype(str), "t.csv", declaration=decl) == []
    bad = out.copy()
    bad.loc[2, "children"] = 10
    problems = check_frame(bad.astype(str), "t.csv", declaration=decl)
    assert [p.rule for p in problems] == ["secondary"]
    assert problems[0].row == 1 and problems[0].column == "children"


def test_dependent_rate_is_suppressed_with_its_count() -> None:
    frame = pd.DataFrame({"num": [3, 40], "den": [50, 200]})
    frame["pct"] = 100 * frame["num"] / frame["den"]
    out = suppress_and_round(frame, ["num", "den"], dependent={"pct": ["num", "den"]})
    assert out["pct"].tolist() == ["c", 20.0]
    assert out["num"].tolist() == ["c", 40]


def test_identifier_columns_are_dropped_or_refused() -> None:
    frame = pd.DataFrame({"child_key": ["a"], "person_birth_date": ["2010-01-01"], "n": [20]})
    assert list(suppress_and_round(frame, ["n"]).columns) == ["n"]
    with pytest.raises(DisclosureError, match="child_key"):
        suppress_and_round(frame, ["n"], drop_identifiers=False)


def test_checker_fails_on_planted_small_cell_naming_file_and_cell(tmp_path: Path) -> None:
    _write(tmp_path / "ok.csv", pd.DataFrame({"la_code": ["201"], "n": [15]}))
    _write(
        tmp_path / "step" / "small.csv",
        pd.DataFrame({"la_code": ["201", "202"], "children_on_plan": [20, 7]}),
    )
    write_declarations(
        tmp_path,
        {"step/small.csv": TableDeclaration(count_columns=("children_on_plan",))},
    )
    with pytest.raises(DisclosureError) as err:
        check_outputs(tmp_path)
    message = str(err.value)
    assert "step/small.csv" in message
    assert "row 2" in message and "'children_on_plan'" in message
    assert "below the threshold 10" in message


def test_checker_fails_on_unrounded_count(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", pd.DataFrame({"n": [12]}))
    problems = check_outputs(tmp_path, raise_on_failure=False)
    assert len(problems) == 1 and "not rounded to the nearest 5" in problems[0].message
    assert check_outputs(tmp_path, SDCRules(rounding_base=1), raise_on_failure=False) == []


def test_checker_fails_on_planted_identifier_and_free_text(tmp_path: Path) -> None:
    _write(tmp_path / "ids.csv", pd.DataFrame({"la_child_id": ["X1"], "n": [20]}))
    _write(tmp_path / "notes.csv", pd.DataFrame({"case_notes": ["mother said"], "n": [20]}))
    problems = check_outputs(tmp_path, raise_on_failure=False)
    assert {(p.file, p.column, p.rule) for p in problems} == {
        ("ids.csv", "la_child_id", "identifier"),
        ("notes.csv", "case_notes", "free-text"),
    }
    with pytest.raises(DisclosureError, match=r"ids\.csv: column 'la_child_id'"):
        check_outputs(tmp_path)


def test_checker_passes_output_of_suppress_and_round(tmp_path: Path) -> None:
    frame = pd.DataFrame({"la_code": [f"{i:03d}" for i in range(200, 220)]})
    frame["plans"] = [(i * 7) % 40 for i in range(20)]
    frame["repeat"] = [(i * 3) % 13 for i in range(20)]
    frame["pct"] = 100 * frame["repeat"] / frame["plans"].where(frame["plans"] > 0)
    safe = suppress_and_round(
        frame, ["plans", "repeat"], column_groups=(), dependent={"pct": ["plans", "repeat"]}
    )
    _write(tmp_path / "t.csv", safe)
    decl = TableDeclaration(
        count_columns=("plans", "repeat"),
        column_groups=(),
        dependent={"pct": ("plans", "repeat")},
    )
    write_declarations(tmp_path, {"t.csv": decl})
    assert check_outputs(tmp_path) == []


def test_not_child_level_tables_skip_cell_rules_but_not_identifiers(tmp_path: Path) -> None:
    _write(tmp_path / "sim.csv", pd.DataFrame({"n": [3]}))
    decl = {"sim.csv": TableDeclaration(child_level=False, reason="simulation summary")}
    assert check_outputs(tmp_path, declarations=decl) == []
    _write(tmp_path / "sim.csv", pd.DataFrame({"family_id": [3]}))
    with pytest.raises(DisclosureError, match="family_id"):
        check_outputs(tmp_path, declarations=decl)
    with pytest.raises(ValueError, match="reason"):
        TableDeclaration(child_level=False)


def test_rules_validate_thresholds() -> None:
    with pytest.raises(ValueError, match="threshold"):
        SDCRules(threshold=0)
    with pytest.raises(ValueError, match="rounding_base"):
        SDCRules(rounding_base=0)


def test_command_line_checker_reports_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recurrence.sdc import main

    _write(tmp_path / "t.csv", pd.DataFrame({"n": [4]}))
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "t.csv: row 1, column 'n'" in out and "1 disclosure problem(s)" in out
    assert main([str(tmp_path), "--threshold", "3", "--rounding", "1"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [(["{missing}"], "does not exist"), (["{dir}", "--threshold", "0"], "threshold must be")],
)
def test_command_line_checker_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    from recurrence.sdc import main

    argv = [a.format(missing=tmp_path / "nope", dir=tmp_path) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_declarations_in_subfolders_apply_to_their_files(tmp_path: Path) -> None:
    from recurrence.sdc import TableDeclaration, check_outputs, write_declarations

    sub = tmp_path / "la"
    sub.mkdir()
    _write(sub / "t.csv", pd.DataFrame({"n": [4]}))
    assert len(check_outputs(tmp_path, raise_on_failure=False)) == 1
    write_declarations(sub, {"t.csv": TableDeclaration(child_level=False, reason="published")})
    assert check_outputs(tmp_path, raise_on_failure=False) == []
    assert check_outputs(sub, raise_on_failure=False) == []


def test_ratios_are_recomputed_from_published_counts_and_checked():
    """A percentage of the exact counts (99/746) would undo the rounding (100/745)."""
    from recurrence.sdc import check_frame

    frame = pd.DataFrame({"num": [99, 7, 30], "den": [746, 40, 0],
                          "pct": [100 * 99 / 746, 100 * 7 / 40, float("nan")]})
    ratios = {"pct": ("num", "den", 100.0)}
    out = suppress_and_round(frame, ["num", "den"], ratios=ratios)
    assert out.loc[0, ["num", "den"]].tolist() == [100, 745]
    assert out.loc[0, "pct"] == pytest.approx(100 * 100 / 745)
    assert out.loc[1, "pct"] == "c"  # its numerator is suppressed
    assert pd.isna(out.loc[2, "pct"])  # no denominator
    decl = TableDeclaration(count_columns=("num", "den"), ratios=ratios)
    assert TableDeclaration.from_json(decl.to_json()) == decl
    text = out.astype(object).where(out.notna(), "").astype(str)
    assert not [v for v in check_frame(text, "t.csv", declaration=decl) if v.rule == "ratio"]
    leaky = text.copy()
    leaky.loc[0, "pct"] = f"{100 * 99 / 746:.6g}"
    found = [v for v in check_frame(leaky, "t.csv", declaration=decl) if v.rule == "ratio"]
    assert len(found) == 1 and "reveals the exact counts" in found[0].message


def test_undeclared_files_are_checked_by_column_names(tmp_path: Path):
    """The names `recurrence ni65` writes count as counts; rates and years do not."""
    pd.DataFrame({"la_code": ["201"], "year": [2009], "children_becoming_subject": [4],
                  "plan_starts": [12], "d3_cpp_subsequent": [2], "ni65_percent": [25.0],
                  "history_years": [3.0]}).to_csv(tmp_path / "ni65.csv", index=False)
    with pytest.raises(DisclosureError) as exc:
        check_outputs(tmp_path)
    flagged = {v.column for v in exc.value.violations}
    assert flagged == {"children_becoming_subject", "plan_starts", "d3_cpp_subsequent"}
    rules = SDCRules()
    assert all(rules.is_identifier(c) for c in ("child_dob", "pupil_id", "child_identifier"))
    assert not rules.is_identifier("ni65_percent")


def test_dates_and_upns_are_caught_in_any_column(tmp_path: Path):
    """Whatever the column is called: a full date or a UPN in a child-level table."""
    pd.DataFrame({"la_code": ["201", "202"], "when": ["2009-04-01", "2009-05-02"],
                  "ref": ["A123456789012", "x"], "year": ["2009", "2010"]}).to_csv(
        tmp_path / "rows.csv", index=False)
    with pytest.raises(DisclosureError) as exc:
        check_outputs(tmp_path)
    flagged = {(v.column, v.row) for v in exc.value.violations}
    assert flagged == {("when", 1), ("ref", 1)}


def test_extremes_are_refused_and_quantiles_need_a_large_enough_group() -> None:
    frame = pd.DataFrame({
        "la": ["A", "B", "C"],
        "children": ["40", "c", "15"],
        "median_days_to_rereferral": ["120", "c", "88"],
        "max_days": ["900", "700", "650"],
    })
    decl = TableDeclaration(count_columns=("children",),
                            group_sizes={"median_days_to_rereferral": "children"})
    kinds = [(v.rule, v.column, v.row) for v in check_frame(frame, "t.csv", declaration=decl)]
    assert ("extreme", "max_days", None) in kinds
    assert not [k for k in kinds if k[0] == "quantile"]
    # A median published where the group is suppressed or below the threshold reveals it.
    leaky = frame.assign(median_days_to_rereferral=["120", "95", "88"], children=["40", "c", "5"])
    bad = [(v.column, v.row) for v in check_frame(leaky.drop(columns="max_days"), "t.csv",
                                                  declaration=decl) if v.rule == "quantile"]
    assert bad == [("median_days_to_rereferral", 2), ("median_days_to_rereferral", 3)]
    # Without a declared group size a quantile column is refused outright.
    undeclared = check_frame(frame.drop(columns="max_days"), "u.csv")
    assert any(v.rule == "quantile" and v.row is None for v in undeclared)
    assert TableDeclaration.from_json(decl.to_json()) == decl
