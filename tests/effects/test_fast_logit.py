"""The lean Newton-Raphson logistic fitter against statsmodels and the package's IRLS."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from recurrence.effects.fast_logit import fit_logit_newton, fit_logit_newton_batch
from recurrence.effects.scenarios import fit_study_model, fit_study_model_batch, normal_logistic
from recurrence.errors import SeparationError
from recurrence.models.logistic import logit_arrays


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_statsmodels(seed: int) -> None:
    d = normal_logistic(
        np.random.default_rng(seed), n=500, intercept=-1.0, betas=[0.4, -0.3, 0.2, 0.0, 0.1]
    )
    fit = fit_logit_newton(d["X"], d["y"])
    ref = sm.Logit(d["y"], d["X"]).fit(disp=0, method="newton", tol=1e-12)
    assert fit.converged
    np.testing.assert_allclose(fit.beta, ref.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref.bse, rtol=1e-6)
    pkg = logit_arrays(d["X"], d["y"], check=False)
    np.testing.assert_allclose(fit.beta, pkg.params.to_numpy(), rtol=1e-7, atol=1e-9)


def test_separation_is_flagged_and_handed_to_the_package() -> None:
    x = np.array([0.0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    y = np.array([0.0, 1, 0, 0, 1, 1, 1, 1, 0, 1])  # every exposed subject is an event
    X = np.column_stack([np.ones(10), x])
    assert not fit_logit_newton(X, y).converged
    with pytest.raises(SeparationError):
        fit_study_model({"model": "logit", "X": X, "y": y, "names": ["(Intercept)", "x"]})


def _stack_with_separated_replicate() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    designs = [normal_logistic(rng, n=60, intercept=-0.5, betas=[0.8, -0.5, 0.0]) for _ in range(5)]
    X = np.stack([d["X"] for d in designs])
    y = np.stack([d["y"] for d in designs])
    y[2] = (X[2, :, 1] > 0).astype(float)  # x1 separates replicate 2 completely
    return X, y


def test_batch_equals_one_at_a_time() -> None:
    X, y = _stack_with_separated_replicate()
    batch = fit_logit_newton_batch(X, y)
    for r in range(X.shape[0]):
        one = fit_logit_newton(X[r], y[r])
        assert bool(batch.converged[r]) == one.converged
        if one.converged:
            assert batch.n_iter[r] == one.n_iter
            np.testing.assert_allclose(batch.beta[r], one.beta, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(batch.cov[r], one.cov, rtol=1e-11, atol=1e-14)
    assert not batch.converged[2]


def test_batch_does_not_depend_on_the_other_replicates() -> None:
    X, y = _stack_with_separated_replicate()
    whole = fit_logit_newton_batch(X, y)
    part = fit_logit_newton_batch(X[3:], y[3:])
    np.testing.assert_array_equal(whole.beta[3:], part.beta)
    np.testing.assert_array_equal(whole.cov[3:], part.cov)


def test_study_model_batch_defers_separation_to_the_front_door() -> None:
    X, y = _stack_with_separated_replicate()
    names = ["(Intercept)", "x1", "x2", "x3"]
    datas = [{"model": "logit", "X": X[r], "y": y[r], "names": names} for r in range(len(X))]
    datas.append({"model": "two_proportions", "x1": 30, "n1": 41, "x0": 20, "n0": 41})
    out = fit_study_model_batch(datas)
    assert out[2] is None and out[-1] is None  # left to fit_study_model (SeparationError; 2 arms)
    for r in (0, 1, 3, 4):
        one = fit_study_model(datas[r])
        got = out[r]
        assert got is not None and list(got) == list(one)
        for k in one:
            np.testing.assert_allclose(
                [got[k].estimate, got[k].se, got[k].ci_lower, got[k].ci_upper, got[k].p_value],
                [one[k].estimate, one[k].se, one[k].ci_lower, one[k].ci_upper, one[k].p_value],
                rtol=1e-11,
                atol=1e-14,
            )


def test_blocks_of_a_long_stack_give_the_numbers_of_single_replicates() -> None:
    rng = np.random.default_rng(11)
    designs = [normal_logistic(rng, n=80, intercept=-1.0, betas=[0.5, 0.2]) for _ in range(40)]
    X = np.stack([d["X"] for d in designs])
    y = np.stack([d["y"] for d in designs])
    whole = fit_logit_newton_batch(X, y)  # more replicates than one block
    assert whole.beta.shape == (40, 3) and whole.cov.shape == (40, 3, 3)
    for r in (0, 15, 16, 39):
        alone = fit_logit_newton_batch(X[r : r + 1], y[r : r + 1])
        np.testing.assert_array_equal(whole.beta[r], alone.beta[0])
        np.testing.assert_array_equal(whole.cov[r], alone.cov[0])
        assert whole.converged[r] == alone.converged[0]
