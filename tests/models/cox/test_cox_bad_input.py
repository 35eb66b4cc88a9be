"""Every bad input to coxph raises a clear error whose message is asserted here (issue 4, item 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recurrence.errors import ConvergenceError, ModelInputError
from recurrence.models.cox import coxph


@pytest.fixture()
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 200
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.integers(0, 2, n).astype(float)})
    df["start"] = rng.integers(0, 50, n).astype(float)
    df["stop"] = df["start"] + rng.integers(1, 100, n)
    df["event"] = rng.integers(0, 2, n)
    df.index = pd.RangeIndex(100, 100 + n)
    return df


def fit(df: pd.DataFrame, **kw):
    args = {"covariates": ["x1", "x2"], "event": "event", "time": "stop", "start": "start"}
    args.update(kw)
    return coxph(df, **args)


def test_stop_not_after_start_names_count_and_rows(frame) -> None:
    frame.loc[[105, 150], "stop"] = frame.loc[[105, 150], "start"]  # zero length
    frame.loc[170, "stop"] = frame.loc[170, "start"] - 3  # negative length
    with pytest.raises(ModelInputError, match=r"3 intervals have stop <= start .*first rows: 105, 150, 170"):
        fit(frame)


def test_event_not_zero_one(frame) -> None:
    frame.loc[[101, 120], "event"] = [2, -1]
    with pytest.raises(ModelInputError, match=r"event column 'event' must be 0/1: 2 rows .*101, 120"):
        fit(frame)


def test_only_censored_rows(frame) -> None:
    frame["event"] = 0
    with pytest.raises(ModelInputError, match="has no events: all 200 rows are censored"):
        fit(frame)


def test_nan_in_covariates_reports_count_and_first_rows(frame) -> None:
    frame.loc[[110, 111, 190], "x2"] = np.nan
    with pytest.raises(ModelInputError, match=r"3 rows have NaN in covariates \(x2\); first rows: 110, 111, 190"):
        fit(frame)


def test_singular_design_names_collinear_terms(frame) -> None:
    frame["x3"] = 2 * frame["x1"] - frame["x2"]
    with pytest.raises(ModelInputError, match=r"singular design.*collinear.*x1, x2, x3"):
        fit(frame, covariates=["x1", "x2", "x3"])


def test_constant_covariate_is_singular(frame) -> None:
    frame["c"] = 1.0
    with pytest.raises(ModelInputError, match=r"singular design.*: c\. Drop"):
        fit(frame, covariates=["x1", "c"])


def test_non_convergence_says_iterations_and_remedy(frame) -> None:
    with pytest.raises(ConvergenceError, match=r"did not converge in 1 Newton iterations.*raise iter_max"):
        fit(frame, iter_max=1)


def test_monotone_likelihood_names_diverging_term() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": np.r_[np.zeros(30), np.ones(30)],
            "z": rng.normal(size=60),
            "t": np.r_[rng.uniform(10, 20, 30), rng.uniform(0, 9, 30)],
            "e": 1,
        }
    )
    with pytest.raises(ConvergenceError, match=r"coefficient of x did not .*monotone likelihood.*Firth"):
        coxph(df, covariates=["x", "z"], event="e", time="t")


def test_other_bad_inputs(frame) -> None:
    with pytest.raises(ModelInputError, match="covariate column 'nope' is not in the data"):
        fit(frame, covariates=["x1", "nope"])
    frame["w"] = 1.0
    frame.loc[130, "w"] = 0.0
    with pytest.raises(ModelInputError, match=r"weights column 'w' must be finite and > 0: 1 rows .*130"):
        fit(frame, weights="w")
    frame["cl"] = "a"
    frame.loc[140, "cl"] = None
    with pytest.raises(ModelInputError, match=r"cluster cl: 1 rows are missing \(first rows: 140\)"):
        fit(frame, cluster="cl")
    with pytest.raises(ValueError, match="ties must be one of"):
        fit(frame, ties="exact")
    with pytest.raises(ModelInputError, match="needs at least one covariate"):
        fit(frame, covariates=[])
