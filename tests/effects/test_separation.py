"""The 770x claim: separation rates, Firth, estimable sample size."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from recurrence.effects.ademp import resolve, run_study
from recurrence.effects.separation import (
    estimable_n,
    prob_all_exposed_are_events,
    separation_study,
    separation_summary,
)


def test_exact_probability_matches_direct_simulation() -> None:
    dgm = separation_study((95,), n_reps=1).dgms[0]
    gen = resolve(dgm.generate)
    rng = np.random.default_rng(0)
    names = list(dgm.params["covariates"])
    col = 1 + names.index("criminal_high_risk")
    hits = 0
    reps = 2000
    for _ in range(reps):
        d = gen(rng, **dgm.params)
        exposed = d["X"][:, col] == 1
        hits += bool(np.all(d["y"][exposed] == 1))
    p = prob_all_exposed_are_events(dgm)
    assert abs(hits / reps - p) < 4 * math.sqrt(p * (1 - p) / reps)


def test_separation_is_common_at_95_and_rare_at_1520() -> None:
    run = run_study(separation_study((95, 1520), n_reps=30), progress=False)
    s = separation_summary(run)
    small, large = s.iloc[0], s.iloc[1]
    # ML fails at least as often as the simplest pattern predicts (allow 4 MCSE)
    assert small["separation_rate"] >= small["prob_all_exposed_events"] - 4 * math.sqrt(0.25 / 30)
    assert small["separation_rate"] > 0.5 > large["separation_rate"]
    # Firth always returns a finite estimate, shrunk far below 770 at n = 95
    firth = run.replicates[run.replicates["method"] == "firth"]
    assert firth["converged"].all() and np.isfinite(firth["estimate"]).all()
    assert small["firth_median_or"] < 770 and small["firth_median_ci_ratio"] > 50
    assert large["ml_median_ci_ratio"] < small["firth_median_ci_ratio"]


def test_estimable_n_requires_all_larger_sizes_estimable() -> None:
    s = pd.DataFrame({"n": [95, 190, 380, 760], "estimable": [False, True, False, True]})
    assert estimable_n(s) == 760
    assert estimable_n(s.assign(estimable=False)) is None
