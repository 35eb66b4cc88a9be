"""Local authorities and their child populations for the synthetic generator.

The generator places children in about 150 English LAs in proportion to each LA's population
aged 0-17, from the ONS mid-year estimates as published by DfE
(``../shared/data/dfe/ons_mid-year_population_estimates_2012_to_2024.csv``, Open Government
Licence v3.0). So that the package works where ``../shared`` is absent, a small derived table
ships inside the package (``recurrence/synth/data/la_populations.csv``: year, la_code, la_name,
population_0_17, imputed). :func:`build_la_populations` derives it from the shared file and
:func:`regenerate` rewrites it; ``tests/synth/test_las.py`` checks that the shipped table equals
the shared file's figures.

Two years are kept: 2012 (the earliest estimate in the file; its LA list matches the 2009 LA
boundaries, used by preset ``england-2009``) and 2024 (the latest; preset ``england-2025``).

Imputation (flagged ``imputed = 1``): the file suppresses (``x``) the 2012 figures of
Bournemouth (837), Poole (836) and Dorset (835), which were reorganised in 2019 into
Bournemouth, Christchurch and Poole (839) and Dorset (838), and never gives them. We give 835 the
first published figure of 838 and split the first published figure of 839 equally between 836
and 837. The split only moves a few thousand synthetic children between two neighbouring LAs.
"""

from __future__ import annotations

import argparse
import io
from importlib import resources
from pathlib import Path
from typing import Final

import pandas as pd

from recurrence.errors import InputFileError

SHARED_POPULATION_FILE: Final = "data/dfe/ons_mid-year_population_estimates_2012_to_2024.csv"
"""Path of the ONS population file relative to ``../shared``."""

YEARS: Final[tuple[int, ...]] = (2012, 2024)
"""Population years kept in the shipped table."""

_IMPUTE_2012: Final[dict[str, tuple[str, float]]] = {
    "835": ("838", 1.0),
    "836": ("839", 0.5),
    "837": ("839", 0.5),
}
"""Suppressed 2012 LA -> (successor LA code, share of its first published figure)."""

COLUMNS: Final[tuple[str, ...]] = ("year", "la_code", "la_name", "population_0_17", "imputed")


def build_la_populations(shared_file: str | Path) -> pd.DataFrame:
    """Derive the LA population table from the shared ONS file.

    Parameters
    ----------
    shared_file
        ``../shared/data/dfe/ons_mid-year_population_estimates_2012_to_2024.csv``.

    Returns
    -------
    DataFrame with columns :data:`COLUMNS`, one row per (year, LA) for :data:`YEARS`, sorted by
    year and la_code. Populations are counts of children aged 0-17 (integers).
    """
    path = Path(shared_file)
    if not path.exists():
        raise InputFileError(str(path), "file not found")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = {"time_period", "geographic_level", "old_la_code", "la_name", "population_estimate"}
    missing = need - set(raw.columns)
    if missing:
        raise InputFileError(str(path), f"missing columns {', '.join(sorted(missing))}")
    la = raw[raw["geographic_level"] == "Local authority"].copy()
    la["year"] = la["time_period"].astype(int)
    la["pop"] = pd.to_numeric(la["population_estimate"], errors="coerce")
    rows = []
    for year in YEARS:
        sub = la[la["year"] == year].sort_values("old_la_code")
        for code, name, pop in zip(sub["old_la_code"], sub["la_name"], sub["pop"], strict=True):
            imputed = 0
            if pd.isna(pop):
                if year != 2012 or code not in _IMPUTE_2012:
                    raise InputFileError(str(path), f"no population for LA {code} in {year}")
                succ, share = _IMPUTE_2012[code]
                published = la[(la["old_la_code"] == succ) & la["pop"].notna()]
                first = published.sort_values("year").iloc[0]["pop"]
                pop = round(float(first) * share)
                imputed = 1
            rows.append((year, code, name, int(pop), imputed))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values(["year", "la_code"]).reset_index(drop=True)


def regenerate(shared_file: str | Path, out_file: str | Path | None = None) -> Path:
    """Rewrite the shipped table from the shared file (deterministic CSV); return its path."""
    target = Path(out_file) if out_file is not None else _shipped_path()
    table = build_la_populations(shared_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(target, index=False, lineterminator="\n")
    return target


def _shipped_path() -> Path:
    return Path(str(resources.files("recurrence.synth") / "data" / "la_populations.csv"))


def load_la_populations(year: int) -> pd.DataFrame:
    """The shipped LA table for population ``year`` (2012 or 2024), sorted by la_code.

    Columns: la_code (3-digit string), la_name, population_0_17 (int), imputed (0/1).
    """
    if year not in YEARS:
        raise ValueError(f"population year must be one of {YEARS}; got {year}")
    text = (resources.files("recurrence.synth") / "data" / "la_populations.csv").read_text()
    table = pd.read_csv(io.StringIO(text), dtype={"la_code": str, "la_name": str})
    sub = table[table["year"] == year].drop(columns="year")
    return sub.sort_values("la_code").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m recurrence.synth.las ../shared/data/dfe/ons_...csv`` rewrites the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("shared_file", help="the ONS population CSV in ../shared/data/dfe/")
    args = parser.parse_args(argv)
    print(regenerate(args.shared_file))


if __name__ == "__main__":
    main()
