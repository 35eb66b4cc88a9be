"""Bias of NI 65 from its counting rules and from family mobility (issue item 5).

The seed (C4EO 2010, data annexe) names the distortions of NI 65 as published in 2008-10: each
occasion in a year was counted (not each child), only previous plans *in the same council* were
seen (so mobile families are undercounted), and in practice some LAs counted only plans ended in
the previous 12 months. The census also starts child-level records in 2008-09, so early years
see little history (left truncation). This module measures the direction and size of each
distortion on synthetic data, where the full history and the truth are known.

Targets (national, pooled over the evaluation years):

``true_repeat``
    The share of children becoming the subject of a plan in the year who had *any* previous plan,
    in any LA, at any time in the full simulated history (the quantity NI 65 is meant to count).
``resistant_share``
    The share of those children who belong to a highly resistant family (the construct the seed
    uses NI 65 as a proxy for).

Variants: ``counting`` (children / occasions) x ``scope`` (same LA / any LA) x ``lookback``
(however long ago / 1 year / 2 years) x ``history`` (the full history, or only one year of data
before the first evaluation year). ``bias_pp`` is variant minus ``true_repeat`` in percentage
points. :func:`mobility_sweep` regenerates cohorts at several annual mobility rates.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import matplotlib.figure
import numpy as np
import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.errors import ModelInputError
from recurrence.tables import repeat_cpps
from recurrence.validity.metrics import wilson_ci

COUNTINGS: tuple[str, ...] = ("children", "occasions")
SCOPES: tuple[str, ...] = ("same_la", "any_la")
LOOKBACKS: tuple[float | None, ...] = (None, 1.0, 2.0)
HISTORIES: tuple[str, ...] = ("full", "1y")


def evaluation_years(tables: CINTables, *, n_years: int = 3, min_history_years: float = 2.0
                     ) -> list[int]:
    """The last ``n_years`` years (ending 31 March) with ``min_history_years`` of history in every LA."""
    from recurrence.indicators import ni65

    base = ni65(tables)
    ok = base.groupby("year")["history_years"].min()
    years = sorted(int(y) for y in ok.index[ok >= min_history_years])
    if not years:
        raise ModelInputError("no year has enough history for the bias sweep; simulate more years")
    return years[-n_years:]


def _pool(frame: pd.DataFrame, years: Sequence[int]) -> tuple[float, float]:
    f = frame[frame["year"].isin(years)]
    return float(f["n_previous_plan"].sum()), float(f["n_becoming_subject"].sum())


def rule_sweep(
    tables: CINTables,
    truth: pd.DataFrame,
    *,
    years: Sequence[int] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """NI 65 under every counting rule against the two targets, nationally.

    Returns one row per variant: ``counting``, ``scope``, ``lookback_years``, ``history``,
    ``numerator``, ``denominator``, ``ni65_percent`` with Wilson ``ci_lower``/``ci_upper``
    (percent), ``true_repeat_percent``, ``resistant_share_percent``, ``bias_pp`` (variant minus
    true repeat, percentage points), the truth's counts behind its two percentages
    (``true_numerator``, ``true_denominator``: children with a previous plan in any LA and
    children becoming the subject of a plan; ``resistant_numerator``,
    ``resistant_denominator``: highly resistant children among those starting a plan, of
    those with a known truth value), and ``la_spearman_with_true`` (rank agreement across LAs
    of the variant with the LA's true repeat rate).
    """
    from recurrence.indicators import ni65

    yrs = list(years) if years is not None else evaluation_years(tables)
    first_start = pd.Timestamp(year=min(yrs) - 1, month=4, day=1)
    target = ni65(tables, counting="children", scope="any_la")
    t_num, t_den = _pool(target, yrs)
    if t_den == 0:
        raise ModelInputError(f"no child became the subject of a plan in years {yrs}")
    true_pct = 100 * t_num / t_den
    t_la = target[target["year"].isin(yrs)].groupby("la_code")[
        ["n_previous_plan", "n_becoming_subject"]].sum()
    t_la_rate = t_la["n_previous_plan"] / t_la["n_becoming_subject"]

    cp = repeat_cpps(tables)
    starters = cp[cp["year"].isin(yrs)].drop_duplicates(["child_key", "la_code", "year"])
    res = truth.drop_duplicates("child_key").set_index(truth["child_key"].astype(str).to_numpy())
    hr = res["highly_resistant"].reindex(starters["child_key"].astype(str).to_numpy())
    hr_known = hr.to_numpy(dtype=float)
    hr_known = hr_known[~np.isnan(hr_known)]
    r_num, r_den = float(hr_known.sum()), float(len(hr_known))
    resistant_pct = 100 * r_num / r_den if r_den else np.nan

    rows = []
    for counting, scope, lookback, history in itertools.product(COUNTINGS, SCOPES, LOOKBACKS,
                                                                HISTORIES):
        hs = None if history == "full" else first_start - pd.DateOffset(years=1)
        v = ni65(tables, counting=counting, scope=scope,  # type: ignore[arg-type]
                 lookback_years=lookback, history_start=hs)
        num, den = _pool(v, yrs)
        lo, hi = wilson_ci(int(num), int(den), level) if den else (np.nan, np.nan)
        la = v[v["year"].isin(yrs)].groupby("la_code")[["n_previous_plan",
                                                        "n_becoming_subject"]].sum()
        la_rate = la["n_previous_plan"] / la["n_becoming_subject"]
        both = pd.concat([la_rate.rename("v"), t_la_rate.rename("t")], axis=1).dropna()
        # Spearman correlation of the LA rates; undefined (NaN) when either is constant, as in
        # a small cohort where a look-back variant finds no repeats in any LA.
        constant = both["v"].nunique() < 2 or both["t"].nunique() < 2
        rho = float(both["v"].rank().corr(both["t"].rank())) if len(both) > 3 and not constant else np.nan
        pct = 100 * num / den if den else np.nan
        rows.append({"counting": counting, "scope": scope,
                     "lookback_years": lookback if lookback is not None else np.nan,
                     "history": history, "numerator": num, "denominator": den,
                     "ni65_percent": pct, "ci_lower": 100 * lo, "ci_upper": 100 * hi,
                     "true_repeat_percent": true_pct, "resistant_share_percent": resistant_pct,
                     "bias_pp": pct - true_pct,
                     "true_numerator": t_num, "true_denominator": t_den,
                     "resistant_numerator": r_num, "resistant_denominator": r_den,
                     "la_spearman_with_true": rho})
    out = pd.DataFrame(rows)
    out.attrs["years"] = yrs
    return out


def mobility_sweep(
    rates: Sequence[float],
    *,
    n_children: int,
    years: int,
    seed: int,
    preset: str = "england-2009",
) -> pd.DataFrame:
    """Regenerate a synthetic cohort at each annual mobility rate and run :func:`rule_sweep`.

    Each rate gets its own seed from ``numpy.random.SeedSequence(seed).spawn`` so the cohorts
    are independent and reproducible. Every cohort uses the calibrated configuration of
    ``preset`` with only ``mobility_rate`` changed, so the sweep isolates mobility. Returns the
    stacked sweeps with a ``mobility_rate`` column.
    """
    from recurrence.synth import generate, preset_config

    seeds = np.random.SeedSequence(seed).spawn(len(rates))
    parts = []
    for rate, ss in zip(rates, seeds, strict=True):
        cfg = preset_config(preset).replace(mobility_rate=float(rate))
        cohort = generate(n_children=n_children, years=years,
                          seed=int(ss.generate_state(1)[0]), preset=preset, config=cfg)
        sweep = rule_sweep(cohort.tables, cohort.truth)
        sweep.insert(0, "mobility_rate", float(rate))
        parts.append(sweep)
    return pd.concat(parts, ignore_index=True)


def sweep_figure(sweep: pd.DataFrame) -> matplotlib.figure.Figure:
    """Bias of NI 65 variants (percentage points) by rule, or against mobility when swept."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    label = (sweep["counting"] + ", " + sweep["scope"] + ", lookback "
             + sweep["lookback_years"].map(lambda v: "ever" if pd.isna(v) else f"{v:g}y")
             + ", history " + sweep["history"])
    by_mobility = "mobility_rate" in sweep.columns and sweep["mobility_rate"].nunique() > 1
    if by_mobility:
        d = sweep.assign(label=label)
        keep = d["history"].eq("full") & d["lookback_years"].isna()
        for name, part in d[keep].groupby("label"):
            ax.plot(part["mobility_rate"], part["bias_pp"], marker="o", label=name)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("annual probability a family moves LA")
        ax.set_ylabel("NI 65 minus true repeat rate (percentage points)")
        ax.legend(fontsize=6)
    else:
        order = np.argsort(sweep["bias_pp"].to_numpy())
        ax.barh(np.arange(len(sweep)), sweep["bias_pp"].to_numpy()[order], color="tab:blue")
        ax.set_yticks(np.arange(len(sweep)), label.to_numpy()[order], fontsize=6)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("bias (percentage points)")
    ax.set_title("Bias of NI 65 counting rules against the true repeat-plan rate")
    fig.tight_layout()
    return fig
