"""Shared gamma frailty against R ``coxph(... + frailty(family, distribution = "gamma"))``.

Measured differences (tests/r/ref/cox_frailty*.csv): the theta search visits the same thetas as
R (to ~2e-11) with the same marginal log likelihoods (~2e-12 relative). R's inner Newton loop
stops at a relative change of 1e-9 in the penalised log likelihood, ours when the step is below
1e-10, so R's coefficients sit ~1.5e-6 (relative) from the exact penalised optimum and its
partial log likelihood ~2e-7. Tolerances therefore: theta rtol 1e-8, history rtol 1e-9,
coefficients rtol 1e-5, SEs rtol 1e-6, partial log likelihood rtol 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cox_refdata import load, ref

from recurrence.errors import ModelInputError
from recurrence.models.cox import frailty_coxph
from recurrence.models.cox.frailty import gamma_correction

REF = ref("cox_frailty")
HIST = ref("cox_frailty_history")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_gamma_frailty_matches_r(ties: str) -> None:
    res = frailty_coxph(
        load("cox_frailty"), covariates=["x1", "x2"], event="status", time="time", group="family", ties=ties
    )
    r = REF[REF["ties"] == ties]
    h = HIST[HIST["ties"] == ties]
    np.testing.assert_allclose(res.extra["history"]["theta"], h["theta"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.extra["history"]["c_loglik"], h["c_loglik"], rtol=1e-9)
    np.testing.assert_allclose(res.extra["history"]["ppl"], h["ppl"], rtol=1e-9)
    assert res.extra["theta"] == pytest.approx(r["theta"].iloc[0], rel=1e-8)
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-5)
    np.testing.assert_allclose(res.se(), r["se"], rtol=1e-6)
    assert res.loglik == pytest.approx(r["loglik"].iloc[0], rel=1e-6)
    assert res.n_iter == r["outer"].iloc[0]
    # the log frailties are centred so that their exponentials average 1 (gamma mean 1)
    assert np.exp(res.extra["frailty"]).mean() == pytest.approx(1.0, rel=1e-8)


def test_gamma_correction_limit_and_value() -> None:
    d = np.array([0.0, 1, 3])
    # direct sum of log-gamma terms for nu = 2
    nu = 2.0
    from scipy.special import gammaln

    want = sum(x + nu * np.log(nu / (nu + x)) + gammaln(nu + x) - gammaln(nu) - x * np.log(nu + x) for x in d)
    assert gamma_correction(d, nu) == pytest.approx(want)
    assert gamma_correction(d, 1e12) == pytest.approx(0.0, abs=1e-10)


def test_too_few_groups() -> None:
    df = pd.DataFrame({"t": np.arange(1.0, 21), "e": 1, "x": np.tile([0.0, 1.0], 10), "g": np.repeat([1, 2], 10)})
    with pytest.raises(ModelInputError, match="has 2 levels; the gamma frailty needs more than 5"):
        frailty_coxph(df, covariates=["x"], event="e", time="t", group="g")


AG_CASES = [
    "efron",
    pytest.param("breslow", marks=pytest.mark.slow),  # same code path as efron, ~7 s more
]


@pytest.mark.parametrize("ties", AG_CASES)
def test_recurrent_events_with_child_frailty_match_r(ties: str) -> None:
    """AG model with a gamma frailty per child (300 groups), counting-process data.

    Measured: thetas of the search within 1e-8 of R's, marginal log likelihoods within 2e-11
    (relative), coefficients within 2.3e-5 (R's inner loop stops earlier with 300 frailty
    terms), SEs within 1.6e-6, partial log likelihood within 6e-8. Tolerances: theta rtol 1e-7,
    coefficients rtol 1e-4, SEs rtol 1e-5, log likelihoods rtol 1e-6.
    """
    res = frailty_coxph(
        load("cox_recurrent"),
        covariates=["x1", "x2", "tv"],
        event="event",
        time="stop",
        start="start",
        group="id",
        ties=ties,
    )
    r = REF[REF["ties"] == f"ag_{ties}"]
    h = HIST[HIST["ties"] == f"ag_{ties}"]
    np.testing.assert_allclose(res.extra["history"]["theta"], h["theta"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.extra["history"]["c_loglik"], h["c_loglik"], rtol=1e-9)
    assert res.extra["theta"] == pytest.approx(r["theta"].iloc[0], rel=1e-7)
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-4)
    np.testing.assert_allclose(res.se(), r["se"], rtol=1e-5)
    assert res.loglik == pytest.approx(r["loglik"].iloc[0], rel=1e-6)
    assert res.n_iter == r["outer"].iloc[0]
