"""LA-level validity: rank agreement with the truth, funnel-plot outliers, variance decomposition.

An LA indicator such as NI 65 is used to rank councils and to flag outlying ones. Whether it is
valid for that depends on three things this module measures:

* **Ranking.** Spearman's rank correlation of the indicator with the LA's true prevalence of
  'highly resistant' families (known only in synthetic data), with a Fisher-z interval
  (:func:`recurrence.validity.metrics.correlation`).
* **Flagging.** Funnel plots of a proportion against its denominator with control limits around
  the national target, as Spiegelhalter (2005, "Funnel plots for comparing institutional
  performance", Stat Med 24:1185-1202). Between-LA variation beyond the binomial is allowed for
  either by a multiplicative overdispersion factor ``phi`` (the mean of the squared z-scores,
  winsorised at the 10th and 90th percentiles; section 3.2) or by an additive random-effects
  variance ``tau2`` (the DerSimonian-Laird style moment estimator of section 3.3). Agreement of
  two indicators' outlier flags is Cohen's kappa.
* **Signal and noise.** :func:`variance_decomposition` splits the between-LA variance of an
  observed proportion into binomial chance, case mix (the variance of the proportions expected
  from the LAs' case mix alone) and the remainder, the true difference between LAs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from recurrence.data.schema import CINTables
from recurrence.errors import ModelInputError
from recurrence.models.base import check_literal
from recurrence.validity.metrics import cohen_kappa, correlation

Adjustment = Literal["none", "multiplicative", "additive"]
ADJUSTMENTS: tuple[str, ...] = ("none", "multiplicative", "additive")


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter (2005) overdispersion estimates for a set of LA proportions.

    Attributes
    ----------
    target
        The benchmark proportion: the pooled proportion (sum of numerators / sum of
        denominators) unless one was given; proportion scale.
    phi
        Multiplicative overdispersion factor: mean of the winsorised squared z-scores (1 = none).
    chi2, df, p_value
        The test of no overdispersion: ``n_units * phi`` against chi-squared on ``n_units - 1``
        (``n_units`` for a target given from outside).
    tau2
        Additive between-LA variance on the proportion scale (0 when ``phi`` suggests none).
    tau
        Its square root (proportion scale; e.g. 0.05 = 5 percentage points).
    n_units
        LAs used (those with a positive denominator and a known numerator).
    """

    target: float
    phi: float
    chi2: float
    df: int
    p_value: float
    tau2: float
    tau: float
    n_units: int


def _winsorise(z: np.ndarray, fraction: float) -> np.ndarray:
    if fraction <= 0:
        return z
    lo, hi = np.quantile(z, [fraction, 1 - fraction])
    return np.clip(z, lo, hi)


def overdispersion(
    numerator: npt.ArrayLike,
    denominator: npt.ArrayLike,
    *,
    target: float | None = None,
    winsorise: float = 0.1,
) -> Overdispersion:
    """Estimate overdispersion of proportions ``numerator / denominator`` around ``target``.

    Parameters
    ----------
    numerator, denominator
        Counts per LA; LAs with a zero or missing denominator or a missing numerator are left
        out (the caller decides whether to report them).
    target
        The benchmark proportion; by default the pooled proportion of the LAs used. The test
        of ``k phi`` has ``k - 1`` degrees of freedom for the pooled target and ``k`` for a
        target given from outside (Spiegelhalter 2005), and ``tau2``'s moment estimator
        changes to match.
    winsorise
        Fraction winsorised in each tail of the z-scores before ``phi`` is estimated
        (Spiegelhalter 2005 uses 10%).
    """
    y = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    ok = np.isfinite(y) & np.isfinite(n) & (n > 0)
    y, n = y[ok], n[ok]
    k = y.size
    if k < 3:
        raise ModelInputError(f"overdispersion needs at least 3 LAs with data; got {k}")
    p0 = float(y.sum() / n.sum()) if target is None else float(target)
    if not 0 < p0 < 1:
        raise ModelInputError(f"target proportion must be strictly between 0 and 1; got {p0}")
    s2 = p0 * (1 - p0) / n
    z = (y / n - p0) / np.sqrt(s2)
    zw = _winsorise(z, winsorise)
    phi = float(np.mean(zw**2))
    chi2 = k * phi
    w = 1 / s2
    if target is None:
        # The target is the pooled proportion, estimated from the same LAs: one df is spent.
        df = k - 1
        denom = w.sum() - (w**2).sum() / w.sum()
    else:
        # A target fixed from outside: E[sum w (y/n - p0)^2] = k + tau^2 sum w.
        df = k
        denom = w.sum()
    tau2 = max(0.0, (chi2 - df) / denom)
    return Overdispersion(p0, phi, chi2, df, float(stats.chi2.sf(chi2, df)), float(tau2),
                          float(np.sqrt(tau2)), k)


