"""Kaplan-Meier, Aalen-Johansen and Fine-Gray: this package against R on the same files.

Generates seeded competing-risks data (times in whole days, so many ties), writes it to a
temporary CSV, then times in the same run:

* ``kaplan_meier`` against ``survfit(Surv(t, e) ~ 1)``;
* ``aalen_johansen`` (IJ variance in O(n + times)) against ``survfit(Surv(t, factor(s)) ~ 1)``;
* ``fine_gray`` against ``cmprsk::crr`` (crr's variance is O(n^2) or worse, so it runs on a
  subsample of ``--n-crr`` rows).

Prints seconds and ratios (R / ours). Usage::

    .venv/bin/python benchmarks/survival_curves.py [--n 200000] [--n-crr 4000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recurrence.models.cuminc import aalen_johansen
from recurrence.models.finegray import fine_gray
from recurrence.models.km import kaplan_meier

R_CODE = r"""
suppressPackageStartupMessages({library(survival); library(cmprsk)})
d <- read.csv("%(big)s"); d$f <- factor(d$s, 0:2); d$e <- as.integer(d$s > 0)
s <- read.csv("%(small)s")
a <- system.time(survfit(Surv(t, e) ~ 1, data = d))[["elapsed"]]
b <- system.time(survfit(Surv(t, f) ~ 1, data = d))[["elapsed"]]
c <- system.time(crr(s$t, s$s, cov1 = cbind(s$x1, s$x2), failcode = 1, cencode = 0))[["elapsed"]]
cat(a, b, c, "\n")
"""


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    """Run the comparison and print seconds and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--n-crr", type=int, default=4000)
    args = ap.parse_args()
    rng = np.random.default_rng(20240601)
    n = args.n
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, n)
    t1 = rng.exponential(400 * np.exp(-0.4 * x1), n)
    t2 = rng.exponential(600 * np.exp(0.3 * x2), n)
    tc = rng.uniform(30, 1500, n)
    tt = np.minimum(np.minimum(t1, t2), tc)
    s = np.where(tt == tc, 0, np.where(tt == t1, 1, 2))
    big = pd.DataFrame({"t": np.ceil(tt), "s": s, "x1": x1.round(4), "x2": x2})
    small = big.iloc[: args.n_crr]
    ours = {
        "KM": _time(lambda: kaplan_meier(big.assign(e=(big["s"] > 0).astype(int)),
                                         time="t", event="e")),
        "Aalen-Johansen": _time(lambda: aalen_johansen(big, time="t", status="s")),
        "Fine-Gray": _time(lambda: fine_gray(small, time="t", status="s",
                                             covariates=["x1", "x2"])),
    }
    theirs: dict[str, float] = {}
    if shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            pb, ps = Path(tmp) / "big.csv", Path(tmp) / "small.csv"
            big.to_csv(pb, index=False)
            small.to_csv(ps, index=False)
            res = subprocess.run(
                ["Rscript", "-e", R_CODE % {"big": pb.as_posix(), "small": ps.as_posix()}],
                capture_output=True, text=True, check=False,
            )
            if res.returncode == 0 and res.stdout.split():
                a, b, c = (float(v) for v in res.stdout.split()[:3])
                theirs = {"KM": a, "Aalen-Johansen": b, "Fine-Gray": c}
            else:
                print("R run failed:", res.stderr.strip().splitlines()[-1:])
    print(f"n = {n} ({big['t'].nunique()} distinct times); Fine-Gray on {len(small)} rows")
    for k, v in ours.items():
        line = f"  {k:<15} ours {v:8.3f} s"
        if k in theirs:
            line += f"   R {theirs[k]:8.3f} s   R/ours {theirs[k] / max(v, 1e-9):7.1f}"
        print(line)


if __name__ == "__main__":
    main()
