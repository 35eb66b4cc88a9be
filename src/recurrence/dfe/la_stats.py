"""Real-data analysis of the repeat-plan indicator (D3, the successor of NI 65) across English LAs.

Question: does an LA's percentage of child protection plans that are a second or subsequent plan
(DfE table D3; NI 65 in 2008-10) measure something stable about the LA that moves with the
multivariate picture of recurrence and parental adversity, or mostly noise?

From the published LA tables (:mod:`recurrence.dfe.loader`) this module builds an LA-by-year
panel and measures

* **reliability**: the intraclass correlation (ICC) of the repeat-plan percentage within LA over
  years, after removing the national trend (year means), by one-way ANOVA with the F-based
  interval of Shrout & Fleiss (1979, case 1) using the Searle ``n0`` average group size for
  unbalanced panels, and by a linear mixed model (REML, random LA intercept, year fixed effects);
  beside it, how much of the within-LA year-to-year variance binomial chance alone would give;
* **overdispersion** in the latest year, with the Spiegelhalter (2005) funnel plot
  (:mod:`recurrence.validity.la_level`);
* **convergent validity**: Spearman correlations (Fisher-z intervals) with the re-referral rate
  (C1), the share of open plans lasting two years or more (D5: plans open at 31 March; NI 64
  counted plans ending in the year, a different measure) and the prevalence of parental
  domestic abuse, mental health and substance misuse among episodes with
  assessment factors (C3, factor codes 3B, 4B, 1B + 2B), and a linear mixed model over the years
  2018 onwards with a random LA intercept in which each covariate enters as its LA mean
  ("between") and the yearly deviation from it ("within"), the hybrid model of Allison (2009,
  *Fixed Effects Regression Models*) / Mundlak (1978), so that the within coefficients say
  whether an LA's indicator moves when its own multivariate picture changes.

Suppressed counts. A ``c`` cell is a count of 1 to 5. Dropping such cells would drop exactly the
LAs with few long plans or few repeat plans and bias the shares upwards, so by default a ``c``
count is set to 3, the midpoint (``suppressed="midpoint"``), and every imputed cell is counted in
the output; ``suppressed="missing"`` drops them instead. A rate whose *denominator* is a ``c``
cell is always missing: the midpoint would make a suppressed 1-5 repeat plans out of a
suppressed 1-5 plan starts 3 / 3 = 100%, whatever the truth. ``x``, ``z`` and ``u`` are always
missing. Percentages are recomputed from the counts (the published ones are rounded to 0.1).
LAs created or abolished by reorganisations (:func:`recurrence.dfe.loader.la_changes`) are
separate units with their own codes.
"""

from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from recurrence.dfe.loader import DfETable, la_changes, load_table
from recurrence.errors import ModelInputError
from recurrence.models.base import check_literal
from recurrence.validity.la_level import Overdispersion, funnel_data
from recurrence.validity.metrics import correlation

Suppressed = Literal["midpoint", "missing"]
SUPPRESSED_OPTIONS: tuple[str, ...] = ("midpoint", "missing")
SUPPRESSED_MIDPOINT = 3.0
"""Value given to a ``c`` count (1 to 5) under ``suppressed="midpoint"``."""

COVARIATES: dict[str, str] = {
    "rereferral_percent": "re-referrals within 12 months, % of referrals (C1)",
    "long_plan_percent": "plans open at 31 March lasting 2 years or more, % (D5)",
    "domestic_abuse_per100": "parental domestic abuse (3B) per 100 episodes with factors (C3)",
    "mental_health_per100": "parental mental health (4B) per 100 episodes with factors (C3)",
    "substance_per100": "parental alcohol (1B) + drug (2B) misuse mentions per 100 episodes (C3)",
}
"""Convergent-validity covariates and their definitions (units in the text)."""


_DENOMINATORS: dict[str, tuple[str, ...]] = {
    "cpp_starts": ("repeat_percent", "cpp_starts_per_10k"),
    "referrals": ("rereferral_percent",),
    "cpp_at31": ("long_plan_percent",),
    "episodes_with_factors": ("domestic_abuse_per100", "mental_health_per100", "substance_per100"),
}
"""Count columns that divide, and the rates left missing when that count was a ``c`` cell."""


def _count(table: DfETable, column: str, suppressed: Suppressed) -> tuple[pd.Series, pd.Series]:
    """Counts of ``column`` at LA level with ``c`` handled; also whether each was imputed."""
    la = table.ids["geographic_level"] == "Local authority"
    v = table.values.loc[la, column].copy()
    is_c = table.status.loc[la, column] == "c"
    if suppressed == "midpoint":
        v[is_c] = SUPPRESSED_MIDPOINT
    return v, is_c & (suppressed == "midpoint")


