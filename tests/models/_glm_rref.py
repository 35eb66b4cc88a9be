"""Helpers to read the committed R reference CSVs under tests/r (shared by the glm helper's tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

R_DIR = Path(__file__).resolve().parents[1] / "r"


def data(name: str) -> pd.DataFrame:
    """A dataset from tests/r/data (la_code kept as text)."""
    return pd.read_csv(R_DIR / "data" / name, dtype={"la_code": str})


def ref(name: str) -> pd.DataFrame:
    """A reference table from tests/r/ref."""
    return pd.read_csv(R_DIR / "ref" / name)


def glm_ref(case: str, quantity: str) -> pd.Series:
    """Values of ``quantity`` for ``case`` in glm_reference.csv, indexed by term."""
    r = ref("glm_reference.csv")
    return r[(r["case"] == case) & (r["quantity"] == quantity)].set_index("term")["value"]
