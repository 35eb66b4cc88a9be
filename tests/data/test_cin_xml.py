"""CIN XML reader: every schema year's fixture, value mapping, record-level rejections, bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from recurrence.data import codes
from recurrence.data.cin_xml import check_date, iter_cin_xml_chunks, read_cin_xml
from recurrence.data.linkage import child_key
from recurrence.errors import InputFileError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cin_xml"
YEARS = range(2018, 2027)


@pytest.mark.parametrize("year", YEARS)
def test_every_schema_year_fixture_loads(year: int) -> None:
    t = read_cin_xml(FIXTURES / "years" / f"cin_{year}.xml")
    counts = t.counts()
    assert counts["children"] == 3
    assert counts["cin_episodes"] == 4
    assert counts["assessments"] == 3
    assert counts["assessment_factors"] == 4
    assert counts["cin_plans"] == (2 if year >= 2022 else 0)
    assert counts["section47"] == 2
    assert counts["cpps"] == 2
    assert counts["cpp_reviews"] == 3
    assert t.rejections.empty
    kids = t.children.set_index("la_child_id")
    assert (
        kids.loc["C1", "sex"] == "F"
        and kids.loc["C2", "sex"] == "M"
        and kids.loc["C3", "sex"] == "U"
    )
    assert kids.loc["C1", "disabilities"] == "AUT LD"
    assert kids.loc["C3", "disabilities"] == "NONE"
    assert kids.loc["C2", "disabilities"] is None
    assert kids.loc["C1", "child_key"] == child_key("318", "C1", "A12345678901B")
    assert kids.loc["C2", "child_key"] == child_key("318", "C2")
    assert (t.cin_episodes["census_year"] == year).all()
    eps = t.cin_episodes.set_index("la_child_id")
    # yes/no written as true/false, TRUE/FALSE or 1/0 depending on the year
    assert eps.loc["C2", "referral_nfa"] is True or bool(eps.loc["C2", "referral_nfa"]) is True
    assert not bool(eps.loc["C3", "referral_nfa"])
    special = "18A" if year <= 2020 else ("18B" if year == 2021 else "24A")
    assert special in set(t.assessment_factors["assessment_factor"])
    s47 = t.section47.set_index("la_child_id")
    assert bool(s47.loc["C3", "icpc_not_required"]) and not bool(s47.loc["C1", "icpc_not_required"])
    first = t.cin_episodes[t.cin_episodes["la_child_id"] == "C1"].iloc[0]
    plans = t.cpps[t.cpps["cin_referral_date"] == first["cin_referral_date"]]
    assert len(plans) == 2  # several plans per episode
    assert sorted(plans["number_of_previous_cpp"].tolist()) == [1, 2]


def test_open_episode_has_missing_closure() -> None:
    t = read_cin_xml(FIXTURES / "years" / "cin_2024.xml")
    eps = t.cin_episodes[t.cin_episodes["la_child_id"] == "C1"]
    assert eps["cin_closure_date"].isna().sum() == 1
    assert eps["cin_closure_date"].dropna().iloc[0] == pd.Timestamp("2024-02-20")


def test_record_level_problems_are_rejected_and_the_rest_loads() -> None:
    t = read_cin_xml(FIXTURES / "record_errors.xml")
    rej = t.rejections
    got = set(zip(rej["record"], rej["reason"], strict=True))
    expected = {
        ("field", "stray text"),
        ("field", "unknown code"),
        ("field", "invalid UPN"),
        ("field", "unknown element"),
        ("field", "invalid yes/no value"),
        ("field", "invalid number"),
        ("factor", "unknown code"),
        ("factor", "duplicate factor"),
        ("cpp", "invalid date"),
        ("cpp", "end date before start date"),
        ("review", "cpp rejected"),
        ("episode", "duplicate episode"),
        ("episode", "end date before start date"),
        ("episode", "missing required element"),
        ("child", "missing required element"),
        ("episode", "date out of range"),
        ("episode", "invalid date"),
        ("child", "duplicate child"),
        ("child", "repeated element"),
        ("child", "misplaced record"),
        ("episode", "child rejected"),
        ("cpp", "episode rejected"),
    }
    assert expected <= got
    assert (rej["source_file"] == str(FIXTURES / "record_errors.xml")).all()
    assert (rej["la_code"] == "318").all()
    # what still loads: E1 (with a kept episode, assessment, factor 2B, plan) and E3 (no episodes)
    assert sorted(t.children["la_child_id"]) == ["E1", "E3"]
    e1 = t.children.set_index("la_child_id").loc["E1"]
    assert e1["sex"] == "U" and e1["ethnicity"] is None and e1["disabilities"] is None
    assert e1["child_key"] == child_key("318", "E1")  # invalid UPN not used for linkage
    assert t.cin_episodes["la_child_id"].tolist() == ["E1"]
    ep = t.cin_episodes.iloc[0]
    assert ep["referral_source"] is None and pd.isna(ep["referral_nfa"])
    assert t.assessment_factors["assessment_factor"].tolist() == ["2B"]
    assert t.cpps["cpp_start_date"].tolist() == [pd.Timestamp("2023-06-01")]
    assert pd.isna(t.cpps["number_of_previous_cpp"].iloc[0])
    factor_rb = rej[(rej["record"] == "factor") & (rej["value"] == "RB")]
    assert factor_rb["reason"].tolist() == ["unknown code"]
    # a child whose every episode is rejected is still in the children table
    assert "E3" in set(t.children["la_child_id"])
    assert set(rej.loc[rej["la_child_id"] == "E3", "reason"]) >= {
        "date out of range",
        "invalid date",
    }


BAD = {
    "not_xml.xml": "not XML",
    "malformed.xml": "malformed XML",
    "truncated.xml": "malformed XML",
    "wrong_root.xml": "root element is <LookedAfterChildren>",
    "billion_laughs.xml": "DOCTYPE",
    "external_entity.xml": "DOCTYPE",
    "external_dtd.xml": "DOCTYPE",
    "no_lea.xml": "LEA",
    "empty.xml": "empty file",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_raise_one_clear_error(name: str) -> None:
    path = FIXTURES / "bad" / name
    with pytest.raises(InputFileError) as info:
        read_cin_xml(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert BAD[name] in message
    assert "\n" not in message


def test_missing_file_and_directory_are_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"cannot read file"):
        read_cin_xml(tmp_path / "absent.xml")
    with pytest.raises(InputFileError, match="directory"):
        read_cin_xml(tmp_path)


def test_entities_are_never_expanded(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        read_cin_xml(FIXTURES / "bad" / "external_entity.xml")


def test_check_date() -> None:
    assert check_date("2023-02-28") == ("2023-02-28", None)
    assert check_date("2023-02-30") == (None, "invalid date")
    assert check_date("28/02/2023") == (None, "invalid date")
    assert check_date("0001-01-01") == (None, "date out of range")
    assert check_date("2023-02-28Z") == ("2023-02-28", None)


def test_chunks_add_up_to_the_whole(tmp_path: Path) -> None:
    path = FIXTURES / "years" / "cin_2024.xml"
    chunks = list(iter_cin_xml_chunks(path, chunk_children=1))
    assert len(chunks) >= 3
    assert sum(len(c.tables["children"]) for c in chunks) == 3
    assert sum(len(c.tables["cpps"]) for c in chunks) == 2


@pytest.mark.shared
def test_shared_samples_load(shared_dir: Path) -> None:
    samples = shared_dir / "data" / "cin_samples"
    fake = read_cin_xml(samples / "d2i_fake_CIN_data.xml")
    assert len(fake.children) == 332 and len(fake.cin_episodes) == 402
    assert fake.rejections.empty
    assert (fake.children["la_code"] == "975").all()
    assert fake.children["person_death_date"].notna().sum() == 21
    assert fake.children["disabilities"].notna().sum() == 74

    liia = read_cin_xml(samples / "liia_cin-2022.xml")
    assert all(
        n == 1 for k, n in liia.counts().items() if k not in ("assessment_factors", "rejections")
    )
    assert sorted(liia.assessment_factors["assessment_factor"]) == ["2A", "2B"]
    assert liia.cpps["number_of_previous_cpp"].iloc[0] == 10
    assert liia.rejections.empty

    d2i = read_cin_xml(samples / "d2i_CIN_Census_2024.xml")
    assert len(d2i.children) == 2 and len(d2i.cin_episodes) == 2
    rej = d2i.rejections
    assert "RB" in set(rej.loc[rej["record"] == "factor", "value"])
    assert "stray text" in set(rej["reason"])
    start_after_auth = rej[(rej["record"] == "assessment")]
    assert start_after_auth["reason"].tolist() == ["end date before start date"]
    kids = d2i.children.set_index("la_child_id")
    assert kids.loc["child_fails_assessments", "sex"] == "M"
    assert kids.loc["DfEX0000001", "sex"] == "U"  # <Sex>1</Sex> is not a Sex code
    assert (d2i.cin_episodes["census_year"] == 2024).all()


@pytest.mark.parametrize("lea", ["٩٩٩", "99", "9999", "99a"])
def test_an_la_code_must_be_three_ascii_digits(tmp_path: Path, lea: str) -> None:
    # Python's \d also matches other scripts' digits ("٩" is ARABIC-INDIC DIGIT NINE), so the
    # code is checked against [0-9] (recurrence.data.codes.LA_CODE_PATTERN) in both reader paths.
    assert codes.is_la_code("999")
    assert not codes.is_la_code(lea)
    assert not codes.is_la_code("999\n")
    base = (FIXTURES / "years" / "cin_2024.xml").read_text(encoding="utf-8")
    path = tmp_path / "lea.xml"
    path.write_text(re.sub(r"<LEA>\d+</LEA>", f"<LEA>{lea}</LEA>", base, count=1), encoding="utf-8")
    with pytest.raises(InputFileError, match="not a 3-digit LA code"):
        read_cin_xml(path)


# A minimal return around one child; {children} replaces the Children element's content.
_RETURN = (
    "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2023</Year>"
    "<ReferenceDate>2023-03-31</ReferenceDate></CollectionDetails><Source><LEA>201</LEA>"
    "</Source></Header>\n<Children>{children}</Children>{after}</Message>"
)


def _child(cid: str = "C1", episode: str = "", chars: str = "<Ethnicity>WBRI</Ethnicity>") -> str:
    return (
        f"<Child><ChildIdentifiers><LAchildID>{cid}</LAchildID><PersonBirthDate>2015-01-01"
        f"</PersonBirthDate><GenderCurrent>1</GenderCurrent></ChildIdentifiers>"
        f"<ChildCharacteristics>{chars}</ChildCharacteristics>"
        f"<CINdetails><CINreferralDate>2022-05-01</CINreferralDate>{episode}</CINdetails></Child>"
    )


def _write(tmp_path: Path, children: str, after: str = "", name: str = "r.xml") -> Path:
    path = tmp_path / name
    path.write_text(_RETURN.format(children=children, after=after), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("children", "after", "pattern"),
    [
        (_child("C1") + "<child><ChildIdentifiers/></child>", "", r"line \d+: unexpected element <child> in Children"),
        ("<x:Child xmlns:x='urn:x'/>" + _child("C2"), "", r"<\{urn:x\}Child> in Children \(CIN census returns use no XML namespace\)"),
        (_child("C1"), "<Extra/>", r"unexpected element <Extra> in Message"),
    ],
)
def test_elements_outside_the_census_structure_are_file_errors(
    tmp_path: Path, children: str, after: str, pattern: str
) -> None:
    # They were skipped with every record in them (0 children, no rejection, exit 0).
    with pytest.raises(InputFileError, match=pattern):
        read_cin_xml(_write(tmp_path, children, after))


def test_a_namespaced_children_element_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "ns.xml"
    path.write_text(
        _RETURN.format(children=_child(), after="").replace("<Children>", "<Children xmlns='urn:x'>"),
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match=r"<\{urn:x\}Children> in Message.*no XML namespace"):
        read_cin_xml(path)


def test_a_comment_inside_a_value_does_not_hide_it(tmp_path: Path) -> None:
    from recurrence.data.cin_xml import parse_cin_xml

    episode = "<CINclosureDate><!-- checked -->2022-06-01<?pi x?></CINclosureDate><ReasonForClosure>RC1</ReasonForClosure>"
    path = _write(tmp_path, _child(episode=episode))
    t = read_cin_xml(path)
    assert t.cin_episodes["cin_closure_date"].tolist() == [pd.Timestamp("2022-06-01")]
    assert t.rejections.empty  # no field row naming a Python object's address
    one = parse_cin_xml(path, workers=1)
    two = parse_cin_xml(path, workers=2, piece_bytes=64)
    for name, frame in one.tables.items():
        pd.testing.assert_frame_equal(frame, two.tables[name])


def test_a_repeated_leaf_is_caught_even_when_the_first_is_empty(tmp_path: Path) -> None:
    episode = "<CINclosureDate/><CINclosureDate>2022-06-01</CINclosureDate>"
    t = read_cin_xml(_write(tmp_path, _child(episode=episode)))
    assert t.cin_episodes.empty
    rej = t.rejections.set_index("record")
    assert rej.loc["episode", "reason"] == "repeated element"
    assert rej.loc["episode", "element"] == "CINclosureDate"


def test_a_second_disabilities_list_is_reported_and_its_items_kept(tmp_path: Path) -> None:
    chars = ("<Ethnicity>WBRI</Ethnicity><Disabilities><Disability>VIS</Disability></Disabilities>"
             "<Disabilities><Disability>HAND</Disability></Disabilities>")
    t = read_cin_xml(_write(tmp_path, _child(chars=chars)))
    assert t.children["disabilities"].tolist() == ["HAND VIS"]
    assert t.rejections[["record", "element", "reason"]].values.tolist() == [
        ["field", "ChildCharacteristics/Disabilities", "repeated element"]
    ]


def test_dates_need_ascii_digits_and_a_real_time_zone() -> None:
    assert check_date("٢٠٢٢-٠٥-٠١") == (None, "invalid date")  # Arabic-Indic digits
    assert check_date("2022-05-01+99:99") == (None, "invalid date")
    assert check_date("2022-05-01+14:00") == ("2022-05-01", None)
    assert check_date("2022-05-01-05:30") == ("2022-05-01", None)


def test_previous_plans_accept_the_plus_sign_of_xs_positive_integer() -> None:
    from recurrence.data.cin_xml import is_previous_cpp_count

    assert is_previous_cpp_count("+2") and is_previous_cpp_count("2")
    assert not is_previous_cpp_count("-2") and not is_previous_cpp_count("²")
