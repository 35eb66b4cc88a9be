"""The loss invariant: every record of the input is in exactly one table or in the rejections.

Records are counted independently of the reader, by plain XPath over a fully parsed copy of
the input (safe parser: no entities, no network), and compared with table rows plus whole-record
rejection rows of the same kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from recurrence.data.cin_xml import read_cin_xml
from recurrence.data.reader import read_cin
from recurrence.data.schema import CINTables

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cin_xml"

XPATHS = {
    "child": ("children", "//Child"),
    "episode": ("cin_episodes", "//Child/CINdetails"),
    "assessment": ("assessments", "//Child/CINdetails/Assessments"),
    "factor": (
        "assessment_factors",
        "//Child/CINdetails/Assessments/FactorsIdentifiedAtAssessment/AssessmentFactors",
    ),
    "cin_plan": ("cin_plans", "//Child/CINdetails/CINPlanDates"),
    "section47": ("section47", "//Child/CINdetails/Section47"),
    "cpp": ("cpps", "//Child/CINdetails/ChildProtectionPlans"),
    "review": ("cpp_reviews", "//Child/CINdetails/ChildProtectionPlans/Reviews/CPPreviewDate"),
}


def record_counts(source: Path | bytes) -> dict[str, int]:
    """Number of records of each kind in a CIN XML document (plain XPath count)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = (
        etree.fromstring(source, parser)
        if isinstance(source, bytes)
        else etree.parse(str(source), parser).getroot()
    )
    return {kind: int(root.xpath(f"count({xp})")) for kind, (_table, xp) in XPATHS.items()}


def assert_loss_invariant(counts: dict[str, int], tables: CINTables) -> None:
    """Rows + whole-record rejections of each kind equal the input's count of that kind."""
    rej = tables.rejections
    for kind, (table, _xp) in XPATHS.items():
        loaded = len(tables.as_dict()[table])
        rejected = int((rej["record"] == kind).sum())
        assert loaded + rejected == counts[kind], (kind, loaded, rejected, counts[kind])


def fixture_files() -> list[Path]:
    return [*sorted((FIXTURES / "years").glob("*.xml")), FIXTURES / "record_errors.xml"]


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_invariant_on_project_fixtures(path: Path) -> None:
    assert_loss_invariant(record_counts(path), read_cin_xml(path))


def test_invariant_is_not_vacuous() -> None:
    counts = record_counts(FIXTURES / "record_errors.xml")
    t = read_cin_xml(FIXTURES / "record_errors.xml")
    assert counts["child"] == 6 and counts["episode"] == 11 and counts["cpp"] == 5
    assert int((t.rejections["record"] == "episode").sum()) > 0
    assert len(t.cin_episodes) > 0


@pytest.mark.parametrize(
    "name", ["d2i_fake_CIN_data.xml", "liia_cin-2022.xml", "d2i_CIN_Census_2024.xml"]
)
@pytest.mark.shared
def test_invariant_on_shared_samples(shared_dir: Path, name: str) -> None:
    path = shared_dir / "data" / "cin_samples" / name
    assert_loss_invariant(record_counts(path), read_cin_xml(path))


def test_invariant_over_a_folder_counts_distinct_records(tmp_path: Path) -> None:
    """Across returns the same record reported again is one record: count distinct keys."""
    years = sorted((FIXTURES / "years").glob("*.xml"))
    tables = read_cin(years)
    distinct_children = set()
    distinct_episodes = set()
    distinct_plans = set()
    for p in years:
        root = etree.parse(str(p)).getroot()
        la = root.findtext("Header/Source/LEA")
        for child in root.iterfind("Children/Child"):
            cid = child.findtext("ChildIdentifiers/LAchildID")
            distinct_children.add((la, cid))
            for ep in child.iterfind("CINdetails"):
                distinct_episodes.add((la, cid, ep.findtext("CINreferralDate")))
                for plan in ep.iterfind("ChildProtectionPlans"):
                    distinct_plans.add((la, cid, plan.findtext("CPPstartDate")))
    assert tables.rejections.empty
    assert len(tables.children) == len(distinct_children) == 3
    assert len(tables.cin_episodes) == len(distinct_episodes) == 36
    assert len(tables.cpps) == len(distinct_plans) == 18
