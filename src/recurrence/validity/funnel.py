"""Funnel plot figure (Spiegelhalter 2005) of LA proportions against their denominators."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or assumed
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from recurrence.validity.la_level import Overdispersion


def funnel_figure(
    table: pd.DataFrame,
    od: Overdispersion,
    *,
    numerator: str,
    denominator: str,
    title: str,
    ylabel: str = "proportion",
    adjustment: str = "additive",
    levels: tuple[float, float] = (0.95, 0.998),
    label_column: str | None = None,
    percent: bool = True,
) -> matplotlib.figure.Figure:
    """Draw a funnel plot from :func:`recurrence.validity.la_level.funnel_data` output.

    Smooth control limits are drawn over the range of denominators, for the binomial (dashed
    grey) and for the chosen overdispersion ``adjustment`` (solid); outliers beyond the outer
    limit are red. With ``percent`` the y axis is in percent.
    """
    scale = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(7, 5))
    n = table[denominator].to_numpy(dtype=float)
    ok = np.isfinite(n) & (n > 0) & table["proportion"].notna().to_numpy()
    grid = np.linspace(max(1.0, np.nanmin(n[ok]) * 0.8), np.nanmax(n[ok]) * 1.05, 300)
    p0 = od.target
    s2 = p0 * (1 - p0) / grid
    if adjustment == "multiplicative":
        var = s2 * max(od.phi, 1.0)
    elif adjustment == "additive":
        var = s2 + od.tau2
    else:
        var = s2
    for level, style in zip(levels, ("--", "-"), strict=True):
        zc = stats.norm.ppf(0.5 + level / 2)
        ax.plot(grid, scale * (p0 + zc * np.sqrt(var)), "k", ls=style, lw=1,
                label=f"{level * 100:g}% limits ({adjustment})")
        ax.plot(grid, scale * (p0 - zc * np.sqrt(var)), "k", ls=style, lw=1)
        if adjustment != "none":
            ax.plot(grid, scale * (p0 + zc * np.sqrt(s2)), color="0.6", ls=":", lw=0.8)
            ax.plot(grid, scale * (p0 - zc * np.sqrt(s2)), color="0.6", ls=":", lw=0.8)
    ax.axhline(scale * p0, color="k", lw=0.8)
    # Limits beyond 0 and 1 mean nothing for a proportion; keep the axis on the possible range.
    top = max(float(np.nanmax(table["proportion"].to_numpy()[ok])), p0) * 1.15
    ax.set_ylim(0, scale * min(1.0, top))
    out = table["outlier"].fillna(False).to_numpy(dtype=bool)
    ax.scatter(n[ok & ~out], scale * table["proportion"].to_numpy()[ok & ~out], s=14,
               color="tab:blue", alpha=0.8, label="LA")
    ax.scatter(n[ok & out], scale * table["proportion"].to_numpy()[ok & out], s=18,
               color="tab:red", label="outside outer limit")
    if label_column is not None:
        for _, r in table[out & ok].iterrows():
            ax.annotate(str(r[label_column]), (r[denominator], scale * r["proportion"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(denominator)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\nphi = {od.phi:.2f}, tau = {scale * od.tau:.2f}"
                 f"{' pp' if percent else ''}, {od.n_units} LAs")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def save_figure(fig: matplotlib.figure.Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` as PNG (fixed dpi, no timestamp metadata) and close it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return p
