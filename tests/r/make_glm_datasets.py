"""Write the deterministic synthetic datasets behind the logistic and survival R references.

Run from the repository root: ``.venv/bin/python tests/r/make_glm_datasets.py``; then
``Rscript tests/r/glm_reference.R`` (and the other ``tests/r/{glm,glmm,km,cr,disc}_*.R``
scripts) write ``tests/r/ref/*.csv``. Both outputs are committed so that CI needs no R.

Datasets (all synthetic, no real child data):

* ``glm_la.csv``: 3,000 referrals in 30 local authorities and ~1,200 families, logistic outcome
  with an LA random intercept (SD 0.5) -- for GLM with CR1/CR2 by LA or family, GEE and glmer.
* ``glm_small.csv``: 400 rows in 8 clusters -- the small-number-of-clusters case for CR2.
* ``glm_sep.csv``: 60 rows where ``x`` quasi-completely separates ``y`` -- for Firth.
* ``glm_sparse.csv``: 120 rows, rare outcome, no separation -- Firth vs ML in a sparse design.
* ``km_ties.csv``: 300 survival times rounded to months (many ties), two groups.
* ``cr.csv``: 400 competing-risks times (cause 1, cause 2, censored) with covariates, untied.
* ``cr_ties.csv``: the same rounded to whole units (ties across causes).
* ``disc.csv``: 500 discrete survival times (periods 1..8) for the person-period models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "data"


def _write(frame: pd.DataFrame, name: str) -> None:
    frame.to_csv(OUT / name, index=False, float_format="%.10g", lineterminator="\n")


def main() -> None:
    """Write every dataset (idempotent: the same bytes on every run)."""
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240601)

    # LA-clustered logistic design.
    n, n_la = 3000, 30
    la = rng.integers(0, n_la, n)
    u_la = rng.normal(0, 0.5, n_la)
    family = rng.integers(0, 1200, n)
    age = rng.uniform(0, 17, n).round(2)
    female = rng.integers(0, 2, n)
    n_pp = rng.poisson(1.2, n)
    eta = -1.2 + 0.04 * age - 0.2 * female + 0.35 * n_pp + u_la[la]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    _write(
        pd.DataFrame(
            {
                "y": y,
                "age": age,
                "female": female,
                "n_pp": n_pp,
                "la_code": [f"{800 + k}" for k in la],
                "family_id": family,
            }
        ),
        "glm_la.csv",
    )

    # Few clusters (8) of unequal size.
    n = 400
    cl = np.sort(rng.choice(8, n, p=[0.3, 0.2, 0.12, 0.1, 0.1, 0.08, 0.06, 0.04]))
    x1 = rng.normal(size=n).round(4) + 0.3 * cl
    x2 = rng.integers(0, 2, n)
    eta = -0.5 + 0.6 * x1 - 0.4 * x2 + rng.normal(0, 0.4, 8)[cl]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    _write(pd.DataFrame({"y": y, "x1": x1, "x2": x2, "cluster": cl + 1}), "glm_small.csv")

    # Quasi-complete separation: every x == 1 has y == 1.
    n = 60
    x = np.r_[np.ones(12, int), np.zeros(48, int)]
    z = rng.normal(size=n).round(4)
    y = np.where(x == 1, 1, (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 0.8 * z)))).astype(int))
    _write(pd.DataFrame({"y": y, "x": x, "z": z}), "glm_sep.csv")

    # Sparse but overlapping.
    n = 120
    a = rng.normal(size=n).round(4)
    b = rng.integers(0, 2, n)
    eta = -2.5 + 0.7 * a + 0.9 * b
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    _write(pd.DataFrame({"y": y, "a": a, "b": b}), "glm_sparse.csv")

    # Kaplan-Meier with ties.
    n = 300
    grp = rng.integers(0, 2, n)
    t_ev = rng.weibull(1.3, n) * np.where(grp == 1, 20.0, 30.0)
    t_c = rng.uniform(2, 40, n)
    time = np.ceil(np.minimum(t_ev, t_c))
    status = (t_ev <= t_c).astype(int)
    _write(pd.DataFrame({"time": time, "status": status, "group": grp}), "km_ties.csv")

    # Competing risks.
    n = 400
    x1 = rng.normal(size=n).round(4)
    x2 = rng.integers(0, 2, n)
    h1 = 0.08 * np.exp(0.5 * x1 - 0.3 * x2)
    h2 = 0.05 * np.exp(-0.2 * x1 + 0.4 * x2)
    t1 = rng.exponential(1 / h1)
    t2 = rng.exponential(1 / h2)
    tc = rng.uniform(1, 30, n)
    tt = np.minimum(np.minimum(t1, t2), tc)
    status = np.where(tt == tc, 0, np.where(tt == t1, 1, 2))
    cr = pd.DataFrame({"time": tt.round(6), "status": status, "x1": x1, "x2": x2})
    _write(cr, "cr.csv")
    cr_t = cr.assign(time=np.ceil(cr["time"]))
    _write(cr_t, "cr_ties.csv")

    # Discrete time: periods 1..8.
    n = 500
    xd = rng.normal(size=n).round(4)
    gd = rng.integers(0, 2, n)
    base = np.array([0.05, 0.08, 0.1, 0.1, 0.12, 0.1, 0.08, 0.08])
    time = np.full(n, 8)
    event = np.zeros(n, int)
    alive = np.ones(n, bool)
    cens = rng.integers(3, 9, n)
    for t in range(8):
        h = 1 / (1 + np.exp(-(np.log(base[t] / (1 - base[t])) + 0.5 * xd + 0.3 * gd)))
        hit = alive & (rng.random(n) < h) & (t + 1 <= cens)
        time[hit] = t + 1
        event[hit] = 1
        alive &= ~hit
    time[alive] = np.minimum(cens[alive], 8)
    _write(
        pd.DataFrame({"id": np.arange(1, n + 1), "time": time, "event": event, "x": xd, "g": gd}),
        "disc.csv",
    )


if __name__ == "__main__":
    main()
