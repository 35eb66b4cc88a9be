"""Validity metrics for a binary flag or a continuous score against a binary truth.

Everything here works on plain arrays so that it can be used on any indicator: a child-level
flag (NI 65's "second or subsequent plan"), a risk score (a model's predicted probability), or an
LA-level outlier flag.

* Accuracy of a flag: sensitivity, specificity, positive and negative predictive values, each a
  proportion with a Wilson score interval (Wilson 1927; the interval recommended by Brown, Cai &
  DasGupta 2001 for small counts and proportions near 0 or 1).
* Discrimination of a score: the area under the ROC curve (AUC, the Mann-Whitney probability that
  a random positive scores higher than a random negative, ties counting one half) with the
  variance of DeLong, DeLong & Clarke-Pearson (1988), computed by the fast midrank algorithm of
  Sun & Xu (2014, IEEE Signal Processing Letters 21:1389-1393). The interval is the normal one on
  the AUC scale, truncated to [0, 1], exactly as R's ``pROC::ci.auc(method = "delong")``; the
  paired test of two AUCs on the same subjects is pROC's ``roc.test(method = "delong")``.
* Calibration of a predicted probability: Brier score (mean squared error, probability scale),
  calibration intercept ("calibration-in-the-large": the intercept of a logistic model of the
  outcome with the logit of the prediction as offset; 0 is perfect, on the log-odds scale),
  calibration slope (the coefficient of the logit of the prediction in a logistic model; 1 is
  perfect, below 1 means predictions too extreme), and a binned table (Steyerberg 2019,
  *Clinical Prediction Models*, ch. 15).
* Reclassification: the net reclassification improvement of Pencina, D'Agostino, D'Agostino &
  Vasan (2008, Stat Med 27:157-172), categorical, and its category-free ("continuous") version of
  Pencina, D'Agostino & Steyerberg (2011, Stat Med 30:11-21).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from recurrence.errors import ModelInputError
from recurrence.models.base import check_literal

ArrayLike = npt.ArrayLike


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2))


def _binary(y: ArrayLike, name: str = "truth") -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype == bool:
        return arr
    if arr.size and pd.isna(arr).any():
        raise ModelInputError(f"{name} has missing values; drop or impute them first")
    values = set(np.unique(arr).tolist())
    if not values <= {0, 1}:
        raise ModelInputError(f"{name} must be binary (0/1 or bool); got values {sorted(values)[:5]}")
    return arr.astype(bool)


def _scores(x: ArrayLike, n: int, name: str = "score") -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.shape != (n,):
        raise ModelInputError(f"{name} has shape {arr.shape}; expected ({n},) like the truth")
    if np.isnan(arr).any():
        raise ModelInputError(f"{name} has missing values; drop or impute them first")
    return arr


# --------------------------------------------------------------------------------------------
# Proportions and the accuracy of a flag
# --------------------------------------------------------------------------------------------
def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n`` (proportion scale).

    Returns ``(nan, nan)`` when ``n`` is 0 (the proportion is undefined).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n; got {successes}/{n}")
    if n == 0:
        return (float("nan"), float("nan"))
    z = _z(level)
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # At k = 0 (k = n) the lower (upper) limit is exactly 0 (1); rounding would miss it.
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == n else min(1.0, centre + half)
    return (float(lower), float(upper))


@dataclass(frozen=True)
class Proportion:
    """A proportion ``k / n`` with its Wilson interval (all on the proportion scale, 0-1)."""

    k: int
    n: int
    estimate: float
    ci_lower: float
    ci_upper: float


def proportion(k: int, n: int, level: float = 0.95) -> Proportion:
    """``k / n`` with a Wilson interval; ``nan`` when ``n`` is 0."""
    lo, hi = wilson_ci(k, n, level)
    return Proportion(int(k), int(n), k / n if n else float("nan"), lo, hi)


def flag_accuracy(flag: ArrayLike, truth: ArrayLike, level: float = 0.95) -> dict[str, float]:
    """Sensitivity, specificity, PPV and NPV of a binary ``flag`` against a binary ``truth``.

    Parameters
    ----------
    flag, truth
        Same-length 0/1 or boolean arrays, one element per unit (child or LA).
    level
        Confidence level of the Wilson intervals.

    Returns
    -------
    dict
        Keys ``sensitivity``, ``specificity``, ``ppv``, ``npv`` (proportions, 0-1) each with
        ``_ci_lower`` / ``_ci_upper``; the cell counts ``tp``, ``fp``, ``fn``, ``tn``; and
        ``prevalence`` and ``flag_rate``. A measure whose denominator is zero is ``nan``.
    """
    t = _binary(truth, "truth")
    f = _binary(flag, "flag")
    if f.shape != t.shape:
        raise ModelInputError(f"flag has shape {f.shape}; truth has {t.shape}")
    tp = int(np.sum(f & t))
    fp = int(np.sum(f & ~t))
    fn = int(np.sum(~f & t))
    tn = int(np.sum(~f & ~t))
    out: dict[str, float] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    for name, k, n in (
        ("sensitivity", tp, tp + fn),
        ("specificity", tn, tn + fp),
        ("ppv", tp, tp + fp),
        ("npv", tn, tn + fn),
    ):
        p = proportion(k, n, level)
        out[name] = p.estimate
        out[f"{name}_ci_lower"] = p.ci_lower
        out[f"{name}_ci_upper"] = p.ci_upper
    n_all = tp + fp + fn + tn
    out["prevalence"] = (tp + fn) / n_all if n_all else float("nan")
    out["flag_rate"] = (tp + fp) / n_all if n_all else float("nan")
    return out


def cohen_kappa(a: ArrayLike, b: ArrayLike, level: float = 0.95) -> dict[str, float]:
    """Cohen's kappa for agreement of two binary ratings, with its large-sample interval.

    The standard error is the simple one under the estimate (Fleiss, Levin & Paik 2003,
    eq. 18.13 simplified: ``sqrt(p_o (1 - p_o) / (n (1 - p_e)^2))``). Kappa is ``nan`` when
    chance agreement is 1 (both raters constant and equal).
    """
    x = _binary(a, "a")
    y = _binary(b, "b")
    if x.shape != y.shape:
        raise ModelInputError(f"ratings differ in length: {x.shape} vs {y.shape}")
    n = x.size
    if n == 0:
        return {"kappa": float("nan"), "ci_lower": float("nan"), "ci_upper": float("nan"),
                "agreement": float("nan")}
    po = float(np.mean(x == y))
    pa, pb = float(np.mean(x)), float(np.mean(y))
    pe = pa * pb + (1 - pa) * (1 - pb)
    if pe >= 1:
        return {"kappa": float("nan"), "ci_lower": float("nan"), "ci_upper": float("nan"),
                "agreement": po}
    kappa = (po - pe) / (1 - pe)
    if pa in (0.0, 1.0) or pb in (0.0, 1.0):
        # One rater is constant: kappa is 0 by construction and its interval is undefined.
        return {"kappa": float(kappa), "ci_lower": float("nan"), "ci_upper": float("nan"),
                "agreement": po}
    se = np.sqrt(po * (1 - po) / (n * (1 - pe) ** 2))
    z = _z(level)
    return {"kappa": float(kappa), "ci_lower": float(kappa - z * se),
            "ci_upper": float(kappa + z * se), "agreement": po}


# --------------------------------------------------------------------------------------------
# AUC and DeLong
# --------------------------------------------------------------------------------------------
def _midranks(x: np.ndarray) -> np.ndarray:
    """Midranks (1-based, ties share the mean rank) of the rows of a 2-D array."""
    return np.vstack([stats.rankdata(row, method="average") for row in x])


def _delong_components(
    truth: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong structural components by the Sun & Xu (2014) midrank algorithm.

    ``scores`` is (k, N). Returns ``(aucs, v_pos, v_neg)`` where ``v_pos`` is (k, m) over the
    m positives and ``v_neg`` is (k, n) over the n negatives.
    """
    pos = scores[:, truth]
    neg = scores[:, ~truth]
    m, n = pos.shape[1], neg.shape[1]
    if m == 0 or n == 0:
        raise ModelInputError(
            f"AUC needs both outcomes; got {m} positives and {n} negatives"
        )
    tx = _midranks(pos)
    ty = _midranks(neg)
    tz = _midranks(np.hstack([pos, neg]))
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v_pos = (tz[:, :m] - tx) / n
    v_neg = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v_pos, v_neg


