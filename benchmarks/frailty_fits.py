"""Shared gamma frailty Cox model: ``frailty_coxph`` against R's ``coxph(... + frailty(g))``.

Recurrence clusters in families, so the frailty group is usually small (siblings, two or three
children) and there are many of them; an LA frailty has few groups and many rows. This script
generates one seeded data set per design -- ``G`` groups of ``m`` children, one standard-normal
covariate with log hazard ratio 0.5, gamma frailties with variance 0.5, event times in whole
days-like units (ties) and uniform censoring -- and times in the same run:

* ``recurrence.models.cox.frailty_coxph`` (gamma frailty, Efron ties) from a data frame,
  including the theta search and the standard errors;
* R ``survival::coxph(Surv(time, status) ~ x1 + frailty(grp))`` (its defaults: gamma, sparse
  computation, ``eps = 1e-9`` inner and 1e-5 outer), timed inside R (``system.time``, so R's
  start-up and CSV reading are not counted).

It prints seconds, the ratio (R / ours; > 1 means this package is faster), peak memory of this
process, and the differences of theta, the coefficient and its SE from R's, so that a speed
figure never comes without the agreement it was measured at (R's default inner tolerance stops
about 1e-6 short of the penalised optimum; the tests compare against R run to 1e-12). Usage::

    .venv/bin/python benchmarks/frailty_fits.py [--designs 800x3,5000x3,20000x3,150x200]
        [--seed 20100601] [--no-peer]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recurrence.models.cox import frailty_coxph

R_CODE = r"""
suppressPackageStartupMessages(library(survival))
options(digits = 17)
d <- read.csv("%(csv)s")
tm <- system.time(f <- coxph(Surv(time, status) ~ x1 + frailty(grp), data = d))[["elapsed"]]
h <- f$history[[1]]$history
cat(tm, h[nrow(h), "theta"], unname(coef(f)[1]), sqrt(f$var[1, 1]), "\n")
"""


def _design(groups: int, size: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), size)
    z = rng.gamma(2.0, 0.5, groups)[g]  # mean 1, variance 0.5
    x1 = rng.normal(size=len(g))
    t = np.ceil(rng.exponential(1.0 / (0.1 * z * np.exp(0.5 * x1))))
    c = np.ceil(rng.uniform(2, 20, len(g)))
    return pd.DataFrame(
        {"grp": g, "x1": x1, "time": np.minimum(t, c), "status": (t <= c).astype(int)}
    )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(groups: int, size: int, seed: int, *, peer: bool = True) -> None:
    """Fit one design with both implementations and print the comparison."""
    frame = _design(groups, size, seed)
    t0 = time.perf_counter()
    fit = frailty_coxph(frame, covariates=["x1"], time="time", event="status", group="grp")
    ours = time.perf_counter() - t0
    theta, coef, se = fit.extra["theta"], float(fit.params.iloc[0]), float(fit.se().iloc[0])
    print(f"{groups:,} groups of {size} ({len(frame):,} rows, {int(frame['status'].sum()):,} events)")
    print(f"  frailty_coxph       {ours:8.2f} s   peak RSS of this process {_peak_mib():,.0f} MiB"
          f"   theta {theta:.6f}   coef {coef:.8f}   outer iterations {fit.n_iter}")
    if not peer:
        return
    if not shutil.which("Rscript"):
        print("  Rscript not found: no peer timing")
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        frame.to_csv(csv, index=False)
        res = subprocess.run(["Rscript", "-e", R_CODE % {"csv": csv.as_posix()}],
                             capture_output=True, text=True, check=False)
    if res.returncode != 0 or not res.stdout.split():
        print("  R run failed:", res.stderr.strip().splitlines()[-1:])
        return
    r_time, r_theta, r_coef, r_se = (float(v) for v in res.stdout.split()[:4])
    print(f"  R coxph + frailty   {r_time:8.2f} s   theta {r_theta:.6f}   coef {r_coef:.8f}")
    print(f"  ratio R / ours      {r_time / ours:8.2f}")
    print(f"  agreement: theta {abs(theta / r_theta - 1):.1e} rel, coef {abs(coef / r_coef - 1):.1e} "
          f"rel, SE {abs(se / r_se - 1):.1e} rel")


def main() -> None:
    """Parse the arguments and run each design."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", default="800x3,5000x3,20000x3,150x200",
                    help="comma-separated GROUPSxSIZE designs")
    ap.add_argument("--seed", type=int, default=20100601)
    ap.add_argument("--no-peer", action="store_true", help="time this package only (no R run)")
    args = ap.parse_args()
    for design in args.designs.split(","):
        groups, size = (int(v) for v in design.lower().split("x"))
        run(groups, size, args.seed, peer=not args.no_peer)


if __name__ == "__main__":
    main()
