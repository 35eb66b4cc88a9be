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
    res = aalen_johansen(data(f"{dataset}.csv"), time="time", status="status")
    r = ref("cr_aalen_johansen.csv")
    for cause in (1, 2):
        tab = res.table[res.table["cause"] == cause].reset_index(drop=True)
        exp = r[(r["dataset"] == dataset) & (r["cause"] == cause)].reset_index(drop=True)
        np.testing.assert_array_equal(tab["time"], exp["time"])
        np.testing.assert_array_equal(tab["n_risk"], exp["n_risk"])
        np.testing.assert_array_equal(tab["n_event"], exp["n_event"])  # unweighted, as R
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
    res = aalen_johansen(d, time="time", status="status", weights="w")
    r = ref("cr_aalen_johansen.csv")
    for cause in (1, 2):
        tab = res.table[res.table["cause"] == cause].reset_index(drop=True)
        exp = r[(r["dataset"] == "cr_weighted") & (r["cause"] == cause)].reset_index(drop=True)
        np.testing.assert_array_equal(tab["n_risk"], exp["n_risk"])
        np.testing.assert_array_equal(tab["n_event"], exp["n_event"])  # unweighted, as R
        np.testing.assert_allclose(tab["estimate"], exp["estimate"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(tab["std_err"], exp["std_err"], rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(tab["upper"], exp["upper"], rtol=1e-8, equal_nan=True)


@pytest.mark.parametrize("case", ["ties", "weighted", "all_fail_at_end"])
def test_linear_variance_equals_its_definition(case: str) -> None:
    from recurrence.models.cuminc import _influence_var_direct, influence_var

    rng = np.random.default_rng(11)
    n = 150
    t = np.ceil(rng.exponential(5, n))
    st = rng.choice([0, 1, 2], n, p=[0.3, 0.4, 0.3])
    w = rng.uniform(0.5, 2, n) if case == "weighted" else np.ones(n)
    if case == "all_fail_at_end":
        t[t >= t.max()] = t.max()
        st[t == t.max()] = 1  # everyone at risk at the last time fails: S drops to 0
    order = np.argsort(t, kind="stable")
    t, st, w = t[order], st[order], w[order]
    times, first = np.unique(t, return_index=True)
    n_risk = np.cumsum(np.add.reduceat(w, first)[::-1])[::-1]
    d_k = np.vstack([np.add.reduceat(w * (st == c), first) for c in (1, 2)])
    lam_k = d_k / n_risk
    lam = lam_k.sum(axis=0)
    s_prev = np.r_[1.0, np.cumprod(1 - lam)[:-1]]
    args = (t, st, [1, 2], times, n_risk, lam, lam_k, s_prev)
    fast = influence_var(*args, w)
    slow = _influence_var_direct(*args, 64, w)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-15)