def _delong_cov(v_pos: np.ndarray, v_neg: np.ndarray) -> np.ndarray:
    m, n = v_pos.shape[1], v_neg.shape[1]
    # Sample covariances with denominator m-1 and n-1, as DeLong et al. and pROC use; a single
    # positive or negative leaves the variance undefined (nan).
    s_pos = np.atleast_2d(np.cov(v_pos)) if m > 1 else np.full((v_pos.shape[0],) * 2, np.nan)
    s_neg = np.atleast_2d(np.cov(v_neg)) if n > 1 else np.full((v_neg.shape[0],) * 2, np.nan)
    return s_pos / m + s_neg / n


@dataclass(frozen=True)
class AUCResult:
    """AUC (probability scale, 0-1) with its DeLong standard error and interval."""

    auc: float
    se: float
    ci_lower: float
    ci_upper: float
    n_positive: int
    n_negative: int


def auc_delong(truth: ArrayLike, score: ArrayLike, level: float = 0.95) -> AUCResult:
    """AUC of ``score`` for ``truth`` with the DeLong variance and interval.

    Higher scores are taken to indicate the positive class (pROC ``direction = "<"``); a
    binary flag is a score with two values, whose AUC is (sensitivity + specificity) / 2.
    The interval is ``auc -/+ z * se`` truncated to [0, 1], as ``pROC::ci.auc``. With a single
    positive or a single negative the DeLong variance is undefined: SE and limits are NaN (as
    pROC's ``NA``), not a [0, 1] interval.
    """
    t = _binary(truth)
    s = _scores(score, t.size)
    aucs, vp, vn = _delong_components(t, s[None, :])
    var = float(_delong_cov(vp, vn)[0, 0])
    se = float(np.sqrt(var)) if var >= 0 else float("nan")
    z = _z(level)
    auc = float(aucs[0])
    if np.isnan(se):
        # max(0.0, nan) is 0.0 in Python: the limits must be set, not truncated
        lo = hi = float("nan")
    else:
        lo, hi = max(0.0, auc - z * se), min(1.0, auc + z * se)
    return AUCResult(auc, se, lo, hi, int(t.sum()), int((~t).sum()))


