"""CITATION.cff validates against the official CFF 1.2.0 schema (vendored, draft-07).

The schema is ``schema.json`` of citation-file-format/citation-file-format at tag 1.2.0, stored as
``tests/fixtures/cff-1.2.0-schema.json`` so the test needs no network. ``cffconvert`` is not used
(it pins an old jsonschema); validation uses :mod:`jsonschema` directly, as cffconvert does.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from recurrence import __version__

REPO = Path(__file__).resolve().parents[1]
SCHEMA = Path(__file__).parent / "fixtures" / "cff-1.2.0-schema.json"


def _stringify_dates(value: Any) -> Any:
    """YAML reads ISO dates as date objects; the schema wants strings (its own note says so)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _stringify_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_dates(v) for v in value]
    return value


@pytest.fixture(scope="module")
def citation() -> dict[str, Any]:
    return _stringify_dates(yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_citation_cff_is_valid_cff_1_2_0(
    citation: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = sorted(validator.iter_errors(citation), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []
    assert citation["cff-version"] == "1.2.0"


def test_citation_carries_version_license_repository_keywords_abstract(
    citation: dict[str, Any],
) -> None:
    assert citation["version"] == __version__
    assert citation["license"] == "MIT"
    assert citation["repository-code"].startswith("https://")
    assert len(citation["keywords"]) >= 3
    assert len(citation["abstract"]) > 100


def test_the_validator_rejects_a_broken_citation(
    citation: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    broken = copy.deepcopy(citation)
    del broken["authors"]
    broken["date-released"] = "27/11/2026"
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("'authors' is a required property" in m for m in messages)
    assert any("27/11/2026" in m for m in messages)
