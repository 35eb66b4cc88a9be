"""Logistic GLM against R's glm, sandwich::vcovCL and clubSandwich::vcovCR (tests/r/glm_reference.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data, glm_ref

from recurrence.errors import ConvergenceError, ModelInputError, SeparationError
from recurrence.models.logistic import logit, logit_arrays

COV = ["age", "female", "n_pp"]


@pytest.fixture(scope="module")
def la() -> pd.DataFrame:
    return data("glm_la.csv")


def test_estimates_and_model_se_match_glm(la: pd.DataFrame) -> None:
    res = logit(la, outcome="y", covariates=COV)
    np.testing.assert_allclose(res.params, glm_ref("la", "estimate")[res.params.index], rtol=1e-6)
    np.testing.assert_allclose(res.se(), glm_ref("la", "se_model")[res.params.index], rtol=1e-6)
    assert res.loglik == pytest.approx(glm_ref("la", "loglik")["(all)"], rel=1e-9)
    assert res.scale == "log-odds"


@pytest.mark.parametrize(
    ("cov_type", "cluster", "quantity"),
    [
        ("HC0", None, "se_hc0"),
        ("CR1", "la_code", "se_cr1_la"),
        ("CR1", "family_id", "se_cr1_family"),
        ("CR2", "la_code", "se_cr2_la"),
    ],
)
def test_robust_se_match_sandwich(la: pd.DataFrame, cov_type, cluster, quantity) -> None:
    res = logit(la, outcome="y", covariates=COV, cov_type=cov_type, cluster=cluster)
    np.testing.assert_allclose(res.se(), glm_ref("la", quantity)[res.params.index], rtol=1e-6)
    if cluster == "la_code":
        assert res.n_clusters == 30


def test_cluster_without_cov_type_gives_cr1(la: pd.DataFrame) -> None:
    res = logit(la, outcome="y", covariates=COV, cluster="la_code")
    assert res.cov_type == "CR1"
    assert res.df_resid is None


@pytest.mark.parametrize(("cov_type", "quantity"), [("CR1", "se_cr1"), ("CR2", "se_cr2")])
def test_few_clusters(cov_type, quantity) -> None:
    sm = data("glm_small.csv")
    res = logit(sm, outcome="y", covariates=["x1", "x2"], cov_type=cov_type, cluster="cluster")
    np.testing.assert_allclose(res.params, glm_ref("small", "estimate")[res.params.index], rtol=1e-6)
    np.testing.assert_allclose(res.se(), glm_ref("small", quantity)[res.params.index], rtol=1e-6)
    if cov_type == "CR2":
        # Small-number-of-clusters correction: t reference with G - 1 = 7 df.
        assert res.df_resid == 7
        wald = 2 * (1 - __import__("scipy").stats.norm.cdf(abs(res.statistics)))
        assert (res.pvalues > wald).all()


def test_weights_match_glm(la: pd.DataFrame) -> None:
    d = la.assign(w=1 + (np.arange(1, len(la) + 1) % 3))
    res = logit(d, outcome="y", covariates=COV, weights="w")
    np.testing.assert_allclose(
        res.params, glm_ref("la_weighted", "estimate")[res.params.index], rtol=1e-6
    )
    np.testing.assert_allclose(
        res.se(), glm_ref("la_weighted", "se_model")[res.params.index], rtol=1e-6
    )


def test_array_path_equals_frame_path(la: pd.DataFrame) -> None:
    X = np.column_stack([np.ones(len(la)), la[COV].to_numpy(float)])
    a = logit_arrays(X, la["y"].to_numpy(), ["(Intercept)", *COV])
    b = logit(la, outcome="y", covariates=COV)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-12)


def test_predict_and_tidy(la: pd.DataFrame) -> None:
    res = logit(la, outcome="y", covariates=COV)
    p = res.predict(la.head(5))
    np.testing.assert_allclose(p, res.fitted[:5], rtol=1e-12)
    tidy = res.tidy()
    assert list(tidy["term"]) == ["(Intercept)", *COV]
    np.testing.assert_allclose(tidy["exp_estimate"], np.exp(tidy["estimate"]))


def test_categorical_covariate_gets_treatment_dummies(la: pd.DataFrame) -> None:
    d = la.assign(band=pd.cut(la["age"], [0, 5, 10, 18], labels=["a0", "a5", "a10"], include_lowest=True).astype(str))
    res = logit(d, outcome="y", covariates=["band"])
    assert list(res.params.index) == ["(Intercept)", "band[T.a10]", "band[T.a5]"]


# --- bad input -----------------------------------------------------------------------------------
def test_separation_names_term_and_suggests_firth() -> None:
    with pytest.raises(SeparationError, match=r"term x separates the outcome y.*Firth"):
        logit(data("glm_sep.csv"), outcome="y", covariates=["x", "z"])


def test_complete_separation_on_continuous_term() -> None:
    d = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1], "age": [1.0, 2, 3, 4, 5, 6], "z": [1.0, 0, 1, 0, 1, 0]})
    with pytest.raises(SeparationError, match="age"):
        logit(d, outcome="y", covariates=["age", "z"])


def test_constant_outcome_is_separation() -> None:
    d = pd.DataFrame({"y": [0] * 5, "x": [1.0, 2, 3, 4, 5]})
    with pytest.raises(SeparationError, match="all outcomes in y are equal"):
        logit(d, outcome="y", covariates=["x"])


def test_singular_design_names_collinear_terms(la: pd.DataFrame) -> None:
    d = la.assign(age2=2 * la["age"] + la["female"])
    with pytest.raises(ModelInputError, match=r"singular design.*age2.*linear combination") as e:
        logit(d, outcome="y", covariates=["age", "female", "age2"])
    assert "female" in str(e.value)


def test_nan_rows_are_counted_and_listed(la: pd.DataFrame) -> None:
    d = la.copy()
    d.loc[[3, 17], "age"] = np.nan
    with pytest.raises(ModelInputError, match=r"2 row\(s\).*age \(2\).*first rows: 3, 17"):
        logit(d, outcome="y", covariates=COV)


def test_outcome_not_binary(la: pd.DataFrame) -> None:
    d = la.assign(y=la["y"] * 2)
    with pytest.raises(ModelInputError, match=r"y must be coded 0/1; \d+ row\(s\) have other values \(2\)"):
        logit(d, outcome="y", covariates=COV)


def test_missing_column(la: pd.DataFrame) -> None:
    with pytest.raises(ModelInputError, match="not found in the data: nope"):
        logit(la, outcome="y", covariates=["nope"])


def test_bad_cov_type(la: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="cov_type must be one of"):
        logit(la, outcome="y", covariates=COV, cov_type="HC3")  # type: ignore[arg-type]


def test_cr_needs_cluster(la: pd.DataFrame) -> None:
    with pytest.raises(ModelInputError, match="needs a cluster column"):
        logit(la, outcome="y", covariates=COV, cov_type="CR2")


def test_non_convergence_names_iterations_and_remedy() -> None:
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = (rng.random(200) < 0.4).astype(float)
    with pytest.raises(ConvergenceError, match=r"did not converge in 1 iterations.*raise maxit"):
        logit_arrays(X, y, maxit=1)


# --- the shared checks in _design (also used by the Cox models) ----------------------------------
def test_check_full_rank_names_zero_and_constant_columns() -> None:
    from recurrence.models._design import check_full_rank

    X = np.column_stack([np.ones(5), np.arange(5.0), np.zeros(5)])
    with pytest.raises(ModelInputError, match=r"term.*dead are all zero"):
        check_full_rank(X, ["(Intercept)", "a", "dead"])
    X = np.column_stack([np.ones(5), np.arange(5.0), np.full(5, 3.0)])
    with pytest.raises(ModelInputError, match=r"collinear terms: .*linear combination of"):
        check_full_rank(X, ["(Intercept)", "a", "const"])
    check_full_rank(X[:, :2], ["(Intercept)", "a"])  # full rank: no error


def test_detect_separation_only_when_separated(la: pd.DataFrame) -> None:
    from recurrence.models._design import detect_separation

    X = np.column_stack([np.ones(len(la)), la[COV].to_numpy(float)])
    assert detect_separation(X, la["y"].to_numpy(float), ["(Intercept)", *COV]) == []
    sep = data("glm_sep.csv")
    Xs = np.column_stack([np.ones(len(sep)), sep[["x", "z"]].to_numpy(float)])
    assert "x" in detect_separation(Xs, sep["y"].to_numpy(float), ["(Intercept)", "x", "z"])


def test_check_binary_accepts_bool_and_refuses_text() -> None:
    from recurrence.models._design import check_binary

    np.testing.assert_array_equal(check_binary(np.array([True, False]), "e"), [1.0, 0.0])
    with pytest.raises(ModelInputError, match="non-numeric"):
        check_binary(np.array(["yes", "no"], dtype=object), "e")


@pytest.mark.parametrize("cov_type", ["HC0", "CR1", "CR2"])
def test_zero_weight_rows_are_not_observations_for_robust_ses(la: pd.DataFrame, cov_type: str) -> None:
    # Zero-weight rows add no score; they used to count in CR1's small-sample factors (n and G)
    # and made CR2 raise LinAlgError (working variance v / 0). Now: equal to dropping them.
    # (R's sandwich::vcovCL on a glm with zero weights gives a third, different value; on the
    # glm without those rows it gives this one.)
    w = pd.Series(1.0 + (np.arange(len(la)) % 3), index=la.index)
    first = la["la_code"].unique()[0]
    w[(la["la_code"] == first) | (np.arange(len(la)) % 7 == 0)] = 0.0
    d = la.assign(w=w)
    kw = dict(outcome="y", covariates=["age", "n_pp"], weights="w", cluster="la_code", cov_type=cov_type)
    full = logit(d, **kw)
    dropped = logit(d[d["w"] > 0], **kw)
    np.testing.assert_allclose(full.params, dropped.params, rtol=1e-10)
    np.testing.assert_allclose(full.se(), dropped.se(), rtol=1e-10)