def la_panel(dfe_dir: str | os.PathLike[str], suppressed: Suppressed = "midpoint") -> pd.DataFrame:
    """One row per LA and year (ending 31 March) with the indicators and covariates.

    Columns: ``la_code``, ``la_name``, ``year``, ``cpp_starts``, ``cpp_subsequent``,
    ``repeat_percent`` (D3: 100 x subsequent / starts), ``referrals``, ``rereferrals``,
    ``rereferral_percent``, ``cpp_at31``, ``cpp_2y_plus``, ``long_plan_percent``,
    ``episodes_with_factors``, the C3 rates of :data:`COVARIATES` (per 100 episodes; C3 starts
    in 2018), ``population_0_17`` (ONS mid-year estimate in that year), ``cpp_starts_per_10k``,
    ``imputed_cells`` (how many ``c`` counts in the row were set to the midpoint) and
    ``reorganised`` (the code is affected by an LA reorganisation).
    """
    check_literal("suppressed", suppressed, SUPPRESSED_OPTIONS)
    pieces = []
    spec = {
        "d3": {"CPP_start": "cpp_starts", "CPP_subsequent": "cpp_subsequent"},
        "c1": {"referral_count": "referrals", "rereferral_count": "rereferrals"},
        "d5": {"CPP_At31": "cpp_at31", "2_years_or_more": "cpp_2y_plus"},
        "c3": {
            "Episodes_with_assessment_factor": "episodes_with_factors",
            "Domestic_Abuse_parent": "da_parent",
            "Mental_Health_parent": "mh_parent",
            "Alcohol_Misuse_parent": "alcohol_parent",
            "Drug_Misuse_parent": "drug_parent",
        },
        "population": {"population_estimate": "population_0_17"},
    }
    changes = []
    for name, cols in spec.items():
        table = load_table(dfe_dir, name)
        la = table.ids["geographic_level"] == "Local authority"
        frame = table.ids.loc[la, ["la_code", "la_name", "year"]].copy()
        imputed = pd.Series(0, index=frame.index)
        for src, dst in cols.items():
            frame[dst], was_imputed = _count(table, src, suppressed)
            imputed += was_imputed.astype(int)
            if dst in _DENOMINATORS:
                frame[f"{dst}__imputed"] = was_imputed
        frame[f"imputed_{name}"] = imputed
        pieces.append(frame.set_index(["la_code", "year"]))
        changes.append(la_changes(table))
    names = pd.concat([p["la_name"] for p in pieces]).groupby(level=[0, 1]).last()
    panel = pd.concat([p.drop(columns="la_name") for p in pieces], axis=1, join="outer")
    panel.insert(0, "la_name", names)
    panel = panel.reset_index().sort_values(["la_code", "year"]).reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        panel["repeat_percent"] = 100 * panel["cpp_subsequent"] / panel["cpp_starts"]
        panel["rereferral_percent"] = 100 * panel["rereferrals"] / panel["referrals"]
        panel["long_plan_percent"] = 100 * panel["cpp_2y_plus"] / panel["cpp_at31"]
        ep = panel["episodes_with_factors"]
        panel["domestic_abuse_per100"] = 100 * panel["da_parent"] / ep
        panel["mental_health_per100"] = 100 * panel["mh_parent"] / ep
        panel["substance_per100"] = 100 * (panel["alcohol_parent"] + panel["drug_parent"]) / ep
        panel["cpp_starts_per_10k"] = 1e4 * panel["cpp_starts"] / panel["population_0_17"]
    rate_cols = ["repeat_percent", "rereferral_percent", "long_plan_percent",
                 "domestic_abuse_per100", "mental_health_per100", "substance_per100",
                 "cpp_starts_per_10k"]
    panel[rate_cols] = panel[rate_cols].replace([np.inf, -np.inf], np.nan)
    # A rate whose denominator is an imputed 1-5 is not a rate: with both counts suppressed
    # the midpoint gives 3 / 3 = 100% whatever the truth (20-100%). Counts keep the midpoint.
    for den, rates in _DENOMINATORS.items():
        flag = panel.pop(f"{den}__imputed").astype("boolean").fillna(False).to_numpy(bool)
        panel.loc[flag, list(rates)] = np.nan
    imp_cols = [c for c in panel.columns if c.startswith("imputed_")]
    panel["imputed_cells"] = panel[imp_cols].fillna(0).sum(axis=1).astype(int)
    panel = panel.drop(columns=imp_cols)
    # Only codes abolished or created by a reorganisation; an ONS code change on the same
    # boundaries (815, 825, 933) is not one.
    all_changes = pd.concat(changes)
    reorganised = set(all_changes.loc[all_changes["change"].isin(["abolished", "created"]),
                                      "la_code"])
    panel["reorganised"] = panel["la_code"].isin(reorganised)
    return panel


