"""The hand-built test tables are valid CIN tables (so indicator tests run on valid input)."""

from __future__ import annotations

from helpers.cin_tables import build


def test_builder_output_validates():
    t = build(
        referrals=[("A", "201", "2010-01-01"), ("B", "202", "2010-02-01")],
        plans=[("A", "201", "2010-02-01", "2010-08-01", 0), ("A", "202", "2011-01-01", None, None, "2010-12-01")],
        assessments=[("A", "201", "2010-01-01", "2010-01-05", None, "1B 21")],
        births={"B": None},
        deaths={"A": "2012-01-01"},
        validate=True,
    )
    counts = t.counts()
    assert counts["children"] == 3  # A in 201 and 202, B in 202
    assert counts["cin_episodes"] == 4
    assert counts["cpps"] == 2
    assert counts["assessment_factors"] == 2
