"""``recurrence validity``: validity of NI 65 and its alternatives on a synthetic cohort.

Reads a folder written by ``recurrence synth`` (the census tables plus ``truth.csv``) and writes
aggregate tables and figures only (no child identifiers):

``child_level.csv``
    per indicator and population: sensitivity, specificity, PPV, NPV (with Wilson intervals),
    AUC with DeLong interval, Brier score, calibration of the probability scores;
``risk_model_comparison.csv``, ``risk_model_folds.csv``, ``risk_model_calibration.csv``
    the multivariable risk model (out of sample by LA) against the NI 65 flag;
``latent_class.csv``
    item probabilities of the two-class composite;
``la_level.csv``
    per LA indicator: Spearman correlation with the LA's true prevalence of resistance (Fisher-z
    interval), funnel outliers and their agreement (Cohen's kappa) with the truth's outliers;
``risk_standardised.csv``
    the CFSR-style risk-standardised repeat-plan rate per LA (LA codes are synthetic);
``variance_decomposition.csv``
    NI 65's between-LA variance split into chance, case mix and true difference;
``bias_sweep.csv`` and ``bias_sweep.png``
    NI 65 under every counting rule against the true repeat rate;
``funnel_<indicator>.png``
    funnel plots of NI 65, D3, re-referrals and the true prevalence.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from recurrence.cli import SDCRounding, SDCThreshold, app, output_dir
from recurrence.data.io import read_tables, write_frame
from recurrence.errors import InputFileError, ModelInputError, RecurrenceError
from recurrence.sdc import SDCRules
from recurrence.validity import child_level as cl
from recurrence.validity.bias_sweep import mobility_sweep, rule_sweep, sweep_figure
from recurrence.validity.composite import latent_class, sum_score
from recurrence.validity.funnel import funnel_figure, save_figure
from recurrence.validity.la_level import (
    la_indicator_table,
    la_validity,
    overdispersion,
    variance_decomposition,
)
from recurrence.validity.metrics import calibration_table
from recurrence.validity.risk_model import compare_with_flag, cross_validated_risk
from recurrence.validity.standardised import risk_standardised

TARGET = "highly_resistant"


def _read_truth(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "truth.csv"
    if not path.is_file():
        raise InputFileError(str(path), "truth table not found (write the folder with "
                             "`recurrence synth`)")
    try:
        truth = pd.read_csv(path, dtype={"child_key": str, "family_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"not a readable CSV file ({type(exc).__name__})") from exc
    if not {"child_key", TARGET} <= set(truth.columns):
        raise InputFileError(str(path), f"lacks the columns child_key and {TARGET}")
    # The target must be read exactly: an unreadable value used to become NaN and then True.
    raw = truth[TARGET]
    text = raw.astype(str).str.strip().str.lower()
    value = text.map({"true": True, "false": False, "1": True, "0": False,
                      "1.0": True, "0.0": False})
    bad = value.isna() | raw.isna()
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise InputFileError(
            str(path),
            f"row {i + 2}, column {TARGET!r}: value {raw.iloc[i]!r} is not true/false "
            f"({int(bad.sum())} such value(s))",
        )
    truth[TARGET] = value.astype(bool)
    return truth


def run_validity(data_dir: Path, out_dir: Path, *, seed: int = 20090331,
                 n_folds: int = 5, mobility_rates: Sequence[float] = (),
                 sweep_children: int = 12000, sweep_years: int = 10) -> list[Path]:
    """Run the synthetic validity analysis and write its outputs atomically to ``out_dir``.

    With ``mobility_rates`` it also regenerates a cohort of ``sweep_children`` children over
    ``sweep_years`` years at each rate (:func:`recurrence.validity.bias_sweep.mobility_sweep`)
    and writes ``mobility_sweep.csv`` and ``mobility_sweep.png``.
    """
    tables = read_tables(data_dir)
    truth = _read_truth(data_dir)
    child = cl.attach_truth(cl.child_features(tables), truth)

    # Multivariable risk model, out of sample by LA, and the composites.
    risk, folds = cross_validated_risk(child, outcome=TARGET, features=cl.FEATURES,
                                       n_folds=n_folds, seed=seed)
    child["risk_model"] = risk
    comparison = compare_with_flag(child, outcome=TARGET, risk=risk, flag="ni65_same_la",
                                   n_folds=n_folds, seed=seed)
    lc = latent_class(child, seed=seed)
    child["latent_class"] = lc.posterior
    child["composite_sum"] = sum_score(child)
    scores = [*cl.SCORES, "composite_sum"]
    probs = ["risk_model", "latent_class"]
    tabs = [cl.validity_table(child, scores=scores, probabilities=probs, population="referred")]
    on_plan = child[child["any_plan"] == 1]
    if on_plan[TARGET].nunique() == 2:
        tabs.append(cl.validity_table(on_plan, scores=scores, probabilities=probs,
                                      population="on_plan"))
    child_table = pd.concat(tabs, ignore_index=True)

    # LA level.
    indicators = la_indicator_table(tables)
    la_truth = (child.groupby("la_code")[TARGET].agg(n_children="size", n_resistant="sum")
                .reset_index())
    extra = pd.DataFrame({
        "mean_risk_model": child.groupby("la_code")["risk_model"].mean(),
        "mean_latent_class": child.groupby("la_code")["latent_class"].mean(),
        "multiple_parental_problems_share":
            child.groupby("la_code")["multiple_parental_problems"].mean(),
    })
    flags = pd.DataFrame(index=extra.index)
    standardised_table = pd.DataFrame()
    standardised_model: dict[str, float] = {}
    try:
        standardised_table, standardised_model = risk_standardised(on_plan)
        st = standardised_table.set_index("la_code")
        extra["rsp_predicted"] = st["rsp_predicted"]
        extra["rsp_observed"] = st["rsp_observed"]
        flags["rsp_predicted"] = st["flag_high"] | st["flag_low"]
    except (ModelInputError, RecurrenceError) as exc:
        standardised_model = {"error": str(exc)}  # type: ignore[dict-item]
    la_table, funnels = la_validity(indicators, la_truth, extra_scores=extra, extra_flags=flags)

    ni65 = indicators[indicators["indicator"] == "ni65"].set_index("la_code")
    expected = (standardised_table.set_index("la_code")["expected_rate"].reindex(ni65.index)
                if len(standardised_table) else None)
    decomposition = variance_decomposition(ni65["numerator"], ni65["denominator"], expected)

    sweep = rule_sweep(tables, truth)
    mobility = (mobility_sweep(mobility_rates, n_children=sweep_children, years=sweep_years,
                               seed=seed) if mobility_rates else None)

    frames = {
        "child_level": child_table,
        "risk_model_comparison": comparison.table(),
        "risk_model_folds": folds,
        "risk_model_calibration": calibration_table(child[TARGET], child["risk_model"]),
        "latent_class": lc.item_probabilities.rename_axis("item").reset_index().assign(
            class_share_resistant=lc.class_share),
        "la_level": la_table,
        "variance_decomposition": decomposition,
        "bias_sweep": sweep,
    }
    if len(standardised_table):
        frames["risk_standardised"] = standardised_table
    if mobility is not None:
        frames["mobility_sweep"] = mobility
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        for name, frame in frames.items():
            write_frame(frame, staging / f"{name}.csv", "csv")
        meta = {"seed": seed, "n_folds": n_folds, "n_children": len(child),
                "n_on_plan": len(on_plan), "la_years": indicators.attrs.get("years"),
                "sweep_years": sweep.attrs.get("years"), "risk_standardised": standardised_model}
        (staging / "validity_meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        titles = {"ni65": "NI 65 (children, same LA, ever)", "d3": "D3 (recorded previous plans)",
                  "c1_rereferral": "Re-referrals within 12 months (C1)",
                  "truth": "True prevalence of highly resistant families"}
        for name, title in titles.items():
            if name not in funnels:
                continue
            ft = funnels[name]
            num, den = ("n_resistant", "n_children") if name == "truth" else (
                "numerator", "denominator")
            od = overdispersion(ft[num], ft[den])
            save_figure(funnel_figure(ft, od, numerator=num, denominator=den, title=title,
                                      ylabel="%"), staging / f"funnel_{name}.png")
        save_figure(sweep_figure(sweep), staging / "bias_sweep.png")
        if mobility is not None:
            save_figure(sweep_figure(mobility), staging / "mobility_sweep.png")
        written = []
        for f in sorted(staging.iterdir()):
            os.replace(f, out_dir / f.name)
            written.append(out_dir / f.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@app.command("validity")
def validity_command(
    data: Annotated[Path, typer.Option("--data", help="Folder written by `recurrence synth`.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for CSV tables and PNG plots.")],
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of the LA folds and EM starts.")
    ] = 20090331,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds (by LA).")] = 5,
    mobility_rates: Annotated[
        str,
        typer.Option("--mobility-rates",
                     help="Comma-separated annual mobility rates for the bias sweep, e.g. "
                          "0,0.04,0.1,0.2 (regenerates one cohort per rate; off when empty)."),
    ] = "",
    sweep_children: Annotated[
        int, typer.Option("--sweep-children", min=100, help="Children per sweep cohort.")
    ] = 12000,
    exact_counts: Annotated[
        bool,
        typer.Option(
            "--exact-counts",
            help="Write the exact working tables and every plot (funnels included), without "
            "disclosure control: for work inside the secure setting, not for release.",
        ),
    ] = False,
    threshold: SDCThreshold = 10,
    rounding: SDCRounding = 5,
) -> None:
    """Child- and LA-level validity of NI 65 and its alternatives against the synthetic truth.

    By default the tables are released under disclosure control (counts suppressed below 10 and
    rounded to 5, or as ``--sdc-threshold`` and ``--sdc-rounding`` say; rates from the rounded
    counts, no funnel plots; ``disclosure.json`` beside them), as step 5 of ``recurrence reproduce`` releases them. ``--exact-counts`` writes the
    exact working files instead.
    """
    output_dir(out)
    try:
        rates = [float(r) for r in mobility_rates.split(",") if r.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"--mobility-rates: {exc}") from exc
    if exact_counts:
        written = run_validity(data, out, seed=seed, n_folds=folds, mobility_rates=rates,
                               sweep_children=sweep_children)
        control = "exact counts (not for release)"
    else:
        from recurrence.validity.release import release

        with tempfile.TemporaryDirectory(prefix="recurrence-validity-") as tmp:
            run_validity(data, Path(tmp), seed=seed, n_folds=folds, mobility_rates=rates,
                         sweep_children=sweep_children)
            written = release(Path(tmp), out, SDCRules(threshold=threshold, rounding_base=rounding))
        control = "disclosure control applied"
    typer.echo(f"wrote {len(written)} files to {out} ({control})")