# --------------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ICCResult:
    """Reliability of an LA indicator across years (ICC on the 0-1 scale)."""

    icc_anova: float
    ci_lower: float
    ci_upper: float
    icc_mixed: float
    between_la_sd: float
    within_la_sd: float
    binomial_sd: float
    n_las: int
    n_obs: int
    n0: float


def icc_over_years(
    panel: pd.DataFrame,
    value: str = "repeat_percent",
    denominator: str | None = "cpp_starts",
    level: float = 0.95,
) -> ICCResult:
    """ICC(1) of ``value`` within LA over years, after removing each year's national mean.

    ``between_la_sd`` and ``within_la_sd`` are the mixed-model SDs (units of ``value``,
    percentage points for a percent); ``binomial_sd`` is the root mean binomial sampling
    variance of a percentage with the LA's ``denominator``, i.e. how large the within-LA
    year-to-year SD would be from chance alone.
    """
    d = panel[["la_code", "year", value] + ([denominator] if denominator else [])].dropna()
    d = d[d.groupby("la_code")["la_code"].transform("size") >= 2].copy()
    if d["la_code"].nunique() < 3:
        raise ModelInputError(f"ICC of {value} needs at least 3 LAs with 2 or more years")
    d["y"] = d[value] - d.groupby("year")[value].transform("mean")
    k = d["la_code"].nunique()
    n = len(d)
    sizes = d.groupby("la_code").size()
    grand = d["y"].mean()
    means = d.groupby("la_code")["y"].mean()
    ssb = float((sizes * (means - grand) ** 2).sum())
    ssw = float(((d["y"] - d["la_code"].map(means)) ** 2).sum())
    msb, msw = ssb / (k - 1), ssw / (n - k)
    n0 = (n - (sizes**2).sum() / n) / (k - 1)
    icc = (msb - msw) / (msb + (n0 - 1) * msw)
    f = msb / msw
    alpha = 1 - level
    fl = f / stats.f.ppf(1 - alpha / 2, k - 1, n - k)
    fu = f * stats.f.ppf(1 - alpha / 2, n - k, k - 1)
    lo, hi = (fl - 1) / (fl + n0 - 1), (fu - 1) / (fu + n0 - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm(f"Q('{value}') ~ C(year)", d, groups=d["la_code"]).fit(reml=True)
    tau2 = float(fit.cov_re.iloc[0, 0])
    sigma2 = float(fit.scale)
    if denominator:
        p = d[value] / 100 if d[value].max() > 1 else d[value]
        mult = 100 if d[value].max() > 1 else 1
        binom = float(np.sqrt(np.mean(mult**2 * p.mean() * (1 - p.mean()) / d[denominator])))
    else:
        binom = float("nan")
    return ICCResult(float(icc), float(lo), float(hi), tau2 / (tau2 + sigma2), float(np.sqrt(tau2)),
                     float(np.sqrt(sigma2)), binom, int(k), int(n), float(n0))


def year_to_year(panel: pd.DataFrame, value: str = "repeat_percent") -> pd.DataFrame:
    """Spearman correlation of ``value`` between consecutive years across LAs, with intervals."""
    wide = panel.pivot_table(index="la_code", columns="year", values=value)
    rows = []
    years = sorted(wide.columns)
    for a, b in itertools.pairwise(years):
        c = correlation(wide[a], wide[b], method="spearman")
        rows.append({"year_from": a, "year_to": b, "spearman": c.estimate,
                     "ci_lower": c.ci_lower, "ci_upper": c.ci_upper, "n_las": c.n})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Overdispersion and funnel, latest year
# --------------------------------------------------------------------------------------------
def latest_funnel(
    panel: pd.DataFrame, year: int | None = None
) -> tuple[pd.DataFrame, Overdispersion, int]:
    """Funnel table of the repeat-plan proportion for ``year`` (latest by default), additive limits.

    LAs whose plan starts are suppressed (no ``repeat_percent``) are left out, as in every
    rate; ``imputed_cells`` marks rows whose repeat-plan count is the midpoint of a ``c`` cell.
    """
    y = int(panel.dropna(subset=["repeat_percent"])["year"].max()) if year is None else int(year)
    d = panel[(panel["year"] == y) & panel["repeat_percent"].notna()]
    table, od = funnel_data(d, numerator="cpp_subsequent", denominator="cpp_starts",
                            adjustment="additive")
    table.insert(1, "la_name", d["la_name"].to_numpy())
    table["imputed_cells"] = d["imputed_cells"].to_numpy()
    return table, od, y


def overdispersion_by_year(panel: pd.DataFrame) -> pd.DataFrame:
    """Spiegelhalter phi, tau and the chi-squared test of the repeat-plan proportion for every year."""
    rows = []
    for y, d in panel.groupby("year"):
        d = d.dropna(subset=["repeat_percent"])
        if len(d) < 3:
            continue
        _, od = funnel_data(d, numerator="cpp_subsequent", denominator="cpp_starts")
        rows.append({"year": int(str(y)), "n_las": od.n_units, "target_percent": 100 * od.target,
                     "phi": od.phi, "chi2": od.chi2, "df": od.df, "p_value": od.p_value,
                     "tau_percentage_points": 100 * od.tau})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Convergent validity
# --------------------------------------------------------------------------------------------
def correlations(panel: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Spearman correlations of the repeat-plan percentage with each covariate.

    Two versions: ``scope="latest_year"`` (LAs in ``year``) and ``scope="la_means"`` (each LA's
    mean over the years where both are known), with Fisher-z 95% intervals.
    """
    y = int(panel.dropna(subset=["repeat_percent"])["year"].max()) if year is None else int(year)
    rows = []
    latest = panel[panel["year"] == y]
    for cov in COVARIATES:
        for scope, d in (("latest_year", latest), ("la_means", None)):
            if d is None:
                both = panel.dropna(subset=["repeat_percent", cov])
                d = both.groupby("la_code")[["repeat_percent", cov]].mean()
            c = correlation(d["repeat_percent"], d[cov], method="spearman")
            rows.append({"covariate": cov, "scope": scope, "year": y if scope == "latest_year"
                         else None, "spearman": c.estimate, "ci_lower": c.ci_lower,
                         "ci_upper": c.ci_upper, "p_value": c.p_value, "n_las": c.n})
    return pd.DataFrame(rows)


def multilevel_model(
    panel: pd.DataFrame, covariates: tuple[str, ...] = tuple(COVARIATES)
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Hybrid (between/within) linear mixed model of the repeat-plan percentage over years.

    ``repeat_percent ~ C(year) + sum_j (b_j mean_j + w_j dev_j) + (1 | la_code)``, fitted by
    REML with statsmodels MixedLM on LA-years with every covariate known (C3 starts in 2018).
    Covariates are standardised (divided by their SD across LA-years) so each coefficient is in
    percentage points of repeat plans per SD of the covariate; ``between`` terms compare LAs,
    ``within`` terms follow an LA's own changes over years.

    Returns the coefficient table (term, component, covariate, estimate, std_error, p_value,
    ci_lower, ci_upper) and fit summaries: the LA variance (``tau2``, percentage points squared)
    of the model without covariates and with them, the share of between-LA variance the
    covariates explain, and the residual (within-LA) variance.
    """
    cols = ["la_code", "year", "repeat_percent", *covariates]
    d = panel[cols].dropna().copy()
    if d["la_code"].nunique() < 10:
        raise ModelInputError("multilevel model needs at least 10 LAs with complete data")
    terms = []
    for c in covariates:
        sd = d[c].std()
        z = d[c] / sd
        d[f"{c}_between"] = z.groupby(d["la_code"]).transform("mean")
        d[f"{c}_within"] = z - d[f"{c}_between"]
        terms += [f"{c}_between", f"{c}_within"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null = smf.mixedlm("repeat_percent ~ C(year)", d, groups=d["la_code"]).fit(reml=True)
        full = smf.mixedlm("repeat_percent ~ C(year) + " + " + ".join(terms), d,
                           groups=d["la_code"]).fit(reml=True)
    ci = full.conf_int()
    rows = []
    for t in terms:
        cov, comp = t.rsplit("_", 1)
        rows.append({"term": t, "component": comp, "covariate": cov,
                     "estimate": float(full.params[t]), "std_error": float(full.bse[t]),
                     "p_value": float(full.pvalues[t]), "ci_lower": float(ci.loc[t, 0]),
                     "ci_upper": float(ci.loc[t, 1])})
    tau_null = float(null.cov_re.iloc[0, 0])
    tau_full = float(full.cov_re.iloc[0, 0])
    summary = {"n_obs": float(len(d)), "n_las": float(d["la_code"].nunique()),
               "first_year": float(d["year"].min()), "last_year": float(d["year"].max()),
               "tau2_null": tau_null, "tau2_full": tau_full,
               "between_la_variance_explained": 1 - tau_full / tau_null if tau_null > 0
               else float("nan"),
               "residual_variance_null": float(null.scale),
               "residual_variance_full": float(full.scale),
               "within_la_variance_explained": 1 - float(full.scale) / float(null.scale)}
    return pd.DataFrame(rows), summary
