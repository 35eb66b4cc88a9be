"""Average marginal effects and standardised risks against R (delta method by central differences)."""

from __future__ import annotations

import numpy as np
import pytest
from _glm_rref import data, glm_ref

from recurrence.errors import ModelInputError
from recurrence.models.logistic import logit
from recurrence.models.margins import average_marginal_effects, standardised_risks

COV = ["age", "female", "n_pp"]


@pytest.fixture(scope="module")
def fit():
    return logit(data("glm_la.csv"), outcome="y", covariates=COV)


def test_ame_matches_r(fit) -> None:
    ame = average_marginal_effects(fit)
    est, se = glm_ref("la_margins", "estimate"), glm_ref("la_margins", "se")
    np.testing.assert_allclose(ame.params, est[COV], rtol=1e-6)
    # R differentiates numerically (h = 1e-6): agreement measured ~1e-10.
    np.testing.assert_allclose(ame.se(), se[COV], rtol=1e-6)
    assert ame.scale == "identity"


def test_standardised_risks_match_r(fit) -> None:
    s = standardised_risks(fit, "female")
    est, se = glm_ref("la_margins", "estimate"), glm_ref("la_margins", "se")
    np.testing.assert_allclose(
        s["estimate"].to_numpy(),
        [est["risk1"], est["risk0"], est["rd"], np.exp(est["log_rr"])], rtol=1e-6,
    )
    np.testing.assert_allclose(
        s["std_error"].to_numpy(), [se["risk1"], se["risk0"], se["rd"], se["log_rr"]], rtol=1e-6
    )
    rr = s.loc["risk_ratio"]
    assert rr["ci_lower"] < rr["estimate"] < rr["ci_upper"]


def test_categorical_contrast_sets_siblings_to_zero() -> None:
    d = data("glm_la.csv")
    d["band"] = np.select([d["age"] < 5, d["age"] < 11], ["a", "b"], "c")
    fit = logit(d, outcome="y", covariates=["band"])
    ame = average_marginal_effects(fit)
    # With only the factor in the model the contrast equals the difference of the group means
    # of fitted risks (saturated model): exact check of the sibling handling.
    means = d.groupby("band")["y"].mean()
    assert ame.params["band[T.c]"] == pytest.approx(means["c"] - means["a"], abs=1e-9)


def test_bad_input(fit) -> None:
    with pytest.raises(ModelInputError, match="not in the model: nope"):
        average_marginal_effects(fit, ["nope"])
    with pytest.raises(ModelInputError, match="must be coded 0/1"):
        standardised_risks(fit, "age")



def test_margins_of_a_fit_with_an_offset_match_r() -> None:
    """Every predicted risk includes the fit's offset (R: plogis(X b + off), tests/r)."""
    d = data("glm_la.csv").assign(off=lambda x: (x["age"] - 10) / 20)
    res = logit(d, outcome="y", covariates=COV, offset="off")
    np.testing.assert_allclose(res.params, glm_ref("la_offset", "estimate")[res.params.index],
                               rtol=1e-6)
    est, se = glm_ref("la_margins_offset", "estimate"), glm_ref("la_margins_offset", "se")
    ame = average_marginal_effects(res)
    np.testing.assert_allclose(ame.params, est[COV], rtol=1e-6)
    np.testing.assert_allclose(ame.se(), se[COV], rtol=1e-6)
    s = standardised_risks(res, "female")
    np.testing.assert_allclose(
        s["estimate"].to_numpy(),
        [est["risk1"], est["risk0"], est["rd"], np.exp(est["log_rr"])], rtol=1e-6,
    )
    np.testing.assert_allclose(
        s["std_error"].to_numpy(), [se["risk1"], se["risk0"], se["rd"], se["log_rr"]], rtol=1e-6
    )
    # predictions carry the offset: the fit's own rows and new data through its column
    np.testing.assert_allclose(res.predict(), res.fitted, rtol=1e-12)
    np.testing.assert_allclose(res.predict(d), res.fitted, rtol=1e-12)
