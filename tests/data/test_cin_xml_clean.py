"""The clean-return fast path gives exactly the full reader's result, or declines.

:func:`recurrence.data.cin_xml_clean.parse_clean` may return ``None`` for any document, but
whatever it returns must equal the full (streaming) reader's parse of the same bytes. These
tests check that on every fixture, on the shared samples, on constructs that the fast path
must leave to the full reader, and on hypothesis-mutated documents; and that clean returns
really take the fast path (else the speed-up would silently vanish).
"""

from __future__ import annotations

import gc
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from test_cin_xml_pieces import assert_same
from test_reader_properties import BASE, byte_mutations, tree_mutations

from recurrence.data import cin_xml
from recurrence.data.cin_xml import ParsedReturn
from recurrence.data.cin_xml_clean import parse_clean
from recurrence.errors import InputFileError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cin_xml"
YEARS = sorted((FIXTURES / "years").glob("*.xml"))


def full_outcome(data: bytes) -> ParsedReturn | str:
    """The streaming reader's parse of ``data`` (as a file), or its whole-file error."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "doc.xml"
        path.write_bytes(data)
        try:
            parsed = cin_xml.parse_streaming(path)
        except InputFileError as exc:
            return str(exc)
    return ParsedReturn(
        "doc.xml", parsed.la_code, parsed.census_year, parsed.tables, parsed.rejections
    )


def assert_agrees(data: bytes) -> ParsedReturn | None:
    """``parse_clean(data)`` is None or the full reader's result; returns it."""
    fast = parse_clean(data, "doc.xml")
    if fast is not None:
        full = full_outcome(data)
        assert not isinstance(full, str), f"fast path loaded a document the reader refuses: {full}"
        assert len(fast.rejections) == 0
        assert_same(fast, full)
    return fast


@pytest.mark.parametrize("path", YEARS, ids=lambda p: p.name)
def test_every_schema_year_fixture_takes_the_fast_path_with_the_full_result(path: Path) -> None:
    assert assert_agrees(path.read_bytes()) is not None


def test_a_return_with_record_problems_is_left_to_the_full_reader() -> None:
    data = (FIXTURES / "record_errors.xml").read_bytes()
    assert parse_clean(data, "doc.xml") is None
    full = full_outcome(data)
    assert not isinstance(full, str) and len(full.rejections) > 0


@pytest.mark.parametrize("path", sorted((FIXTURES / "bad").glob("*.xml")), ids=lambda p: p.name)
def test_files_the_reader_refuses_are_declined(path: Path) -> None:
    assert parse_clean(path.read_bytes(), "doc.xml") is None


def test_shared_samples_agree(shared_dir: Path) -> None:
    samples = sorted((shared_dir / "data" / "cin_samples").glob("*.xml"))
    taken = [p.name for p in samples if assert_agrees(p.read_bytes()) is not None]
    # the d2i fake data is clean; the d2i 2024 sample has an unknown factor code ("RB")
    assert "d2i_fake_CIN_data.xml" in taken
    assert "d2i_CIN_Census_2024.xml" not in taken


def _child_with(old: bytes, new: bytes) -> bytes:
    assert old in BASE
    return BASE.replace(old, new, 1)


def _value(tag: bytes, value: bytes) -> bytes:
    """BASE with the first ``tag`` element's text replaced by ``value``."""
    out, n = re.subn(b"<" + tag + b">[^<]*</", b"<" + tag + b">" + value + b"</", BASE, count=1)
    assert n == 1
    return out


