"""Tests of the two-class latent class composite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recurrence.errors import ModelInputError
from recurrence.validity.composite import latent_class, sum_score


def _simulate(seed: int, n: int = 4000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    cls = rng.random(n) < 0.2
    p_hi = np.array([0.7, 0.6, 0.5, 0.8])
    p_lo = np.array([0.1, 0.15, 0.05, 0.1])
    probs = np.where(cls[:, None], p_hi, p_lo)
    x = (rng.random((n, 4)) < probs).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]), cls


def test_latent_class_recovers_known_classes():
    data, cls = _simulate(1)
    res = latent_class(data, items=["a", "b", "c", "d"], seed=3)
    assert res.class_share == pytest.approx(0.2, abs=0.05)
    assert res.item_probabilities.loc["d", "resistant"] == pytest.approx(0.8, abs=0.08)
    assert res.item_probabilities.loc["c", "other"] == pytest.approx(0.05, abs=0.04)
    # The posterior separates the true classes well.
    assert res.posterior[cls].mean() > 0.6 > res.posterior[~cls].mean()
    again = latent_class(data, items=["a", "b", "c", "d"], seed=3)
    assert np.array_equal(res.posterior, again.posterior)


def test_sum_score_and_bad_items():
    data, _ = _simulate(2, 50)
    assert np.array_equal(sum_score(data, ["a", "b"]), data["a"] + data["b"])
    with pytest.raises(ModelInputError):
        latent_class(data, items=["a", "b"])
    bad = data.assign(a=data["a"] * 2)
    with pytest.raises(ModelInputError):
        latent_class(bad, items=["a", "b", "c"])
