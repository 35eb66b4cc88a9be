"""``recurrence synth``: writes tables, truth and manifest; bad options fail in one line."""

from __future__ import annotations

import json

import pytest

from recurrence.cli import main
from recurrence.data.io import read_tables


def run(args: list[str]) -> int:
    """Run the CLI; return its exit status (typer exits 0 on success)."""
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_synth_writes_tables_truth_and_manifest(tmp_path, capsys) -> None:
    out = tmp_path / "syn"
    assert run(["synth", "--children", "200", "--years", "3", "--seed", "7", "--preset", "england-2025",
          "--out", str(out), "--format", "csv"]) == 0
    assert "wrote" in capsys.readouterr().out
    tables = read_tables(out)
    assert tables.children["child_key"].nunique() == 200
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preset"] == "england-2025" and manifest["seed"] == 7
    assert {"truth.csv", "truth_events.csv", "truth_referrals.csv", "cpps.csv"} <= set(manifest["files"])
    assert "timestamp" not in json.dumps(manifest).lower()


def test_synth_parquet(tmp_path) -> None:
    out = tmp_path / "pq"
    assert run(["synth", "--children", "100", "--years", "2", "--seed", "1", "--out", str(out),
                "--format", "parquet", "--workers", "1"]) == 0
    assert (out / "cin_episodes.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--preset", "wales"], "--preset must be one of"), (["--format", "json"], "format must be one of")],
)
def test_synth_bad_options_exit_2_with_one_line(tmp_path, capsys, args, message) -> None:
    code = run(["synth", "--children", "10", "--years", "2", "--seed", "1", "--out", str(tmp_path / "x"), *args])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "x").exists()


def test_synth_xml_writes_census_returns_that_read_back(tmp_path) -> None:
    from recurrence.data.cin_xml import read_cin_xml
    from recurrence.synth import generate
    from recurrence.synth.cohort import census_year_tables

    out = tmp_path / "xml"
    assert run(["synth", "--children", "40", "--years", "1", "--seed", "3", "--preset", "england-2025",
                "--out", str(out), "--format", "xml"]) == 0
    files = sorted((out / "xml").glob("cin_*_*.xml"))
    assert files and all(f.name.endswith("_2025.xml") for f in files)
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"xml/{files[0].name}" in manifest["files"] and "truth.csv" in manifest["files"]
    # One return read back holds the same episodes as the census-year view it was written from.
    la, year = files[0].stem.split("_")[1:]
    expected = census_year_tables(
        generate(n_children=40, years=1, seed=3, preset="england-2025").tables, int(year)
    )
    got = read_cin_xml(files[0])
    want = expected.cin_episodes[expected.cin_episodes["la_code"] == la]
    assert sorted(got.cin_episodes["cin_referral_date"]) == sorted(want["cin_referral_date"])
    assert len(got.rejections) == 0
