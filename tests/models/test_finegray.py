"""Fine-Gray regression against cmprsk::crr (tests/r/cr_reference.R)."""

from __future__ import annotations

import numpy as np
import pytest
from _glm_rref import data, ref

from recurrence.errors import ConvergenceError, ModelInputError
from recurrence.models.finegray import fine_gray


@pytest.mark.parametrize("dataset", ["cr", "cr_ties"])
@pytest.mark.parametrize("cause", [1, 2])
def test_matches_crr(dataset: str, cause: int) -> None:
    res = fine_gray(data(f"{dataset}.csv"), time="time", status="status",
                    covariates=["x1", "x2"], cause=cause)
    r = ref("cr_finegray.csv")
    exp = r[(r["dataset"] == dataset) & (r["cause"] == cause)].set_index("term")
    np.testing.assert_allclose(res.params, exp["estimate"][res.params.index], rtol=1e-6)
    np.testing.assert_allclose(res.se(), exp["std_err"][res.params.index], rtol=1e-6)
    assert res.loglik == pytest.approx(exp["loglik"].iloc[0], rel=1e-9)
    assert res.scale == "log-subdistribution-hazard"


def test_no_competing_no_censoring_equals_breslow_cox() -> None:
    # Without competing events or censoring the Fine-Gray likelihood is Cox's (Breslow ties);
    # the score at the estimate is zero, which the estimating equation checks directly.
    d = data("cr.csv")
    d = d.assign(status=1)
    res = fine_gray(d, time="time", status="status", covariates=["x1", "x2"])
    x = d[["x1", "x2"]].to_numpy()
    order = np.argsort(d["time"].to_numpy())
    x = x[order]
    r = np.exp(x @ res.params.to_numpy())
    S0 = np.cumsum(r[::-1])[::-1]
    S1 = np.cumsum((r[:, None] * x)[::-1], axis=0)[::-1]
    score = (x - S1 / S0[:, None]).sum(axis=0)
    np.testing.assert_allclose(score, 0, atol=1e-8)


def test_bad_input() -> None:
    d = data("cr.csv")
    with pytest.raises(ModelInputError, match="no events of cause 3"):
        fine_gray(d, time="time", status="status", covariates=["x1"], cause=3)
    with pytest.raises(ModelInputError, match="negative"):
        fine_gray(d.assign(time=-d["time"]), time="time", status="status", covariates=["x1"])
    with pytest.raises(ModelInputError, match="singular design"):
        fine_gray(d.assign(x3=2 * d["x1"]), time="time", status="status", covariates=["x1", "x3"])
    with pytest.raises(ModelInputError, match=r"1 row\(s\)"):
        fine_gray(d.assign(x1=np.r_[np.nan, d["x1"].to_numpy()[1:]]), time="time",
                  status="status", covariates=["x1"])



def test_monotone_likelihood_raises_instead_of_returning_a_drifting_estimate() -> None:
    # Every failure of cause 1 has x2 = 1: the likelihood increases without bound in beta_x2.
    # crr stops near 30 without a warning; like coxph, fine_gray names the term and raises.
    import pandas as pd

    rng = np.random.default_rng(4)
    n = 60
    d = pd.DataFrame({"time": rng.integers(1, 7, n).astype(float), "x1": rng.normal(size=n),
                      "x2": rng.integers(0, 2, n), "status": rng.choice([0, 1, 2], n)})
    d.loc[d["status"] == 1, "x2"] = 1
    with pytest.raises(ConvergenceError, match="x2"):
        fine_gray(d, time="time", status="status", covariates=["x1", "x2"], cause=1)
    # Breaking the separation with one failure at x2 = 0 gives a finite fit again.
    d.loc[d.index[d["status"] == 1][0], "x2"] = 0
    res = fine_gray(d, time="time", status="status", covariates=["x1", "x2"], cause=1)
    assert res.converged and np.isfinite(res.se()).all() and abs(res.params["x2"]) < 10


def test_rows_at_time_zero_keep_weight_one_when_censored_at_zero() -> None:
    # G(0-) = 1 whatever is censored at 0 (crr uses G(0); see the module docstring).
    from recurrence.models.finegray import _prepare

    t = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 3.0])
    status = np.array([0, 1, 2, 1, 0, 2])
    fd = _prepare(t, status, np.zeros((6, 1)))
    np.testing.assert_array_equal(fd.G[fd.t == 0], 1.0)
    assert fd.G[fd.t == 1][0] == pytest.approx(5 / 6)  # one of six censored at 0


def test_predicted_cif_matches_predict_crr() -> None:
    import pandas as pd

    res = fine_gray(data("cr.csv"), time="time", status="status", covariates=["x1", "x2"])
    pred = res.predict_cif(pd.DataFrame({"x1": [0.0, 1.0], "x2": [0, 1]}))
    exp = ref("cr_finegray_predict.csv")
    np.testing.assert_allclose(pred["time"], exp["time"], rtol=1e-12)
    np.testing.assert_allclose(pred["0"], exp["p00"], rtol=1e-8)
    np.testing.assert_allclose(pred["1"], exp["p11"], rtol=1e-8)
    assert (np.diff(pred["1"]) >= 0).all()
