"""``recurrence fit``: the command-line contract, checked against the R reference values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recurrence.cli import main
from recurrence.models.base import TIDY_COLUMNS

R = Path(__file__).resolve().parents[1] / "r"
DATA = R / "data"


def _run(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(["fit", *args])
    err = capsys.readouterr().err
    return int(e.value.code or 0), err


def _glm_ref(case: str, quantity: str) -> pd.Series:
    r = pd.read_csv(R / "ref" / "glm_reference.csv")
    return r[(r["case"] == case) & (r["quantity"] == quantity)].set_index("term")["value"]


def test_logit_cluster_writes_tidy_cr1(tmp_path: Path, capsys) -> None:
    out = tmp_path / "res.csv"
    code, _ = _run(["logit", "--data", str(DATA / "glm_la.csv"), "--covariates",
                    "age,female,n_pp", "--event", "y", "--cluster", "la_code", "--out", str(out)],
                   capsys)
    assert code == 0
    res = pd.read_csv(out).set_index("term")
    assert list(res.reset_index().columns) == list(TIDY_COLUMNS)
    assert list(res.index) == ["age", "female", "n_pp"]  # one row per covariate
    np.testing.assert_allclose(res["estimate"], _glm_ref("la", "estimate")[res.index], rtol=1e-6)
    np.testing.assert_allclose(res["std_error"], _glm_ref("la", "se_cr1_la")[res.index], rtol=1e-5)


def test_logit_firth(tmp_path: Path, capsys) -> None:
    out = tmp_path / "firth.csv"
    code, _ = _run(["logit", "--data", str(DATA / "glm_sep.csv"), "--covariates", "x,z",
                    "--event", "y", "--firth", "--out", str(out)], capsys)
    assert code == 0
    res = pd.read_csv(out).set_index("term")
    np.testing.assert_allclose(res["estimate"], _glm_ref("firth_sep", "estimate")[res.index], rtol=1e-6)
    np.testing.assert_allclose(res["ci_upper"], _glm_ref("firth_sep", "ci_upper")[res.index], atol=1e-6)


@pytest.mark.parametrize(
    ("config", "extra"),
    [("ag", []), ("pwp_total", ["--strata", "enum"])],
)
def test_cox_counting_process_matches_r(tmp_path: Path, capsys, config: str, extra: list[str]) -> None:
    out = tmp_path / "cox.csv"
    code, err = _run(["cox", "--data", str(DATA / "cox_recurrent.csv"), "--covariates",
                      "x1,x2,tv", "--event", "event", "--start", "start", "--time", "stop",
                      "--cluster", "id", "--ties", "efron", *extra, "--out", str(out)], capsys)
    assert code == 0, err
    res = pd.read_csv(out).set_index("term")
    ref = pd.read_csv(R / "ref" / "cox_coef.csv")
    ref = ref[(ref["config"] == config) & (ref["ties"] == "efron")].set_index("term")
    np.testing.assert_allclose(res["estimate"], ref["coef"][res.index], rtol=1e-6)
    np.testing.assert_allclose(res["std_error"], ref["robust_se"][res.index], rtol=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["logit", "--data", "glm_sep.csv", "--covariates", "x,z", "--event", "y"],
         "term x separates the outcome y.*Firth"),
        (["logit", "--data", "glm_la.csv", "--covariates", "age,nope", "--event", "y"],
         "not found in the data: nope"),
        (["logit", "--data", "glm_la.csv", "--covariates", "age", "--event", "n_pp"],
         "n_pp must be coded 0/1"),
        (["logit", "--data", "missing.csv", "--covariates", "age", "--event", "y"],
         "missing.csv: file not found"),
        (["logit", "--data", "glm_la.csv", "--covariates", "age", "--event", "y",
          "--time", "age"], "--time applies to cox only"),
        (["cox", "--data", "cr.csv", "--covariates", "x1", "--event", "status"],
         "cox needs --time"),
        (["probit", "--data", "glm_la.csv", "--covariates", "age", "--event", "y"],
         "model must be one of logit, cox"),
    ],
)
def test_bad_input_one_line_exit_2_no_output(tmp_path: Path, capsys, args, message) -> None:
    args = [str(DATA / a) if a.endswith(".csv") else a for a in args]
    out = tmp_path / "never.csv"
    code, err = _run([*args, "--out", str(out)], capsys)
    assert code == 2
    assert err.startswith("recurrence: error: ")
    assert err.count("\n") == 1
    import re

    assert re.search(message, err), err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_nan_rows_reported(tmp_path: Path, capsys) -> None:
    d = pd.read_csv(DATA / "glm_la.csv")
    d.loc[[4, 9], "age"] = np.nan
    src = tmp_path / "in.csv"
    d.to_csv(src, index=False)
    code, err = _run(["logit", "--data", str(src), "--covariates", "age,female", "--event", "y",
                      "--out", str(tmp_path / "o.csv")], capsys)
    assert code == 2
    assert "2 row(s) have missing or non-finite values in age (2); first rows: 4, 9" in err
    assert not (tmp_path / "o.csv").exists()
