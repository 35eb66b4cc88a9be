"""Firth logistic regression against brglm2 (type = "AS_mean") and R profile penalised likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data, glm_ref

from recurrence.errors import ModelInputError
from recurrence.models.firth import firth_logit, firth_logit_arrays
from recurrence.models.logistic import logit

CASES = [("sep", ["x", "z"]), ("sparse", ["a", "b"])]


@pytest.mark.parametrize(("case", "cov"), CASES)
def test_estimates_and_se_match_brglm2(case: str, cov: list[str]) -> None:
    res = firth_logit(data(f"glm_{case}.csv"), outcome="y", covariates=cov)
    idx = res.params.index
    np.testing.assert_allclose(res.params, glm_ref(f"firth_{case}", "estimate")[idx], rtol=1e-6)
    np.testing.assert_allclose(res.se(), glm_ref(f"firth_{case}", "se")[idx], rtol=1e-6)
    assert res.scale == "log-odds"


@pytest.mark.parametrize(("case", "cov"), CASES)
def test_profile_ci_matches_r(case: str, cov: list[str]) -> None:
    res = firth_logit(data(f"glm_{case}.csv"), outcome="y", covariates=cov)
    ci = res.confint()
    idx = res.params.index
    # The R side maximises with optim() and uniroot(tol = 1e-11); agreement is ~1e-10 measured,
    # asserted at 1e-6 absolute on the log-odds scale.
    np.testing.assert_allclose(ci["ci_lower"], glm_ref(f"firth_{case}", "ci_lower")[idx], atol=1e-6)
    np.testing.assert_allclose(ci["ci_upper"], glm_ref(f"firth_{case}", "ci_upper")[idx], atol=1e-6)
    tidy = res.tidy()
    np.testing.assert_allclose(tidy["ci_lower"], ci["ci_lower"].to_numpy())
    # Profile intervals are asymmetric under separation, unlike Wald.
    wald = res.confint(method="wald")
    assert not np.allclose(wald["ci_upper"] - res.params, res.params - wald["ci_lower"] + 1.0)


def test_firth_is_finite_where_ml_separates() -> None:
    d = data("glm_sep.csv")
    res = firth_logit(d, outcome="y", covariates=["x", "z"])
    assert np.isfinite(res.params).all()
    assert 4 < res.params["x"] < 7


def test_firth_shrinks_towards_zero_versus_ml() -> None:
    d = data("glm_sparse.csv")
    ml = logit(d, outcome="y", covariates=["a", "b"])
    fi = firth_logit(d, outcome="y", covariates=["a", "b"])
    assert (np.abs(fi.params[["a", "b"]]) < np.abs(ml.params[["a", "b"]])).all()


def test_array_path_and_bad_method() -> None:
    d = data("glm_sparse.csv")
    X = np.column_stack([np.ones(len(d)), d[["a", "b"]].to_numpy(float)])
    r = firth_logit_arrays(X, d["y"].to_numpy(), ["(Intercept)", "a", "b"])
    np.testing.assert_allclose(r.params, glm_ref("firth_sparse", "estimate")[r.params.index], rtol=1e-6)
    with pytest.raises(ValueError, match="profile"):
        r.confint(method="score")


def test_firth_refuses_non_binary() -> None:
    d = pd.DataFrame({"y": [0, 1, 2, 1], "x": [1.0, 2, 3, 4]})
    with pytest.raises(ValueError, match="0/1"):
        firth_logit(d, outcome="y", covariates=["x"])


def test_prior_weights_match_brglm2() -> None:
    d = data("glm_sparse.csv")
    d["w"] = 1 + (np.arange(1, len(d) + 1) % 3)
    res = firth_logit(d, outcome="y", covariates=["a", "b"], weights="w")
    idx = res.params.index
    np.testing.assert_allclose(res.params, glm_ref("firth_sparse_weighted", "estimate")[idx], rtol=1e-6)
    np.testing.assert_allclose(res.se(), glm_ref("firth_sparse_weighted", "se")[idx], rtol=1e-6)


def test_negative_or_non_finite_weights_are_refused() -> None:
    # logit refused them; Firth used to fit with a negative weight silently.
    d = data("glm_small.csv")
    w = np.ones(len(d))
    w[0] = -1.0
    with pytest.raises(ModelInputError, match="weights must be finite, non-negative"):
        firth_logit(d.assign(w=w), outcome="y", covariates=["x1"], weights="w")
