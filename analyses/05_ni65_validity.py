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

#: For each table of ``recurrence validity``: caption, count columns, rate columns derived from
#: them, and whether its rows add up to a total (LAs to England) for secondary suppression.
TABLES: dict[str, dict[str, Any]] = {
    "child_level": {
        "caption": "Child-level validity of each indicator against the true 'highly resistant' "
        "status: sensitivity, specificity, PPV, NPV (Wilson 95% CIs), AUC (DeLong CI), Brier "
        "score; n is the number of children (rounded).",
        "counts": ["n"],
    },
    "risk_model_comparison": {
        "caption": "The multivariable risk model (validated out of sample by LA) against the NI 65 "
        "flag: DeLong test of the AUC difference and net reclassification (categorical and "
        "continuous NRI).",
        "counts": [],
    },
    "risk_model_folds": {
        "caption": "Cross-validation folds of the risk model (grouped by LA): LAs and children per "
        "fold.",
        "counts": ["n"],
    },
    "risk_model_calibration": {
        "caption": "Calibration of the out-of-sample risk model by tenth of predicted risk.",
        "counts": ["n"],
    },
    "latent_class": {
        "caption": "Two-class latent-class composite of repeat plans, re-referrals, long plans and "
        "multiple parental problems: item probabilities by class.",
        "counts": [],
    },
    "la_level": {
        "caption": "LA-level validity: Spearman correlation of each indicator with the LA's true "
        "prevalence of highly resistant families (Fisher-z 95% CI), funnel-plot outliers and "
        "their agreement with the truth's outliers (Cohen's kappa).",
        "counts": [],
    },
    "risk_standardised": {
        "caption": "Risk-standardised repeat-plan rate per LA (observed or model-predicted over "
        "expected, times the national rate; random LA intercept), after the US CFSR Round 3 "
        "(synthetic LA codes). Small LAs are suppressed.",
        "counts": ["n", "observed"],
        # Every model quantity of a small LA goes with its n: expected / expected_rate gives n
        # back, and the predicted rate and random effect describe the same few children.
        "dependent": {
            col: ["n", "observed"]
            for col in (
                "expected", "predicted", "observed_rate", "expected_rate", "rsp_observed",
                "rsp_observed_ci_lower", "rsp_observed_ci_upper", "rsp_predicted",
                "rsp_predicted_ci_lower", "rsp_predicted_ci_upper", "random_effect",
                "flag_high", "flag_low",
            )
        },
        "column_groups": (),
    },
    "variance_decomposition": {
        "caption": "NI 65's between-LA variance split into chance (binomial), case mix and true "
        "difference.",
        "counts": [],
    },
    "bias_sweep": {
        "caption": "NI 65 under every counting rule (children or occasions, same or any LA, "
        "look-back, history) against the true repeat-plan rate and the share of highly "
        "resistant families, pooled over the evaluation years; bias in percentage points.",
        "counts": ["numerator", "denominator"],
        "ratios": {"ni65_percent": ("numerator", "denominator", 100.0)},
        "dependent": {
            "ci_lower": ["numerator", "denominator"],
            "ci_upper": ["numerator", "denominator"],
            "bias_pp": ["numerator", "denominator"],
        },
    },
}

# The funnel plots that `recurrence validity` draws are not released: each point is an LA's
# exact numerator and denominator (3 of 6, 1 of 3 ...), which no table here may publish. They
# stay in the command's own output for work inside the secure setting.
FIGURES: dict[str, str] = {
    "bias_sweep": "Bias of each NI 65 counting rule against the true repeat-plan rate "
    "(percentage points).",
}


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


def _rates_from_rounded_counts(frame: pd.DataFrame, rules: Any) -> pd.DataFrame:
    """Recompute a sweep table's rates from its counts as they will be published (rounded).

    A percentage written to six digits from the exact counts gives those counts back (and a
    difference of two nested rules' counts can then be a single child), which the rounding of
    the counts is meant to prevent. So the rule's percentage, its Wilson interval and its bias
    are recomputed from the rounded numerator and denominator, and the truth's percentages are
    given to one decimal place. Suppression of small counts then blanks them as declared.
    """
    from recurrence.validity.metrics import wilson_ci

    out = frame.copy()
    # The counts themselves stay exact here: suppression must see them before rounding.
    num = out["numerator"].map(rules.round_count)
    den = out["denominator"].map(rules.round_count)
    ok = den > 0
    out["ni65_percent"] = (100 * num / den).where(ok)
    limits = [wilson_ci(int(k), int(n)) if n > 0 and k <= n else (float("nan"),) * 2
              for k, n in zip(num, den, strict=True)]
    out["ci_lower"] = [100 * lo for lo, _ in limits]
    out["ci_upper"] = [100 * hi for _, hi in limits]
    for col in ("true_repeat_percent", "resistant_share_percent"):
        out[col] = out[col].round(1)
    out["bias_pp"] = out["ni65_percent"] - out["true_repeat_percent"]
    return out


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
        if "bias_sweep" in frames:
            frames["bias_sweep"] = _rates_from_rounded_counts(frames["bias_sweep"], ctx.rules)
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
        mobility = _rates_from_rounded_counts(mobility, ctx.rules)
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