def funnel_data(
    frame: pd.DataFrame,
    *,
    numerator: str,
    denominator: str,
    unit: str = "la_code",
    adjustment: Adjustment = "additive",
    target: float | None = None,
    levels: tuple[float, float] = (0.95, 0.998),
    winsorise: float = 0.1,
) -> tuple[pd.DataFrame, Overdispersion]:
    """Funnel-plot table for proportions, with control limits and outlier flags.

    Parameters
    ----------
    frame
        One row per LA with the ``unit``, ``numerator`` and ``denominator`` columns.
    adjustment
        ``"none"`` (binomial limits), ``"multiplicative"`` (limits widened by ``sqrt(phi)``
        when ``phi > 1``) or ``"additive"`` (``tau2`` added to the binomial variance).
    levels
        The two control-limit levels (two-sided); 95% "warning" and 99.8% "alarm" by default.

    Returns
    -------
    (table, Overdispersion)
        ``table`` has ``unit``, numerator, denominator, ``proportion``, ``z`` (the adjusted
        z-score), ``lower_<level>`` / ``upper_<level>`` limits at the LA's denominator, and
        ``outlier_high`` / ``outlier_low`` (beyond the outer limit) and ``outlier`` (either).
        LAs without data are kept with ``NaN`` and no flag.
    """
    check_literal("adjustment", adjustment, ADJUSTMENTS)
    od = overdispersion(frame[numerator], frame[denominator], target=target, winsorise=winsorise)
    p0 = od.target
    y = frame[numerator].to_numpy(dtype=float)
    n = frame[denominator].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = np.where(n > 0, y / n, np.nan)
        s2 = np.where(n > 0, p0 * (1 - p0) / n, np.nan)
    if adjustment == "multiplicative":
        var = s2 * max(od.phi, 1.0)
    elif adjustment == "additive":
        var = s2 + od.tau2
    else:
        var = s2
    sd = np.sqrt(var)
    out = pd.DataFrame({unit: frame[unit].to_numpy(), numerator: y, denominator: n,
                        "proportion": prop, "z": (prop - p0) / sd})
    for level in levels:
        zc = stats.norm.ppf(0.5 + level / 2)
        tag = f"{level * 100:g}".replace(".", "_")
        out[f"lower_{tag}"] = p0 - zc * sd
        out[f"upper_{tag}"] = p0 + zc * sd
    zc_outer = stats.norm.ppf(0.5 + max(levels) / 2)
    out["outlier_high"] = out["z"] > zc_outer
    out["outlier_low"] = out["z"] < -zc_outer
    out["outlier"] = out["outlier_high"] | out["outlier_low"]
    out["target"] = p0
    out["adjustment"] = adjustment
    return out, od


def rank_validity(
    indicator: pd.Series, truth: pd.Series, level: float = 0.95
) -> dict[str, float]:
    """Spearman correlation of an LA indicator with the true LA value, aligned on the index.

    Returns ``spearman``, ``ci_lower``, ``ci_upper`` (Fisher z with the Fieller-Hartley-Pearson
    variance 1.06 / (n - 3)), ``p_value`` and ``n``.
    """
    both = pd.concat([indicator.rename("x"), truth.rename("y")], axis=1, join="inner").dropna()
    c = correlation(both["x"], both["y"], method="spearman", level=level)
    return {"spearman": c.estimate, "ci_lower": c.ci_lower, "ci_upper": c.ci_upper,
            "p_value": c.p_value, "n": c.n}


def outlier_agreement(flags_a: pd.Series, flags_b: pd.Series) -> dict[str, float]:
    """Cohen's kappa and raw agreement of two sets of LA outlier flags, aligned on the index."""
    both = pd.concat([flags_a.rename("a"), flags_b.rename("b")], axis=1, join="inner").dropna()
    k = cohen_kappa(both["a"].astype(bool), both["b"].astype(bool))
    return {"kappa": k["kappa"], "kappa_ci_lower": k["ci_lower"], "kappa_ci_upper": k["ci_upper"],
            "agreement": k["agreement"], "n": len(both),
            "n_flagged_a": int(both["a"].astype(bool).sum()),
            "n_flagged_b": int(both["b"].astype(bool).sum())}


