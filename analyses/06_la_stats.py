"""Step 6: the repeat-plan indicator on real published LA data (DfE tables).

Runs when the DfE Explore Education Statistics CSVs are present (``../shared/data/dfe`` or the
folder given with ``--dfe``); otherwise the step is skipped and the report names the folder it
looked for. Uses :mod:`recurrence.dfe.la_stats`:

* reliability of the repeat-plan percentage (D3, NI 65's successor) within LA over years (ICC);
* overdispersion by year, and the Spiegelhalter (2005) funnel plot for the latest year;
* convergent validity: Spearman correlations with re-referrals (C1), long plans (D5) and
  parental-factor prevalence (C3), and a between/within multilevel model.

The inputs are published LA-level statistics (already suppressed by the DfE), not child-level
data, so the tables are declared as such for the disclosure check (identifier and free-text
rules still apply).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

TITLE = "Real LA data: reliability and validity of the repeat-plan indicator"
NEEDS: tuple[str, ...] = ()
USES: tuple[str, ...] = ("recurrence.dfe", "recurrence.validity")
READS_DFE = True

REASON = "published DfE LA-level statistics (already suppressed at source), not child-level data"


def run(ctx: Any) -> list[Path]:
    """ICC, overdispersion, funnel plot and convergent validity on the DfE LA tables."""
    from recurrence.dfe import la_stats
    from recurrence.validity.funnel import funnel_figure

    if ctx.dfe_dir is None:
        ctx.skip(
            f"the folder of DfE LA tables {ctx.dfe_searched} is missing; give the folder of "
            "Explore Education Statistics CSVs with `recurrence reproduce --dfe DIR`"
        )
    for f in sorted(ctx.dfe_dir.glob("*.csv")):
        ctx.use_input(f)

    panel = la_stats.la_panel(ctx.dfe_dir)
    icc = la_stats.icc_over_years(panel)
    funnel, od, year = la_stats.latest_funnel(panel)
    overdisp = la_stats.overdispersion_by_year(panel)
    corr = la_stats.correlations(panel)
    coefs, summary = la_stats.multilevel_model(panel)

    def table(frame: pd.DataFrame, name: str, caption: str) -> Path:
        return ctx.table(frame, name, caption=caption, child_level=False, reason=REASON)

    icc_row = asdict(icc)
    paths = [
        table(
            pd.DataFrame([{"indicator": "repeat_percent", **icc_row}]),
            "icc",
            "Reliability of the repeat-plan percentage within LA over years (ICC(1) after "
            "removing each year's national mean, with its F-based 95% interval; mixed-model SDs "
            "and the SD binomial chance alone would give, in percentage points).",
        ),
        table(
            overdisp,
            "overdispersion_by_year",
            "Overdispersion of the repeat-plan proportion across LAs by year (Spiegelhalter "
            "2005: phi, chi-squared test, additive between-LA SD tau in percentage points).",
        ),
        table(
            funnel,
            f"funnel_{year}",
            f"Funnel-plot table for {year}: each LA's plan starts, repeat plans, z-score and "
            "whether it lies outside the overdispersion-adjusted limits.",
        ),
        table(
            corr,
            "correlations",
            "Convergent validity: Spearman correlations (Fisher-z 95% CIs) of the repeat-plan "
            "percentage with re-referrals, long plans and parental-factor prevalence.",
        ),
        table(
            coefs,
            "multilevel_model",
            "Between/within multilevel model of the repeat-plan percentage (percentage points "
            "per SD of each covariate; random LA intercept, year fixed effects).",
        ),
    ]
    fig = funnel_figure(
        funnel,
        od,
        numerator="cpp_subsequent",
        denominator="cpp_starts",
        title=f"Plans that are a second or subsequent plan (D3), {year}",
        ylabel="% of plan starts",
        label_column="la_name",
    )
    paths.append(
        ctx.figure(
            fig,
            f"funnel_{year}",
            caption=f"Funnel plot of the repeat-plan percentage by LA, {year}, with binomial "
            "(dashed) and overdispersion-adjusted (solid) 95% and 99.8% limits.",
        )
    )
    n_out = int(funnel["outlier"].sum()) if "outlier" in funnel else None
    within = coefs.loc[coefs["component"] == "within"]
    sig_within = within.loc[within["p_value"] < 0.05, "covariate"].tolist()
    # Reliability wording after Koo & Li (2016): < 0.5 poor, 0.5-0.75 moderate, 0.75-0.9 good.
    icc_word = (
        "poor"
        if icc.icc_anova < 0.5
        else "moderate"
        if icc.icc_anova < 0.75
        else "good"
        if icc.icc_anova < 0.9
        else "excellent"
    )
    spread = (
        f"LAs vary more than binomial chance allows (phi {od.phi:.1f} in {year})"
        if od.phi > 1
        else f"LAs vary no more than binomial chance allows (phi {od.phi:.1f} in {year})"
    )
    outliers = f", with {n_out} LAs outside the adjusted funnel limits" if n_out is not None else ""
    moves = (
        "an LA's own year-to-year changes in "
        + ", ".join(sig_within)
        + " go with changes in its repeat-plan percentage (p < 0.05)."
        if sig_within
        else "no within-LA change in the covariates goes with a change in the repeat-plan "
        "percentage (all p >= 0.05), so its year-to-year movement looks mostly like noise."
    )
    ctx.finding(
        f"On the published tables the reliability of the repeat-plan percentage within an LA over "
        f"years is {icc_word}: ICC {icc.icc_anova:.2f} (95% CI {icc.ci_lower:.2f} to "
        f"{icc.ci_upper:.2f}) over {icc.n_las} LAs. {spread}{outliers}. The covariates explain "
        f"{100 * summary['between_la_variance_explained']:.0f}% of the between-LA variance; "
        + moves
    )
    return paths
