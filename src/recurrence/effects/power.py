"""Power for the 1.3x-per-added-problem claim in a CIN-level cohort.

Question: how many children (and events) would an English CIN-census cohort need to detect
"recurrence 1.3 times more likely for each additional parental problem" (Fuller et al 2001)
with 80% or 90% power at two-sided alpha 0.05?

Design, drawn from the synthetic generator :func:`recurrence.synth.generate`:

* cohort: children with a first CIN referral at least 12 months before the end of data;
* covariate: the number of parental problems (``truth.n_parental_problems``, 0-8 of the eight
  B-code factors), with its distribution taken from the synthetic cohort;
* outcome: a further referral within 12 months of the first (the DfE re-referral window), with
  the synthetic cohort's rate as the baseline;
* truth: odds ratio (logistic, fixed window) or hazard ratio (Cox, time to re-referral within
  12 months) of 1.3 per problem, the effect placed on the synthetic covariate distribution.

:func:`cohort_design` extracts the covariate distribution and re-referral rate from a
synthetic cohort; :func:`analytic_sample_size` gives the closed forms (Hsieh, Bloch & Larsen
1998 for logistic regression with one covariate; Schoenfeld 1983 / Hsieh & Lavori 2000 events
for Cox); :func:`power_study` and :func:`power_table` check them by simulation with the ADEMP
engine, and :func:`required_n` interpolates the simulated power curve.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from recurrence.effects.ademp import DGM, Method, Study, StudyRun
from recurrence.effects.scenarios import fit_study_model
from recurrence.models.base import check_literal

Model = Literal["logistic", "cox"]
MODELS: tuple[str, ...] = get_args(Model)
LOG_EFFECT = math.log(1.3)


@dataclass(frozen=True)
class CohortDesign:
    """Covariate distribution and 12-month re-referral rate of a CIN-level cohort.

    ``support`` are the numbers of parental problems, ``prob`` their shares; ``event_rate`` is
    the share of children re-referred within 12 months of their first referral.
    """

    support: tuple[float, ...]
    prob: tuple[float, ...]
    event_rate: float
    n_children: int
    source: str

    @property
    def variance(self) -> float:
        """Variance of the number of problems (enters every sample-size formula)."""
        s, p = np.asarray(self.support), np.asarray(self.prob)
        m = float(p @ s)
        return float(p @ (s - m) ** 2)


def cohort_design(
    n_children: int = 20000, years: int = 4, seed: int = 20090331, window_days: int = 365
) -> CohortDesign:
    """The CIN-level design from a synthetic cohort (:func:`recurrence.synth.generate`).

    Children enter at their first recorded referral (``cin_episodes.cin_referral_date``) if it
    is at least ``window_days`` before the last referral date of the data; the outcome is any
    later referral within ``window_days``.
    """
    from recurrence.synth import generate

    cohort = generate(n_children=n_children, years=years, seed=seed)
    ep = cohort.tables.cin_episodes[["child_key", "cin_referral_date"]].dropna()
    ep = ep.sort_values(["child_key", "cin_referral_date"], kind="mergesort")
    end = ep["cin_referral_date"].max()
    first = ep.groupby("child_key")["cin_referral_date"].min().rename("first")
    ep = ep.join(first, on="child_key")
    later = ep[(ep["cin_referral_date"] > ep["first"])]
    gap = (later["cin_referral_date"] - later["first"]).dt.days
    rereferred = set(later.loc[gap <= window_days, "child_key"])
    eligible = first[first <= end - pd.Timedelta(days=window_days)]
    truth = cohort.truth.set_index("child_key").loc[eligible.index, "n_parental_problems"]
    counts = truth.value_counts().sort_index()
    y = np.array([k in rereferred for k in eligible.index])
    return CohortDesign(
        support=tuple(float(v) for v in counts.index),
        prob=tuple(float(v) for v in counts.to_numpy() / counts.sum()),
        event_rate=float(y.mean()),
        n_children=len(eligible),
        source=f"recurrence.synth.generate(n_children={n_children}, years={years}, seed={seed})",
    )


def analytic_sample_size(
    design: CohortDesign,
    power: float,
    *,
    model: Model = "logistic",
    alpha: float = 0.05,
    log_effect: float = LOG_EFFECT,
) -> dict[str, float]:
    """Closed-form children and events for ``power`` (two-sided ``alpha``).

    Logistic, one covariate (Hsieh, Bloch & Larsen 1998, Stat Med 17:1623, eq. 1):
    ``n = (z_a + z_b)^2 / (P (1 - P) beta^2 var(X))`` with ``P`` the design's overall event
    rate (``design.event_rate``). Hsieh et al. use the event rate at the mean of ``X``; with a
    skewed count such as the number of parental problems the two differ, and so does ``n``;
    the simulated power does not depend on this choice.
    Cox (Schoenfeld 1983; Hsieh & Lavori 2000): events ``D = (z_a + z_b)^2 / (beta^2 var(X))``,
    children ``D / P``.
    """
    check_literal("model", model, MODELS)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    p = design.event_rate
    if model == "logistic":
        n = z**2 / (p * (1 - p) * log_effect**2 * design.variance)
        return {"children": float(n), "events": float(n * p)}
    d = z**2 / (log_effect**2 * design.variance)
    return {"children": float(d / p), "events": float(d)}


def _cells(design: CohortDesign) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(design.support, float), np.asarray(design.prob, float)


def cohort_power_data(
    rng: np.random.Generator,
    *,
    n: int,
    model: str,
    support: Sequence[float],
    prob: Sequence[float],
    intercept: float,
    log_effect: float,
) -> dict[str, Any]:
    """One simulated cohort: problems drawn from the design, outcome with effect ``log_effect``.

    ``model="logistic"``: 12-month re-referral with log-odds ``intercept + log_effect * x``.
    ``model="cox"``: exponential time to re-referral with log-rate ``intercept + log_effect * x``
    (per year), censored at 1 year.
    """
    x = rng.choice(np.asarray(support, float), n, p=np.asarray(prob, float))
    if model == "logistic":
        y = (rng.random(n) < special.expit(intercept + log_effect * x)).astype(float)
        return {
            "model": "logit",
            "X": np.column_stack([np.ones(n), x]),
            "y": y,
            "names": ["(Intercept)", "n_problems"],
        }
    t = rng.exponential(1.0 / np.exp(intercept + log_effect * x))
    frame = pd.DataFrame(
        {"n_problems": x, "time": np.minimum(t, 1.0), "event": (t <= 1.0).astype(float)}
    )
    return {"model": "cox", "frame": frame, "names": ["n_problems"]}


def calibrated_intercept(
    design: CohortDesign, model: Model, log_effect: float = LOG_EFFECT
) -> float:
    """Intercept giving the design's 12-month event rate when the effect is ``log_effect``."""
    s, p = _cells(design)

    def rate(a: float) -> float:
        if model == "logistic":
            return float(p @ special.expit(a + log_effect * s))
        return float(p @ -np.expm1(-np.exp(a + log_effect * s)))

    return float(optimize.brentq(lambda a: rate(a) - design.event_rate, -30, 10, xtol=1e-12))


