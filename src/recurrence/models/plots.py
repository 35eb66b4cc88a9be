"""Forest plots of model estimates (one results interface, any model).

:func:`forest_plot` draws point estimates with confidence intervals for one or several fits,
from :class:`~recurrence.models.base.ModelResults` objects or from their ``tidy()`` frames (for
example a CSV written by ``recurrence fit``). Ratios (odds, hazard, subdistribution hazard) are
drawn on a log axis with a reference line at 1; linear-scale quantities (average marginal
effects, risk differences) on a linear axis with a reference line at 0. The figure is built with
:class:`matplotlib.figure.Figure` directly, so it needs no GUI backend and never touches global
pyplot state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from recurrence.models.base import TIDY_COLUMNS, ModelResults

ResultsLike = ModelResults | pd.DataFrame


def _as_tidy(obj: ResultsLike, level: float) -> pd.DataFrame:
    if isinstance(obj, ModelResults):
        return obj.tidy(level)
    if isinstance(obj, pd.DataFrame):
        missing = {"term", "estimate", "ci_lower", "ci_upper"} - set(obj.columns)
        if missing:
            raise ValueError(
                f"tidy frame lacks column(s) {', '.join(sorted(missing))}; expected "
                f"{', '.join(TIDY_COLUMNS)}"
            )
        return obj
    raise TypeError(f"expected ModelResults or a tidy DataFrame; got {type(obj).__name__}")


def forest_plot(
    results: ResultsLike | Sequence[ResultsLike] | Mapping[str, ResultsLike],
    *,
    terms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    exponentiate: bool = True,
    level: float = 0.95,
    drop_intercept: bool = True,
    xlabel: str | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Forest plot of estimates and confidence intervals.

    Parameters
    ----------
    results
        One fit, a list of fits, or a mapping ``{model label: fit}``; each fit is a
        ``ModelResults`` or a tidy frame with ``term, estimate, ci_lower, ci_upper``. Several fits
        are drawn side by side within each term, with a legend.
    terms
        Terms to show, top to bottom (default: all terms of the first fit, intercept dropped).
    labels
        Display names for terms (e.g. ``{"n_pp": "Parental problems (count)"}``).
    exponentiate
        Plot ``exp`` of estimates and limits on a log axis (odds/hazard ratios; reference 1).
        ``False`` plots the linear scale with reference 0.
    level
        Interval level for ``ModelResults`` inputs (tidy frames are drawn as given).
    drop_intercept
        Leave out ``(Intercept)``.
    xlabel, title, figsize
        Labels and size (default height grows with the number of rows).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(results, Mapping):
        items = [(str(k), _as_tidy(v, level)) for k, v in results.items()]
    elif isinstance(results, (ModelResults, pd.DataFrame)):
        items = [("", _as_tidy(results, level))]
    else:
        items = [(f"model {i + 1}", _as_tidy(v, level)) for i, v in enumerate(results)]
    if not items:
        raise ValueError("no results to plot")
    if terms is None:
        terms = [t for t in items[0][1]["term"] if not (drop_intercept and t == "(Intercept)")]
    terms = list(terms)
    if not terms:
        raise ValueError("no terms to plot")
    labels = dict(labels or {})
    n_models = len(items)
    height = figsize[1] if figsize else max(2.0, 0.45 * len(terms) * max(1, n_models * 0.7) + 1.2)
    fig = Figure(figsize=(figsize[0] if figsize else 6.5, height))
    ax = fig.add_subplot(1, 1, 1)
    offsets = (np.arange(n_models) - (n_models - 1) / 2) * (0.6 / max(n_models, 1))
    ypos = np.arange(len(terms))[::-1].astype(float)
    for k, (name, tidy) in enumerate(items):
        tab = tidy.set_index("term").reindex(terms)
        est = tab["estimate"].to_numpy(dtype=float)
        lo = tab["ci_lower"].to_numpy(dtype=float)
        hi = tab["ci_upper"].to_numpy(dtype=float)
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        y = ypos + (offsets[k] if n_models > 1 else 0.0)
        ok = np.isfinite(est)
        ax.errorbar(
            est[ok], y[ok],
            xerr=np.vstack([est[ok] - lo[ok], hi[ok] - est[ok]]),
            fmt="o", capsize=3, markersize=5, label=name or None,
        )
    ax.axvline(1.0 if exponentiate else 0.0, color="grey", linestyle="--", linewidth=1)
    if exponentiate:
        ax.set_xscale("log")
    ax.set_yticks(ypos)
    ax.set_yticklabels([labels.get(t, t) for t in terms])
    ax.set_ylim(-0.7, len(terms) - 0.3)
    scale = "ratio" if exponentiate else "estimate"
    ax.set_xlabel(xlabel or f"{scale} ({round(level * 100)}% CI)")
    if title:
        ax.set_title(title)
    if n_models > 1:
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig
