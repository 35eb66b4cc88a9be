"""CIN XML writer: XSD validity for every collection year, and the tables -> XML -> tables round trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from recurrence.data import codes
from recurrence.data.cin_xml import read_cin_xml
from recurrence.data.cin_xml_writer import sex_element_for, write_cin_returns, write_cin_xml
from recurrence.data.linkage import child_key, sort_tables
from recurrence.data.schema import CINTables

GENDER_CURRENT = b'<xs:element name="GenderCurrent" type="gendertype" minOccurs="1" maxOccurs="1"/>'
SEX = (
    b'<xs:element name="Sex" minOccurs="1" maxOccurs="1"><xs:simpleType>'
    b'<xs:restriction base="xs:string"><xs:enumeration value="M"/><xs:enumeration value="F"/>'
    b'<xs:enumeration value="U"/></xs:restriction></xs:simpleType></xs:element>'
)


def xsd(shared: Path, collection_year: int, sex_tag: str) -> etree.XMLSchema:
    """The official schema of the year; with ``Sex`` substituted for 2024-25 onwards (the change
    is not in the shared files, see the writer's docstring)."""
    year = codes.schema_year_for_collection(collection_year)
    text = (shared / "spec" / "cin_census" / f"CIN_schema_{year}.xsd").read_bytes()
    if sex_tag == "Sex":
        assert GENDER_CURRENT in text
        text = text.replace(GENDER_CURRENT, SEX)
    return etree.XMLSchema(etree.fromstring(text))


def dataset(year: int, la: str = "318") -> CINTables:
    """A project-written dataset with plans, reviews, factors, s47 and CIN plans (2022+)."""
    y = year - 1
    d = pd.Timestamp
    ids = ["K1", "K2", "K3"]
    keys = [child_key(la, i) for i in ids]
    children = pd.DataFrame(
        {
            "child_key": keys,
            "la_code": la,
            "la_child_id": ids,
            "person_birth_date": [d(f"{y - 9}-01-05"), pd.NaT, d(f"{y - 15}-12-31")],
            "expected_person_birth_date": [pd.NaT, d(f"{year}-05-01"), pd.NaT],
            "sex": ["F", "U", "M"],
            "ethnicity": ["WBRI", None, "BAFR"],
            "disabilities": ["AUT LD", None, "NONE"],
            "person_death_date": [pd.NaT, pd.NaT, d(f"{year}-03-01")],
        }
    )
    episodes = pd.DataFrame(
        {
            "child_key": [keys[0], keys[0], keys[1], keys[2]],
            "la_code": la,
            "la_child_id": ["K1", "K1", "K2", "K3"],
            "cin_referral_date": [
                d(f"{y}-04-03"),
                d(f"{y}-11-20"),
                d(f"{y}-06-06"),
                d(f"{y}-08-08"),
            ],
            "referral_source": ["5A", "1A", "3A", "10"],
            "primary_need_code": ["N1", "N2", None, "N9"],
            "cin_closure_date": [d(f"{y}-10-01"), pd.NaT, d(f"{y}-06-07"), d(f"{year}-03-01")],
            "reason_for_closure": ["RC1", None, "RC8", "RC2"],
            "date_of_initial_cpc": [d(f"{y}-05-01"), pd.NaT, pd.NaT, pd.NaT],
            "referral_nfa": pd.array([False, False, True, None], dtype="boolean"),
            "census_year": pd.array([year] * 4, dtype="Int64"),
        }
    )
    e1, e2 = d(f"{y}-04-03"), d(f"{y}-11-20")
    assessments = pd.DataFrame(
        {
            "child_key": [keys[0], keys[0], keys[0]],
            "la_code": la,
            "la_child_id": ["K1"] * 3,
            "cin_referral_date": [e1, e1, e2],
            "assessment_actual_start_date": [d(f"{y}-04-04"), d(f"{y}-09-01"), d(f"{y}-11-21")],
            "assessment_internal_review_date": [d(f"{y}-04-10"), pd.NaT, pd.NaT],
            "assessment_authorisation_date": [d(f"{y}-04-30"), d(f"{y}-09-20"), pd.NaT],
        }
    )
    special = "18A" if year <= 2020 else "18C"
    factors = pd.DataFrame(
        {
            "child_key": keys[0],
            "la_code": la,
            "la_child_id": "K1",
            "cin_referral_date": [e1, e1, e1, e2],
            "assessment_actual_start_date": [d(f"{y}-04-04")] * 3 + [d(f"{y}-11-21")],
            "assessment_factor": ["3B", "4B", special, "21"],
        }
    )
    cin_plans = pd.DataFrame(
        {
            "child_key": keys[0],
            "la_code": la,
            "la_child_id": "K1",
            "cin_referral_date": [e1, e1],
            "cin_plan_start_date": [d(f"{y}-05-01"), d(f"{y}-08-01")],
            "cin_plan_end_date": [d(f"{y}-06-01"), pd.NaT],
        }
    )
    if year < 2022:
        cin_plans = cin_plans.iloc[0:0]
    section47 = pd.DataFrame(
        {
            "child_key": keys[0],
            "la_code": la,
            "la_child_id": "K1",
            "cin_referral_date": [e1],
            "s47_actual_start_date": [d(f"{y}-04-05")],
            "initial_cpc_target": [d(f"{y}-05-02")],
            "date_of_initial_cpc": [d(f"{y}-05-01")],
            "icpc_not_required": pd.array([False], dtype="boolean"),
        }
    )
    cpps = pd.DataFrame(
        {
            "child_key": keys[0],
            "la_code": la,
            "la_child_id": "K1",
            "cin_referral_date": [e1, e1, e2],
            "cpp_start_date": [d(f"{y}-05-01"), d(f"{y}-09-25"), d(f"{y}-12-01")],
            "cpp_end_date": [d(f"{y}-07-01"), d(f"{y}-10-01"), pd.NaT],
            "initial_category_of_abuse": ["NEG", "EMO", "MUL"],
            "latest_category_of_abuse": ["NEG", "PHY", "MUL"],
            "number_of_previous_cpp": pd.array([1, 2, 3], dtype="Int64"),
        }
    )
    reviews = pd.DataFrame(
        {
            "child_key": keys[0],
            "la_code": la,
            "la_child_id": "K1",
            "cin_referral_date": [e1, e1, e2],
            "cpp_start_date": [d(f"{y}-05-01"), d(f"{y}-05-01"), d(f"{y}-12-01")],
            "cpp_review_date": [d(f"{y}-05-20"), d(f"{y}-06-20"), d(f"{year}-02-01")],
        }
    )
    tables = CINTables.from_mapping(
        {
            "children": children,
            "cin_episodes": episodes,
            "assessments": assessments,
            "assessment_factors": factors,
            "cin_plans": cin_plans,
            "section47": section47,
            "cpps": cpps,
            "cpp_reviews": reviews,
        }
    )
    return sort_tables(tables.validate())


def complete(tables: CINTables) -> CINTables:
    """Fill the values the XSD requires that :func:`dataset` leaves missing on purpose."""
    d = tables.as_dict()
    d["children"] = d["children"].assign(ethnicity=d["children"]["ethnicity"].fillna("NOBT"))
    d["cin_episodes"] = d["cin_episodes"].assign(
        referral_nfa=d["cin_episodes"]["referral_nfa"].fillna(False)
    )
    return CINTables(**d)


@pytest.mark.parametrize("year", range(2018, 2027))
def test_round_trip_is_identical(tmp_path: Path, year: int) -> None:
    tables = dataset(year)
    path = tmp_path / f"cin_{year}.xml"
    n = write_cin_xml(tables, path, la_code="318", collection_year=year)
    assert n == 3
    back = read_cin_xml(path)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(back.as_dict()[name], frame, check_exact=True, obj=name)


@pytest.mark.shared
@pytest.mark.parametrize("year", range(2018, 2027))
def test_output_validates_against_the_official_xsd(
    shared_dir: Path, tmp_path: Path, year: int
) -> None:
    tables = complete(dataset(year))
    tag = sex_element_for(year)
    path = tmp_path / "out.xml"
    write_cin_xml(tables, path, la_code="318", collection_year=year)
    schema = xsd(shared_dir, year, tag)
    doc = etree.parse(str(path))
    assert schema.validate(doc), [str(e) for e in schema.error_log][:3]
    assert (doc.find(".//Sex") is not None) == (year >= 2025)
    assert (doc.find(".//GenderCurrent") is not None) == (year < 2025)


@pytest.mark.shared
def test_gender_current_option_validates_2025_against_unmodified_xsd(
    shared_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "out.xml"
    write_cin_xml(
        complete(dataset(2025)),
        path,
        la_code="318",
        collection_year=2025,
        sex_element="GenderCurrent",
    )
    assert xsd(shared_dir, 2025, "GenderCurrent").validate(etree.parse(str(path)))


@pytest.mark.shared
def test_project_fixtures_validate(shared_dir: Path) -> None:
    here = Path(__file__).resolve().parents[1] / "fixtures" / "cin_xml" / "years"
    for year in range(2018, 2027):
        schema = xsd(shared_dir, year, "Sex" if year >= 2025 else "GenderCurrent")
        assert schema.validate(etree.parse(str(here / f"cin_{year}.xml"))), year


def test_year_specific_codes_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CINPlanDates"):
        write_cin_xml(dataset(2023), tmp_path / "a.xml", la_code="318", collection_year=2021)
    t = dataset(2024)
    with pytest.raises(ValueError, match="18C"):
        write_cin_xml(t, tmp_path / "b.xml", la_code="318", collection_year=2020)
    assert not (tmp_path / "b.xml").exists()
    with pytest.raises(ValueError, match="sex_element"):
        write_cin_xml(
            t, tmp_path / "c.xml", la_code="318", collection_year=2024, sex_element="Gender"
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="3-digit"):
        write_cin_xml(t, tmp_path / "c.xml", la_code="31", collection_year=2024)


def test_write_returns_per_la(tmp_path: Path) -> None:
    a, b = dataset(2024, "318"), dataset(2024, "319")
    both = CINTables(
        **{n: pd.concat([a.as_dict()[n], b.as_dict()[n]], ignore_index=True) for n in a.as_dict()}
    )
    paths = write_cin_returns(both, tmp_path, collection_year=2024)
    assert [p.name for p in paths] == ["cin_318_2024.xml", "cin_319_2024.xml"]
    assert len(read_cin_xml(paths[1]).children) == 3


def test_output_is_deterministic(tmp_path: Path) -> None:
    t = dataset(2023)
    write_cin_xml(t, tmp_path / "1.xml", la_code="318", collection_year=2023)
    write_cin_xml(t, tmp_path / "2.xml", la_code="318", collection_year=2023)
    assert (tmp_path / "1.xml").read_bytes() == (tmp_path / "2.xml").read_bytes()
