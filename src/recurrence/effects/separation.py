"""The 770x claim (Fuller & Wells 2003): separation, Firth, and the sample size it would need.

Fuller & Wells (2003) report that children whose caretakers were at 'high risk' of criminal
activity were 770 times more likely to be re-reported within 60 days, from 95 investigations
with about 25 re-reports. An odds ratio of 770 at a 26% event rate means almost every
high-risk family is re-reported: with about 10 such families among 95, the chance that all of
them are events -- quasi-complete separation, where the maximum-likelihood estimate is
infinite -- is large, and when the fit does converge its interval spans orders of magnitude.

:func:`separation_study` places the claim as truth in the study's design
(:func:`recurrence.effects.scenarios.scenarios` ``fullerwells2003_cohort``) and varies the
sample size; each replicate is fitted by maximum likelihood (which raises
:class:`recurrence.errors.SeparationError`, recorded as non-convergence) and by Firth's
penalised likelihood (always finite). :func:`separation_summary` reports, per sample size, the
separation rate, what Firth returns, and the width of the intervals; :func:`estimable_n` is the
smallest sample size at which the OR is estimable with a useful interval (separation in at most
5% of studies and a median 95% interval whose upper/lower ratio is at most 10 -- the OR known
to within about a factor of 3 either way).

:func:`prob_all_exposed_are_events` gives the exact probability of the simplest separation
pattern (every exposed subject an event) as a check on the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import special

from recurrence.effects.ademp import DGM, Method, Study, StudyRun
from recurrence.effects.scenarios import (
    _linear,
    covariate_cells,
    fit_firth,
    fit_study_model,
    scenarios,
)

N_GRID: tuple[int, ...] = (95, 190, 380, 760, 1520, 3040, 6080)
"""Sample sizes of the separation study: the study's 95, doubled six times."""

ESTIMAND = "criminal_high_risk"


def separation_study(
    n_grid: Sequence[int] = N_GRID, *, n_reps: int = 200, seed: int = 770, chunk_size: int = 50
) -> Study:
    """The Fuller & Wells (2003) design at each sample size of ``n_grid``, ML and Firth fits."""
    base = scenarios()["fullerwells2003_cohort"].dgm
    dgms = tuple(
        replace(base, name=f"fullerwells2003[n={n}]", params=dict(base.params) | {"n": int(n)})
        for n in n_grid
    )
    return Study(
        "separation_770",
        dgms,
        (Method("ml", fit_study_model), Method("firth", fit_firth)),
        n_reps=n_reps,
        seed=seed,
        chunk_size=chunk_size,
    )


def prob_all_exposed_are_events(dgm: DGM, exposure: str = ESTIMAND) -> float:
    """Exact probability that every exposed subject is an event (quasi-complete separation).

    Subjects are independent, so this is ``(1 - P(exposed and no event)) ** n``. It is a lower
    bound on the separation rate: other patterns (e.g. among the unexposed) add to it.
    """
    p = dgm.params
    names, cells, prob = covariate_cells(p["covariates"])
    risk = special.expit(p["intercept"] + _linear(cells, names, p["betas"]))
    j = names.index(exposure)
    exposed_no_event = float(np.sum(prob * (cells[:, j] == 1) * (1 - risk)))
    return (1.0 - exposed_no_event) ** int(p["n"])


def separation_summary(run: StudyRun, *, useful_ratio: float = 10.0) -> pd.DataFrame:
    """Per sample size: separation rate, Firth's answer and interval widths for the 770 claim.

    Columns: ``n``; ``separation_rate`` (share of ML fits failing with separation or
    non-convergence) and its MCSE; ``prob_all_exposed_events`` (exact, see above);
    ``ml_median_or`` and ``ml_median_ci_ratio`` (upper/lower of the 95% Wald interval, among
    converged fits); ``firth_median_or``, ``firth_or_p2_5``, ``firth_or_p97_5`` (the spread of
    Firth's estimates over studies), ``firth_median_ci_ratio``, ``firth_coverage``;
    ``estimable`` (separation rate <= 5% and ML median CI ratio <= ``useful_ratio``).
    """
    reps = run.replicates[run.replicates["estimand"] == ESTIMAND]
    true = math.exp(run.study.dgms[0].truth[ESTIMAND])
    rows = []
    for dgm in run.study.dgms:
        n = int(dgm.params["n"])
        ml = reps[(reps["dgm"] == dgm.name) & (reps["method"] == "ml")]
        fi = reps[(reps["dgm"] == dgm.name) & (reps["method"] == "firth")]
        ok = ml["converged"].astype(bool) & np.isfinite(ml["estimate"])
        sep = 1.0 - float(ok.mean())
        ml_ok = ml[ok]
        fi_ok = fi[fi["converged"].astype(bool) & np.isfinite(fi["estimate"])]
        f_or = np.exp(fi_ok["estimate"].to_numpy(float))
        f_lo = np.exp(fi_ok["ci_lower"].to_numpy(float))
        f_hi = np.exp(fi_ok["ci_upper"].to_numpy(float))
        ml_ratio = (
            float(np.median(np.exp(ml_ok["ci_upper"] - ml_ok["ci_lower"])))
            if len(ml_ok)
            else math.inf
        )
        rows.append(
            {
                "n": n,
                "n_reps": len(ml),
                "separation_rate": sep,
                "separation_rate_mcse": math.sqrt(sep * (1 - sep) / max(1, len(ml))),
                "prob_all_exposed_events": prob_all_exposed_are_events(dgm),
                "ml_median_or": float(np.median(np.exp(ml_ok["estimate"])))
                if len(ml_ok)
                else math.nan,
                "ml_median_ci_ratio": ml_ratio,
                "firth_median_or": float(np.median(f_or)) if f_or.size else math.nan,
                "firth_or_p2_5": float(np.quantile(f_or, 0.025)) if f_or.size else math.nan,
                "firth_or_p97_5": float(np.quantile(f_or, 0.975)) if f_or.size else math.nan,
                "firth_median_ci_ratio": float(np.median(f_hi / f_lo)) if f_or.size else math.nan,
                "firth_coverage": float(np.mean((f_lo <= true) & (true <= f_hi)))
                if f_or.size
                else math.nan,
                "estimable": bool(sep <= 0.05 and ml_ratio <= useful_ratio),
            }
        )
    return pd.DataFrame(rows)


def estimable_n(summary: pd.DataFrame) -> int | None:
    """Smallest ``n`` of the grid from which the OR is estimable at every larger ``n`` too."""
    ok = summary.sort_values("n")["estimable"].to_numpy(bool)
    ns = summary.sort_values("n")["n"].to_numpy(int)
    for i in range(len(ns)):
        if ok[i:].all():
            return int(ns[i])
    return None
