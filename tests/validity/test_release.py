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