def power_study(
    design: CohortDesign,
    n_grid: Mapping[str, Sequence[int]],
    *,
    n_reps: int = 500,
    seed: int = 13,
    log_effect: float = LOG_EFFECT,
) -> Study:
    """Study of power over sample sizes: ``n_grid = {"logistic": [...], "cox": [...]}``."""
    s, p = _cells(design)
    dgms = []
    for model, ns in n_grid.items():
        check_literal("model", model, MODELS)
        a = calibrated_intercept(design, model, log_effect)  # type: ignore[arg-type]
        for n in ns:
            dgms.append(
                DGM(
                    f"{model}[n={int(n)}]",
                    cohort_power_data,
                    {
                        "n": int(n),
                        "model": model,
                        "support": s.tolist(),
                        "prob": p.tolist(),
                        "intercept": a,
                        "log_effect": log_effect,
                    },
                    {"n_problems": log_effect},
                )
            )
    return Study(
        "power_1.3",
        tuple(dgms),
        (Method("study_model", fit_study_model),),
        n_reps=n_reps,
        seed=seed,
    )


def power_table(run: StudyRun, design: CohortDesign) -> pd.DataFrame:
    """Simulated power (with MCSE), mean events and coverage per model and sample size."""
    perf = run.performance()
    rows = []
    for dgm in run.study.dgms:
        r = perf[perf["dgm"] == dgm.name].iloc[0]
        rows.append(
            {
                "model": dgm.params["model"],
                "n": dgm.params["n"],
                "expected_events": dgm.params["n"] * design.event_rate,
                "power": r["power"],
                "power_mcse": r["power_mcse"],
                "coverage": r["coverage"],
                "bias": r["bias"],
                "nonconvergence_rate": r["nonconvergence_rate"],
            }
        )
    return pd.DataFrame(rows)


def required_n(table: pd.DataFrame, model: Model, power: float) -> float:
    """Sample size reaching ``power`` by linear interpolation of the simulated power curve
    (``nan`` when the grid does not bracket it)."""
    t = table[table["model"] == model].sort_values("n")
    ns, pw = t["n"].to_numpy(float), t["power"].to_numpy(float)
    above = np.flatnonzero(pw >= power)
    if not above.size or above[0] == 0:
        return math.nan
    i = above[0]
    return float(ns[i - 1] + (power - pw[i - 1]) * (ns[i] - ns[i - 1]) / (pw[i] - pw[i - 1]))


def default_grid(design: CohortDesign, alpha: float = 0.05) -> dict[str, list[int]]:
    """Sample sizes from 0.6 to 1.8 times the analytic 80%-power size, per model."""
    grid = {}
    for model in MODELS:
        n80 = analytic_sample_size(design, 0.8, model=model, alpha=alpha)["children"]  # type: ignore[arg-type]
        grid[model] = [int(round(n80 * f / 10.0) * 10) for f in (0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8)]
    return grid


def power_report(
    design: CohortDesign,
    *,
    n_reps: int = 1000,
    seed: int = 13,
    n_jobs: int = 1,
    cache_dir: str | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated power curves and the children/events needed for 80% and 90% power.

    Returns ``(curve, needed)``: ``curve`` from :func:`power_table`; ``needed`` one row per
    model and power with the simulated (interpolated) and analytic children and events.
    """
    from recurrence.effects.ademp import run_study

    study = power_study(design, default_grid(design), n_reps=n_reps, seed=seed)
    run = run_study(study, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress)
    curve = power_table(run, design)
    rows = []
    for model in MODELS:
        for target in (0.8, 0.9):
            n_sim = required_n(curve, model, target)  # type: ignore[arg-type]
            ana = analytic_sample_size(design, target, model=model)  # type: ignore[arg-type]
            rows.append(
                {
                    "model": model,
                    "power": target,
                    "children_simulated": n_sim,
                    "events_simulated": n_sim * design.event_rate,
                    "children_analytic": ana["children"],
                    "events_analytic": ana["events"],
                }
            )
    return curve, pd.DataFrame(rows)
