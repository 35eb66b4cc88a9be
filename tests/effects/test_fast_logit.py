"""The lean Newton-Raphson logistic fitter against statsmodels and the package's IRLS."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from recurrence.effects.fast_logit import fit_logit_newton
from recurrence.effects.scenarios import fit_study_model, normal_logistic
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
