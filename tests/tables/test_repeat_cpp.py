"""Per-plan repeat flags: derived (same LA, any LA) against recorded NumberOfPreviousCPP."""

from __future__ import annotations

import pandas as pd

from helpers.cin_tables import build
from recurrence.tables import repeat_cpps


def test_derived_and_recorded_flags():
    t = build(
        plans=[
            ("A", "202", "2006-01-01", "2006-09-01", 0),
            ("A", "201", "2007-01-01", "2007-05-01", 1),
            ("A", "201", "2009-01-01", None, 2),
            ("B", "201", "2009-02-01", None, None),  # count not recorded
            ("C", "201", "2009-03-01", None, 3),  # history before the data
        ]
    )
    out = repeat_cpps(t).set_index(["child_key", "cpp_start_date"])
    a3 = out.loc[("A", pd.Timestamp("2009-01-01"))]
    assert (a3["n_previous_same_la"], a3["n_previous_any_la"]) == (1, 2)
    assert a3["last_previous_end_same_la"] == pd.Timestamp("2007-05-01")
    a2 = out.loc[("A", pd.Timestamp("2007-01-01"))]
    assert not a2["repeat_same_la"]
    assert a2["repeat_any_la"]
    assert a2["repeat_recorded"]
    assert pd.isna(out.loc[("B", pd.Timestamp("2009-02-01")), "repeat_recorded"])
    c = out.loc[("C", pd.Timestamp("2009-03-01"))]
    assert c["repeat_recorded"]
    assert not c["repeat_any_la"]


def test_history_start_hides_earlier_plans():
    t = build(plans=[("A", "201", "2006-01-01", "2006-09-01", 0), ("A", "201", "2009-01-01", None, 1)])
    out = repeat_cpps(t, history_start="2008-01-01")
    assert len(out) == 1
    assert not out["repeat_same_la"].iloc[0]


def test_previous_open_plan():
    t = build(plans=[("A", "202", "2006-01-01", None, 0), ("A", "201", "2009-01-01", None, 1)])
    out = repeat_cpps(t).set_index("la_code")
    assert out.loc["201", "previous_open_any_la"]
    assert pd.isna(out.loc["201", "last_previous_end_any_la"])
    assert not out.loc["202", "previous_open_any_la"]
