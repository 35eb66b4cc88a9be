"""End-to-end test of ``recurrence la-stats`` on the fixture folder, and its bad-input path."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recurrence.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dfe"


def test_la_stats_writes_tables_and_plots(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["la-stats", "--dfe", str(FIXTURES), "--out", str(out)])
    assert exc.value.code == 0
    names = {p.name for p in out.iterdir()}
    for expected in ("panel.csv", "icc.csv", "overdispersion.csv", "funnel_2023.csv",
                     "funnel_2023.png", "correlations.csv", "multilevel_model.csv",
                     "multilevel_summary.json", "la_changes.csv", "suppression.csv",
                     "year_to_year.csv"):
        assert expected in names
    icc = pd.read_csv(out / "icc.csv")
    assert 0 < icc.loc[0, "icc_anova"] < 1
    assert icc.loc[0, "ci_lower"] < icc.loc[0, "icc_anova"] < icc.loc[0, "ci_upper"]
    corr = pd.read_csv(out / "correlations.csv")
    assert {"spearman", "ci_lower", "ci_upper"} <= set(corr.columns)
    summary = json.loads((out / "multilevel_summary.json").read_text())
    assert summary["n_las"] == 14
    assert (out / "funnel_2023.png").read_bytes()[:4] == b"\x89PNG"
    changes = pd.read_csv(out / "la_changes.csv", dtype=str)
    assert set(changes["la_code"]) == {"928", "940", "941"}
    # The folder declares its tables as published aggregates, so the release checker passes
    # it, also as a subfolder of a larger output folder (the README's secure-setting steps).
    from recurrence.sdc import check_outputs

    assert check_outputs(out, raise_on_failure=False) == []
    assert check_outputs(tmp_path, raise_on_failure=False) == []


def test_la_stats_missing_folder_is_one_line_error(tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["la-stats", "--dfe", str(tmp_path / "missing"), "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "missing" in err and "DfE data folder not found" in err
    assert len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_la_stats_missing_table_leaves_no_output(tmp_path, capsys):
    partial = tmp_path / "dfe"
    partial.mkdir()
    for f in FIXTURES.glob("*.csv"):
        if not f.name.startswith("c3_"):
            (partial / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["la-stats", "--dfe", str(partial), "--out", str(out)])
    assert exc.value.code == 2
    assert "c3_factors_identified_at_end_of_assessment" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
