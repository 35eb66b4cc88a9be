"""GEE logistic against geepack::geeglm (tests/r/glm_gee.R) and against the CR0 sandwich."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data, glm_ref, ref

from recurrence.errors import ModelInputError, SeparationError
from recurrence.models.gee import gee_logit

COV = ["age", "female", "n_pp"]


@pytest.fixture(scope="module")
def la() -> pd.DataFrame:
    return data("glm_la.csv")


def _r(cs: str) -> pd.DataFrame:
    r = ref("glm_gee.csv")
    return r[r["corstr"] == cs].set_index("term")


def test_independence_matches_geeglm_and_glm(la: pd.DataFrame) -> None:
    res = gee_logit(la, outcome="y", covariates=COV, group="la_code", cor_struct="independence")
    idx = res.params.index
    np.testing.assert_allclose(res.params, _r("independence")["estimate"][idx], rtol=1e-6)
    np.testing.assert_allclose(res.se(), _r("independence")["std_err"][idx], rtol=1e-5)
    np.testing.assert_allclose(res.params, glm_ref("la", "estimate")[idx], rtol=1e-6)
    # The GEE robust SE is CR0: CR1 without the G/(G-1) (n-1)/(n-p) factor.
    n, p, G = len(la), 4, 30
    cr0 = glm_ref("la", "se_cr1_la")[idx] / np.sqrt(G / (G - 1) * (n - 1) / (n - p))
    np.testing.assert_allclose(res.se(), cr0, rtol=1e-5)


def test_exchangeable_close_to_geeglm(la: pd.DataFrame) -> None:
    res = gee_logit(la, outcome="y", covariates=COV, group="la_code")
    idx = res.params.index
    # geepack's moment estimator of alpha differs by ~7e-4 relative (module docstring); the
    # estimates then agree to ~1e-5 and the SEs to ~2e-6 (measured).
    np.testing.assert_allclose(res.params, _r("exchangeable")["estimate"][idx], rtol=1e-4)
    np.testing.assert_allclose(res.se(), _r("exchangeable")["std_err"][idx], rtol=1e-4)
    assert res.extra["alpha"] == pytest.approx(_r("exchangeable")["alpha"].iloc[0], rel=2e-3)


def test_row_order_does_not_matter(la: pd.DataFrame) -> None:
    a = gee_logit(la, outcome="y", covariates=COV, group="la_code")
    b = gee_logit(la.sample(frac=1.0, random_state=1), outcome="y", covariates=COV, group="la_code")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-8)


def test_bad_input(la: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="cor_struct must be one of"):
        gee_logit(la, outcome="y", covariates=COV, group="la_code", cor_struct="ar1")  # type: ignore[arg-type]
    with pytest.raises(ModelInputError, match="GEE needs >= 2"):
        gee_logit(la.assign(g=1), outcome="y", covariates=COV, group="g")
    sep = data("glm_sep.csv").assign(g=lambda d: np.arange(len(d)) % 5)
    with pytest.raises(SeparationError, match="term x"):
        gee_logit(sep, outcome="y", covariates=["x", "z"], group="g")
