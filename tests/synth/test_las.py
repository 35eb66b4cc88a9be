"""The shipped LA population table equals the ONS figures in ../shared (tolerance: exact)."""

from __future__ import annotations

import pandas as pd
import pytest

from recurrence.errors import InputFileError
from recurrence.synth import las


def test_shipped_table_equals_shared_file(shared_dir, tmp_path) -> None:
    built = las.build_la_populations(shared_dir / las.SHARED_POPULATION_FILE)
    out = las.regenerate(shared_dir / las.SHARED_POPULATION_FILE, tmp_path / "p.csv")
    shipped = las._shipped_path().read_bytes()
    assert out.read_bytes() == shipped
    raw = pd.read_csv(shared_dir / las.SHARED_POPULATION_FILE, dtype=str)
    raw = raw[(raw["geographic_level"] == "Local authority") & (raw["time_period"] == "2024")]
    expected = dict(zip(raw["old_la_code"], raw["population_estimate"].astype(int), strict=True))
    got = built[built["year"] == 2024].set_index("la_code")["population_0_17"].to_dict()
    assert got == expected


def test_load_has_about_150_las_and_flags_imputation() -> None:
    t2012 = las.load_la_populations(2012)
    t2024 = las.load_la_populations(2024)
    assert 148 <= len(t2012) <= 155 and 148 <= len(t2024) <= 155
    assert t2012["la_code"].str.fullmatch(r"\d{3}").all()
    assert (t2012["population_0_17"] > 0).all()
    assert set(t2012.loc[t2012["imputed"] == 1, "la_code"]) == {"835", "836", "837"}
    assert t2024["imputed"].sum() == 0
    with pytest.raises(ValueError, match="population year"):
        las.load_la_populations(2019)


def test_missing_shared_file_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        las.build_la_populations(tmp_path / "absent.csv")
