"""Step 1: the synthetic linked CIN cohort (with its known truth).

Generates the cohort with :func:`recurrence.synth.generate` (preset ``england-2009``: the final
simulated year is 2008/09, the year of the seed's data annexe) and keeps the census and truth
tables as intermediate data for the later steps (never released: they are child-level).

Released (after disclosure control): activity by census year (referrals, children referred,
assessments, section 47 enquiries, plan starts) and a summary of the truth (families, highly
resistant families, true maltreatment events and the share that were referred), with a figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

TITLE = "Synthetic linked cohort"
NEEDS: tuple[str, ...] = ()
USES: tuple[str, ...] = ("recurrence.synth", "recurrence.data")


def _year(dates: pd.Series) -> pd.Series:
    """Census year (ending 31 March) of each date."""
    return (dates.dt.year + (dates.dt.month >= 4).astype(int)).astype("Int64")


def activity_by_year(tables: Any, first_year: int, last_year: int) -> pd.DataFrame:
    """Counts per census year in the observed window, from the census tables."""
    eps = tables.cin_episodes
    frames = {
        "referrals": _year(eps["cin_referral_date"]).value_counts(),
        "children_referred": eps.assign(y=_year(eps["cin_referral_date"]))
        .groupby("y")["child_key"]
        .nunique(),
        "assessments": _year(tables.assessments["assessment_actual_start_date"]).value_counts(),
        "section47_enquiries": _year(tables.section47["s47_actual_start_date"]).value_counts(),
        "plan_starts": _year(tables.cpps["cpp_start_date"]).value_counts(),
    }
    years = pd.Index(range(first_year, last_year + 1), name="year")
    out = pd.DataFrame({k: v.reindex(years).fillna(0).astype(int) for k, v in frames.items()})
    return out.reset_index()


def run(ctx: Any) -> list[Path]:
    """Generate the cohort, keep it as intermediate data and release its SDC-protected summary."""
    import matplotlib.pyplot as plt

    from recurrence.synth import generate

    p = ctx.params
    cohort = generate(
        n_children=int(p["n_children"]),
        years=int(p["years"]),
        seed=ctx.seed,
        preset=str(p["preset"]),
        n_jobs=ctx.workers,
    )
    cohort.write(ctx.work_dir / "cohort", "parquet")

    final_year = int(cohort.config.final_year)
    first_year = final_year - int(p["years"]) + 1
    activity = activity_by_year(cohort.tables, first_year, final_year)
    counts = [c for c in activity.columns if c != "year"]
    paths = [
        ctx.table(
            activity,
            "activity_by_year",
            caption="Synthetic cohort: referrals, children referred, assessments, section 47 "
            "enquiries and plan starts by census year (year ending 31 March).",
            count_columns=counts,
        )
    ]

    truth = cohort.truth
    events = cohort.truth_events
    summary = pd.DataFrame(
        {
            "quantity": [
                "children",
                "families",
                "children in highly resistant families",
                "true maltreatment events",
                "true events referred to children's social care",
            ],
            "count": [
                len(truth),
                truth["family_id"].nunique(),
                int(truth["highly_resistant"].sum()),
                len(events),
                int(events["referred"].sum()),
            ],
        }
    )
    paths.append(
        ctx.table(
            summary,
            "truth_summary",
            caption="Known truth behind the synthetic cohort (from the generator's truth table).",
            count_columns=["count"],
        )
    )
    share_referred = events["referred"].mean() if len(events) else float("nan")
    share_resistant = truth["highly_resistant"].mean()
    ctx.finding(
        f"The synthetic cohort has {len(truth):,} children observed over {p['years']} census "
        f"years to 31 March {final_year}; {100 * share_resistant:.1f}% live in families that are "
        f"'highly resistant' by the generator's definition, and only "
        f"{100 * share_referred:.1f}% of their true maltreatment events were ever referred, so "
        "any indicator built from referrals sees part of the harm."
    )

    safe = pd.read_csv(paths[0])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for col in ("referrals", "assessments", "plan_starts"):
        ax.plot(safe["year"], pd.to_numeric(safe[col], errors="coerce"), marker="o", label=col)
    ax.set_xlabel("Census year (ending 31 March)")
    ax.set_ylabel("Count (rounded to 5)")
    ax.legend(frameon=False)
    ax.set_title("Synthetic cohort activity by year")
    paths.append(
        ctx.figure(
            fig,
            "activity_by_year",
            caption="Referrals, assessments and plan starts per census year in the synthetic "
            "cohort (drawn from the disclosure-controlled table).",
        )
    )
    return paths
