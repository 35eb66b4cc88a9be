"""Shared gamma frailty against R ``coxph(... + frailty(family, distribution = "gamma"))``.

The R reference (tests/r/cox_reference.R) runs coxph's inner Newton loop to eps = 1e-12 (its
default 1e-9 stopped 1.5e-6 to 2.3e-5 short of the penalised optimum, and the tolerances here
were 1e-5 and 1e-4). Measured differences against it (tests/r/ref/cox_frailty*.csv), right-
censored data / recurrent events with 300 child frailties: the theta search visits the same
thetas (1.1e-12 / 3e-11 relative) with the same marginal log likelihoods (2e-15 / 6e-14);
coefficients 3.7e-9 / 3.1e-7, SEs 1e-10 / 2e-8, partial log likelihood 5e-10 / 5.6e-10.
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


@pytest.fixture(params=["full", "sparse"])
def newton_step(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both inner Newton steps, forced: full information and R's sparse one (no fallback to
    full); the gradient is exact, so both reach the same optimum."""
    import recurrence.models.cox.frailty as frailty

    if request.param == "sparse":
        monkeypatch.setattr(frailty, "FULL_STEP_GROUPS", 0)
        monkeypatch.setattr(frailty, "DENSE_FRAILTY_GROUPS", 0)
    else:
        monkeypatch.setattr(frailty, "FULL_STEP_GROUPS", 10**9)
    return str(request.param)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_gamma_frailty_matches_r(ties: str, newton_step: str) -> None:
    res = frailty_coxph(
        load("cox_frailty"), covariates=["x1", "x2"], event="status", time="time", group="family", ties=ties
    )
    r = REF[REF["ties"] == ties]
    h = HIST[HIST["ties"] == ties]
    np.testing.assert_allclose(res.extra["history"]["theta"], h["theta"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.extra["history"]["c_loglik"], h["c_loglik"], rtol=1e-12)
    np.testing.assert_allclose(res.extra["history"]["ppl"], h["ppl"], rtol=1e-12)
    assert res.extra["theta"] == pytest.approx(r["theta"].iloc[0], rel=1e-10)
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-7)
    np.testing.assert_allclose(res.se(), r["se"], rtol=1e-8)
    assert res.loglik == pytest.approx(r["loglik"].iloc[0], rel=1e-8)
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
def test_recurrent_events_with_child_frailty_match_r(ties: str, newton_step: str) -> None:
    """AG model with a gamma frailty per child (300 groups), counting-process data.

    Measured (module docstring): thetas 3e-11, marginal log likelihoods 6e-14, coefficients
    3.1e-7, SEs 2e-8, partial log likelihood 5.6e-10, all relative.
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
    np.testing.assert_allclose(res.extra["history"]["theta"], h["theta"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.extra["history"]["c_loglik"], h["c_loglik"], rtol=1e-12)
    np.testing.assert_allclose(res.extra["history"]["ppl"], h["ppl"], rtol=1e-11)
    assert res.extra["theta"] == pytest.approx(r["theta"].iloc[0], rel=1e-10)
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.se(), r["se"], rtol=1e-6)
    assert res.loglik == pytest.approx(r["loglik"].iloc[0], rel=1e-8)
    assert res.n_iter == r["outer"].iloc[0]


def test_large_groups_converge() -> None:
    """150 groups of 200 rows (an LA frailty): the sparse Newton step alone crawled along the
    direction shifting every log frailty together and did not converge in 200 iterations; the
    full step converges in a few, and so does the fallback from sparse to full steps."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(150), 200)
    z = rng.gamma(2.0, 0.5, 150)[g]
    x1 = rng.normal(size=len(g))
    t = np.ceil(rng.exponential(1.0 / (0.1 * z * np.exp(0.5 * x1))))
    c = np.ceil(rng.uniform(2, 20, len(g)))
    data = pd.DataFrame({"grp": g, "x1": x1, "time": np.minimum(t, c), "status": (t <= c).astype(int)})
    res = frailty_coxph(data, covariates=["x1"], time="time", event="status", group="grp")
    assert 0.2 < res.extra["theta"] < 1.5
    assert res.params["x1"] == pytest.approx(0.5, abs=0.05)
    import recurrence.models.cox.frailty as frailty

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(frailty, "FULL_STEP_GROUPS", 0)  # start sparse, fall back after 30 steps
        fallback = frailty_coxph(data, covariates=["x1"], time="time", event="status", group="grp")
    assert fallback.extra["theta"] == pytest.approx(res.extra["theta"], rel=1e-8)
    np.testing.assert_allclose(fallback.params, res.params, rtol=1e-8)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_group_step_sums_equal_the_dense_risk_set_sums(ties: str) -> None:
    """The frailty block's diagonal from each group's step function (no T x G array) equals the
    one from the dense event-time-by-group sums, on counting-process data with ties."""
    from recurrence.models.cox import coxph
    from recurrence.models.cox.frailty import _blocks
    from recurrence.models.cox.model import _codes

    data = load("cox_recurrent")
    base = coxph(data, covariates=["x1", "x2", "tv"], event="event", time="stop", start="start",
                 ties=ties)
    assert base.state is not None
    cd = base.state.data
    g = _codes(data, ["id"], "group")[0][cd.order]
    n_groups = int(g.max()) + 1
    rng = np.random.default_rng(1)
    gam = np.concatenate([base.params.to_numpy(), rng.normal(0, 0.3, n_groups)])
    dense = _blocks(cd, g, n_groups, 3, 2.0, gam, ties, full=True)  # type: ignore[arg-type]
    steps = _blocks(cd, g, n_groups, 3, 2.0, gam, ties, full=False)  # type: ignore[arg-type]
    np.testing.assert_allclose(steps.d, dense.d, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(steps.grad, dense.grad, rtol=1e-13)
