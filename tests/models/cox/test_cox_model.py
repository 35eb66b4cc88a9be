"""coxph against R survival::coxph (reference CSVs written by tests/r/cox_reference.R).

Tolerances, per quantity: coefficients rtol 1e-6 (both fits follow the same Newton path from 0
with R's stopping rule, so they agree far below that), standard errors (model and robust) rtol
1e-6 (measured 4e-14), log partial likelihoods rtol 1e-9, event counts and iteration counts exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cox_refdata import CONFIGS, fit_args, ref

from recurrence.models.base import TIDY_COLUMNS
from recurrence.models.cox import CoxResults, coxph

COEF = ref("cox_coef")
FIT = ref("cox_fit")
CASES = [(c, t) for c in CONFIGS for t in ("efron", "breslow")]


@pytest.fixture(scope="module")
def fits() -> dict[tuple[str, str], CoxResults]:
    out = {}
    for config, ties in CASES:
        data, args = fit_args(config)
        out[(config, ties)] = coxph(data, ties=ties, **args)
    return out


@pytest.mark.parametrize(("config", "ties"), CASES)
def test_coefficients_and_se_match_r(fits, config: str, ties: str) -> None:
    res = fits[(config, ties)]
    r = COEF[(COEF.config == config) & (COEF.ties == ties)].set_index("term")
    assert list(res.params.index) == list(r.index)
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(res.means, r["mean"], rtol=1e-9, atol=1e-12)
    if r["robust_se"].notna().all():
        np.testing.assert_allclose(res.se(), r["robust_se"], rtol=1e-6)
        np.testing.assert_allclose(res.extra["naive_se"], r["se"], rtol=1e-6)
        assert res.cov_type in ("cluster", "robust")
    else:
        np.testing.assert_allclose(res.se(), r["se"], rtol=1e-6)
        assert res.cov_type == "model"


@pytest.mark.parametrize(("config", "ties"), CASES)
def test_loglik_events_iterations_match_r(fits, config: str, ties: str) -> None:
    res = fits[(config, ties)]
    r = FIT[(FIT.config == config) & (FIT.ties == ties)].iloc[0]
    assert res.loglik == pytest.approx(r["loglik"], rel=1e-9)
    assert res.extra["loglik_null"] == pytest.approx(r["loglik0"], rel=1e-9)
    assert res.extra["score_test"] == pytest.approx(r["score"], rel=1e-6)
    assert res.n_events == r["nevent"]
    assert res.nobs == r["n"]
    assert res.n_iter == r["iter"]


def test_clustered_counts_clusters(fits) -> None:
    res = fits[("ag_la", "efron")]
    assert res.n_clusters == 30
    assert res.cov_type == "cluster"


def test_tidy_has_contract_columns(fits) -> None:
    tidy = fits[("ag", "efron")].tidy()
    assert tuple(tidy.columns) == TIDY_COLUMNS
    assert list(tidy["term"]) == ["x1", "x2", "tv"]
    np.testing.assert_allclose(tidy["exp_estimate"], np.exp(tidy["estimate"]))
    assert "log-hazard" in fits[("ag", "efron")].summary()


SURV = ref("cox_survfit")
NEWD = pd.DataFrame({"x1": [0, 1.5, -1], "x2": [0, 1, 1], "x3": [8, 2, 15], "s": [0, 1, 2]})


@pytest.mark.parametrize(
    ("config", "ties"),
    [(c, t) for c in ("right_basic", "right_strata", "right_weights") for t in ("efron", "breslow")],
)
def test_predict_and_survival_curves_match_survfit(fits, config: str, ties: str) -> None:
    """lp at rtol 1e-7 (R's reference = "sample"); survival at rtol 1e-6 (survfit.coxph)."""
    res = fits[(config, ties)]
    r = SURV[(SURV.config == config) & (SURV.ties == ties)]
    lp = r.groupby("row")["lp"].first().to_numpy()
    np.testing.assert_allclose(res.predict(NEWD), lp, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(res.predict(NEWD, type="risk"), np.exp(lp), rtol=1e-7)
    times = sorted(r["time"].unique())
    curves = res.survival(NEWD, times=times)
    for i in range(3):
        want = r[r.row == i + 1].sort_values("time")["surv"].to_numpy()
        np.testing.assert_allclose(curves[i].to_numpy(), want, rtol=1e-6)


def test_row_order_does_not_matter(fits) -> None:
    data, args = fit_args("pwp_gap")
    shuffled = data.sample(frac=1.0, random_state=3)
    res = coxph(shuffled, **args)
    ref_fit = fits[("pwp_gap", "efron")]
    np.testing.assert_allclose(res.params, ref_fit.params, rtol=1e-10)
    np.testing.assert_allclose(res.se(), ref_fit.se(), rtol=1e-9)


def test_integer_case_weights_equal_replicated_rows() -> None:
    """Case weights as R: with Breslow ties weight k is k copies of the row.

    Not with Efron: R (and this package, checked against R in ``right_weights``) uses the
    number of tied event rows, not their total weight, in Efron's correction, so replicated
    rows make more tied events than weighted ones.
    """
    ties = "breslow"
    data, args = fit_args("ag")
    args = {k: v for k, v in args.items() if k != "cluster"}
    rng = np.random.default_rng(5)
    data = data.assign(k=rng.integers(1, 4, len(data)))
    weighted = coxph(data, weights="k", ties=ties, **args)
    replicated = coxph(data.loc[data.index.repeat(data["k"])], ties=ties, **args)
    np.testing.assert_allclose(weighted.params, replicated.params, rtol=1e-8)
    np.testing.assert_allclose(weighted.se(), replicated.se(), rtol=1e-8)
    assert weighted.loglik == pytest.approx(replicated.loglik, rel=1e-10)
