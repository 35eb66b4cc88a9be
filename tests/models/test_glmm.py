"""Random-intercept logistic regression against lme4::glmer (tests/r/glmm_reference.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data, ref

from recurrence.errors import ModelInputError, SeparationError
from recurrence.models.glmm import glmer_logit

COV = ["age", "female", "n_pp"]


def _r(case: str, quantity: str) -> pd.Series:
    r = ref("glmm_reference.csv")
    return r[(r["case"] == case) & (r["quantity"] == quantity)].set_index("term")["value"]


@pytest.fixture(scope="module")
def la() -> pd.DataFrame:
    return data("glm_la.csv")


@pytest.mark.parametrize("nagq", [1, 10])
def test_matches_glmer(la: pd.DataFrame, nagq: int) -> None:
    res = glmer_logit(la, outcome="y", covariates=COV, group="la_code", nagq=nagq)
    case = f"agq{nagq}"
    idx = res.params.index
    # Measured against the tight-tolerance reference (tests/r/glmm_reference.R), Laplace / AGQ-10:
    # fixed effects 3.1e-6 / 3.3e-6, SEs 2.3e-6 / 7.3e-7, sigma 2e-7 / 5e-9, log-likelihood
    # 1.5e-10 / 4e-11 absolute (ours the higher), conditional modes 1.2e-6 / 5.6e-7 absolute.
    # What is left is where bobyqa stops (rhoend 1e-10; 1e-13 makes lme4 fail to converge).
    np.testing.assert_allclose(res.params, _r(case, "estimate")[idx], rtol=1e-5)
    np.testing.assert_allclose(res.se(), _r(case, "se")[idx], rtol=1e-5)
    if nagq > 1:
        # AGQ SEs from second differences of the deviance (a differenced numerical gradient
        # gave 3.9e-6 here and 5e-5 on other data).
        np.testing.assert_allclose(res.se(), _r(case, "se")[idx], rtol=2e-6)
    assert res.extra["sigma_group"] == pytest.approx(_r(case, "sigma").iloc[0], rel=1e-6)
    assert res.loglik == pytest.approx(_r(case, "loglik").iloc[0], abs=1e-8)
    re = res.random_effects()
    expected = _r(case, "ranef")
    expected.index = expected.index.astype(str)
    np.testing.assert_allclose(re.to_numpy(), expected[re.index].to_numpy(), atol=1e-5)
    assert res.n_clusters == 30


def test_sigma_zero_when_no_group_variation() -> None:
    rng = np.random.default_rng(5)
    n = 600
    d = pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 20, n)})
    # Outcome independent of group: the ML estimate of sigma is small (often on the boundary).
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * d["x"])))).astype(int)
    res = glmer_logit(d, outcome="y", covariates=["x"], group="g")
    assert res.extra["sigma_group"] < 0.3
    assert res.params["x"] == pytest.approx(0.5, abs=0.25)


def test_bad_input(la: pd.DataFrame) -> None:
    with pytest.raises(ModelInputError, match="w must be finite, non-negative"):
        glmer_logit(la.assign(w=-1.0), outcome="y", covariates=COV, group="la_code", weights="w")
    with pytest.raises(ModelInputError, match="needs >= 2"):
        glmer_logit(la.assign(g="a"), outcome="y", covariates=COV, group="g")
    with pytest.raises(ValueError, match="nagq must be a positive integer"):
        glmer_logit(la, outcome="y", covariates=COV, group="la_code", nagq=0)
    sep = data("glm_sep.csv").assign(g=lambda d: np.arange(len(d)) % 4)
    with pytest.raises(SeparationError, match="term x"):
        glmer_logit(sep, outcome="y", covariates=["x", "z"], group="g")


@pytest.mark.parametrize("nagq", [1, 7])
def test_a_covariate_in_thousands_gives_the_same_fit(la: pd.DataFrame, nagq: int) -> None:
    # Age in days instead of years: the same model, beta / 365.25. Before the columns were
    # scaled for the optimiser, AGQ stopped at the Laplace solution (log-likelihood 3.8e-4
    # short, sigma 0.8% off) with converged=True, and the Laplace SE of that column was 2e-4 off.
    days = la.assign(age=la["age"] * 365.25)
    a = glmer_logit(la, outcome="y", covariates=COV, group="la_code", nagq=nagq)
    b = glmer_logit(days, outcome="y", covariates=COV, group="la_code", nagq=nagq)
    k = pd.Series(1.0, index=a.params.index)
    k["age"] = 365.25
    assert b.loglik == pytest.approx(a.loglik, abs=1e-8)
    assert b.extra["sigma_group"] == pytest.approx(a.extra["sigma_group"], rel=1e-5)
    np.testing.assert_allclose(b.params * k, a.params, rtol=1e-5)
    np.testing.assert_allclose(b.se() * k, a.se(), rtol=1e-5)
