"""Step 2: analysis tables and calibration of the synthetic cohort against published figures.

From the cohort of step 1 this builds the package's analysis tables and the DfE/NI indicators
(:mod:`recurrence.tables`, :mod:`recurrence.indicators`), sums them over LAs for each census year,
and sets the final year beside the national figures the ``england-2009`` preset is calibrated to
(the seed's data annexe, 2008/09):

* re-referrals within 12 months of a previous referral: 23% of referrals (DfE C1 definition);
* children becoming the subject of a plan who had a previous plan in the same council, ever
  (NI 65, 2008-10 definition): 13%;
* children on a plan at 31 March aged 4 or under: 45%;
* neglect and emotional abuse as the category of 73% of plans open at 31 March.

All released tables are national (summed over LAs) and pass disclosure control.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TITLE = "Analysis tables and calibration"
NEEDS: tuple[str, ...] = ("01_synthetic_cohort",)
USES: tuple[str, ...] = ("recurrence.tables", "recurrence.indicators", "recurrence.data")

#: Published 2008/09 national figures (the seed's data annexe), in percent.
TARGETS = {
    "rereferral_12m": (23.0, "re-referrals within 12 months, % of referrals (C1)"),
    "ni65_same_la_ever": (13.0, "NI 65: becoming subject of a plan with a previous plan, same LA"),
    "aged_4_or_under": (45.0, "children on a plan at 31 March aged 4 or under"),
    "neglect_or_emotional": (73.0, "plans at 31 March for neglect or emotional abuse"),
}


def _national(frame: pd.DataFrame, counts: list[str]) -> pd.DataFrame:
    """Sum LA rows to national totals per year."""
    return frame.groupby("year", sort=True)[counts].sum().reset_index()


def _pct(num: pd.Series, den: pd.Series) -> pd.Series:
    return 100.0 * num / den.where(den > 0)


def _published_pct(num: float, den: float, rnd: Any) -> float:
    """A percentage from the counts as published (rounded), for the findings text."""
    return 100.0 * rnd(num) / max(rnd(den), 1)


def at_31_march(tables: Any, year: int) -> pd.DataFrame:
    """Plans open at 31 March of ``year`` with the child's age and the plan's category."""
    day = pd.Timestamp(year=year, month=3, day=31)
    c = tables.cpps
    open_ = c.loc[(c["cpp_start_date"] <= day) & ~(c["cpp_end_date"] <= day)]
    kids = tables.children[["la_code", "la_child_id", "person_birth_date"]]
    merged = open_.merge(kids, on=["la_code", "la_child_id"], how="left", validate="many_to_one")
    birth = merged["person_birth_date"]
    # Completed years at 31 March: one less when the birthday falls after March in that year.
    age = day.year - birth.dt.year - (birth.dt.month > 3).astype("Int64")
    category = merged["latest_category_of_abuse"].fillna(merged["initial_category_of_abuse"])
    return pd.DataFrame({"age": age, "category": category})


def run(ctx: Any) -> list[Path]:
    """National indicators by year, and the final year against the calibration targets."""
    import matplotlib.pyplot as plt

    from recurrence.data.io import read_tables
    from recurrence.indicators import d3_repeat_plans, ni64_long_plans, ni65, rereferral_rate_c1

    tables = read_tables(ctx.upstream_work("01_synthetic_cohort") / "cohort")

    c1 = _national(rereferral_rate_c1(tables), ["referral_count", "rereferral_count"])
    n65 = _national(ni65(tables), ["n_becoming_subject", "n_previous_plan"])
    n65_any = _national(ni65(tables, scope="any_la"), ["n_previous_plan"]).rename(
        columns={"n_previous_plan": "n_previous_plan_any_la"}
    )
    d3 = _national(d3_repeat_plans(tables), ["cpp_start", "cpp_subsequent"])
    n64 = _national(ni64_long_plans(tables), ["cpp_ended", "cpp_ended_2_years_or_more"])
    by_year = c1
    for part in (n65, n65_any, d3, n64):
        by_year = by_year.merge(part, on="year", how="outer")
    counts = [c for c in by_year.columns if c != "year"]
    by_year[counts] = by_year[counts].fillna(0).astype(int)
    first_year = int(by_year["year"].min())
    # The first census year has no earlier data, so re-referrals and repeat plans are
    # undercounted there (left truncation); it is shown but flagged.
    by_year["first_year_of_data"] = by_year["year"] == first_year
    by_year["rereferral_percent"] = _pct(by_year["rereferral_count"], by_year["referral_count"])
    by_year["ni65_percent"] = _pct(by_year["n_previous_plan"], by_year["n_becoming_subject"])
    by_year["ni65_any_la_percent"] = _pct(
        by_year["n_previous_plan_any_la"], by_year["n_becoming_subject"]
    )
    by_year["d3_percent"] = _pct(by_year["cpp_subsequent"], by_year["cpp_start"])
    by_year["ni64_percent"] = _pct(by_year["cpp_ended_2_years_or_more"], by_year["cpp_ended"])
    # Percentages are recomputed from the published (rounded) counts when written, so that
    # they do not give the exact counts back (recurrence.sdc, ``ratios``).
    ratios = {
        "rereferral_percent": ("rereferral_count", "referral_count", 100.0),
        "ni65_percent": ("n_previous_plan", "n_becoming_subject", 100.0),
        "ni65_any_la_percent": ("n_previous_plan_any_la", "n_becoming_subject", 100.0),
        "d3_percent": ("cpp_subsequent", "cpp_start", 100.0),
        "ni64_percent": ("cpp_ended_2_years_or_more", "cpp_ended", 100.0),
    }
    paths = [
        ctx.table(
            by_year,
            "indicators_by_year",
            caption="National indicators by census year from the synthetic cohort: re-referrals "
            "within 12 months (C1), NI 65 (same LA, and any LA through the linkage key), D3 "
            "(from NumberOfPreviousCPP) and NI 64 (plans ending that lasted two years or more).",
            count_columns=counts,
            ratios=ratios,
        )
    ]

    final = int(by_year["year"].max())
    last = by_year.loc[by_year["year"] == final].iloc[0]
    snap = at_31_march(tables, final)
    rows = [
        ("rereferral_12m", int(last["rereferral_count"]), int(last["referral_count"])),
        ("ni65_same_la_ever", int(last["n_previous_plan"]), int(last["n_becoming_subject"])),
        ("aged_4_or_under", int((snap["age"] <= 4).sum()), int(snap["age"].notna().sum())),
        (
            "neglect_or_emotional",
            int(snap["category"].isin(["NEG", "EMO"]).sum()),
            int(snap["category"].notna().sum()),
        ),
    ]
    calib = pd.DataFrame(rows, columns=["measure", "numerator", "denominator"])
    calib.insert(1, "definition", [TARGETS[m][1] for m in calib["measure"]])
    rnd = ctx.rules.round_count
    calib["simulated_percent"] = _pct(calib["numerator"].map(rnd), calib["denominator"].map(rnd))
    calib["target_percent"] = [TARGETS[m][0] for m in calib["measure"]]
    calib["difference_points"] = calib["simulated_percent"] - calib["target_percent"]
    calib["year"] = final
    paths.append(
        ctx.table(
            calib,
            "calibration",
            caption=f"Calibration: the synthetic cohort's {final - 1}/{str(final)[2:]} national "
            "figures beside the published ones (the seed's data annexe).",
            count_columns=["numerator", "denominator"],
            ratios={"simulated_percent": ("numerator", "denominator", 100.0)},
            dependent={"difference_points": ["numerator", "denominator"]},
        )
    )
    worst = calib.loc[calib["difference_points"].abs().idxmax()]
    ctx.finding(
        f"Against the four published 2008/09 figures the synthetic cohort's final year is within "
        f"{abs(worst['difference_points']):.1f} percentage points (largest gap: "
        f"{worst['definition']}, {worst['simulated_percent']:.1f}% simulated vs "
        f"{worst['target_percent']:.0f}% published). Re-referrals within 12 months run at "
        f"{_published_pct(last['rereferral_count'], last['referral_count'], rnd):.1f}% of "
        f"referrals and NI 65 at "
        f"{_published_pct(last['n_previous_plan'], last['n_becoming_subject'], rnd):.1f}% "
        "(same LA) against "
        f"{_published_pct(last['n_previous_plan_any_la'], last['n_becoming_subject'], rnd):.1f}% "
        "when previous plans in any LA are counted."
    )

    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(calib))
    ax.bar(x - 0.2, calib["simulated_percent"], width=0.4, label="synthetic")
    ax.bar(x + 0.2, calib["target_percent"], width=0.4, label="published 2008/09")
    ax.set_xticks(
        x, ["re-referral\n12 months", "NI 65", "aged 0-4\non plan", "neglect or\nemotional"]
    )
    ax.set_ylabel("Percent")
    ax.legend(frameon=False)
    ax.set_title("Calibration of the synthetic cohort")
    paths.append(
        ctx.figure(
            fig,
            "calibration",
            caption="Synthetic vs published national percentages for the final census year "
            "(percentages from national counts; no cell below the disclosure threshold).",
        )
    )
    return paths