def variance_decomposition(
    numerator: npt.ArrayLike,
    denominator: npt.ArrayLike,
    expected: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Split the between-LA variance of an observed proportion into chance, case mix and true difference.

    With ``p_i = y_i / n_i`` the observed LA proportions, ``p`` their pooled value and ``e_i`` the
    proportion expected in LA ``i`` from its case mix alone (e.g. the mean of a child-level
    model's predictions without LA terms; pass ``None`` to skip case mix):

    * total = the variance of ``p_i`` across LAs (denominator ``k - 1``);
    * chance = the mean binomial sampling variance, mean of ``p (1 - p) / n_i``;
    * case mix = the variance of ``e_i`` across LAs;
    * true difference = total - chance - case mix (a method-of-moments remainder, reported even
      when negative, which means the data cannot separate it from zero).

    Components are on the squared proportion scale; ``share`` divides each by the total. The
    split treats the three as uncorrelated, which is approximate when case mix and LA practice
    are related.
    """
    y = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    ok = np.isfinite(y) & np.isfinite(n) & (n > 0)
    e = None
    if expected is not None:
        e = np.asarray(expected, dtype=float)
        ok &= np.isfinite(e)
        e = e[ok]
    y, n = y[ok], n[ok]
    if y.size < 3:
        raise ModelInputError(f"variance decomposition needs at least 3 LAs; got {y.size}")
    p = y / n
    pooled = y.sum() / n.sum()
    total = float(np.var(p, ddof=1))
    chance = float(np.mean(pooled * (1 - pooled) / n))
    casemix = float(np.var(e, ddof=1)) if e is not None else 0.0
    true = total - chance - casemix
    rows = [("total", total), ("chance", chance)]
    if e is not None:
        rows.append(("case_mix", casemix))
    rows.append(("true_difference", true))
    out = pd.DataFrame(rows, columns=["component", "variance"])
    out["share"] = out["variance"] / total if total > 0 else np.nan
    out["n_las"] = int(y.size)
    return out


# --------------------------------------------------------------------------------------------
# Synthetic data: every LA indicator against the LA's true prevalence of resistance
# --------------------------------------------------------------------------------------------
def _pooled(frame: pd.DataFrame, num: str, den: str, years: set[int] | None) -> pd.DataFrame:
    if years is not None:
        frame = frame[frame["year"].isin(years)]
    g = frame.groupby("la_code")[[num, den]].sum()
    return pd.DataFrame({"numerator": g[num].astype(float), "denominator": g[den].astype(float)})


def la_indicator_table(
    tables: CINTables, *, min_history_years: float = 2.0
) -> pd.DataFrame:
    """Every count-based LA indicator pooled over the years with enough history.

    Years are those (ending 31 March) in which every LA has at least ``min_history_years`` of
    data before the year starts (NI 65 needs history to see previous plans; left truncation
    biases early years down). Returns a long table: ``indicator``, ``la_code``, ``numerator``,
    ``denominator``, ``value`` (proportion). Indicators: ``ni65`` (2008-10 definition: children,
    same LA, however long ago), ``ni65_occasions``, ``ni65_any_la``, ``ni65_lookback_1y``,
    ``ni65_lookback_2y``, ``d3`` (recorded previous plans), ``c1_rereferral``, ``ni64_long``.
    """
    from recurrence import indicators as ind  # local import: indicators import tables

    base = ind.ni65(tables)
    ok = base.groupby("year")["history_years"].min()
    years = {int(y) for y in ok.index[ok >= min_history_years]}
    if not years:
        raise ModelInputError(
            f"no year has {min_history_years} years of history in every LA; simulate more years"
        )
    specs = {
        "ni65": (base, "n_previous_plan", "n_becoming_subject"),
        "ni65_occasions": (ind.ni65(tables, counting="occasions"),
                           "n_previous_plan", "n_becoming_subject"),
        "ni65_any_la": (ind.ni65(tables, scope="any_la"),
                        "n_previous_plan", "n_becoming_subject"),
        "ni65_lookback_1y": (ind.ni65(tables, lookback_years=1),
                             "n_previous_plan", "n_becoming_subject"),
        "ni65_lookback_2y": (ind.ni65(tables, lookback_years=2),
                             "n_previous_plan", "n_becoming_subject"),
        "d3": (ind.d3_repeat_plans(tables), "cpp_subsequent", "cpp_start"),
        "c1_rereferral": (ind.rereferral_rate_c1(tables),
                          "rereferral_count", "referral_count"),
        "ni64_long": (ind.ni64_long_plans(tables),
                      "cpp_ended_2_years_or_more", "cpp_ended"),
    }
    parts = []
    for name, (frame, num, den) in specs.items():
        p = _pooled(frame, num, den, years)
        p["indicator"] = name
        parts.append(p.reset_index())
    out = pd.concat(parts, ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["value"] = np.where(out["denominator"] > 0, out["numerator"] / out["denominator"],
                                np.nan)
    out.attrs["years"] = sorted(years)
    return out[["indicator", "la_code", "numerator", "denominator", "value"]]


def la_validity(
    indicators: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    extra_scores: pd.DataFrame | None = None,
    extra_flags: pd.DataFrame | None = None,
    level: float = 0.95,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Rank correlation and outlier agreement of each LA indicator with the LA truth.

    Parameters
    ----------
    indicators
        Long table from :func:`la_indicator_table`.
    truth
        One row per LA: ``la_code``, ``n_children`` and ``n_resistant`` (referred children and
        those in highly resistant families); the true prevalence is their ratio. Its funnel
        outliers (additive adjustment) are the reference flags.
    extra_scores
        Optional wide table indexed by ``la_code`` of further LA scores (e.g. mean risk-model
        probability, risk-standardised rate) for which only the correlation is computed unless
        ``extra_flags`` gives their outlier flags (same columns, boolean).

    Returns
    -------
    (table, funnels)
        ``table``: ``indicator``, ``spearman_with_truth``, ``spearman_ci_lower``,
        ``spearman_ci_upper``, ``n_las``, ``n_outliers``, ``outlier_kappa`` (Cohen's kappa with
        the truth's outliers) with its interval, ``outlier_agreement``; ``phi`` and ``tau`` of
        the funnel. ``funnels``: the funnel table of every count indicator and of the truth.
    """
    t = truth.set_index("la_code")
    t_prev = t["n_resistant"] / t["n_children"]
    tf, _ = funnel_data(truth, numerator="n_resistant", denominator="n_children")
    truth_flags = tf.set_index("la_code")["outlier"]
    funnels = {"truth": tf}
    rows = []
    for name, part in indicators.groupby("indicator", sort=False):
        part = part[part["denominator"] > 0]
        rv = rank_validity(part.set_index("la_code")["value"], t_prev, level)
        row = {"indicator": name, "spearman_with_truth": rv["spearman"],
               "spearman_ci_lower": rv["ci_lower"], "spearman_ci_upper": rv["ci_upper"],
               "n_las": rv["n"]}
        try:
            ft, od = funnel_data(part, numerator="numerator", denominator="denominator")
        except ModelInputError:
            ft, od = None, None
        if ft is not None and od is not None:
            funnels[str(name)] = ft
            ag = outlier_agreement(ft.set_index("la_code")["outlier"], truth_flags)
            row.update({"n_outliers": ag["n_flagged_a"], "outlier_kappa": ag["kappa"],
                        "outlier_kappa_ci_lower": ag["kappa_ci_lower"],
                        "outlier_kappa_ci_upper": ag["kappa_ci_upper"],
                        "outlier_agreement": ag["agreement"], "phi": od.phi, "tau": od.tau})
        rows.append(row)
    if extra_scores is not None:
        for col in extra_scores.columns:
            rv = rank_validity(extra_scores[col], t_prev, level)
            row = {"indicator": col, "spearman_with_truth": rv["spearman"],
                   "spearman_ci_lower": rv["ci_lower"], "spearman_ci_upper": rv["ci_upper"],
                   "n_las": rv["n"]}
            if extra_flags is not None and col in extra_flags.columns:
                ag = outlier_agreement(extra_flags[col], truth_flags)
                row.update({"n_outliers": ag["n_flagged_a"], "outlier_kappa": ag["kappa"],
                            "outlier_kappa_ci_lower": ag["kappa_ci_lower"],
                            "outlier_kappa_ci_upper": ag["kappa_ci_upper"],
                            "outlier_agreement": ag["agreement"]})
            rows.append(row)
    cols = ["indicator", "spearman_with_truth", "spearman_ci_lower", "spearman_ci_upper",
            "n_las", "n_outliers", "outlier_kappa", "outlier_kappa_ci_lower",
            "outlier_kappa_ci_upper", "outlier_agreement", "phi", "tau"]
    out = pd.DataFrame(rows)
    for c in cols:
        if c not in out.columns:
            out[c] = np.nan
    return out[cols], funnels
