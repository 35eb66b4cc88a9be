"""``recurrence read-cin``: tables written, summary printed, bad input -> one line, exit 2, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from recurrence.cli import main
from recurrence.data.io import read_tables
from recurrence.data.schema import TABLE_NAMES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cin_xml"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run the console entry point in-process (as the installed script does) and capture output."""

    def _run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return _run


def test_writes_every_table_and_a_summary(run: Runner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run(
        "read-cin", str(FIXTURES / "years"), str(FIXTURES / "record_errors.xml"), "--out", str(out)
    )
    assert res.returncode == 0, res.stderr
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(TABLE_NAMES)
    tables = read_tables(out)
    assert len(tables.children) == 5  # C1, C2, C3 of LA 318 over nine years, plus E1, E3
    assert "read 5 child records (one per child and LA), 37 episodes, 19 child protection plans" in res.stdout
    assert "duplicate episode" in res.stdout and "rejections: 30" in res.stdout
    assert pd.read_csv(out / "rejections.csv")["source_file"].eq(
        str(FIXTURES / "record_errors.xml")
    ).all()


def test_rejections_name_the_folder_of_same_named_files(run: Runner, tmp_path: Path) -> None:
    """Two LAs' ``cin.xml`` in two folders: each rejection says which one it came from."""
    src = (FIXTURES / "record_errors.xml").read_bytes()
    for year in ("2023", "2024"):
        (tmp_path / "in" / year).mkdir(parents=True)
        (tmp_path / "in" / year / "cin.xml").write_bytes(src)
    out = tmp_path / "out"
    res = run("read-cin", str(tmp_path / "in"), "--out", str(out))
    assert res.returncode == 0, res.stderr
    files = pd.read_csv(out / "rejections.csv")["source_file"].value_counts()
    assert set(files.index) == {str(tmp_path / "in" / y / "cin.xml") for y in ("2023", "2024")}
    assert files.nunique() == 1  # the same rejections from each copy


def test_parquet_format(run: Runner, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    res = run(
        "read-cin",
        str(FIXTURES / "years" / "cin_2024.xml"),
        "--out",
        str(out),
        "--format",
        "parquet",
    )
    assert res.returncode == 0, res.stderr
    assert (out / "cpps.parquet").exists()
    assert len(read_tables(out).cpps) == 2
    assert "rejections: none" in res.stdout


@pytest.mark.parametrize(
    "bad", ["billion_laughs.xml", "truncated.xml", "wrong_root.xml", "not_xml.xml"]
)
def test_bad_file_is_one_line_exit_2_and_no_output(run: Runner, tmp_path: Path, bad: str) -> None:
    out = tmp_path / "out"
    # a good file first: nothing may be written for it either
    good = str(FIXTURES / "years" / "cin_2024.xml")
    res = run("read-cin", good, str(FIXTURES / "bad" / bad), "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"recurrence: error: {FIXTURES / 'bad' / bad}: ")
    assert not out.exists() or not any(out.iterdir())


def test_bad_format_and_missing_path(run: Runner, tmp_path: Path) -> None:
    good = str(FIXTURES / "years" / "cin_2024.xml")
    res = run("read-cin", good, "--out", str(tmp_path / "o"), "--format", "xlsx")
    assert res.returncode == 2 and "format must be one of csv, parquet" in res.stderr
    res = run("read-cin", str(tmp_path / "nope.xml"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "file not found" in res.stderr
    assert not (tmp_path / "o").exists()


def _returns_folder(tmp_path: Path) -> Path:
    src = tmp_path / "returns"
    src.mkdir()
    (src / "cin_2024.xml").write_bytes((FIXTURES / "years" / "cin_2024.xml").read_bytes())
    return src


def test_folder_notes_are_not_inputs_and_a_rerun_skips_its_own_output(run: Runner, tmp_path: Path) -> None:
    src = _returns_folder(tmp_path)
    (src / "notes.txt").write_text("received 3 March; LA 318 to resubmit\n", encoding="utf-8")
    out = src / "tables"
    first = run("read-cin", str(src), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "from 1 input file(s)" in first.stdout
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # The output folder sits inside the input folder: a second run must not read it back.
    second = run("read-cin", str(src), "--out", str(out))
    assert second.returncode == 0, second.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_ambiguous_inputs_are_refused(run: Runner, tmp_path: Path) -> None:
    src = _returns_folder(tmp_path)
    tables = tmp_path / "tables"
    assert run("read-cin", str(src), "--out", str(tables)).returncode == 0
    # A tables folder that also holds a return: which is meant cannot be known.
    (tables / "late.xml").write_bytes((FIXTURES / "years" / "cin_2023.xml").read_bytes())
    res = run("read-cin", str(tables), "--out", str(tmp_path / "o1"))
    assert res.returncode == 2 and "also 1 XML file(s)" in res.stderr
    (tables / "late.xml").unlink()
    # The same table in two formats (a CSV run into a folder of an earlier parquet run).
    assert run("read-cin", str(src), "--out", str(tables), "--format", "parquet").returncode == 0
    res = run("read-cin", str(tables), "--out", str(tmp_path / "o2"))
    assert res.returncode == 2 and "holds both children.parquet and children.csv" in res.stderr
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_out_that_is_a_file_and_invalid_combined_tables_are_one_line_errors(
    run: Runner, tmp_path: Path
) -> None:
    good = str(FIXTURES / "years" / "cin_2024.xml")
    afile = tmp_path / "afile"
    afile.write_text("keep me", encoding="utf-8")
    res = run("read-cin", good, "--out", str(afile))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "--out exists and is not a directory" in res.stderr
    assert afile.read_text(encoding="utf-8") == "keep me"
    # A return dated 1990 gives census year 1990, outside the census's range: the message names
    # the table, the column and the value (it used to end in "({)").
    old = tmp_path / "old.xml"
    old.write_text(
        (FIXTURES / "years" / "cin_2024.xml").read_text(encoding="utf-8")
        .replace("<ReferenceDate>2024-03-31</ReferenceDate>", "<ReferenceDate>1990-03-31</ReferenceDate>")
        .replace("<Year>2024</Year>", "<Year>1990</Year>"),
        encoding="utf-8",
    )
    res = run("read-cin", str(old), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "table cin_episodes, column 'census_year'" in res.stderr
