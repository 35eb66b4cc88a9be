"""Performance measures (Morris, White & Crowther 2019, Table 6) on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recurrence.effects.performance import performance, to_ratio_scale


def test_table6_formulas_on_four_replicates() -> None:
    est = np.array([1.0, 2.0, 3.0, 4.0])
    perf = performance(
        est,
        2.0,
        se=np.array([1.0, 1.0, 1.0, 1.0]),
        ci_lower=np.array([0.0, 1.5, 2.5, 3.0]),
        ci_upper=np.array([1.5, 2.5, 3.5, 5.0]),
        p_value=np.array([0.01, 0.2, 0.04, 0.5]),
    )
    # tbar = 2.5; sum of squared deviations = 5
    assert perf.bias == pytest.approx(0.5)
    assert perf.bias_mcse == pytest.approx(math.sqrt(5 / 12))
    assert perf.emp_se == pytest.approx(math.sqrt(5 / 3))
    assert perf.emp_se_mcse == pytest.approx(math.sqrt(5 / 3) / math.sqrt(6))
    assert perf.mse == pytest.approx((1 + 0 + 1 + 4) / 4)
    assert perf.model_se == pytest.approx(1.0)
    assert perf.model_se_mcse == pytest.approx(0.0)
    ratio = 1 / math.sqrt(5 / 3)
    assert perf.rel_error_model_se == pytest.approx(100 * (ratio - 1))
    assert perf.rel_error_model_se_mcse == pytest.approx(100 * ratio * math.sqrt(1 / 6))
    assert perf.coverage == pytest.approx(0.25)  # only the second interval holds 2
    assert perf.coverage_mcse == pytest.approx(math.sqrt(0.25 * 0.75 / 4))
    assert perf.be_coverage == pytest.approx(0.5)  # 2.5 in [1.5, 2.5] and [2.5, 3.5]
    assert perf.power == pytest.approx(0.5)
    assert perf.power_mcse == pytest.approx(0.25)
    assert perf.nonconvergence_rate == 0.0


def test_model_se_mcse_with_varying_se() -> None:
    se = np.array([1.0, 2.0, 2.0, 1.0])
    perf = performance(np.array([0.0, 1.0, -1.0, 0.5]), 0.0, se=se)
    mod = math.sqrt((1 + 4 + 4 + 1) / 4)
    assert perf.model_se == pytest.approx(mod)
    var_s2 = np.var(se**2, ddof=1)  # (1,4,4,1): mean 2.5, var = 4*2.25/3 = 3
    assert var_s2 == pytest.approx(3.0)
    assert perf.model_se_mcse == pytest.approx(math.sqrt(3.0 / (4 * 4 * mod**2)))
    # default Wald intervals at 95%
    z = 1.959963984540054
    lo, hi = np.array([0.0, 1, -1, 0.5]) - z * se, np.array([0.0, 1, -1, 0.5]) + z * se
    assert perf.coverage == pytest.approx(np.mean((lo <= 0) & (0 <= hi)))


def test_nonconverged_replicates_are_left_out_and_counted() -> None:
    perf = performance(
        np.array([1.0, np.nan, 3.0, 100.0]),
        2.0,
        se=np.ones(4),
        converged=np.array([True, False, True, False]),
    )
    assert perf.n_reps == 4 and perf.n_used == 2
    assert perf.nonconvergence_rate == 0.5
    assert perf.mean_estimate == pytest.approx(2.0)
    assert perf.bias == pytest.approx(0.0)


def test_ratio_scale_moves_estimates_and_keeps_coverage() -> None:
    b = np.log(np.array([1.2, 1.5]))
    out = to_ratio_scale(b, np.array([0.1, 0.2]), b - 0.2, b + 0.2)
    assert out["estimate"] == pytest.approx([1.2, 1.5])
    assert out["se"] == pytest.approx([0.12, 0.3])
    assert out["ci_lower"] == pytest.approx(np.exp(b - 0.2))
