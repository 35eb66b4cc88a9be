"""End-to-end test of ``recurrence validity`` on a small synthetic folder."""

from __future__ import annotations

import pandas as pd
import pytest

from recurrence.cli import main
from recurrence.synth import generate


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    generate(n_children=1500, years=10, seed=11).write(d, "csv")
    return d


def test_validity_writes_tables_and_plots(synth_dir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["validity", "--data", str(synth_dir), "--out", str(out), "--seed", "3",
              "--exact-counts"])
    assert exc.value.code == 0
    child = pd.read_csv(out / "child_level.csv")
    for col in ("indicator", "sensitivity", "specificity", "ppv", "npv", "auc", "auc_ci_lower",
                "auc_ci_upper", "brier"):
        assert col in child.columns
    assert "ni65_same_la" in set(child["indicator"])
    assert "risk_model" in set(child["indicator"])
    la = pd.read_csv(out / "la_level.csv")
    for col in ("indicator", "spearman_with_truth", "spearman_ci_lower", "spearman_ci_upper",
                "outlier_kappa", "outlier_agreement"):
        assert col in la.columns
    assert "ni65" in set(la["indicator"])
    for png in ("funnel_ni65.png", "funnel_truth.png", "bias_sweep.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    # Aggregate outputs only: no child identifiers anywhere.
    for f in out.glob("*.csv"):
        assert "child_key" not in pd.read_csv(f).columns


def test_validity_missing_truth_is_one_line_error(synth_dir, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    for f in synth_dir.glob("*.csv"):
        if f.name != "truth.csv":
            (partial / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["validity", "--data", str(partial), "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "truth.csv" in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_validity_refuses_an_unreadable_truth_value(synth_dir, tmp_path, capsys):
    # "maybe" used to become NaN and then True (highly resistant).
    import pandas as pd

    bad = tmp_path / "bad"
    bad.mkdir()
    for f in synth_dir.glob("*.csv"):
        (bad / f.name).write_bytes(f.read_bytes())
    truth = pd.read_csv(bad / "truth.csv", dtype=str, keep_default_na=False)
    truth.loc[3, "highly_resistant"] = "maybe"
    truth.to_csv(bad / "truth.csv", index=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["validity", "--data", str(bad), "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "row 5, column 'highly_resistant'" in err[0] and "'maybe'" in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_validity_releases_under_disclosure_control_by_default(synth_dir, tmp_path, capsys):
    # Before, the command wrote exact working tables (189 checker problems on a small cohort).
    from recurrence.sdc import check_outputs

    out = tmp_path / "release"
    with pytest.raises(SystemExit) as exc:
        main(["validity", "--data", str(synth_dir), "--out", str(out), "--seed", "3"])
    assert exc.value.code == 0
    assert "disclosure control applied" in capsys.readouterr().out
    assert check_outputs(out) == []
    assert not list(out.glob("funnel_*.png"))  # each point an LA's exact counts
    child = pd.read_csv(out / "child_level.csv", dtype=str, keep_default_na=False)
    n = child["n_true_positive"]
    published = n[~n.isin(["c", ""])].astype(int)
    assert (published % 5 == 0).all() and ((published == 0) | (published >= 10)).all()
    assert (n == "c").any()  # a small cohort has small cells
    flagged = child[child["kind"] == "flag"]
    blank = flagged["n_true_positive"] == "c"
    assert (flagged.loc[blank, "sensitivity"] == "c").all()
    assert (flagged.loc[blank, "n_true_negative"] == "c").all()
