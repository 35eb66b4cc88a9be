"""Figures of the effects module: forest plot of reported vs recovered effects, nested-loop plot.

* :func:`forest_plot` -- for each claim, the value the review reports (the truth of its
  scenario) and what the study's design and model recovered: the mean estimate over replicates
  with the 2.5-97.5 percentiles of the replicate estimates (the sampling distribution a single
  study draws from). Ratios (OR, HR) on a log axis, differences in percentage points on a
  linear axis.
* :func:`nested_loop_plot` -- Rücker & Schwarzer (2014, BMC Med Res Methodol 14:129): all
  mechanisms of a factorial study on one axis, ordered by their parameters in nested loops
  (first parameter slowest), one step line per method for a performance measure, with the
  parameter values drawn as step lines underneath.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, NullFormatter


def forest_plot(
    effects: pd.DataFrame,
    intervals: pd.DataFrame,
    path: str | Path,
    *,
    title: str = "Reported vs recovered effects (design-matched simulation)",
) -> None:
    """Write the forest plot of ``effects`` (rows of ``effects.csv``) to ``path`` (PNG).

    Parameters
    ----------
    effects
        Columns claim_id, reported_value, reported_measure, mean_estimate,
        nonconvergence_rate.
    intervals
        Columns claim_id, lower, upper: the 2.5 and 97.5 percentiles of the converged
        replicate estimates on the reported scale.
    """
    data = effects.merge(intervals, on="claim_id", how="left")
    ratio = data[data["reported_measure"].isin(["OR", "HR", "RR"])]
    other = data[~data["reported_measure"].isin(["OR", "HR", "RR"])]
    panels = [(ratio, True), (other, False)]
    panels = [(d, log) for d, log in panels if len(d)]
    heights = [max(1.0, 0.45 * len(d) + 0.8) for d, _ in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(9, sum(heights) + 0.6),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, (d, log) in zip(axes[:, 0], panels, strict=True):
        y = np.arange(len(d))[::-1]
        lo = d["lower"].to_numpy(float)
        hi = d["upper"].to_numpy(float)
        mean = d["mean_estimate"].to_numpy(float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.hlines(y[ok], lo[ok], hi[ok], color="0.3", lw=1.6, label="recovered: 2.5-97.5%")
        ax.plot(mean, y, "s", color="0.2", ms=5, label="recovered: mean")
        ax.plot(d["reported_value"], y, "D", mfc="none", mec="tab:red", ms=7, label="reported")
        labels = []
        for _, r in d.iterrows():
            lab = f"{r['claim_id']} ({r['reported_measure']} {r['reported_value']:.3g})"
            if r["nonconvergence_rate"] > 0:
                lab += f"  [fit failed {100 * r['nonconvergence_rate']:.0f}%]"
            labels.append(lab)
        ax.set_yticks(y, labels, fontsize=8)
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.axvline(1.0, color="0.7", lw=0.8, ls="--")
            ax.set_xlabel("ratio (log scale): odds ratio or hazard ratio as the study estimated")
        else:
            ax.axvline(0.0, color="0.7", lw=0.8, ls="--")
            ax.set_xlabel("difference in percentage points")
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def nested_loop_plot(
    perf: pd.DataFrame,
    params: pd.DataFrame,
    measure: str,
    path: str | Path,
    *,
    loop_order: Sequence[str] | None = None,
    estimand: str | None = None,
    reference: float | None = None,
) -> None:
    """Write a nested-loop plot of ``measure`` across the mechanisms of a study.

    Parameters
    ----------
    perf
        :func:`recurrence.effects.ademp.performance_table` output.
    params
        :func:`recurrence.effects.ademp.dgm_parameters` output (one row per mechanism).
    measure
        Column of ``perf`` to plot (e.g. ``"bias"``, ``"coverage"``).
    loop_order
        Parameters defining the loops, outermost first (default: the parameters that vary, in
        column order).
    estimand
        Restrict to one estimand (default: the first in ``perf``).
    reference
        Horizontal reference line (e.g. 0 for bias, 0.95 for coverage).
    """
    est = estimand if estimand is not None else str(perf["estimand"].iloc[0])
    sub = perf[perf["estimand"] == est].merge(params, on="dgm", how="left")
    varying = [c for c in params.columns if c != "dgm" and params[c].nunique(dropna=False) > 1]
    order = list(loop_order) if loop_order is not None else varying
    sub = sub.sort_values([*order, "method"], kind="mergesort") if order else sub
    dgm_order = list(dict.fromkeys(sub["dgm"]))
    x = np.arange(len(dgm_order))
    n_layers = len(order)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * len(x) + 3), 4.5 + 0.3 * n_layers))
    for method, g in sub.groupby("method", sort=True):
        g = g.set_index("dgm").loc[dgm_order]
        ax.step(x, g[measure].to_numpy(float), where="mid", label=str(method), lw=1.5)
    finite = sub[measure].to_numpy(float)
    finite = finite[np.isfinite(finite)]
    top = float(finite.min()) if finite.size else 0.0
    span = float(finite.max() - finite.min()) if finite.size > 1 else 1.0
    span = span if span > 0 else 1.0
    first = sub.drop_duplicates("dgm").set_index("dgm").loc[dgm_order]
    for layer, name in enumerate(order):
        values = first[name]
        codes, uniques = pd.factorize(values, sort=True)
        base = top - span * (0.25 + 0.18 * layer)
        height = span * 0.12
        level = base + height * (codes / max(1, len(uniques) - 1))
        ax.step(x, level, where="mid", color="0.45", lw=0.9)
        label = f"{name}: " + ", ".join(
            f"{v:g}"
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            else str(v)
            for v in uniques
        )
        ax.text(x[0] - 0.5, base + height * 1.1, label, fontsize=7, color="0.3")
    if reference is not None:
        ax.axhline(reference, color="0.6", ls="--", lw=0.8)
    ax.set_xticks([])
    ax.set_xlabel("scenarios in nested-loop order (" + " > ".join(order) + ")")
    ax.set_ylabel(f"{measure} ({est})")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)
