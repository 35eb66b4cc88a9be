"""Tests of recurrence.validity.metrics: hand-worked cases and pROC reference values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recurrence.errors import ModelInputError
from recurrence.validity import metrics as m

R_DIR = Path(__file__).resolve().parents[1] / "r"


@pytest.fixture(scope="module")
def roc_data() -> pd.DataFrame:
    return pd.read_csv(R_DIR / "data" / "validity_roc.csv")


@pytest.fixture(scope="module")
def proc_ref() -> dict[str, float]:
    ref = pd.read_csv(R_DIR / "ref" / "validity_roc.csv")
    return dict(zip(ref["quantity"], ref["value"], strict=True))


@pytest.mark.parametrize("score", ["score1", "score2", "flag"])
def test_auc_delong_matches_proc(roc_data, proc_ref, score):
    res = m.auc_delong(roc_data["truth"], roc_data[score])
    assert res.auc == pytest.approx(proc_ref[f"{score}_auc"], abs=1e-8)
    assert res.se**2 == pytest.approx(proc_ref[f"{score}_var"], abs=1e-10)
    assert res.ci_lower == pytest.approx(proc_ref[f"{score}_ci_lower"], abs=1e-8)
    assert res.ci_upper == pytest.approx(proc_ref[f"{score}_ci_upper"], abs=1e-8)


@pytest.mark.parametrize("other", ["score2", "flag"])
def test_delong_paired_test_matches_proc(roc_data, proc_ref, other):
    res = m.delong_test(roc_data["truth"], roc_data["score1"], roc_data[other])
    assert res.z == pytest.approx(proc_ref[f"score1_vs_{other}_z"], abs=1e-8)
    assert res.p_value == pytest.approx(proc_ref[f"score1_vs_{other}_p"], abs=1e-8)


def test_auc_by_hand_with_tie():
    # positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5)=1, (0.9>0.1)=1, (0.5=0.5)=0.5,
    # (0.5>0.1)=1 -> 3.5/4
    res = m.auc_delong([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1])
    assert res.auc == pytest.approx(0.875)
    assert res.n_positive == 2 and res.n_negative == 2


def test_flag_auc_is_mean_of_sensitivity_and_specificity(roc_data):
    acc = m.flag_accuracy(roc_data["flag"], roc_data["truth"])
    auc = m.auc_delong(roc_data["truth"], roc_data["flag"]).auc
    assert auc == pytest.approx((acc["sensitivity"] + acc["specificity"]) / 2)


def test_flag_accuracy_by_hand():
    truth = [1, 1, 1, 0, 0, 0, 0, 0]
    flag = [1, 1, 0, 1, 0, 0, 0, 0]
    acc = m.flag_accuracy(flag, truth)
    assert (acc["tp"], acc["fp"], acc["fn"], acc["tn"]) == (2, 1, 1, 4)
    assert acc["sensitivity"] == pytest.approx(2 / 3)
    assert acc["specificity"] == pytest.approx(4 / 5)
    assert acc["ppv"] == pytest.approx(2 / 3)
    assert acc["npv"] == pytest.approx(4 / 5)
    assert acc["sensitivity_ci_lower"] < 2 / 3 < acc["sensitivity_ci_upper"]


def test_wilson_interval_known_value():
    # Wilson 95% interval for 1/10 (Newcombe 1998, Table I: 0.0179 to 0.4042)
    lo, hi = m.wilson_ci(1, 10)
    assert lo == pytest.approx(0.0179, abs=5e-5)
    assert hi == pytest.approx(0.4042, abs=5e-5)
    assert np.isnan(m.wilson_ci(0, 0)[0])


def test_brier_and_calibration_of_a_calibrated_model():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, 4000)
    y = rng.random(4000) < p
    assert m.brier_score([1, 0], [0.8, 0.2]) == pytest.approx(0.04)
    cal = m.calibration(y, p)
    assert abs(cal.slope - 1) < 0.1
    assert abs(cal.intercept) < 0.15
    assert cal.intercept_ci_lower < cal.intercept < cal.intercept_ci_upper
    # Over-confident predictions have a slope below one.
    extreme = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))
    assert m.calibration(y, extreme).slope_ci_upper < 1
    tab = m.calibration_table(y, p, n_bins=5)
    assert len(tab) == 5 and tab["n"].sum() == 4000
    assert np.allclose(tab["observed"], tab["mean_predicted"], atol=0.05)


def test_nri_by_hand():
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    old = np.array([0, 0, 1, 1, 1, 1, 0, 0])
    new = np.array([1, 0, 1, 0, 0, 1, 0, 1])
    res = m.nri(truth, old, new, kind="categorical", cutoffs=(0.5,))
    # events: up 1 (first), down 1 (fourth) -> 0; non-events: down 1, up 1 -> 0
    assert res.nri_events == pytest.approx(0.0)
    assert res.nri_nonevents == pytest.approx(0.0)
    new2 = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    res2 = m.nri(truth, old, new2, kind="categorical", cutoffs=(0.5,))
    assert res2.nri_events == pytest.approx(0.5)
    assert res2.nri_nonevents == pytest.approx(0.5)
    assert res2.se_null == pytest.approx(np.sqrt(0.5 / 4 + 0.5 / 4))
    # the estimate's SE: each part (p_up + p_down - (p_up - p_down)^2) / n = (0.5 - 0.25) / 4
    assert res2.se == pytest.approx(np.sqrt(2 * (0.5 - 0.25) / 4))
    # continuous: from a constant 0.5 every event moves up and every non-event down -> 2
    cont = m.nri(truth, np.full(8, 0.5), new2 * 0.9 + 0.05, kind="continuous")
    assert cont.nri == pytest.approx(2.0)
    with pytest.raises(ValueError):
        m.nri(truth, old, new, kind="bogus")  # type: ignore[arg-type]


def test_kappa_and_correlation():
    k = m.cohen_kappa([1, 1, 0, 0], [1, 1, 0, 0])
    assert k["kappa"] == pytest.approx(1.0)
    k2 = m.cohen_kappa([1, 0, 1, 0], [1, 1, 0, 0])
    assert k2["kappa"] == pytest.approx(0.0)
    x = np.arange(50.0)
    c = m.correlation(x, x**3)
    assert c.estimate == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    c2 = m.correlation(rng.normal(size=200), rng.normal(size=200))
    assert c2.ci_lower < 0 < c2.ci_upper or abs(c2.estimate) < 0.2


def test_bad_input_raises():
    with pytest.raises(ModelInputError, match="both outcomes"):
        m.auc_delong([1, 1], [0.1, 0.2])
    with pytest.raises(ModelInputError, match="binary"):
        m.auc_delong([0, 2], [0.1, 0.2])
    with pytest.raises(ModelInputError, match="missing"):
        m.auc_delong([0, 1], [0.1, np.nan])


def test_constant_inputs_give_nan_not_warnings():
    k = m.cohen_kappa([0, 0, 0, 0], [1, 0, 1, 0])
    assert k["kappa"] == pytest.approx(0.0)
    assert np.isnan(k["ci_lower"]) and np.isnan(k["ci_upper"])
    c = m.correlation([1, 1, 1, 1, 1], [1, 2, 3, 4, 5])
    assert np.isnan(c.estimate)


def test_delong_with_one_positive_is_undefined_not_certain():
    """pROC gives NA for the interval and the paired test; max(0, nan) must not make it [0, 1]."""
    res = m.auc_delong([1, 0, 0, 0], [0.25, 0.1, 0.2, 0.3])
    assert res.auc == pytest.approx(2 / 3)
    assert np.isnan(res.se) and np.isnan(res.ci_lower) and np.isnan(res.ci_upper)
    test = m.delong_test([1, 0, 0, 0, 0], [0.25, 0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.2, 0.3, 0.4])
    assert test.difference == pytest.approx(2 / 4 - 4 / 4)  # 0.25 beats 2 of 4 negatives, 0.5 all
    assert all(np.isnan(v) for v in (test.se, test.z, test.p_value, test.ci_lower, test.ci_upper))


def test_continuous_nri_matches_hmisc(roc_data, proc_ref):
    """Estimate and its SE (the interval's) as Hmisc::improveProb; the test keeps Pencina's."""
    from scipy.special import expit

    res = m.nri(roc_data["truth"], expit(roc_data["score1"]), expit(roc_data["score2"]),
                kind="continuous")
    assert res.nri == pytest.approx(proc_ref["nri_continuous"], abs=1e-12)
    assert res.nri_events == pytest.approx(proc_ref["nri_continuous_events"], abs=1e-12)
    assert res.nri_nonevents == pytest.approx(proc_ref["nri_continuous_nonevents"], abs=1e-12)
    assert res.se == pytest.approx(proc_ref["nri_continuous_se"], rel=1e-12)
    assert res.ci_lower == pytest.approx(res.nri - 1.959963984540054 * res.se, rel=1e-12)
    # the null SE is larger whenever the NRI is not 0, and the z statistic uses it
    assert res.se_null > res.se
    assert res.z == pytest.approx(res.nri / res.se_null)


def test_nri_se_is_zero_when_every_event_moves_up():
    truth = [1, 1, 1, 0, 0, 0]
    res = m.nri(truth, [0.1, 0.2, 0.3, 0.5, 0.5, 0.5], [0.2, 0.3, 0.4, 0.5, 0.5, 0.5],
                kind="continuous")
    assert res.nri == pytest.approx(1.0)
    assert res.se == 0.0 and res.ci_lower == res.ci_upper == pytest.approx(1.0)
    assert res.se_null == pytest.approx(np.sqrt(1 / 3))  # sqrt((1 + 0) / 3 + 0): Pencina null SE


def test_calibration_refuses_constant_outcome_and_flags_separation():
    with pytest.raises(ModelInputError, match="needs both outcomes; got 0 events in 4 rows"):
        m.calibration([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4])
    sep = m.calibration([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])
    assert sep.slope == np.inf and np.isnan(sep.slope_ci_lower) and np.isnan(sep.slope_ci_upper)
    assert m.calibration([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]).slope == -np.inf
    flat = m.calibration([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])
    assert np.isnan(flat.slope) and flat.intercept == pytest.approx(0.0, abs=1e-8)


def test_wilson_limits_are_exact_at_the_boundaries():
    lo, hi = m.wilson_ci(10, 10)
    assert hi == 1.0 and m.wilson_ci(0, 10)[0] == 0.0
    assert lo == pytest.approx(0.7225, abs=5e-5)  # Newcombe (1998) Table I, 10/10


def test_calibration_table_gives_each_of_few_predicted_values_its_own_bin():
    prob = np.repeat([0.1, 0.3, 0.6], 10)
    truth = np.tile([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 3)
    for n_bins in (3, 10):
        tab = m.calibration_table(truth, prob, n_bins=n_bins)
        assert list(tab["mean_predicted"]) == pytest.approx([0.1, 0.3, 0.6])
        assert list(tab["n"]) == [10, 10, 10]
