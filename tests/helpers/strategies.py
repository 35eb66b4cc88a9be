"""Hypothesis strategies for random small CIN cohorts (shared by the analysis-table tests)."""

from __future__ import annotations

import pandas as pd
from hypothesis import strategies as st

from helpers.cin_tables import build
from recurrence.tables import PARENTAL_PROBLEM_COLUMNS

DAY0 = pd.Timestamp("2008-01-01")


@st.composite
def cohorts(draw):
    n = draw(st.integers(1, 6))
    referrals, plans, assessments, births = [], [], [], {}
    for i in range(n):
        key = f"k{i}"
        births[key] = str((DAY0 - pd.Timedelta(days=draw(st.integers(0, 17 * 365)))).date())
        days = sorted(draw(st.lists(st.integers(0, 1500), min_size=1, max_size=5, unique=True)))
        for d in days:
            la = draw(st.sampled_from(["201", "202"]))
            ref = str((DAY0 + pd.Timedelta(days=d)).date())
            referrals.append((key, la, ref))
            if draw(st.booleans()):
                s = d + draw(st.integers(0, 60))
                e = s + draw(st.integers(1, 400)) if draw(st.booleans()) else None
                plans.append(
                    (
                        key,
                        la,
                        str((DAY0 + pd.Timedelta(days=s)).date()),
                        None if e is None else str((DAY0 + pd.Timedelta(days=e)).date()),
                        0,
                        ref,
                    )
                )
            if draw(st.booleans()):
                a = d + draw(st.integers(0, 30))
                codes = " ".join(draw(st.sets(st.sampled_from(list(PARENTAL_PROBLEM_COLUMNS)))))
                adate = str((DAY0 + pd.Timedelta(days=a)).date())
                assessments.append((key, la, ref, adate, adate, codes))
    return build(referrals=referrals, plans=plans, assessments=assessments, births=births)
