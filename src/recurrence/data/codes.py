"""Code lists of the DfE Children in Need (CIN) census.

Every list is read off the official XML schemas (``CIN_schema_2020.xsd`` to
``CIN_schema_2024.xsd``, DfE CIN census specification 2017-18 to 2024-25) and kept here so that
readers, the synthetic generator and the XML writer agree on one vocabulary. Where schema years
differ the union is given here and the year-specific subset in :data:`ASSESSMENT_FACTORS_BY_SCHEMA`.

Sources
-------
- DfE, *Children in need census 2024 to 2025: guide* (and earlier years), annex A code sets.
- ``../shared/spec/cin_census/CIN_schema_{2020,2021,2022,2024}.xsd``.
- The 2024-25 return replaces ``GenderCurrent`` (1 male, 2 female, 0 not known, 9 not specified)
  by ``Sex`` (M, F, U); both map to :data:`SEX_CODES` here.
"""

from __future__ import annotations

import re
from typing import Final

LA_CODE_PATTERN: Final = r"^[0-9]{3}\Z"
"""A DfE local-authority code (``Header/Source/LEA``, ``CIN_LA``): exactly three ASCII digits.

Written with ``[0-9]`` and ``\\Z`` rather than ``\\d`` and ``$``: in Python ``\\d`` also matches
other scripts' digits, and ``$`` also matches before a final newline.
"""
_LA_CODE_RE: Final = re.compile(LA_CODE_PATTERN)


def is_la_code(text: str) -> bool:
    """Whether ``text`` is a DfE LA code (:data:`LA_CODE_PATTERN`)."""
    return _LA_CODE_RE.match(text) is not None


YES_NO_VALUES: Final[dict[str, bool]] = {
    "true": True,
    "false": False,
    "TRUE": True,
    "FALSE": False,
    "1": True,
    "0": False,
}
"""The census ``yesnotype``: the schema admits true/false in either case and 1/0."""

SEX_CODES: Final[frozenset[str]] = frozenset({"M", "F", "U"})
"""Sex as held in the package's tables: M, F, or U (unknown / not specified)."""

GENDER_CURRENT_TO_SEX: Final[dict[str, str]] = {"1": "M", "2": "F", "0": "U", "9": "U"}
"""Pre-2024-25 ``GenderCurrent`` codes mapped to :data:`SEX_CODES`."""

SEX_TO_GENDER_CURRENT: Final[dict[str, str]] = {"M": "1", "F": "2", "U": "0"}

ETHNICITY_CODES: Final[frozenset[str]] = frozenset(
    "WBRI WIRI WIRT WOTH WROM MWBC MWBA MWAS MOTH AIND APKN ABAN AOTH BCRB BAFR BOTH CHNE OOTH "
    "REFU NOBT".split()
)
DISABILITY_CODES: Final[frozenset[str]] = frozenset(
    "NONE MOB HAND PC INC COMM LD HEAR VIS BEH CON AUT DDA".split()
)
REFERRAL_SOURCE_CODES: Final[frozenset[str]] = frozenset(
    "1A 1B 1C 1D 2A 2B 3A 3B 3C 3D 3E 3F 4 5A 5B 5C 5D 6 7 8 9 10".split()
)
CATEGORY_OF_ABUSE_CODES: Final[frozenset[str]] = frozenset({"NEG", "PHY", "SAB", "EMO", "MUL"})
"""Category of abuse: neglect, physical, sexual, emotional, multiple."""

PRIMARY_NEED_CODES: Final[frozenset[str]] = frozenset(f"N{i}" for i in range(10))
REASON_FOR_CLOSURE_CODES: Final[frozenset[str]] = frozenset(f"RC{i}" for i in range(1, 10))
UPN_UNKNOWN_CODES: Final[frozenset[str]] = frozenset(f"UN{i}" for i in range(1, 8))

_FACTORS_2020: Final[tuple[str, ...]] = tuple(
    "1A 1B 1C 2A 2B 2C 3A 3B 3C 4A 4B 4C 5A 5B 5C 6A 6B 6C 7A 8B 8C 8D 8E 8F 9A 10A 11A 12A "
    "13A 14A 15A 16A 17A 18A 19A 20 21 22A 23A".split()
)
_FACTORS_2021: Final[tuple[str, ...]] = tuple(
    "1A 1B 1C 2A 2B 2C 3A 3B 3C 4A 4B 4C 5A 5B 5C 6A 6B 6C 7A 8B 8C 8D 8E 8F 9A 10A 11A 12A "
    "13A 14A 15A 16A 17A 18B 18C 19B 19C 20 21 22A 23A".split()
)
_FACTORS_2022: Final[tuple[str, ...]] = (*_FACTORS_2021, "24A")

ASSESSMENT_FACTORS_BY_SCHEMA: Final[dict[int, frozenset[str]]] = {
    2020: frozenset(_FACTORS_2020),
    2021: frozenset(_FACTORS_2021),
    2022: frozenset(_FACTORS_2022),
    2024: frozenset(_FACTORS_2022),
}
"""Factor codes admitted by each schema file (2017-2020 share the 2020 file; 2023 the 2024 one)."""

ASSESSMENT_FACTOR_CODES: Final[frozenset[str]] = frozenset().union(
    *ASSESSMENT_FACTORS_BY_SCHEMA.values()
)
"""Union over schema years: 18A/19A (pre-2021) and 18B/18C/19B/19C (2021 on) are all accepted."""

PARENTAL_PROBLEM_FACTORS: Final[dict[str, str]] = {
    "1B": "alcohol_misuse",
    "2B": "drug_misuse",
    "3B": "domestic_abuse",
    "4B": "mental_health",
    "5B": "learning_disability",
    "6B": "physical_disability",
}
"""The 'B' assessment factors (concern about the parent or carer).

The seed (C4EO 2010, section 4) counts parental problems such as substance misuse, mental
health, domestic violence and learning disability; in the census these are the B codes. The
seed's criminality, financial hardship and low social support are not census items, so they
exist only in the synthetic generator's truth, never in observed tables.
"""


def schema_year_for_collection(collection_year: int) -> int:
    """Return the schema file year that governs a census collection year.

    Parameters
    ----------
    collection_year
        The year in which the census year ends (2018 for 2017-18, ..., 2026 for 2025-26).

    Notes
    -----
    2017-18 to 2019-20 use the 2020 schema file; 2020-21 the 2021 file; 2021-22 the 2022 file;
    2022-23 onwards the 2024 file (the 2023 schema is identical to it). 2024-25 adds ``Sex``,
    which the readers accept in place of ``GenderCurrent`` in any year.
    """
    if collection_year <= 2020:
        return 2020
    if collection_year == 2021:
        return 2021
    if collection_year == 2022:
        return 2022
    return 2024
