"""Per-fit cost of the logistic models, against statsmodels and (when Rscript is present) R.

Callers such as the simulation engine refit logistic and Firth models thousands of times, so the
per-fit overhead matters. This script generates one synthetic design (seeded), then times in the
same run:

* ``recurrence.models.logistic.logit_arrays`` and ``logit`` (frame input) against
  ``statsmodels.GLM(..., Binomial()).fit()`` and R's ``glm``;
* ``recurrence.models.firth.firth_logit_arrays`` (estimates only) against R's
  ``brglm2::brglm_fit(type = "AS_mean")``;
* ``logit`` with CR1 cluster-robust SEs against R's ``glm`` + ``sandwich::vcovCL``.

It prints the median seconds per fit and the ratios. Usage::

    .venv/bin/python benchmarks/logistic_fits.py [--n 5000] [--p 5] [--reps 50]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

from recurrence.models.firth import firth_logit_arrays
from recurrence.models.logistic import logit, logit_arrays


def _median_time(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return float(np.median(out))


R_CODE = r"""
suppressPackageStartupMessages({library(sandwich); library(brglm2)})
d <- read.csv("%(csv)s", colClasses = c(la = "character"))
f <- as.formula(paste("y ~", paste(grep("^x", names(d), value = TRUE), collapse = " + ")))
reps <- %(reps)d
tm <- function(e) {
  e <- substitute(e); env <- parent.frame(); eval(e, env)
  median(replicate(reps, system.time(eval(e, env))[["elapsed"]]))
}
a <- tm(glm(f, family = binomial, data = d))
b <- tm(glm(f, family = binomial, data = d, method = "brglm_fit", type = "AS_mean"))
c <- tm({m <- glm(f, family = binomial, data = d); vcovCL(m, cluster = ~la, type = "HC1")})
cat(a, b, c, "\n")
"""


def main() -> None:
    """Run the benchmark and print a table of median times and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--p", type=int, default=5)
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args()
    rng = np.random.default_rng(20240601)
    X = rng.normal(size=(args.n, args.p))
    la = rng.integers(0, 30, args.n)
    eta = -1 + X @ np.linspace(0.5, -0.5, args.p)
    y = (rng.random(args.n) < 1 / (1 + np.exp(-eta))).astype(float)
    names = ["(Intercept)"] + [f"x{j}" for j in range(args.p)]
    Xi = np.column_stack([np.ones(args.n), X])
    frame = pd.DataFrame(X, columns=names[1:]).assign(y=y, la=[f"{800 + k}" for k in la])

    rows = {
        "logit (arrays)": _median_time(lambda: logit_arrays(Xi, y, names), args.reps),
        "logit (frame)": _median_time(
            lambda: logit(frame, outcome="y", covariates=names[1:]), args.reps
        ),
        "statsmodels GLM": _median_time(
            lambda: sm.GLM(y, Xi, family=sm.families.Binomial()).fit(), args.reps
        ),
        "firth (arrays)": _median_time(lambda: firth_logit_arrays(Xi, y, names), args.reps),
        "logit CR1 (frame)": _median_time(
            lambda: logit(frame, outcome="y", covariates=names[1:], cluster="la"), args.reps
        ),
    }
    r_times: dict[str, float] = {}
    if shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "d.csv"
            frame.to_csv(csv, index=False)
            code = R_CODE % {"csv": csv.as_posix(), "reps": args.reps}
            res = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True,
                                 check=False)
            if res.returncode == 0 and res.stdout.split():
                a, b, c = (float(v) for v in res.stdout.split()[:3])
                r_times = {"R glm": a, "R brglm2 AS_mean": b, "R glm + vcovCL": c}
            else:
                print("R run failed:", res.stderr.strip().splitlines()[-1:])
    print(f"n = {args.n}, p = {args.p}, median of {args.reps} fits (seconds per fit)")
    for k, v in {**rows, **r_times}.items():
        print(f"  {k:<22} {v:.5f}")
    print("ratios (peer time / ours; > 1 means we are faster)")
    print(f"  statsmodels GLM / logit arrays: {rows['statsmodels GLM'] / rows['logit (arrays)']:.1f}")
    if r_times:
        print(f"  R glm / logit arrays:           {r_times['R glm'] / rows['logit (arrays)']:.1f}")
        print(f"  R glm / logit frame:            {r_times['R glm'] / rows['logit (frame)']:.1f}")
        print(f"  R brglm2 / firth arrays:        "
              f"{r_times['R brglm2 AS_mean'] / rows['firth (arrays)']:.1f}")
        print(f"  R glm+vcovCL / logit CR1 frame: "
              f"{r_times['R glm + vcovCL'] / rows['logit CR1 (frame)']:.1f}")
    print("note: R's system.time has 1 ms resolution; use --n 50000 for larger, stabler timings")


if __name__ == "__main__":
    main()
