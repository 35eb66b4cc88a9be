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


def _competing(rng: np.random.Generator, n: int, beta_x: float = 0.0):
    """Exponential cause-1 and cause-2 times and censoring; binary x, normal z."""
    import pandas as pd

    x = (rng.random(n) < 0.5).astype(int)
    z = rng.normal(size=n)
    t1 = rng.exponential(1 / np.exp(beta_x * x + 0.3 * z))
    t2 = rng.exponential(1 / 0.3, n)
    c = rng.exponential(1 / 0.3, n)
    t = np.minimum.reduce([t1, t2, c])
    status = np.where(t == t1, 1, np.where(t == t2, 2, 0))
    return pd.DataFrame({"time": np.round(t, 3) + 0.001, "status": status, "x": x, "z": z})


def test_monotone_likelihood_is_caught_where_the_score_rounds_to_zero() -> None:
    # All cause-1 failures at x = 1 in small samples: Newton runs to beta_x ~ 35, where the
    # score is exactly 0 and the information rounding noise, so the remaining step is ~0.
    # That stopping point was returned as a converged fit (43 of 200 datasets at n = 30).
    rng = np.random.default_rng(30)
    for _ in range(60):
        d = _competing(rng, 30)
        d.loc[d["status"] == 1, "x"] = 1
        if d["x"].all():
            continue
        with pytest.raises(ConvergenceError, match=r"coefficient of x is drifting"):
            fine_gray(d, time="time", status="status", covariates=["x", "z"])


def test_continuous_separation_raises_a_convergence_error_naming_the_term() -> None:
    # Each failure has the largest x of its risk set: beta_x passes 1000 and exp overflowed
    # (scipy ValueError on NaN) before the risk scores were shifted by max(X beta).
    rng = np.random.default_rng(11)
    d = _competing(rng, 60)
    d["x"] = np.where(d["status"] == 1, 10 - d["time"], -5 + rng.normal(size=60) * 0.1)
    d["x"] = (d["x"] - d["x"].mean()) / d["x"].std()
    with pytest.raises(ConvergenceError, match=r"coefficient of x is drifting"):
        fine_gray(d, time="time", status="status", covariates=["x", "z"])


def test_an_uncentred_covariate_does_not_overflow() -> None:
    # Calendar year (about 2016) times a coefficient near 0.6 is exp(1200) uncentred; the fit
    # is invariant to a shift of the covariate, so year and year - 2016 give the same answer.
    import pandas as pd

    rng = np.random.default_rng(6)
    n = 300
    year = rng.integers(2010, 2024, n)
    t1 = rng.exponential(1 / np.exp(0.6 * (year - 2016)))
    t2 = rng.exponential(1 / 0.3, n)
    t = np.minimum(t1, t2)
    d = pd.DataFrame({"time": t, "status": np.where(t == t1, 1, 2), "year": year})
    d["z"] = rng.normal(size=n)
    d["year_c"] = d["year"] - 2016
    a = fine_gray(d, time="time", status="status", covariates=["year", "z"])
    b = fine_gray(d, time="time", status="status", covariates=["year_c", "z"])
    assert a.params["year"] > 0.3
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(a.se().to_numpy(), b.se().to_numpy(), rtol=1e-6)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-10)


def test_a_strong_but_finite_effect_is_not_flagged() -> None:
    # True log-SHR 3 at n = 50, and one failure at x = 0 among many at x = 1: both finite.
    rng = np.random.default_rng(11)
    for _ in range(5):
        d = _competing(rng, 50, beta_x=3.0)
        res = fine_gray(d, time="time", status="status", covariates=["x", "z"])
        assert res.converged and 1 < res.params["x"] < 6
    d = _competing(rng, 50, beta_x=2.0)
    fails = d.index[d["status"] == 1]
    d.loc[fails, "x"] = 1
    d.loc[fails[0], "x"] = 0
    res = fine_gray(d, time="time", status="status", covariates=["x", "z"])
    assert res.converged and np.isfinite(res.se()).all()


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