def _first_episode() -> bytes:
    start = BASE.index(b"<CINdetails>")
    return BASE[start : BASE.index(b"</CINdetails>", start) + len(b"</CINdetails>")]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_child_with(b"<Children>", b"<Children><!-- note -->"), id="comment"),
        pytest.param(
            _child_with(b"<Children>", b"<Children><?pi x?>"), id="processing-instruction"
        ),
        pytest.param(
            _child_with(b"<Ethnicity>", b"<Ethnicity/><Ethnicity>"), id="repeated-empty-leaf"
        ),
        pytest.param(_child_with(b"</CINdetails>", b"<Bogus/></CINdetails>"), id="unknown-element"),
        pytest.param(_child_with(b"</CINdetails>", b"stray</CINdetails>"), id="stray-text"),
        pytest.param(
            _child_with(b"<ChildIdentifiers>", b"<ChildIdentifiers>stray"), id="text-in-container"
        ),
        pytest.param(_child_with(b"<LAchildID>", b"<LAchildID><b/>"), id="element-in-leaf"),
        pytest.param(_child_with(b"<Child>", b'<Child xmlns="urn:x">'), id="namespaced-child"),
        pytest.param(
            BASE.replace(
                b"</Message>",
                BASE[BASE.index(b"<Child>") : BASE.index(b"</Child>") + 8] + b"</Message>",
            ),
            id="misplaced-child",
        ),
        pytest.param(
            _child_with(b"<Children>", b"<Children><Other/>"), id="other-element-in-children"
        ),
        pytest.param(
            _child_with(
                b"</Header>",
                b"<Children>"
                + BASE[BASE.index(b"<Child>") : BASE.index(b"</Child>") + 8]
                + b"</Children></Header>",
            ),
            id="children-inside-header",
        ),
        pytest.param(
            _child_with(b"</ChildIdentifiers>", b"</ChildIdentifiers><ChildIdentifiers/>"),
            id="second-identifiers-block",
        ),
        pytest.param(_value(b"PersonBirthDate", b"2023-02-30"), id="impossible-date"),
        pytest.param(_value(b"PrimaryNeedCode", b"N99"), id="unknown-code"),
        pytest.param(_value(b"ReferralNFA", b"maybe"), id="invalid-yes-no"),
        pytest.param(_value(b"CINclosureDate", b"1999-01-01"), id="closure-before-referral"),
        pytest.param(_value(b"LAchildID", b""), id="missing-child-id"),
        pytest.param(
            _child_with(b"</Child>", _first_episode() + b"</Child>"), id="duplicate-episode"
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE Message [<!ENTITY e "x">]>'
            + BASE[BASE.index(b"<Message") :],
            id="doctype",
        ),
    ],
)
def test_irregular_documents_are_left_to_the_full_reader(data: bytes) -> None:
    assert parse_clean(data, "doc.xml") is None


def test_children_outside_message_hold_misplaced_records() -> None:
    """``Message/Header/Children/Child`` is not a census record: rejected, not loaded."""
    child = BASE[BASE.index(b"<Child>") : BASE.index(b"</Child>") + 8]
    data = _child_with(b"</Header>", b"<Children>" + child + b"</Children></Header>")
    base, full = full_outcome(BASE), full_outcome(data)
    assert not isinstance(base, str) and not isinstance(full, str)
    rej = full.rejections
    assert rej.loc[rej["record"] == "child", "reason"].tolist() == ["misplaced record"]
    for name, table in base.tables.items():
        assert len(full.tables[name]) == len(table), name


def test_previous_cpp_counts_must_be_ascii_digits(tmp_path: Path) -> None:
    # str.isdigit accepts "²", which int() cannot convert, and "٣", which it can: the reader
    # (both paths) keeps only ASCII counts and notes the rest as a field row.
    assert cin_xml.is_previous_cpp_count("3")
    assert not cin_xml.is_previous_cpp_count("²")
    assert not cin_xml.is_previous_cpp_count("٣")
    assert not cin_xml.is_previous_cpp_count("123456")
    plan = b"<ChildProtectionPlans><CPPstartDate>2023-06-01</CPPstartDate>"
    data = _child_with(
        b"<ReferralNFA>",
        plan
        + "<NumberOfPreviousCPP>²</NumberOfPreviousCPP>".encode()
        + b"</ChildProtectionPlans><ReferralNFA>",
    )
    assert parse_clean(data, "doc.xml") is None
    full = full_outcome(data)
    assert not isinstance(full, str)
    assert "NumberOfPreviousCPP" in set(full.rejections["element"])
    assert full.tables["cpps"]["number_of_previous_cpp"].isna().any()


def test_codes_are_shared_objects() -> None:
    # One str object per code value (see cin_xml._canonical), in both paths.
    data = YEARS[-1].read_bytes()
    for parsed in (parse_clean(data, "doc.xml"), full_outcome(data)):
        assert isinstance(parsed, ParsedReturn)
        values = parsed.tables["cin_episodes"]["referral_source"].dropna().tolist()
        assert values
        assert all(v is cin_xml._REFSOURCE[v] for v in values)


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with cin_xml.gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cin_xml.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


PROPERTY = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(tree_mutations())
def test_tree_mutants_agree_with_the_full_reader(data: bytes) -> None:
    assert_agrees(data)


@PROPERTY
@given(byte_mutations())
def test_byte_mutants_agree_with_the_full_reader(data: bytes) -> None:
    assert_agrees(data)
