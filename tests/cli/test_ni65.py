"""``recurrence ni65``: columns, values on a hand-worked cohort, and bad input."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from helpers.cin_tables import build
from recurrence.cli import main
from recurrence.cli.ni65 import ni65_table
from recurrence.data.io import write_tables

# Year 2010 in LA 201: A starts a second plan (first in 201, 2006), B a plan after one in 202,
# C two plans (first-ever in May, second in November), D a first plan with a recorded previous
# plan elsewhere (left truncation). 4 children, 5 plan starts.
PLANS = [
    ("A", "201", "2005-06-01", "2006-01-01", 0),
    ("A", "201", "2009-06-01", None, 1),
    ("B", "202", "2008-01-01", "2008-12-01", 0),
    ("B", "201", "2009-09-01", None, 1),
    ("C", "201", "2009-05-01", "2009-08-01", 0),
    ("C", "201", "2009-11-01", None, 1),
    ("D", "201", "2009-07-01", None, 2),
]
COLUMNS = [
    "la_code",
    "year",
    "children_becoming_subject",
    "children_with_previous_plan_same_la",
    "ni65_percent",
    "plan_starts",
    "plan_starts_with_previous_plan_same_la",
    "ni65_occasions_percent",
    "children_with_previous_plan_any_la",
    "ni65_any_la_percent",
    "plan_starts_with_previous_plan_any_la",
    "ni65_occasions_any_la_percent",
    "children_with_previous_plan_lookback_1y",
    "ni65_lookback_1y_percent",
    "children_with_previous_plan_lookback_2y",
    "ni65_lookback_2y_percent",
    "d3_cpp_start",
    "d3_cpp_subsequent",
    "d3_percent",
    "history_years",
]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(capsys):
    """Run ``recurrence ni65 ARGS`` in-process through the console entry point."""

    def _run(*args: str) -> Result:
        with pytest.raises(SystemExit) as exc:
            main(["ni65", *args])
        captured = capsys.readouterr()
        code = exc.value.code
        return Result(0 if code is None else int(code), captured.out, captured.err)

    return _run


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tables")
    write_tables(build(plans=PLANS), d, "csv")
    return d


def test_cli_writes_every_variant(run, table_dir, tmp_path):
    out = tmp_path / "ni65.csv"
    res = run("--data", str(table_dir), "--out", str(out), "--exact-counts")
    assert res.returncode == 0, res.stderr
    assert "not for release" in res.stdout
    table = pd.read_csv(out, dtype={"la_code": str})
    assert list(table.columns) == COLUMNS
    r = table.loc[(table["la_code"] == "201") & (table["year"] == 2010)].iloc[0]
    # Same LA children: A, C of A B C D -> 2/4; occasions A, C2 of 5 -> 2/5.
    assert (r["children_becoming_subject"], r["children_with_previous_plan_same_la"]) == (4, 2)
    assert r["ni65_percent"] == pytest.approx(50.0)
    assert (r["plan_starts"], r["plan_starts_with_previous_plan_same_la"]) == (5, 2)
    assert r["ni65_occasions_percent"] == pytest.approx(40.0)
    # Any LA adds B: 3/4 children, 3/5 occasions.
    assert r["children_with_previous_plan_any_la"] == 3
    assert r["ni65_any_la_percent"] == pytest.approx(75.0)
    assert r["plan_starts_with_previous_plan_any_la"] == 3
    assert r["ni65_occasions_any_la_percent"] == pytest.approx(60.0)
    assert r["children_with_previous_plan_lookback_1y"] == 1
    # Look-back (same LA): only C's previous plan ended within 1 or 2 years -> 1/4.
    assert r["ni65_lookback_1y_percent"] == pytest.approx(25.0)
    assert r["ni65_lookback_2y_percent"] == pytest.approx(25.0)
    # D3 from the recorded count: A, B, C2, D -> 4/5.
    assert (r["d3_cpp_start"], r["d3_cpp_subsequent"]) == (5, 4)
    assert r["d3_percent"] == pytest.approx(80.0)


def test_lookback_option_names_columns():
    t = ni65_table(build(plans=PLANS), lookback_years=[3])
    assert "ni65_lookback_3y_percent" in t.columns
    assert "ni65_lookback_1y_percent" not in t.columns


def test_bad_input_is_one_line_and_no_output(run, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "children.csv").write_text("not,a,table\n1,2,3\n")
    (bad / "cin_episodes.csv").write_text("child_key\nA\n")
    out = tmp_path / "out.csv"
    res = run("--data", str(bad), "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "children.csv" in res.stderr
    assert not out.exists()
    missing = run("--data", str(tmp_path / "nowhere"), "--out", str(out))
    assert missing.returncode == 2
    assert "not a directory" in missing.stderr
    assert not out.exists()


def test_invalid_code_names_table_row_and_column(run, table_dir, tmp_path):
    bad = tmp_path / "tables"
    bad.mkdir()
    for f in table_dir.iterdir():
        (bad / f.name).write_text(f.read_text())
    cpps = bad / "cpps.csv"
    cpps.write_text(cpps.read_text().replace(",NEG,", ",XXX,", 1))
    out = tmp_path / "out.csv"
    res = run("--data", str(bad), "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "cpps.csv" in res.stderr
    assert "row 2" in res.stderr
    assert "initial_category_of_abuse" in res.stderr
    assert "'XXX'" in res.stderr
    assert not out.exists()


def test_history_start_hides_earlier_plans(run, table_dir, tmp_path):
    out = tmp_path / "late.csv"
    res = run("--data", str(table_dir), "--out", str(out), "--history-start", "2007-01-01",
              "--exact-counts")
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(out, dtype={"la_code": str})
    r = table.loc[(table["la_code"] == "201") & (table["year"] == 2010)].iloc[0]
    # A's 2005 plan is hidden: only C remains a same-LA repeat (1/4); D3 still counts 4/5.
    assert r["children_with_previous_plan_same_la"] == 1
    assert r["d3_cpp_subsequent"] == 4
    assert not (table["year"] == 2006).any()
    bad = run("--data", str(table_dir), "--out", str(tmp_path / "x.csv"), "--history-start", "soon")
    assert bad.returncode == 2
    assert not (tmp_path / "x.csv").exists()


def test_default_output_passes_disclosure_control(run, tmp_path, repo_dir):
    """The committed synthetic sample as one LA (so that some counts reach 10): counts rounded
    to 5 or suppressed, percentages from the published counts, and the checker passes."""
    from dataclasses import replace

    from recurrence.data.io import read_tables
    from recurrence.sdc import SDCRules, check_outputs

    sample = read_tables(repo_dir / "data" / "synthetic")
    merged = {}
    for name, frame in sample.as_dict().items():
        if "la_code" in frame.columns and len(frame):
            frame = frame.assign(la_child_id=frame["la_code"] + "-" + frame["la_child_id"],
                                 la_code="201")
        merged[name] = frame
    one_la = tmp_path / "one_la"
    write_tables(replace(sample, **merged), one_la, "csv")
    out_dir = tmp_path / "release"
    out = out_dir / "ni65.csv"
    res = run("--data", str(one_la), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "disclosure control applied" in res.stdout
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    counts = table["children_becoming_subject"]
    published = counts[~counts.isin(["c", ""])].astype(int)
    assert len(published) >= 3 and (published % 5 == 0).all() and (published >= 10).all()
    assert (table["children_with_previous_plan_lookback_1y"] == "c").any()
    ok = table[~table["children_becoming_subject"].isin(["c", ""])
               & ~table["children_with_previous_plan_same_la"].isin(["c", ""])]
    assert len(ok)
    for _, r in ok.iterrows():
        want = 100 * int(r["children_with_previous_plan_same_la"]) / int(
            r["children_becoming_subject"])
        assert float(r["ni65_percent"]) == pytest.approx(want, rel=1e-5)
    check_outputs(out_dir)  # raises DisclosureError on any problem
    # To the day, the history length gave each LA's earliest referral date back: whole years.
    years = pd.to_numeric(table["history_years"], errors="coerce").dropna()
    assert len(years) and (years == years.round()).all()
    # The secure setting's own rules: a threshold of 20 and rounding to 10.
    strict = tmp_path / "strict" / "ni65.csv"
    res = run("--data", str(one_la), "--out", str(strict), "--sdc-threshold", "20",
              "--sdc-rounding", "10")
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(strict, dtype=str, keep_default_na=False)
    published = table["children_becoming_subject"]
    published = published[~published.isin(["c", ""])].astype(int)
    assert len(published) and (published % 10 == 0).all() and (published >= 20).all()
    check_outputs(strict.parent, SDCRules(threshold=20, rounding_base=10))
