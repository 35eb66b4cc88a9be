"""Step 5: is NI 65 a valid proxy for 'highly resistant' families? (synthetic truth)

On the cohort of step 1, whose truth says which families are highly resistant, this runs the
validity analysis of :func:`recurrence.cli.validity.run_validity` (the same code as
``recurrence validity``):

* child level: sensitivity, specificity, PPV, NPV, AUC (DeLong) and Brier score of NI 65 and its
  variants, of today's DfE indicators and of multivariate alternatives (a risk model validated
  out of sample by LA, a latent-class composite), with the DeLong test and net reclassification
  of the risk model against the NI 65 flag;
* LA level: Spearman correlation of each indicator with the LA's true prevalence of resistance,
  funnel-plot outlier agreement, the CFSR-style risk-standardised rate, and NI 65's variance split
  into chance, case mix and true difference;
* bias of NI 65's counting rules against the true repeat-plan rate, and (here) a sweep over the
  annual rate at which families move between LAs (:func:`recurrence.validity.bias_sweep.mobility_sweep`).

Every table passes disclosure control: counts of children and plans are declared, suppressed
below the threshold (with secondary suppression across LAs) and rounded, and rates derived from a
suppressed count are suppressed with it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

TITLE = "NI 65 validity against the synthetic truth"
NEEDS: tuple[str, ...] = ("01_synthetic_cohort",)
USES: tuple[str, ...] = (
    "recurrence.validity",
    "recurrence.indicators",
    "recurrence.tables",
    "recurrence.synth",
)

from recurrence.validity.release import (  # noqa: E402
    FIGURES,
    TABLES,
    child_level_from_rounded_counts,
    rates_from_rounded_counts,
)


def _publish(ctx: Any, frame: pd.DataFrame, name: str, spec: dict[str, Any]) -> Path:
    return ctx.table(
        frame,
        name,
        caption=spec["caption"],
        count_columns=spec.get("counts", []),
        dependent=spec.get("dependent"),
        ratios=spec.get("ratios"),
        column_groups=spec.get("column_groups"),
    )


def _value(frame: pd.DataFrame, query: dict[str, Any], column: str) -> float:
    rows = frame
    for k, v in query.items():
        rows = rows.loc[rows[k] == v]
    return float(rows.iloc[0][column]) if len(rows) else float("nan")


def run(ctx: Any) -> list[Path]:
    """Child- and LA-level validity, counting-rule bias and the mobility sweep."""
    from recurrence.cli.validity import run_validity
    from recurrence.validity.bias_sweep import mobility_sweep, sweep_figure

    cohort = ctx.upstream_work("01_synthetic_cohort") / "cohort"
    # ``run_validity`` reads the census tables in any format and ``truth.csv``.
    data = ctx.work_dir / "validity_input"
    data.mkdir(parents=True)
    for f in sorted(cohort.glob("*.parquet")):
        if f.stem == "truth":
            pd.read_parquet(f).to_csv(data / "truth.csv", index=False)
        elif not f.stem.startswith("truth_"):
            shutil.copyfile(f, data / f.name)

    paths: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="validity-") as tmp:
        raw = Path(tmp)
        run_validity(data, raw, seed=ctx.seed, n_folds=int(ctx.params.get("folds", 5)))
        shutil.rmtree(data)
        frames = {
            name: pd.read_csv(raw / f"{name}.csv")
            for name in TABLES
            if (raw / f"{name}.csv").exists()
        }
        if "child_level" in frames:
            frames["child_level"] = child_level_from_rounded_counts(frames["child_level"], ctx.rules)
        if "bias_sweep" in frames:
            frames["bias_sweep"] = rates_from_rounded_counts(frames["bias_sweep"], ctx.rules)
        for name, frame in frames.items():
            paths.append(_publish(ctx, frame, name, TABLES[name]))
        for name, caption in FIGURES.items():
            src = raw / f"{name}.png"
            if src.exists():
                target = ctx.out_dir / f"{name}.png"
                shutil.copyfile(src, target)
                paths.append(ctx.register(target, caption=caption + " Synthetic data."))

    import matplotlib.pyplot as plt

    rates = [float(r) for r in ctx.params["sweep_rates"]]
    mobility = pd.DataFrame()
    if rates:
        mobility = mobility_sweep(
            rates,
            n_children=int(ctx.params["sweep_children"]),
            years=int(ctx.params["sweep_years"]),
            seed=ctx.seed,
        )
        mobility = rates_from_rounded_counts(mobility, ctx.rules)
        spec = dict(TABLES["bias_sweep"])
        spec["caption"] = (
            "NI 65 counting rules against the truth in cohorts regenerated at several annual "
            "rates of moving between LAs (mobility_rate)."
        )
        paths.append(_publish(ctx, mobility, "mobility_sweep", spec))
        paths.append(
            ctx.figure(
                sweep_figure(mobility),
                "mobility_sweep",
                caption="Bias of NI 65 (same LA) and its any-LA variant against the true "
                "repeat-plan rate as families move between LAs more often (percentage points).",
            )
        )
        plt.close("all")

    cl = frames.get("child_level", pd.DataFrame())
    comp = frames.get("risk_model_comparison", pd.DataFrame())
    la = frames.get("la_level", pd.DataFrame())
    sweep = frames.get("bias_sweep", pd.DataFrame())
    q = {"indicator": "ni65_same_la", "population": "referred"}
    sens, ppv, auc = (_value(cl, q, c) for c in ("sensitivity", "ppv", "auc"))
    auc_lo, auc_hi = _value(cl, q, "auc_ci_lower"), _value(cl, q, "auc_ci_upper")
    risk_auc = _value(cl, {"indicator": "risk_model", "population": "referred"}, "auc")
    diff = comp.loc[comp["statistic"] == "auc_difference_delong"] if len(comp) else comp
    rho = _value(la, {"indicator": "ni65"}, "spearman_with_truth")
    rho_lo = _value(la, {"indicator": "ni65"}, "spearman_ci_lower")
    rho_hi = _value(la, {"indicator": "ni65"}, "spearman_ci_upper")
    published = {"counting": "children", "scope": "same_la", "history": "full"}
    bias = _value(sweep.loc[sweep["lookback_years"].isna()], published, "bias_pp")
    text = (
        "At child level the NI 65 flag (a repeat plan in the same LA) identifies highly "
        f"resistant families with sensitivity {sens:.2f}, PPV {ppv:.2f}, AUC {auc:.2f} (95% CI "
        f"{auc_lo:.2f} to {auc_hi:.2f}), against AUC {risk_auc:.2f} for a multivariable risk model "
        "from the same CIN records validated out of sample by LA"
    )
    if len(diff):
        d = diff.iloc[0]
        text += (
            f" (difference {d['estimate']:.2f}, 95% CI {d['ci_lower']:.2f} to {d['ci_upper']:.2f}, "
            "DeLong)"
        )
    text += (
        f". Across LAs, NI 65 correlates with the true prevalence of resistance at Spearman "
        f"{rho:.2f} ({rho_lo:.2f} to {rho_hi:.2f}). As defined in 2008-10 it is biased by "
        f"{bias:+.1f} percentage points against the true repeat-plan rate."
    )
    gaps = _mobility_gaps(mobility) if len(mobility) else pd.DataFrame()
    if len(gaps) >= 2:
        lo, hi = gaps.iloc[0], gaps.iloc[-1]
        text += (
            f" Counting previous plans in any LA instead of the same LA adds {lo['gap']:.1f} "
            f"percentage points at an annual mobility rate of {lo['mobility_rate']:g} "
            f"and {hi['gap']:.1f} points at {hi['mobility_rate']:g}; the same-LA "
            f"rule's bias goes from {lo['same_la']:+.1f} to {hi['same_la']:+.1f} points."
        )
    ctx.finding(text)
    return paths


def _mobility_gaps(mobility: pd.DataFrame) -> pd.DataFrame:
    """Any-LA minus same-LA NI 65 (children, ever, full history) by mobility rate, in points."""
    m = mobility.loc[
        (mobility["counting"] == "children")
        & mobility["lookback_years"].isna()
        & (mobility["history"] == "full")
    ]
    wide = m.pivot_table(index="mobility_rate", columns="scope", values="bias_pp")
    if not {"same_la", "any_la"} <= set(wide.columns):
        return pd.DataFrame(columns=["mobility_rate", "gap", "same_la"])
    out = pd.DataFrame(
        {"gap": wide["any_la"] - wide["same_la"], "same_la": wide["same_la"]}
    ).reset_index()
    return out.sort_values("mobility_rate").reset_index(drop=True)
