"""Tests of the CFSR-style risk-standardised LA indicator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recurrence.validity.standardised import risk_standardised


def test_rsp_tracks_true_la_effects_not_case_mix():
    rng = np.random.default_rng(4)
    n_la, per = 30, 150
    la = np.repeat([f"{i:03d}" for i in range(n_la)], per)
    effect = rng.normal(0, 0.5, n_la)
    # Case mix differs strongly between LAs but is adjusted for.
    age = rng.normal(np.repeat(np.linspace(-1, 1, n_la), per), 1)
    eta = -1.5 + 0.8 * age + np.repeat(effect, per)
    y = (rng.random(la.size) < 1 / (1 + np.exp(-eta))).astype(int)
    data = pd.DataFrame({"la_code": la, "age": age, "y": y})
    table, model = risk_standardised(data, outcome="y", case_mix=["age"])
    assert model["national_rate"] == pytest.approx(y.mean())
    assert model["sigma_la"] == pytest.approx(0.5, abs=0.25)
    assert len(table) == n_la
    rho = pd.Series(table["rsp_predicted"].to_numpy()).rank().corr(pd.Series(effect).rank())
    assert rho > 0.7
    assert (table["rsp_predicted_ci_lower"] <= table["rsp_predicted"]).all()
    assert (table["rsp_predicted"] <= table["rsp_predicted_ci_upper"]).all()
    assert (table["rsp_observed_ci_lower"] <= table["rsp_observed"]).all()
    # O/E x national rate summed back over LAs gives about the national number of outcomes.
    assert table["observed"].sum() == y.sum()
    assert table["expected"].sum() == pytest.approx(y.sum(), rel=0.15)
