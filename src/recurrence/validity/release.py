"""Disclosure control of the validity tables: what ``recurrence validity`` and step 5 of
``recurrence reproduce`` release.

The validity analysis (:func:`recurrence.cli.validity.run_validity`) writes exact working
tables. Released, each passes :func:`recurrence.sdc.suppress_and_round` as declared in
:data:`TABLES`: counts of children and plans suppressed below the threshold (with secondary
suppression across LAs where rows add up) and rounded, every rate recomputed from the rounded
counts or suppressed with them. The funnel plots are not released (each point is an LA's exact
numerator and denominator); :data:`FIGURES` lists the plots that are.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recurrence.sdc import (
    SDCRules,
    TableDeclaration,
    check_outputs,
    suppress_and_round,
    write_declarations,
)

CHILD_COUNTS: tuple[str, ...] = (
    "n", "n_positive", "n_negative", "n_flagged", "n_not_flagged", "n_true_positive",
    "n_true_negative",
)
"""Count columns of the child-level table: children, with and without the truth, flagged and
not, and the two diagonal cells of each flag's 2x2 table."""

#: For each table of ``recurrence validity``: caption, count columns, rate columns derived from
#: them, and whether its rows add up to a total (LAs to England) for secondary suppression.
TABLES: dict[str, dict[str, Any]] = {
    "child_level": {
        "caption": "Child-level validity of each indicator against the true 'highly resistant' "
        "status: sensitivity, specificity, PPV, NPV (Wilson 95% CIs), AUC (DeLong CI), Brier "
        "score. Counts are rounded and small ones suppressed; every rate, interval, AUC and "
        "Brier score of a flag is computed from the rounded counts.",
        "counts": list(CHILD_COUNTS),
        "ratios": {
            "prevalence": ("n_positive", "n", 1.0),
            "flag_rate": ("n_flagged", "n", 1.0),
            "sensitivity": ("n_true_positive", "n_positive", 1.0),
            "specificity": ("n_true_negative", "n_negative", 1.0),
            "ppv": ("n_true_positive", "n_flagged", 1.0),
            "npv": ("n_true_negative", "n_not_flagged", 1.0),
        },
        # A flag's measures describe its 2x2 table: any suppressed cell count blanks them all.
        # Complementary counts go together: each margin pair adds up to the published n, and
        # with the margins published one diagonal cell gives the other back up to rounding,
        # so a suppressed count would otherwise be recovered by subtraction.
        "dependent": {
            "n_true_positive": ["n_true_negative"],
            "n_true_negative": ["n_true_positive"],
            "n_positive": ["n_negative"],
            "n_negative": ["n_positive"],
            "n_flagged": ["n_not_flagged"],
            "n_not_flagged": ["n_flagged"],
            **{col: list(CHILD_COUNTS[1:]) for col in (
                "sensitivity", "specificity", "ppv", "npv", "auc", "auc_ci_lower", "auc_ci_upper",
                "brier", *(f"{m}_ci_{side}" for m in ("sensitivity", "specificity", "ppv", "npv")
                           for side in ("lower", "upper")),
            )},
        },
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
        "counts": [
            "numerator", "denominator", "true_numerator", "true_denominator",
            "resistant_numerator", "resistant_denominator",
        ],
        # The truth's percentages too: to one decimal from exact counts they gave the exact
        # denominator back (15.6% fits only 27/173 among the denominators that round to 175).
        "ratios": {
            "ni65_percent": ("numerator", "denominator", 100.0),
            "true_repeat_percent": ("true_numerator", "true_denominator", 100.0),
            "resistant_share_percent": ("resistant_numerator", "resistant_denominator", 100.0),
        },
        "dependent": {
            "ci_lower": ["numerator", "denominator"],
            "ci_upper": ["numerator", "denominator"],
            "bias_pp": ["numerator", "denominator", "true_numerator", "true_denominator"],
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


def rates_from_rounded_counts(frame: pd.DataFrame, rules: Any) -> pd.DataFrame:
    """Recompute a sweep table's rates from its counts as they will be published (rounded).

    A percentage written to six digits from the exact counts gives those counts back (and a
    difference of two nested rules' counts can then be a single child), which the rounding of
    the counts is meant to prevent. So the rule's percentage, its Wilson interval and its bias
    are recomputed from the rounded numerator and denominator, and so are the truth's two
    percentages from their rounded counts. Suppression of small counts then blanks them as
    declared.
    """
    from recurrence.validity.metrics import wilson_ci

    out = frame.copy()
    # The counts themselves stay exact here: suppression must see them before rounding.
    for col, (k, n, scale) in TABLES["bias_sweep"]["ratios"].items():
        rounded_n = out[n].map(rules.round_count)
        out[col] = (scale * out[k].map(rules.round_count) / rounded_n).where(rounded_n > 0)
    num = out["numerator"].map(rules.round_count)
    den = out["denominator"].map(rules.round_count)
    limits = [wilson_ci(int(k), int(n)) if n > 0 and k <= n else (float("nan"),) * 2
              for k, n in zip(num, den, strict=True)]
    out["ci_lower"] = [100 * lo for lo, _ in limits]
    out["ci_upper"] = [100 * hi for _, hi in limits]
    out["bias_pp"] = out["ni65_percent"] - out["true_repeat_percent"]
    return out


def child_level_from_rounded_counts(frame: pd.DataFrame, rules: Any) -> pd.DataFrame:
    """Recompute each flag's intervals, AUC and Brier score from its rounded 2x2 counts.

    Written from the exact counts, a sensitivity or flag rate times n gave the counts back (a
    review found one child behind a 0.000667 flag rate). The proportions themselves are
    declared ``ratios`` (recomputed from the published counts when the table is written). Here
    everything else is computed from the same published numbers, so that each rate lies in its
    own interval: the Wilson interval of each proportion from its published numerator and
    denominator, and the flag's 2x2 table as the published diagonal cells with the off-diagonal
    cells from the published margins (``fn = n_positive - tp``, ``fp = n_negative - tn``), which
    gives the AUC (the mean of the published sensitivity and specificity) with its DeLong
    interval and the misclassification rate. Scores and probabilities keep their AUC: a rank
    statistic over every child.
    """

    from recurrence.validity.metrics import auc_delong, wilson_ci

    out = frame.copy()
    # The declared ratios as they will be published (step 5 of reproduce quotes them).
    for col, (num, den, _) in TABLES["child_level"]["ratios"].items():
        k = out[num].map(lambda v: rules.round_count(float(v)) if pd.notna(v) else np.nan)
        n = out[den].map(lambda v: rules.round_count(float(v)) if pd.notna(v) else np.nan)
        out[col] = (k / n).where(n > 0)
    for i in out.index[out["kind"] == "flag"]:
        r = {c: rules.round_count(float(out[c].loc[i])) for c in CHILD_COUNTS}
        tp, tn = r["n_true_positive"], r["n_true_negative"]
        # Rounding is monotone, so a rounded cell never exceeds its rounded margin.
        fn = r["n_positive"] - tp
        fp = r["n_negative"] - tn
        for name, (num, den, _) in TABLES["child_level"]["ratios"].items():
            if name in ("prevalence", "flag_rate"):
                continue
            k, n = r[num], r[den]
            lo, hi = wilson_ci(k, n) if 0 < n and k <= n else (float("nan"), float("nan"))
            out.at[i, f"{name}_ci_lower"], out.at[i, f"{name}_ci_upper"] = lo, hi
        total = tp + fp + fn + tn
        if tp + fn > 0 and tn + fp > 0:
            truth = np.r_[np.ones(tp + fn, bool), np.zeros(fp + tn, bool)]
            flag = np.r_[np.ones(tp), np.zeros(fn), np.ones(fp), np.zeros(tn)]
            a = auc_delong(truth, flag)
            out.at[i, "auc"], out.at[i, "auc_ci_lower"], out.at[i, "auc_ci_upper"] = (
                a.auc, a.ci_lower, a.ci_upper)
        out.at[i, "brier"] = (fp + fn) / total if total else float("nan")
    return out



def prepare(frames: dict[str, pd.DataFrame], rules: SDCRules) -> dict[str, pd.DataFrame]:
    """The working tables with their rates recomputed from rounded counts (before suppression)."""
    out = dict(frames)
    if "child_level" in out:
        out["child_level"] = child_level_from_rounded_counts(out["child_level"], rules)
    for name in ("bias_sweep", "mobility_sweep"):
        if name in out:
            out[name] = rates_from_rounded_counts(out[name], rules)
    return out


def declaration(name: str) -> TableDeclaration:
    """The disclosure declaration of table ``name`` (the mobility sweep is the bias sweep's)."""
    spec = TABLES["bias_sweep" if name == "mobility_sweep" else name]
    groups = spec.get("column_groups")
    return TableDeclaration(
        count_columns=tuple(spec.get("counts", [])),
        column_groups=None if groups is None else tuple(groups),
        dependent={k: tuple(v) for k, v in (spec.get("dependent") or {}).items()},
        ratios=dict(spec.get("ratios") or {}),
    )


def release_meta(meta: dict[str, Any], rules: SDCRules) -> dict[str, Any]:
    """The run description with its child counts rounded as the tables' counts are.

    The exact number of children on a plan and the national rate to 16 digits gave back the
    exact numerator of the national rate; counts are rounded and the rate is recomputed from
    the rounded counts (3 decimals).
    """
    out = json.loads(json.dumps(meta))  # a deep copy
    for key in ("n_children", "n_on_plan"):
        if out.get(key) is not None:
            out[key] = int(rules.round_count(float(out[key])))
    rs = out.get("risk_standardised")
    if isinstance(rs, dict) and rs.get("n") is not None:
        n = float(rs["n"])
        observed = float(rs.get("national_rate", 0.0)) * n
        rs["n"] = int(rules.round_count(n))
        k = rules.round_count(round(observed))
        rs["national_rate"] = round(k / rs["n"], 3) if rs["n"] else None
    return out


def release(raw_dir: Path, out_dir: Path, rules: SDCRules | None = None) -> list[Path]:
    """Write the releasable validity tables of ``raw_dir`` (exact working files) to ``out_dir``.

    Every table passes disclosure control as declared, the declarations go to
    ``disclosure.json`` and the folder is checked (:func:`recurrence.sdc.check_outputs`, which
    raises naming the first problem) before anything is moved into ``out_dir``.
    """
    from recurrence.reproduce.pipeline import write_csv  # the same writer as reproduce

    rules = rules or SDCRules()
    names = [*TABLES, "mobility_sweep"]
    frames = {n: pd.read_csv(raw_dir / f"{n}.csv") for n in names if (raw_dir / f"{n}.csv").exists()}
    frames = prepare(frames, rules)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        declarations = {}
        for name, frame in frames.items():
            decl = declaration(name)
            published = suppress_and_round(
                frame, decl.count_columns, rules=rules, column_groups=decl.column_groups,
                dependent=decl.dependent, ratios=decl.ratios,
            )
            write_csv(published, staging / f"{name}.csv")
            declarations[f"{name}.csv"] = decl
        for name in [*FIGURES, "mobility_sweep"]:
            if (raw_dir / f"{name}.png").exists():
                shutil.copyfile(raw_dir / f"{name}.png", staging / f"{name}.png")
        meta = raw_dir / "validity_meta.json"
        if meta.exists():
            (staging / meta.name).write_text(
                json.dumps(release_meta(json.loads(meta.read_text()), rules), indent=2) + "\n",
                encoding="utf-8",
            )
        write_declarations(staging, declarations)
        check_outputs(staging, rules)
        written = []
        for f in sorted(staging.iterdir()):
            f.replace(out_dir / f.name)
            written.append(out_dir / f.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
