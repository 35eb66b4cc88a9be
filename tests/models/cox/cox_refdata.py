"""Reference datasets and R outputs of the Cox tests (tests/r/), shared by the test modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

R_DIR = Path(__file__).resolve().parents[2] / "r"

# How each R configuration of tests/r/cox_reference.R maps to coxph() arguments.
CONFIGS: dict[str, dict[str, Any]] = {
    "right_basic": {"data": "cox_right", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time"},
    "right_strata": {"data": "cox_right", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time", "strata": "s"},
    "right_weights": {"data": "cox_right", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time", "weights": "w"},
    "right_cluster": {"data": "cox_right", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time", "cluster": "la"},
    "right_robust": {"data": "cox_right", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time", "robust": True},
    "right_all": {"data": "cox_right", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time", "strata": "s", "weights": "w", "cluster": "la"},
    "untied": {"data": "cox_untied", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time"},
    "untied_cluster": {"data": "cox_untied", "covariates": ["x1", "x2", "x3"], "event": "status", "time": "time", "cluster": "la"},
    "ag": {"data": "cox_recurrent", "covariates": ["x1", "x2", "tv"], "event": "event", "time": "stop", "start": "start", "cluster": "id"},
    "ag_la": {"data": "cox_recurrent", "covariates": ["x1", "x2", "tv"], "event": "event", "time": "stop", "start": "start", "cluster": "la"},
    "ag_weights_strata": {"data": "cox_recurrent", "covariates": ["x1", "tv"], "event": "event", "time": "stop", "start": "start", "strata": "x2", "cluster": "la", "weights": "x1pos"},
    "pwp_total": {"data": "cox_recurrent", "covariates": ["x1", "x2", "tv"], "event": "event", "time": "stop", "start": "start", "strata": "enum", "cluster": "id"},
    "pwp_gap": {"data": "cox_recurrent", "covariates": ["x1", "x2", "tv"], "event": "event", "time": "gstop", "start": "gstart", "strata": "enum", "cluster": "id"},
}


def load(name: str) -> pd.DataFrame:
    df = pd.read_csv(R_DIR / "data" / f"{name}.csv")
    if name == "cox_recurrent":
        # the weights of config ag_weights_strata, built the same way in the R script
        df["x1pos"] = np.round(np.exp(df["x1"] / 2), 6)
    return df


def ref(name: str) -> pd.DataFrame:
    return pd.read_csv(R_DIR / "ref" / f"{name}.csv")


def fit_args(config: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    args = dict(CONFIGS[config])
    return load(args.pop("data")), args


@pytest.fixture(scope="session")
def datasets() -> dict[str, pd.DataFrame]:
    return {n: load(n) for n in ("cox_right", "cox_untied", "cox_recurrent", "cox_frailty")}
