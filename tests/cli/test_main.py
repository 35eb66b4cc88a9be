"""The ``recurrence`` entry point: every mistake of the user's making is one line and exit 2.

Found by a review of the commands: click's usage errors printed a usage block, an ``--out`` of the
wrong kind (a folder for a file, a file for a folder) and some option values ended in a Python
traceback, and several inputs were accepted that should not be.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recurrence.cli import main

HERE = Path(__file__).resolve().parents[1]
DFE = HERE / "fixtures" / "dfe"
GLM = HERE / "r" / "data"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recurrence: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nosuch"], "No such command 'nosuch'"),
        (["synth", "--years", "2", "--seed", "1", "--out", "x", "--bogus"], "No such option: --bogus"),
        (["ni65", "--data", "x", "--out", "y.csv", "--lookback", "0"], "look-back years must be positive"),
        (["reproduce", "--seed", "-1"], "--seed"),
        (["validity", "--data", "x", "--out", "y", "--folds", "1"], "--folds"),
        (["la-stats", "--dfe", str(DFE), "--out", "o", "--suppressed", "foo"], "suppressed must be one of"),
    ],
)
def test_usage_and_option_errors_are_one_line(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(args, capsys)
    _one_line_error(code, err, needle)
    assert not (tmp_path / "o").exists()


def test_no_arguments_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([], capsys)
    assert code == 2 and "read-cin" in out and "reproduce" in out


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (["ni65", "--data", "{data}"], "file"),
        (["fit", "logit", "--data", str(GLM / "glm_la.csv"), "--covariates", "age", "--event", "y"], "file"),
        (["validity", "--data", "{data}"], "folder"),
        (["la-stats", "--dfe", str(DFE)], "folder"),
        (["reproduce", "--profile", "tiny"], "folder"),
        (["effects", "--reps", "2"], "folder"),
    ],
)
def test_an_out_of_the_wrong_kind_is_refused_before_any_work(
    command: list[str], kind: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A folder where a file is wanted, a file where a folder is: one line, nothing changed.
    target = tmp_path / "target"
    if kind == "file":
        target.mkdir()
    else:
        target.write_text("keep", encoding="utf-8")
    args = [a.replace("{data}", str(tmp_path)) for a in command]
    code, _, err = _run([*args, "--out", str(target)], capsys)
    _one_line_error(code, err, str(target))
    if kind == "folder":
        assert target.read_text(encoding="utf-8") == "keep"
    else:
        assert not any(target.iterdir())


def test_fit_refuses_text_in_a_column_of_numbers_and_infinite_times(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    d = pd.read_csv(GLM / "glm_la.csv")
    d["female"] = d["female"].astype(object)
    d.loc[[5, 9], "female"] = "unknown"
    path = tmp_path / "mixed.csv"
    d.to_csv(path, index=False)
    code, _, err = _run(["fit", "logit", "--data", str(path), "--covariates", "age,female",
                         "--event", "y", "--out", str(tmp_path / "r.csv")], capsys)
    # It became a categorical covariate with a level 'unknown' before.
    _one_line_error(code, err, "row 7, column 'female'", "'unknown'")
    s = pd.DataFrame({"t": [1.0, 2.0, np.inf, 4.0, 5.0, 6.0], "e": [1, 0, 1, 1, 0, 1],
                      "x": [0.1, 0.5, 0.2, 0.9, 0.3, 0.7]})
    s.to_csv(tmp_path / "surv.csv", index=False)
    code, _, err = _run(["fit", "cox", "--data", str(tmp_path / "surv.csv"), "--covariates", "x",
                         "--event", "e", "--time", "t", "--out", str(tmp_path / "c.csv")], capsys)
    _one_line_error(code, err, "rows are infinite")
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "c.csv").exists()


def test_written_files_get_the_usual_permissions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "res.csv"
    code, _, err = _run(["fit", "logit", "--data", str(GLM / "glm_la.csv"), "--covariates", "age",
                         "--event", "y", "--out", str(out)], capsys)
    assert code == 0, err
    mask = os.umask(0)
    os.umask(mask)
    # mkstemp's 0600 made outputs unreadable to the rest of a project group.
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def _dfe_copy(tmp_path: Path) -> Path:
    dfe = tmp_path / "dfe"
    shutil.copytree(DFE, dfe, ignore=shutil.ignore_patterns("*.py"))
    return dfe


def test_la_stats_refuses_negative_counts_and_bad_ons_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dfe = _dfe_copy(tmp_path)
    d3 = next(dfe.glob("d3_*.csv"))
    frame = pd.read_csv(d3, dtype=str, keep_default_na=False)
    la = frame.index[frame["geographic_level"] == "Local authority"][0]
    bad = frame.copy()
    bad.loc[la, "CPP_start"] = "-40"
    bad.to_csv(d3, index=False)
    code, _, err = _run(["la-stats", "--dfe", str(dfe), "--out", str(tmp_path / "o")], capsys)
    _one_line_error(code, err, d3.name, f"line {la + 2}, column CPP_start", "negative")
    bad = frame.copy()
    bad.loc[la, "new_la_code"] = "c"
    bad.to_csv(d3, index=False)
    code, _, err = _run(["la-stats", "--dfe", str(dfe), "--out", str(tmp_path / "o")], capsys)
    _one_line_error(code, err, "column new_la_code", "not an ONS code")
    assert not (tmp_path / "o").exists()
