"""Loader for DfE *Characteristics of children in need* tables in the Explore Education Statistics layout.

The DfE publishes its official statistics as "underlying data" CSV files in the Explore Education
Statistics (EES) layout: one row per geography and year with the columns ``time_period``
(the year ending 31 March, e.g. ``2025`` = 1 April 2024 to 31 March 2025; for the ONS population
estimates it is the mid-year, 30 June), ``time_identifier``, ``geographic_level`` (``National``,
``Regional``, ``Local authority``), ``country_code``, ``country_name``, ``region_code``,
``region_name``, ``old_la_code`` (the three-digit DfE LA number), ``new_la_code`` (the nine-
character ONS code), ``la_name``, then the filter columns (``category``, ``age_group``) and the
indicator columns.

Values that are not numbers are the EES / Government Statistical Service symbols (DfE, *Explore
education statistics: symbols used*; GSS guidance on symbols in tables):

``c``
    confidential: a count of 1 to 5 (and counts that would reveal it) suppressed;
``x``
    not available (e.g. an LA that did not make a return, such as Hackney in 2021 and 2022);
``z``
    not applicable;
``u``
    low reliability: the value is withheld because the return was incomplete.

All four become ``NaN`` in :attr:`DfETable.values`; the symbol itself is kept in
:attr:`DfETable.status` (``""`` for a published number) so that nothing is dropped silently.
National and regional counts are rounded to the nearest 10 and percentages to one decimal place,
so rates are recomputed from LA counts where the counts are published
(``rounded`` marks the rows whose counts are rounded).

LA reorganisations. The tables keep each LA's published three-digit code, so a code is stable
exactly as long as the LA exists with the same boundaries. :func:`la_changes` lists the codes
that do not cover every year, with the reorganisation that explains them (:data:`REORGANISATIONS`,
checked against the files: listing LA codes by year shows 835/836/837 last in 2019 and 838/839
from 2020; 928 last in 2021 and 940/941 from 2022; 909 last in 2023 and 942/943 from 2024), and
the LAs whose ONS code changed while the DfE number stayed (Buckinghamshire 2021, North Yorkshire
and Somerset 2024, which became unitary authorities on the same boundaries). Analyses over years
treat predecessor and successor LAs as different units; they are never merged silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from recurrence.errors import InputFileError

SUPPRESSION_CODES: Final[dict[str, str]] = {
    "c": "confidential (1 to 5, suppressed)",
    "x": "not available",
    "z": "not applicable",
    "u": "low reliability",
}
"""EES symbols that stand in for a number, and their meaning."""

ID_COLUMNS: Final[tuple[str, ...]] = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
)
"""The EES geography and time columns every file must have."""

FILTER_COLUMNS: Final[frozenset[str]] = frozenset({"category", "age_group"})
"""Text filter columns (one value per file here) that are kept as text, not parsed as numbers."""

TABLES: Final[dict[str, str]] = {
    "b1": "b1_children_in_need",
    "c1": "c1_children_in_need_referrals_and_rereferrals",
    "c3": "c3_factors_identified_at_end_of_assessment",
    "d3": "d3_cpps_subsequent_plan",
    "d5": "d5_cpps_at31march_by_duration",
    "population": "ons_mid-year_population_estimates",
}
"""Short name -> file-name stem (files are ``<stem>_<first year>_to_<last year>.csv``)."""

REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "b1": ("Anypoint_child",),
    "c1": ("referral_count", "rereferral_count", "rereferral_percent"),
    "c3": (
        "Episodes_with_assessment_factor",
        "Alcohol_Misuse_parent",
        "Drug_Misuse_parent",
        "Domestic_Abuse_parent",
        "Mental_Health_parent",
    ),
    "d3": ("CPP_start", "CPP_subsequent", "CPP_subsequent_percent"),
    "d5": ("CPP_At31", "2_years_or_more", "2_years_or_more_percent"),
    "population": ("population_estimate",),
}
"""Indicator columns the analyses need from each table."""


@dataclass(frozen=True)
class Reorganisation:
    """An LA reorganisation: ``predecessors`` last publish in ``last_year``, ``successors`` from the next year."""

    last_year: int
    predecessors: tuple[str, ...]
    successors: tuple[str, ...]
    description: str


REORGANISATIONS: Final[tuple[Reorganisation, ...]] = (
    Reorganisation(
        2019,
        ("835", "836", "837"),
        ("838", "839"),
        "1 April 2019: Bournemouth (837), Poole (836) and Dorset county (835) replaced by "
        "Bournemouth, Christchurch and Poole (839) and Dorset (838); Christchurch moved from "
        "Dorset to BCP, so neither successor has a predecessor's boundaries",
    ),
    Reorganisation(
        2021,
        ("928",),
        ("940", "941"),
        "1 April 2021: Northamptonshire (928) split into North Northamptonshire (940) and West "
        "Northamptonshire (941)",
    ),
    Reorganisation(
        2023,
        ("909",),
        ("942", "943"),
        "1 April 2023: Cumbria (909) split into Cumberland (942) and Westmorland and Furness (943)",
    ),
)
"""Reorganisations visible in the 2013-2025 files (years are years ending 31 March)."""


@dataclass(frozen=True)
class DfETable:
    """One EES table, parsed.

    Attributes
    ----------
    name
        Short name (``d3``, ``c1``, ...).
    path
        The file read.
    ids
        The identifying columns, plus ``year`` (int; the reporting year ending 31 March, or for
        ``population`` the mid-year of the estimate), ``la_code`` (the three-digit DfE number,
        ``None`` for national and regional rows) and ``rounded`` (counts rounded to 10).
    values
        Indicator columns as floats, ``NaN`` where a symbol stands in the file.
    status
        Same shape as ``values``: ``""`` for a published number, else the symbol (c, x, z, u).
    """

    name: str
    path: Path
    ids: pd.DataFrame
    values: pd.DataFrame
    status: pd.DataFrame

    def frame(self, level: str | None = "Local authority") -> pd.DataFrame:
        """IDs and values side by side, restricted to ``geographic_level == level`` (all if None)."""
        out = pd.concat([self.ids, self.values], axis=1)
        if level is not None:
            out = out[out["geographic_level"] == level]
        return out.reset_index(drop=True)

    def suppression_counts(self) -> pd.DataFrame:
        """How many cells carry each symbol, by column (LA rows only)."""
        st = self.status[self.ids["geographic_level"] == "Local authority"]
        long = st.melt(var_name="column", value_name="symbol")
        long = long[long["symbol"] != ""]
        return (
            long.groupby(["column", "symbol"]).size().rename("cells").reset_index()
            if len(long)
            else pd.DataFrame({"column": [], "symbol": [], "cells": []})
        )


def find_file(dfe_dir: str | os.PathLike[str], name: str) -> Path:
    """Path of table ``name`` in ``dfe_dir``; :class:`InputFileError` naming what is missing."""
    folder = Path(dfe_dir)
    if name not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}; got {name!r}")
    if not folder.is_dir():
        raise InputFileError(str(folder), "DfE data folder not found")
    matches = sorted(folder.glob(f"{TABLES[name]}_*.csv"))
    if not matches:
        raise InputFileError(
            str(folder), f"no file {TABLES[name]}_<years>.csv for table {name} in the DfE folder"
        )
    if len(matches) > 1:
        raise InputFileError(
            str(folder), f"several files match table {name}: {', '.join(p.name for p in matches)}"
        )
    return matches[0]


def read_ees_csv(path: str | os.PathLike[str], name: str | None = None) -> DfETable:
    """Read one EES CSV file, separating numbers from suppression symbols.

    Raises
    ------
    InputFileError
        Naming the file (and line and column for a bad cell) when the file is absent,
        unreadable, lacks the EES columns or the columns ``name`` needs, or holds a cell that is
        neither a number, empty, nor one of the symbols c, x, z, u.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(str(p), "file not found")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(str(p), f"not a readable CSV file ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    missing = [c for c in ID_COLUMNS if c not in raw.columns]
    if missing:
        raise InputFileError(str(p), f"not in the EES layout: missing columns {', '.join(missing)}")
    if name is not None:
        need = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in raw.columns]
        if need:
            raise InputFileError(str(p), f"table {name} lacks columns {', '.join(need)}")
    years = _year_ending_march(raw["time_period"])
    if years.isna().any():
        row = int(np.flatnonzero(years.isna().to_numpy())[0])
        raise InputFileError(
            str(p), f"line {row + 2}, column time_period: not a year: {raw['time_period'].iloc[row]!r}"
        )
    value_cols = [c for c in raw.columns if c not in ID_COLUMNS and c not in FILTER_COLUMNS]
    values = {}
    status = {}
    for col in value_cols:
        text = raw[col].str.strip()
        num = pd.to_numeric(text, errors="coerce")
        is_symbol = text.str.lower().isin(SUPPRESSION_CODES)
        bad = num.isna() & ~is_symbol & (text != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputFileError(
                str(p),
                f"line {row + 2}, column {col}: {text.iloc[row]!r} is neither a number nor one "
                f"of the symbols {', '.join(SUPPRESSION_CODES)}",
            )
        # Every EES value here is a count, percentage or rate: a negative one is a corrupt file.
        negative = num < 0
        if negative.any():
            row = int(np.flatnonzero(negative.to_numpy())[0])
            raise InputFileError(
                str(p), f"line {row + 2}, column {col}: {text.iloc[row]!r} is negative"
            )
        values[col] = num.astype(float)
        status[col] = text.where(is_symbol, "").str.lower()
    ids = raw[[c for c in raw.columns if c in ID_COLUMNS or c in FILTER_COLUMNS]].copy()
    ids["year"] = years.astype(int)
    is_la = ids["geographic_level"] == "Local authority"
    code = ids["old_la_code"].str.strip()
    bad_code = is_la & ~code.str.fullmatch(r"[0-9]{3}")
    if bad_code.any():
        row = int(np.flatnonzero(bad_code.to_numpy())[0])
        raise InputFileError(
            str(p), f"line {row + 2}, column old_la_code: {code.iloc[row]!r} is not a 3-digit LA code"
        )
    if "new_la_code" in ids.columns:
        ons = ids["new_la_code"].str.strip()
        bad_ons = is_la & ~ons.str.fullmatch(r"[EWSN][0-9]{8}")
        if bad_ons.any():
            row = int(np.flatnonzero(bad_ons.to_numpy())[0])
            raise InputFileError(
                str(p),
                f"line {row + 2}, column new_la_code: {ons.iloc[row]!r} is not an ONS code "
                "(a letter and 8 digits, e.g. E08000021)",
            )
    ids["la_code"] = code.where(is_la, None)
    ids["rounded"] = ids["geographic_level"].isin(["National", "Regional"])
    dup = ids[is_la].duplicated(["year", "la_code"])
    if dup.any():
        row = int(ids[is_la].index[dup.to_numpy()][0])
        raise InputFileError(
            str(p), f"line {row + 2}: LA {code.iloc[row]} appears twice in {years.iloc[row]}"
        )
    return DfETable(
        name=name or p.stem,
        path=p,
        ids=ids.reset_index(drop=True),
        values=pd.DataFrame(values).reset_index(drop=True),
        status=pd.DataFrame(status).reset_index(drop=True),
    )


def load_table(dfe_dir: str | os.PathLike[str], name: str) -> DfETable:
    """Find and read table ``name`` (``b1``, ``c1``, ``c3``, ``d3``, ``d5``, ``population``).

    For ``population`` the ONS mid-year (30 June) is kept as ``mid_year`` and ``year`` becomes the
    reporting year ending 31 March that contains it (mid-2024 -> 2025), so that populations line
    up with the CIN tables (and the reorganisations fall in the same ``year``).
    """
    table = read_ees_csv(find_file(dfe_dir, name), name)
    if name == "population":
        ids = table.ids.copy()
        ids["mid_year"] = ids["year"]
        ids["year"] = ids["year"] + 1
        table = DfETable(table.name, table.path, ids, table.values, table.status)
    return table


def la_years(table: DfETable) -> pd.DataFrame:
    """One row per LA code: name(s), first and last year, number of years, ONS codes used."""
    la = table.frame()
    g = la.groupby("la_code")
    return pd.DataFrame(
        {
            "la_name": g["la_name"].last(),
            "first_year": g["year"].min(),
            "last_year": g["year"].max(),
            "n_years": g["year"].nunique(),
            "new_la_codes": la.sort_values("year")
            .drop_duplicates(["la_code", "new_la_code"])
            .groupby("la_code")["new_la_code"]
            .agg(";".join),
        }
    ).reset_index()


def _year_ending_march(period: pd.Series) -> pd.Series:
    """EES ``time_period`` as the year ending 31 March: ``2025`` as is, ``202425`` to 2025.

    A six-digit period (financial or academic year ``YYYYyy``) ends in its second year; one
    whose two halves do not follow (``202427``) is not a year (NaN).
    """
    text = period.str.strip()
    four = text.str.fullmatch(r"[0-9]{4}")
    six = text.str.fullmatch(r"[0-9]{6}")
    first = pd.to_numeric(text.str[:4], errors="coerce")
    second = pd.to_numeric(text.str[4:6], errors="coerce")
    years = pd.Series(np.nan, index=period.index)
    years[four] = first[four]
    ok_six = six & ((first + 1) % 100 == second)
    years[ok_six] = first[ok_six] + 1
    return years


def la_changes(table: DfETable) -> pd.DataFrame:
    """The LA codes affected by reorganisations or code changes, as seen in ``table``.

    Returns one row per affected LA code: ``la_code``, ``la_name``, ``first_year``,
    ``last_year``, ``change`` (``abolished``, ``created``, ``ons_code_changed`` or
    ``unexplained``), ``related`` (the predecessor or successor codes) and ``description``.
    A code that starts late or stops early without a known reorganisation is reported as
    ``unexplained`` rather than ignored.
    """
    spans = la_years(table)
    first, last = int(table.ids["year"].min()), int(table.ids["year"].max())
    rows = []
    for rec in spans.to_dict("records"):
        code, name = str(rec["la_code"]), str(rec["la_name"])
        y0, y1 = int(rec["first_year"]), int(rec["last_year"])
        ons = str(rec["new_la_codes"])
        change, related, desc = None, "", ""
        for reorg in REORGANISATIONS:
            if code in reorg.predecessors and y1 == reorg.last_year:
                change, related, desc = "abolished", ";".join(reorg.successors), reorg.description
            elif code in reorg.successors and y0 == reorg.last_year + 1:
                change = "created"
                related, desc = ";".join(reorg.predecessors), reorg.description
        if change is None and (y0 > first or y1 < last):
            change, desc = "unexplained", "code does not cover every year of the file"
        if change is None and ";" in ons:
            change = "ons_code_changed"
            desc = f"same DfE code, ONS codes {ons.replace(';', ' then ')}"
        if change is not None:
            rows.append({"la_code": code, "la_name": name, "first_year": y0, "last_year": y1,
                         "change": change, "related": related, "description": desc})
    return pd.DataFrame(
        rows, columns=["la_code", "la_name", "first_year", "last_year", "change", "related",
                       "description"]
    )
