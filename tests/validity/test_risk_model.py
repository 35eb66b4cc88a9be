"""Tests of the grouped cross-validated risk model and its comparison with a flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recurrence.errors import ModelInputError
from recurrence.validity.risk_model import compare_with_flag, cross_validated_risk, grouped_folds


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 3000
    la = rng.integers(0, 40, n).astype(str)
    x1 = rng.normal(size=n)
    x2 = rng.random(n) < 0.3
    eta = -1.5 + 1.0 * x1 + 0.8 * x2
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    # A weak flag: mostly noise, a little signal
    flag = (rng.random(n) < np.where(y, 0.15, 0.08)).astype(int)
    return pd.DataFrame({"la_code": la, "x1": x1, "x2": x2.astype(int), "y": y.astype(int),
                         "flag": flag})


def test_grouped_folds_keep_las_whole_and_are_seeded(data):
    folds = grouped_folds(data["la_code"], 5, seed=2)
    per_la = pd.Series(folds).groupby(data["la_code"].to_numpy()).nunique()
    assert (per_la == 1).all()
    assert set(folds) == {0, 1, 2, 3, 4}
    assert np.array_equal(folds, grouped_folds(data["la_code"], 5, seed=2))
    with pytest.raises(ModelInputError):
        grouped_folds(["a", "b"], 5, seed=0)


def test_out_of_fold_risk_beats_weak_flag(data):
    risk, info = cross_validated_risk(data, outcome="y", features=["x1", "x2"], seed=1)
    assert np.isfinite(risk).all() and ((risk > 0) & (risk < 1)).all()
    assert info["n"].sum() == len(data)
    assert set(info["method"]) == {"logit"}
    cmp = compare_with_flag(data, outcome="y", risk=risk, flag="flag", seed=1)
    assert cmp.delong.auc1 > 0.7
    assert cmp.delong.difference > 0 and cmp.delong.p_value < 0.001
    assert cmp.nri_continuous.nri > 0
    tab = cmp.table()
    assert list(tab["statistic"]) == ["auc_difference_delong", "nri_categorical",
                                      "nri_continuous"]
