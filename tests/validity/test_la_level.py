"""Tests of funnel plots, overdispersion, rank validity and the variance decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recurrence.errors import ModelInputError
from recurrence.validity import la_level as ll


def test_overdispersion_by_hand_without_winsorising():
    y = np.array([10, 20, 30, 40.0])
    n = np.array([100, 100, 100, 100.0])
    od = ll.overdispersion(y, n, winsorise=0.0)
    p0 = 0.25
    z = (y / n - p0) / np.sqrt(p0 * (1 - p0) / n)
    assert od.target == pytest.approx(p0)
    assert od.phi == pytest.approx(np.mean(z**2))
    assert od.chi2 == pytest.approx(4 * np.mean(z**2))
    w = n / (p0 * (1 - p0))
    tau2 = (od.chi2 - 3) / (w.sum() - (w**2).sum() / w.sum())
    assert od.tau2 == pytest.approx(tau2)
    assert od.p_value == pytest.approx(stats.chi2.sf(od.chi2, 3))


def test_binomial_data_are_not_overdispersed_and_funnel_flags():
    rng = np.random.default_rng(5)
    n = rng.integers(50, 1000, 200)
    y = rng.binomial(n, 0.2)
    od = ll.overdispersion(y, n)
    assert od.phi < 1.3
    frame = pd.DataFrame({"la": np.arange(200), "y": y, "n": n})
    frame.loc[0, ["y", "n"]] = [500, 1000]  # a clear high outlier
    table, _ = ll.funnel_data(frame, numerator="y", denominator="n", unit="la",
                              adjustment="none")
    assert table.loc[0, "outlier_high"]
    assert table["outlier"].sum() <= 4
    assert (table["lower_99_8"] < table["lower_95"]).all()
    with pytest.raises(ValueError):
        ll.funnel_data(frame, numerator="y", denominator="n", unit="la", adjustment="bogus")  # type: ignore[arg-type]


def test_additive_adjustment_widens_limits_for_overdispersed_data():
    rng = np.random.default_rng(6)
    n = np.full(150, 400)
    p = np.clip(rng.normal(0.2, 0.05, 150), 0.01, 0.99)
    y = rng.binomial(n, p)
    frame = pd.DataFrame({"la_code": np.arange(150), "y": y, "n": n})
    plain, od = ll.funnel_data(frame, numerator="y", denominator="n", adjustment="none")
    adj, _ = ll.funnel_data(frame, numerator="y", denominator="n", adjustment="additive")
    assert od.tau == pytest.approx(0.05, abs=0.015)
    assert adj["outlier"].sum() < plain["outlier"].sum()


def test_variance_decomposition_by_hand():
    y = np.array([20, 30, 40.0])
    n = np.array([100, 100, 100.0])
    e = np.array([0.25, 0.3, 0.35])
    out = ll.variance_decomposition(y, n, e).set_index("component")["variance"]
    total = np.var([0.2, 0.3, 0.4], ddof=1)
    chance = 0.3 * 0.7 / 100
    casemix = np.var(e, ddof=1)
    assert out["total"] == pytest.approx(total)
    assert out["chance"] == pytest.approx(chance)
    assert out["case_mix"] == pytest.approx(casemix)
    assert out["true_difference"] == pytest.approx(total - chance - casemix)
    with pytest.raises(ModelInputError):
        ll.variance_decomposition([1, 2], [10, 10])


def test_rank_validity_and_outlier_agreement():
    idx = [f"{i:03d}" for i in range(30)]
    truth = pd.Series(np.arange(30.0), index=idx)
    rv = ll.rank_validity(truth * 2 + 1, truth)
    assert rv["spearman"] == pytest.approx(1.0)
    flags = pd.Series([True] * 3 + [False] * 27, index=idx)
    ag = ll.outlier_agreement(flags, flags)
    assert ag["kappa"] == pytest.approx(1.0)
    assert ag["n_flagged_a"] == 3


def test_overdispersion_with_an_outside_target_keeps_every_df():
    from recurrence.validity.la_level import overdispersion

    y, n = np.array([10.0, 25, 40, 12, 30]), np.array([100.0, 200, 300, 150, 250])
    pooled = overdispersion(y, n)
    fixed = overdispersion(y, n, target=pooled.target)
    # same z-scores and statistic, one more df when the target is not estimated from the LAs
    assert fixed.chi2 == pytest.approx(pooled.chi2)
    assert (pooled.df, fixed.df) == (4, 5)
    assert fixed.p_value > pooled.p_value
