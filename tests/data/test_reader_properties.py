"""Property-based tests: mutated documents give a clean load or a clean InputFileError, never another exception.

A clean load means validated tables for which the loss invariant holds (every record of the
mutated input is in a table or the rejections). Examples are derandomised and few, so the suite
is deterministic and fast.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from test_loss_invariant import assert_loss_invariant, record_counts

from recurrence.data.cin_xml import read_cin_xml
from recurrence.data.reader import read_cin
from recurrence.errors import InputFileError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE = (FIXTURES / "cin_xml" / "years" / "cin_2024.xml").read_bytes()
NPD_BASE = (FIXTURES / "npd" / "cin_extract.csv").read_bytes()

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

TAGS = [
    "Child",
    "CINdetails",
    "ChildProtectionPlans",
    "Assessments",
    "CINreferralDate",
    "CPPstartDate",
    "LAchildID",
    "Children",
    "Header",
    "Reviews",
    "Bogus",
]
GARBAGE = st.sampled_from(
    [
        "",
        " ",
        "2023-02-30",
        "2023-13-01",
        "0001-01-01",
        "9999-12-31",
        "abc",
        "RB",
        "-1",
        "true",
        "é&lt;",
        "1" * 40,
    ]
)


def check(data: bytes, suffix: str = ".xml") -> None:
    """Read ``data``; accept only InputFileError or a validated load that keeps the invariant."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"mutant{suffix}"
        path.write_bytes(data)
        try:
            tables = read_cin_xml(path) if suffix == ".xml" else read_cin([path])
        except InputFileError as exc:
            assert str(exc).startswith(str(path))
            assert "\n" not in str(exc)
            return
    # read_cin_xml / read_cin validated the tables before returning them
    if suffix == ".xml":
        assert_loss_invariant(record_counts(data), tables)


@st.composite
def tree_mutations(draw: st.DrawFn) -> bytes:
    root = etree.fromstring(BASE)
    elements = list(root.iter())
    for _ in range(draw(st.integers(1, 4))):
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        target = elements[draw(st.integers(0, len(elements) - 1))]
        op = draw(st.sampled_from(["drop", "duplicate", "rename", "text", "tail", "move"]))
        parent = target.getparent()
        if op == "drop" and parent is not None:
            parent.remove(target)
        elif op == "duplicate" and parent is not None:
            parent.insert(
                parent.index(target), etree.fromstring(etree.tostring(target, with_tail=False))
            )
        elif op == "rename":
            target.tag = draw(st.sampled_from(TAGS))
        elif op == "text":
            target.text = draw(GARBAGE)
        elif op == "tail":
            target.tail = draw(GARBAGE)
        elif op == "move" and parent is not None:
            others = [
                e
                for e in root.iter()
                if isinstance(e.tag, str) and e is not target and target not in e.iterancestors()
            ]
            dest = others[draw(st.integers(0, len(others) - 1))]
            if target not in dest.iterancestors() and dest is not target:
                parent.remove(target)
                dest.append(target)
    return etree.tostring(root)


@SETTINGS
@given(tree_mutations())
def test_tree_mutations_load_cleanly_or_fail_cleanly(data: bytes) -> None:
    check(data)


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(BASE)
    op = draw(st.sampled_from(["truncate", "flip", "insert"]))
    if op == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(byte_mutations())
def test_byte_mutations_load_cleanly_or_fail_cleanly(data: bytes) -> None:
    check(data)


@st.composite
def csv_mutations(draw: st.DrawFn) -> bytes:
    lines = NPD_BASE.decode().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cell", "drop_line", "truncate", "header"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "cell":
            cells = lines[i].split(",")
            j = draw(st.integers(0, len(cells) - 1))
            cells[j] = draw(GARBAGE).replace(",", "")
            lines[i] = ",".join(cells)
        elif op == "drop_line" and len(lines) > 1:
            del lines[i]
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines[0] = lines[0].lower() if draw(st.booleans()) else lines[0].upper()
    return ("\n".join(lines) + "\n").encode()


@settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(csv_mutations())
def test_npd_mutations_load_cleanly_or_fail_cleanly(data: bytes) -> None:
    check(data, ".csv")


def test_the_base_documents_load() -> None:
    """The properties above are not vacuous: the unmutated inputs load with rows."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "base.xml"
        p.write_bytes(BASE)
        assert len(read_cin_xml(p).cpps) == 2
        q = Path(d) / "base.csv"
        q.write_bytes(NPD_BASE)
        assert len(read_cin([q]).cin_episodes) == 4
