"""Parallel and piecewise CIN XML parsing gives exactly the serial parse, or its exact error.

:func:`recurrence.data.cin_xml.parse_cin_xml_files` cuts large files into pieces at ``<Child``
start tags and parses pieces (and files) in worker processes. These tests cut the fixtures and
the shared samples into tiny pieces (so that every child is its own piece), mutate documents
with hypothesis, and compare every table, every rejection row (in order) and every whole-file
error message with the plain serial parse, for 1 and 2 workers.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from test_reader_properties import BASE, byte_mutations, tree_mutations

from recurrence.data import cin_xml
from recurrence.data.cin_xml import ParsedReturn, parse_cin_xml, parse_cin_xml_files
from recurrence.data.reader import read_cin
from recurrence.errors import InputFileError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cin_xml"
GOOD = [*sorted((FIXTURES / "years").glob("*.xml")), FIXTURES / "record_errors.xml"]
BAD = sorted((FIXTURES / "bad").glob("*.xml"))


def assert_same(a: ParsedReturn, b: ParsedReturn) -> None:
    assert (a.path, a.la_code, a.census_year) == (b.path, b.la_code, b.census_year)
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)
    pd.testing.assert_frame_equal(a.rejections, b.rejections, check_exact=True)


def outcome(path: Path, **kw: int) -> ParsedReturn | str:
    """The parse of ``path`` (streaming reference without ``kw``), or its whole-file error."""
    try:
        return parse_cin_xml(path, **kw) if kw else cin_xml.parse_streaming(path)
    except InputFileError as exc:
        return str(exc)


def assert_same_outcome(path: Path, **kw: int) -> None:
    serial, other = outcome(path), outcome(path, **kw)
    if isinstance(serial, str) or isinstance(other, str):
        assert serial == other
    else:
        assert_same(serial, other)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_tiny_pieces_give_the_serial_parse(path: Path) -> None:
    # piece_bytes=1: a cut at every <Child start tag, so every child is parsed on its own.
    n_children = path.read_bytes().count(b"<Child>")
    assert len(cin_xml._plan(str(path), 1)) == n_children > 1
    assert_same(cin_xml.parse_streaming(path), parse_cin_xml(path, piece_bytes=1))


def test_shared_samples_in_pieces_give_the_serial_parse(shared_dir: Path) -> None:
    samples = sorted((shared_dir / "data" / "cin_samples").glob("*.xml"))
    assert samples
    for path in samples:
        size = path.stat().st_size
        for piece_bytes in (max(1, size // 9), max(1, size // 4)):
            assert_same_outcome(path, piece_bytes=piece_bytes)
    # the samples with more than one child are really cut
    cut = [p.name for p in samples if len(cin_xml._plan(str(p), p.stat().st_size // 9)) > 1]
    assert "d2i_fake_CIN_data.xml" in cut


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_files_fail_with_the_serial_message(path: Path) -> None:
    assert isinstance(outcome(path), str)
    assert_same_outcome(path, piece_bytes=1)


def test_two_workers_give_the_one_worker_result(tmp_path: Path) -> None:
    # Several files, some cut into pieces, one bad: identical results and the same first error.
    for p in GOOD:
        shutil.copy(p, tmp_path / p.name)
    one = parse_cin_xml_files(sorted(tmp_path.glob("*.xml")))
    for workers, piece_bytes in ((2, 1), (1, 3000)):
        got = parse_cin_xml_files(
            sorted(tmp_path.glob("*.xml")), workers=workers, piece_bytes=piece_bytes
        )
        assert len(got) == len(one)
        for a, b in zip(one, got, strict=True):
            assert_same(a, b)
    t1 = read_cin(tmp_path)
    t2 = read_cin(tmp_path, workers=2)
    for name, frame in t1.items():
        pd.testing.assert_frame_equal(frame, getattr(t2, name), check_exact=True)
    shutil.copy(FIXTURES / "bad" / "truncated.xml", tmp_path / "cin_2019_zz.xml")
    with pytest.raises(InputFileError) as serial:
        read_cin(tmp_path)
    with pytest.raises(InputFileError) as parallel:
        read_cin(tmp_path, workers=2)
    assert str(parallel.value) == str(serial.value)
    assert "cin_2019_zz.xml" in str(serial.value)


def _with_children(extra: bytes, before: bytes = b"") -> bytes:
    """The 2024 fixture with ``extra`` appended after its children (and ``before`` ahead)."""
    head, sep, tail = BASE.partition(b"</Children>")
    head = head.replace(b"<Children>", b"<Children>" + before, 1)
    return head + extra + sep + tail


def _first_child(data: bytes) -> bytes:
    start = data.index(b"<Child>")
    return data[start : data.index(b"</Child>", start) + len(b"</Child>")]


@pytest.mark.parametrize(
    "data",
    [
        # the same child id in two pieces: the serial parse rejects the later copy
        pytest.param(_with_children(_first_child(BASE)), id="duplicate-child-across-pieces"),
        # cuts inside a comment, a CDATA section and a misplaced (nested) Child
        pytest.param(_with_children(b"<!-- <Child> x </Child> -->"), id="comment"),
        pytest.param(
            BASE.replace(b"<Ethnicity>", b"<Ethnicity><![CDATA[<Child>]]>", 1), id="cdata"
        ),
        pytest.param(
            BASE.replace(b"</CINdetails>", b"<Child><ChildIdentifiers/></Child></CINdetails>", 1),
            id="nested-child",
        ),
        # two Children containers, a Child directly under Message, a second header
        pytest.param(
            BASE.replace(b"</Children>", b"</Children><Children>", 1).replace(
                b"</Message>", b"</Children></Message>"
            ),
            id="two-children-containers",
        ),
        pytest.param(
            BASE.replace(b"</Message>", _first_child(BASE) + b"</Message>"), id="child-in-message"
        ),
        pytest.param(
            BASE.replace(b"<Children>", b"<Children>" + _first_child(BASE), 1).replace(
                b"</Message>",
                BASE[BASE.index(b"<Header>") : BASE.index(b"</Header>") + 9].replace(
                    b"<LEA>", b"<LEA>9"
                )
                + b"</Message>",
            ),
            id="second-header",
        ),
        pytest.param(BASE.replace(b"</Children>", b"<Child/></Children>"), id="empty-child"),
    ],
)
def test_awkward_cuts_give_the_serial_outcome(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "awkward.xml"
        path.write_bytes(data)
        assert len(cin_xml._plan(str(path), 1)) > 1
        for piece_bytes in (1, 700):
            assert_same_outcome(path, piece_bytes=piece_bytes)


def test_a_first_child_tag_inside_a_comment_is_not_a_cut() -> None:
    # The first "<Child" is inside a comment, and a stray "-->" follows every child: with that
    # comment left open in every piece's prefix, each piece would swallow its child into the
    # comment and still be well-formed (all children silently lost). The file is not cut.
    data = BASE.replace(b"<Children>", b"<Children><!-- <Child> -->", 1).replace(
        b"</Child>", b"</Child>-->"
    )
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "comment_prefix.xml"
        path.write_bytes(data)
        assert len(cin_xml._plan(str(path), 1)) == 1
        serial = cin_xml.parse_streaming(path)
        assert len(serial.tables["children"]) == BASE.count(b"<Child>")
        assert_same(serial, parse_cin_xml(path, piece_bytes=1))


def test_a_piece_that_fails_sends_the_file_to_the_serial_parse() -> None:
    # The duplicate child is kept by both pieces, so _combine refuses and the serial parse runs.
    data = _with_children(_first_child(BASE))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "dup.xml"
        path.write_bytes(data)
        pieces = [cin_xml._run_task(t) for t in cin_xml._plan(str(path), 1)]
        assert all(p is not None for p in pieces)
        assert cin_xml._combine(pieces) is None
        serial = parse_cin_xml(path)
        assert "duplicate child" in set(serial.rejections["reason"])


PROPERTY = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _check_mutant(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mutant.xml"
        path.write_bytes(data)
        assert_same_outcome(path, piece_bytes=1)


@PROPERTY
@given(tree_mutations())
def test_tree_mutants_in_pieces_give_the_serial_outcome(data: bytes) -> None:
    _check_mutant(data)


@PROPERTY
@given(byte_mutations())
def test_byte_mutants_in_pieces_give_the_serial_outcome(data: bytes) -> None:
    _check_mutant(data)


def test_cli_workers_option_writes_identical_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recurrence.cli import main

    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        args = ["read-cin", str(FIXTURES / "years"), str(FIXTURES / "record_errors.xml")]
        try:
            main([*args, "--out", str(out), "--workers", workers])
        except SystemExit as exc:
            assert not exc.code
        outputs.append({p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))})
        assert "read 5 child records" in capsys.readouterr().out
    assert len(outputs[0]) == 9
    assert outputs[0] == outputs[1]


def test_a_failing_worker_pool_leaves_the_files_to_the_serial_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import joblib

    class BrokenPool:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __call__(self, tasks: object) -> object:
            raise RuntimeError("a worker process died")

    monkeypatch.setattr(joblib, "Parallel", BrokenPool)
    paths = GOOD[:3]
    got = parse_cin_xml_files(paths, workers=2, piece_bytes=1)
    for path, result in zip(paths, got, strict=True):
        assert_same(cin_xml.parse_streaming(path), result)
