"""GEE logistic against geepack (tests/r/glm_gee.R) and against the CR0 sandwich.

Two R references: ``geese_gm1`` (geepack's estimating equations with the binomial scale held at
exactly 1, what ``gee_logit`` fits) to 1e-6 relative for estimates, SEs and alpha; and the usual
``geeglm(scale.fix = TRUE)``, whose scale is held at the initial glm fit's mean squared Pearson
residual instead of 1 (``gamma`` in the reference file).
"""

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


def _r(cs: str, source: str = "geese_gm1") -> pd.DataFrame:
    r = ref("glm_gee.csv")
    return r[(r["corstr"] == cs) & (r["source"] == source)].set_index("term")


def test_independence_matches_geepack_and_glm(la: pd.DataFrame) -> None:
    res = gee_logit(la, outcome="y", covariates=COV, group="la_code", cor_struct="independence")
    idx = res.params.index
    for source in ("geese_gm1", "geeglm"):
        r = _r("independence", source)
        np.testing.assert_allclose(res.params, r["estimate"][idx], rtol=1e-6)
        np.testing.assert_allclose(res.se(), r["std_err"][idx], rtol=1e-6)
    np.testing.assert_allclose(res.params, glm_ref("la", "estimate")[idx], rtol=1e-6)
    # The GEE robust SE is CR0: CR1 without the G/(G-1) (n-1)/(n-p) factor.
    n, p, G = len(la), 4, 30
    cr0 = glm_ref("la", "se_cr1_la")[idx] / np.sqrt(G / (G - 1) * (n - 1) / (n - p))
    np.testing.assert_allclose(res.se(), cr0, rtol=1e-6)


def test_exchangeable_matches_geese_with_scale_one(la: pd.DataFrame) -> None:
    res = gee_logit(la, outcome="y", covariates=COV, group="la_code")
    idx = res.params.index
    r = _r("exchangeable")
    assert r["gamma"].eq(1.0).all()
    np.testing.assert_allclose(res.params, r["estimate"][idx], rtol=1e-6)
    np.testing.assert_allclose(res.se(), r["std_err"][idx], rtol=1e-6)
    assert res.extra["alpha"] == pytest.approx(r["alpha"].iloc[0], rel=1e-6)


def test_exchangeable_differs_from_geeglm_only_by_its_scale(la: pd.DataFrame) -> None:
    res = gee_logit(la, outcome="y", covariates=COV, group="la_code")
    idx = res.params.index
    g = _r("exchangeable", "geeglm")
    gamma = g["gamma"].iloc[0]
    # geeglm holds the scale at the initial glm's mean squared Pearson residual, not at 1 ...
    assert gamma != 1.0 and gamma == pytest.approx(1.0, abs=1e-2)
    # ... and its alpha is ours divided by that scale (to the 1e-5 its estimates differ by).
    assert g["alpha"].iloc[0] * gamma == pytest.approx(res.extra["alpha"], rel=1e-5)
    assert g["alpha"].iloc[0] != pytest.approx(res.extra["alpha"], rel=1e-4)
    np.testing.assert_allclose(res.params, g["estimate"][idx], rtol=1e-4)
    np.testing.assert_allclose(res.se(), g["std_err"][idx], rtol=1e-4)


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
