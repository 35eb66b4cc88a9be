"""The registry of the seed's claims: every number of sections 4 and 6 accounted for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from recurrence.effects.registry import (
    RegistryError,
    get_claim,
    load_exclusions,
    load_registry,
    missing_quotes,
    number_occurrences,
    parse_registry,
    section_text,
    uncovered_numbers,
)

SEED = "seeds/000_939599534241e7db.txt"


@pytest.fixture(scope="module")
def seed_text(shared_dir: Path) -> str:
    return (shared_dir / SEED).read_text(encoding="utf-8")


@pytest.mark.parametrize("section", ["4", "6"])
def test_every_number_of_the_section_is_a_claim_or_excluded(seed_text: str, section: str) -> None:
    missing = uncovered_numbers(seed_text, section)  # type: ignore[arg-type]
    assert not missing, "\n".join(f"{m.token!r}: ...{m.context}..." for m in missing)


@pytest.mark.parametrize("section", ["4", "6"])
def test_sections_are_found_and_contain_numbers(seed_text: str, section: str) -> None:
    text = section_text(seed_text, section)  # type: ignore[arg-type]
    tokens = [o.token for o in number_occurrences(text)]
    # the extraction is programmatic: the key claims must be among the tokens it finds
    if section == "4":
        assert {"1.3", "770", "13", "3.3", "2.4", "69", "twice", "four times"} <= set(tokens)
        assert len(text) > 20000
    else:
        assert {"85", "54", "82", "19", "32", "36"} <= set(tokens)


def test_every_quote_is_verbatim_in_its_section(seed_text: str) -> None:
    assert missing_quotes(seed_text) == []


def test_check_fails_when_a_claim_is_removed(seed_text: str) -> None:
    claims = [c for c in load_registry() if c.id != "fullerwells2003_criminal_770"]
    missing = uncovered_numbers(seed_text, "4", claims=claims)
    assert [m.token for m in missing] == ["770", "60"]


def test_check_fails_when_a_number_is_not_listed(seed_text: str) -> None:
    claims = [
        replace(c, numbers=("1.3",)) if c.id == "disability_connell_fluke" else c
        for c in load_registry()
    ]
    assert [m.token for m in uncovered_numbers(seed_text, "4", claims=claims)] == ["1.5"]


def test_exclusions_all_have_reasons() -> None:
    occurrences, rules = load_exclusions()
    assert occurrences and rules
    assert all(len(e.reason) > 5 for e in occurrences)
    assert all(len(r.reason) > 5 for r in rules)


def test_issue_claims_are_registered_with_measures() -> None:
    expected = {
        "fuller2001_per_problem": ("OR", 1.3),
        "fuller2001_no_services_60d": ("OR", 2.0),
        "fuller2001_no_detailed_assessment": ("OR", 4.0),
        "fullerwells2003_substance_13": ("OR", 13.0),
        "fullerwells2003_criminal_770": ("OR", 770.0),
        "connell2007_substance": ("HR", 1.5),
        "connell2007_financial": ("HR", 3.3),
        "depanfilis2002_domestic_violence": ("HR", 1.5),
        "depanfilis2002_family_stress": ("HR", 1.2),
        "depanfilis2002_service_attendance": ("HR", 0.68),
        "chaffin2004_pcit_19": ("percentage", 19.0),
    }
    for cid, (measure, value) in expected.items():
        c = get_claim(cid)
        assert (c.measure, c.value) == (measure, value), cid
    assert get_claim("disability_connell_fluke").range == (1.3, 1.5)
    assert get_claim("low_social_support_range").range == (1.4, 2.4)
    assert get_claim("low_social_support_range").measure == "unstated"
    assert get_claim("recurrence_range_25_69").range == (25.0, 69.0)
    gm = get_claim("gershater2002_safecare")
    assert gm.sample_size == 82 and gm.range == (54.0, 85.0)
    assert "15% vs 44%" in (gm.notes or "")
    assert "33%" in (get_claim("depanfilis2002_service_attendance").notes or "")


def test_national_figures_of_the_annexe(seed_text: str) -> None:
    national = {c.id: c for c in load_registry() if c.kind == "national"}
    assert national["national_cpp_second_time_5100"].value == 5100
    assert national["national_ni65_13_percent"].value == 13
    assert national["national_repeat_referrals_23"].range == (22, 24)
    assert len(national) >= 15


def test_effect_claims_have_scenarios_or_reasons() -> None:
    from recurrence.effects.scenarios import SCENARIOS

    for c in load_registry():
        if c.scenario is not None:
            assert c.scenario in SCENARIOS, c.id
        elif c.kind == "effect":
            assert c.no_scenario_reason


def test_parse_registry_rejects_bad_entries() -> None:
    good = {
        "id": "x",
        "citation": "A 2001",
        "section": "4",
        "subsection": "s",
        "quote": "was 1.5 times",
        "numbers": ["1.5"],
        "kind": "effect",
        "measure": "OR",
        "scenario": "s",
    }
    assert parse_registry({"claims": [good]})[0].value is None
    with pytest.raises(RegistryError, match="measure"):
        parse_registry({"claims": [good | {"measure": "odds"}]})
    with pytest.raises(RegistryError, match="not in the quote"):
        parse_registry({"claims": [good | {"numbers": ["2.5"]}]})
    with pytest.raises(RegistryError, match="duplicate"):
        parse_registry({"claims": [good, good]})
    with pytest.raises(RegistryError, match="missing"):
        parse_registry({"claims": [{"id": "y"}]})