@dataclass(frozen=True)
class DeLongTest:
    """Paired DeLong test of two correlated AUCs: ``auc1 - auc2`` with its SE, z and p."""

    auc1: float
    auc2: float
    difference: float
    se: float
    z: float
    p_value: float
    ci_lower: float
    ci_upper: float


def delong_test(
    truth: ArrayLike, score1: ArrayLike, score2: ArrayLike, level: float = 0.95
) -> DeLongTest:
    """DeLong, DeLong & Clarke-Pearson (1988) test that two scores on the same units have equal AUC.

    Returns the difference ``auc1 - auc2`` (AUC scale), its standard error from the joint
    DeLong covariance, the z statistic, the two-sided p-value and a normal interval of the
    difference. Equal to ``pROC::roc.test(r1, r2, method = "delong", paired = TRUE)``. With a
    single positive or negative the variance is undefined and SE, z, p and limits are NaN.
    """
    t = _binary(truth)
    s = np.vstack([_scores(score1, t.size, "score1"), _scores(score2, t.size, "score2")])
    aucs, vp, vn = _delong_components(t, s)
    cov = _delong_cov(vp, vn)
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    zc = _z(level)
    if not np.isfinite(var):
        # One positive or one negative: the DeLong variance is undefined (pROC gives NaN).
        nan = float("nan")
        return DeLongTest(float(aucs[0]), float(aucs[1]), diff, nan, nan, nan, nan, nan)
    se = float(np.sqrt(var)) if var > 0 else 0.0
    if se > 0:
        zstat = diff / se
        p = float(2 * stats.norm.sf(abs(zstat)))
    else:
        # Identical rankings: no difference and no variance.
        zstat, p = (0.0, 1.0) if diff == 0 else (float(np.sign(diff) * np.inf), 0.0)
    return DeLongTest(float(aucs[0]), float(aucs[1]), diff, se, float(zstat), p,
                      diff - zc * se, diff + zc * se)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------
