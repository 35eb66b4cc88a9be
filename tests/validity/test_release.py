"""Disclosure control of the validity tables (recurrence.validity.release)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recurrence.sdc import SDCRules, suppress_and_round
from recurrence.validity.child_level import validity_table
from recurrence.validity.release import declaration, prepare

RULES = SDCRules()


def _published(tp: int, fn: int, fp: int, tn: int) -> pd.DataFrame:
    """The released child-level row of one flag with the given 2x2 table."""
    truth = np.r_[np.ones(tp + fn, bool), np.zeros(fp + tn, bool)]
    flag = np.r_[np.ones(tp), np.zeros(fn), np.ones(fp), np.zeros(tn)].astype(bool)
    data = pd.DataFrame({"highly_resistant": truth, "flag": flag})
    table = validity_table(data, flags=["flag"], scores=[], truth="highly_resistant")
    table = prepare({"child_level": table}, RULES)["child_level"]
    decl = declaration("child_level")
    return suppress_and_round(table, decl.count_columns, rules=RULES, dependent=decl.dependent,
                              ratios=decl.ratios)


def test_a_suppressed_margin_cannot_be_recovered_from_its_complement() -> None:
    # 7 children with the truth among 1,000: n_positive is suppressed, and n - n_negative
    # would give it back if n_negative were published.
    row = _published(tp=3, fn=4, fp=20, tn=973).iloc[0]
    assert row["n_positive"] == "c" and row["n_negative"] == "c"
    assert row["n"] == 1000
    row = _published(tp=3, fn=400, fp=4, tn=593).iloc[0]  # 7 flagged
    assert row["n_flagged"] == "c" and row["n_not_flagged"] == "c"
    assert row["n_true_positive"] == "c" and row["n_true_negative"] == "c"
    assert row["sensitivity"] == "c" and row["auc"] == "c"


@pytest.mark.parametrize(("tp", "fn", "fp", "tn"), [(1002, 100, 2, 50000), (57, 113, 41, 789)])
def test_published_rates_lie_in_their_published_intervals(tp: int, fn: int, fp: int, tn: int) -> None:
    # The intervals, AUC and Brier score were computed from cells rebuilt from other margins
    # than the rates' own: a published specificity of 1.0 came with the interval 0.99977-0.99996.
    row = _published(tp, fn, fp, tn).iloc[0]
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        assert float(row[f"{name}_ci_lower"]) <= float(row[name]) <= float(row[f"{name}_ci_upper"])
    assert float(row["auc"]) == pytest.approx((float(row["sensitivity"]) + float(row["specificity"])) / 2)
    tp_r, tn_r = int(row["n_true_positive"]), int(row["n_true_negative"])
    pos, neg = int(row["n_positive"]), int(row["n_negative"])
    assert float(row["brier"]) == pytest.approx((pos - tp_r + neg - tn_r) / (pos + neg))


def _sweep_row(num: int, den: int, t_num: int, t_den: int, r_num: int, r_den: int) -> pd.Series:
    """One released bias-sweep row with the given rule and truth counts."""
    raw = pd.DataFrame([{
        "counting": "children", "scope": "same_la", "lookback_years": np.nan, "history": "full",
        "numerator": float(num), "denominator": float(den), "ni65_percent": 100 * num / den,
        "ci_lower": 0.0, "ci_upper": 100.0, "true_repeat_percent": 100 * t_num / t_den,
        "resistant_share_percent": 100 * r_num / r_den, "bias_pp": 0.0,
        "true_numerator": float(t_num), "true_denominator": float(t_den),
        "resistant_numerator": float(r_num), "resistant_denominator": float(r_den),
        "la_spearman_with_true": 0.5,
    }])
    table = prepare({"bias_sweep": raw}, RULES)["bias_sweep"]
    decl = declaration("bias_sweep")
    return suppress_and_round(table, decl.count_columns, rules=RULES, dependent=decl.dependent,
                              ratios=decl.ratios).iloc[0]


def test_truth_percentages_do_not_give_back_their_exact_counts() -> None:
    # 27 / 173 to one decimal (15.6) fitted no other denominator that rounds to 175.
    row = _sweep_row(25, 173, 27, 173, 42, 173)
    assert row["true_denominator"] == 175 and row["true_numerator"] == 25
    assert float(row["true_repeat_percent"]) == pytest.approx(100 * 25 / 175)
    assert float(row["resistant_share_percent"]) == pytest.approx(100 * 40 / 175)
    assert float(row["bias_pp"]) == pytest.approx(float(row["ni65_percent"]) - 100 * 25 / 175)


def test_a_small_truth_count_suppresses_its_percentage() -> None:
    # 7 of 37 children with a true repeat: below the threshold, so no percentage from it.
    row = _sweep_row(12, 37, 7, 37, 13, 37)
    assert row["true_numerator"] == "c"
    assert row["true_repeat_percent"] == "c" and row["bias_pp"] == "c"
    assert row["resistant_numerator"] == 15 and float(row["resistant_share_percent"]) > 0


def test_the_run_description_is_released_with_rounded_counts() -> None:
    from recurrence.validity.release import release_meta

    meta = {"seed": 1, "n_children": 5000, "n_on_plan": 594,
            "risk_standardised": {"national_rate": 61 / 594, "sigma_la": 0.37, "n": 594.0,
                                  "n_las": 139.0}}
    out = release_meta(meta, RULES)
    assert out["n_on_plan"] == 595 and out["risk_standardised"]["n"] == 595
    assert out["risk_standardised"]["national_rate"] == round(60 / 595, 3)
    assert meta["n_on_plan"] == 594  # the working copy is untouched
