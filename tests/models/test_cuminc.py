"""Aalen-Johansen cumulative incidence against survfit with a multi-state factor (cr_reference.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data, ref

from recurrence.errors import ModelInputError
from recurrence.models.cuminc import aalen_johansen
from recurrence.models.km import kaplan_meier


@pytest.mark.parametrize("dataset", ["cr", "cr_ties"])
def test_matches_survfit_multistate(dataset: str) -> None:
    # A small block forces the blocked variance code through several blocks.
    res = aalen_johansen(data(f"{dataset}.csv"), time="time", status="status", block=97)
    r = ref("cr_aalen_johansen.csv")
    for cause in (1, 2):
        tab = res.table[res.table["cause"] == cause].reset_index(drop=True)
        exp = r[(r["dataset"] == dataset) & (r["cause"] == cause)].reset_index(drop=True)
        np.testing.assert_array_equal(tab["time"], exp["time"])
        np.testing.assert_array_equal(tab["n_risk"], exp["n_risk"])
        np.testing.assert_allclose(tab["estimate"], exp["estimate"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(tab["std_err"], exp["std_err"], rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(tab["lower"], exp["lower"], rtol=1e-8, equal_nan=True)
        np.testing.assert_allclose(tab["upper"], exp["upper"], rtol=1e-8, equal_nan=True)


def test_single_cause_is_one_minus_km() -> None:
    d = data("km_ties.csv")
    aj = aalen_johansen(d, time="time", status="status")
    km = kaplan_meier(d, time="time", event="status")
    np.testing.assert_allclose(aj.table["estimate"], 1 - km.table["surv"], atol=1e-12)


def test_at_and_no_events() -> None:
    d = pd.DataFrame({"t": [1.0, 2, 3, 4], "s": [1, 2, 0, 1]})
    aj = aalen_johansen(d, time="t", status="s")
    np.testing.assert_allclose(aj.at([0.5, 1, 3.5], cause=1)["estimate"], [0.0, 0.25, 0.25])
    with pytest.raises(ModelInputError, match="has no events"):
        aalen_johansen(d.assign(s=0), time="t", status="s")


def test_weighted_matches_survfit() -> None:
    d = data("cr.csv")
    d["w"] = 1 + (np.arange(1, len(d) + 1) % 4) / 2
    res = aalen_johansen(d, time="time", status="status", weights="w", block=128)
    r = ref("cr_aalen_johansen.csv")
    for cause in (1, 2):
        tab = res.table[res.table["cause"] == cause].reset_index(drop=True)
        exp = r[(r["dataset"] == "cr_weighted") & (r["cause"] == cause)].reset_index(drop=True)
        np.testing.assert_array_equal(tab["n_risk"], exp["n_risk"])
        np.testing.assert_allclose(tab["estimate"], exp["estimate"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(tab["std_err"], exp["std_err"], rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(tab["upper"], exp["upper"], rtol=1e-8, equal_nan=True)