def brier_score(truth: ArrayLike, prob: ArrayLike) -> float:
    """Brier score: mean of ``(prob - truth)^2`` (probability scale; 0 is perfect)."""
    t = _binary(truth).astype(float)
    p = _scores(prob, t.size, "prob")
    if ((p < 0) | (p > 1)).any():
        raise ModelInputError("prob must lie in [0, 1]")
    return float(np.mean((p - t) ** 2))


def _logit(p: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    q = np.clip(p, eps, 1 - eps)
    return np.log(q / (1 - q))


@dataclass(frozen=True)
class Calibration:
    """Calibration intercept and slope (log-odds scale) with normal intervals."""

    intercept: float
    intercept_ci_lower: float
    intercept_ci_upper: float
    slope: float
    slope_ci_lower: float
    slope_ci_upper: float


def calibration(truth: ArrayLike, prob: ArrayLike, level: float = 0.95) -> Calibration:
    """Calibration intercept (offset model) and slope of predicted probabilities ``prob``.

    The intercept is from ``logit P(y) = a + offset(logit p)`` (0 = predictions right on
    average); the slope from ``logit P(y) = a + b logit p`` (1 = spread right). Predictions are
    clipped to [1e-8, 1 - 1e-8] before the logit, so a 0/1 flag gives a very large logit and a
    slope near 0: calibration is only meaningful for probabilities. A constant outcome raises
    :class:`~recurrence.errors.ModelInputError`; predictions that separate the outcomes give a
    slope of ``+inf`` (``-inf`` if reversed) with NaN limits, and a single predicted value a
    NaN slope.
    """
    t = _binary(truth).astype(float)
    p = _scores(prob, t.size, "prob")
    n_events = int(t.sum())
    if n_events in (0, t.size):
        raise ModelInputError(
            f"calibration needs both outcomes; got {n_events} events in {t.size} rows"
        )
    lp = _logit(p)
    z = _z(level)
    ones = np.ones((t.size, 1))
    # Near-0/1 predictions give large linear predictors; statsmodels' inverse link then
    # overflows harmlessly to a probability of 0 or 1.
    with np.errstate(over="ignore"):
        m0 = sm.GLM(t, ones, family=sm.families.Binomial(), offset=lp).fit()
    a, sa = float(m0.params[0]), float(m0.bse[0])
    events, others = lp[t == 1], lp[t == 0]
    nan = float("nan")
    if np.ptp(lp) == 0:
        # One predicted value for everyone: no slope to estimate.
        return Calibration(a, a - z * sa, a + z * sa, nan, nan, nan)
    if events.min() >= others.max() or events.max() <= others.min():
        # The predictions separate the outcomes: the slope's maximum-likelihood estimate is
        # infinite, and the number statsmodels stops at means nothing.
        b = float("inf") if events.min() >= others.max() else float("-inf")
        return Calibration(a, a - z * sa, a + z * sa, b, nan, nan)
    # The slope model is fitted only when its estimate is finite.
    with np.errstate(over="ignore"):
        m1 = sm.GLM(t, np.column_stack([ones, lp]), family=sm.families.Binomial()).fit()
    b, sb = float(m1.params[1]), float(m1.bse[1])
    return Calibration(a, a - z * sa, a + z * sa, b, b - z * sb, b + z * sb)


def calibration_table(truth: ArrayLike, prob: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Observed vs mean predicted risk by groups of predicted risk (deciles by default).

    Bins are quantile groups of ``prob`` (ties kept together, so there may be fewer bins); with
    no more distinct predicted values than ``n_bins``, each value is its own bin.
    Columns: ``bin``, ``n``, ``mean_predicted``, ``observed`` (proportions), ``observed_ci_lower``,
    ``observed_ci_upper`` (Wilson).
    """
    t = _binary(truth)
    p = _scores(prob, t.size, "prob")
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    values, value_code = np.unique(p, return_inverse=True)
    if len(values) <= n_bins:
        # No more distinct predictions than bins: one bin each (quantile cuts would merge some).
        codes = value_code.astype(int)
    else:
        bins = pd.qcut(pd.Series(p).rank(method="min"), n_bins, labels=False, duplicates="drop")
        codes = np.asarray(bins, dtype=int)
    rows = []
    for b in np.unique(codes):
        idx = np.flatnonzero(codes == b)
        k, n = int(t[idx].sum()), len(idx)
        ci = wilson_ci(k, n)
        rows.append({"bin": int(b), "n": n, "mean_predicted": float(p[idx].mean()),
                     "observed": k / n, "observed_ci_lower": ci[0], "observed_ci_upper": ci[1]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Net reclassification
# --------------------------------------------------------------------------------------------
NRIKind = Literal["categorical", "continuous"]
NRI_KINDS: tuple[str, ...] = ("categorical", "continuous")


@dataclass(frozen=True)
class NRIResult:
    """Net reclassification improvement of a new rule over an old one (proportion scale).

    ``nri = nri_events + nri_nonevents``, each a difference of proportions (-1 to 1; the total
    runs from -2 to 2). ``se`` is the standard error of the estimate (used for the interval);
    ``se_null`` the one under no improvement (Pencina et al. 2008, used for ``z`` and the
    p-value).
    """

    kind: str
    nri: float
    nri_events: float
    nri_nonevents: float
    se: float
    se_null: float
    z: float
    p_value: float
    ci_lower: float
    ci_upper: float


def nri(
    truth: ArrayLike,
    old: ArrayLike,
    new: ArrayLike,
    *,
    kind: NRIKind = "categorical",
    cutoffs: tuple[float, ...] | None = None,
    level: float = 0.95,
) -> NRIResult:
    """Net reclassification improvement of ``new`` over ``old``.

    Parameters
    ----------
    truth
        0/1 outcome.
    old, new
        Scores (or predicted risks) of the two rules. For ``kind="categorical"`` both are cut
        into risk categories at ``cutoffs`` (a value equal to a cut-off goes to the upper
        category); a 0/1 flag with ``cutoffs=(0.5,)`` is its own category. For
        ``kind="continuous"`` any increase of ``new`` over ``old`` counts as moving up
        (Pencina et al. 2011), so both must be on the same scale (e.g. probabilities).
    kind
        "categorical" (Pencina 2008) or "continuous" (category-free, Pencina 2011).
    cutoffs
        Increasing category boundaries for the categorical NRI.

    Notes
    -----
    Events moving up and non-events moving down count as improvements. The test of no
    improvement uses Pencina et al.'s (2008, section 3.2) McNemar-type standard error
    ``se_null = sqrt((p_up,e + p_down,e) / n_e + (p_up,ne + p_down,ne) / n_ne)``, which holds
    when up and down moves are equally likely. The interval uses the standard error of the
    estimate, ``se = sqrt(sum over events and non-events of (p_up + p_down - (p_up - p_down)^2)
    / n)``, the multinomial variance of each difference of proportions (as
    ``Hmisc::improveProb``'s ``se.nri``): ``se_null`` overstates it when the NRI is not 0 (if
    every event moves up, the events' part has no variance at all).
    """
    check_literal("kind", kind, NRI_KINDS)
    t = _binary(truth)
    o = _scores(old, t.size, "old")
    n_ = _scores(new, t.size, "new")
    if kind == "categorical":
        if not cutoffs:
            raise ValueError("categorical NRI needs cutoffs")
        cuts = np.asarray(cutoffs, dtype=float)
        if np.any(np.diff(cuts) <= 0):
            raise ValueError("cutoffs must be strictly increasing")
        co = np.searchsorted(cuts, o, side="right")
        cn = np.searchsorted(cuts, n_, side="right")
        up, down = cn > co, cn < co
    else:
        up, down = n_ > o, n_ < o
    ne, nn = int(t.sum()), int((~t).sum())
    if ne == 0 or nn == 0:
        raise ModelInputError(f"NRI needs both outcomes; got {ne} events and {nn} non-events")
    pue, pde = up[t].mean(), down[t].mean()
    pun, pdn = up[~t].mean(), down[~t].mean()
    nri_e = float(pue - pde)
    nri_n = float(pdn - pun)
    total = nri_e + nri_n
    se_null = float(np.sqrt((pue + pde) / ne + (pun + pdn) / nn))
    se = float(np.sqrt((pue + pde - (pue - pde) ** 2) / ne + (pun + pdn - (pun - pdn) ** 2) / nn))
    zstat = total / se_null if se_null > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(zstat))) if se_null > 0 else 1.0
    zc = _z(level)
    return NRIResult(kind, total, nri_e, nri_n, se, se_null, float(zstat), p, total - zc * se,
                     total + zc * se)


# --------------------------------------------------------------------------------------------
# Correlation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Correlation:
    """A correlation coefficient (-1 to 1) with its Fisher-z interval and p-value."""

    method: str
    estimate: float
    ci_lower: float
    ci_upper: float
    p_value: float
    n: int


CorrMethod = Literal["spearman", "pearson"]
CORR_METHODS: tuple[str, ...] = ("spearman", "pearson")


def correlation(
    x: ArrayLike, y: ArrayLike, *, method: CorrMethod = "spearman", level: float = 0.95
) -> Correlation:
    """Pearson or Spearman correlation with a Fisher-z interval; pairs with a NaN are dropped.

    For Spearman's rho the Fisher-z standard error is ``sqrt(1.06 / (n - 3))`` (Fieller,
    Hartley & Pearson 1957), for Pearson's r ``1 / sqrt(n - 3)``. Needs at least 4 pairs.
    """
    check_literal("method", method, CORR_METHODS)
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n = a.size
    if n < 4:
        return Correlation(method, float("nan"), float("nan"), float("nan"), float("nan"), n)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        # A constant variable has no correlation; say so rather than divide by zero.
        return Correlation(method, float("nan"), float("nan"), float("nan"), float("nan"), n)
    if method == "spearman":
        r, p = stats.spearmanr(a, b)
        var = 1.06 / (n - 3)
    else:
        r, p = stats.pearsonr(a, b)
        var = 1.0 / (n - 3)
    r = float(r)
    if not np.isfinite(r):
        return Correlation(method, float("nan"), float("nan"), float("nan"), float("nan"), n)
    zr = np.arctanh(np.clip(r, -0.9999999, 0.9999999))
    half = _z(level) * np.sqrt(var)
    return Correlation(method, r, float(np.tanh(zr - half)), float(np.tanh(zr + half)),
                       float(p), n)
