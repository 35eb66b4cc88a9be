"""Random-intercept logistic regression by LA: ``glmer_logit`` against R's ``lme4::glmer``.

The multilevel model of recurrence with an LA random intercept is fitted once per national
data set, so the cost that matters is one fit at national scale (about 650,000 children in need
a year in 152 LAs). This script generates one seeded design per size -- ``n`` rows in 152 groups,
``p`` standard-normal covariates with log-odds ratios from 0.5 to -0.3 (none zero), LA
intercepts with SD 0.4, about 25% events -- and times in the
same run:

* ``recurrence.models.glmm.glmer_logit(..., nagq=1)`` (Laplace) from a data frame, including
  its Hessian-based standard errors;
* R's ``glmer(y ~ x0 + ... + (1 | la), family = binomial, nAGQ = 1)`` followed by ``vcov()``,
  timed inside R (``system.time``, so R's start-up and CSV reading are not counted).

It prints seconds, the ratio (R / ours; > 1 means this package is faster), peak memory of this
process, and the largest differences of the estimates, SEs, sigma and log-likelihood from
glmer's, so that a speed figure never comes without the agreement it was measured at. Usage::

    .venv/bin/python benchmarks/glmm_fits.py [--sizes 50000,650000] [--p 5] [--seed 20100601]
        [--no-peer]
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

from recurrence.models.glmm import glmer_logit

R_CODE = r"""
suppressPackageStartupMessages(library(lme4))
options(digits = 17)
d <- read.csv("%(csv)s", colClasses = c(la = "character"))
f <- as.formula(paste("y ~", paste(grep("^x", names(d), value = TRUE), collapse = " + "),
                      "+ (1 | la)"))
tm <- system.time({
  m <- glmer(f, family = binomial, data = d, nAGQ = 1)
  v <- vcov(m)
})[["elapsed"]]
out <- data.frame(term = names(fixef(m)), estimate = unname(fixef(m)),
                  se = sqrt(diag(as.matrix(v))))
write.csv(out, "%(out)s", row.names = FALSE)
cat(tm, attr(VarCorr(m)$la, "stddev"), as.numeric(logLik(m)), "\n")
"""


def _design(n: int, p: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = 152
    la = rng.integers(0, groups, n)
    u = rng.normal(0.0, 0.4, groups)
    x = rng.normal(size=(n, p))
    eta = -1.2 + x @ np.linspace(0.5, -0.3, p) + u[la]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int8)
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(p)])
    return frame.assign(y=y, la=[f"{800 + g}" for g in la])


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n: int, p: int, seed: int, *, peer: bool = True) -> None:
    """Fit one size with both implementations and print the comparison."""
    frame = _design(n, p, seed)
    covs = [c for c in frame.columns if c.startswith("x")]
    t0 = time.perf_counter()
    fit = glmer_logit(frame, outcome="y", covariates=covs, group="la")
    ours = time.perf_counter() - t0
    print(f"n = {n:,}, p = {p}, 152 groups, events {int(frame['y'].sum()):,}")
    print(f"  glmer_logit (Laplace)   {ours:8.2f} s   peak RSS of this process {_peak_mib():,.0f} MiB"
          f"   sigma {fit.extra['sigma_group']:.6f}   iterations {fit.n_iter}")
    if not peer:
        return
    if not shutil.which("Rscript"):
        print("  Rscript not found: no peer timing")
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "d.csv", Path(tmp) / "fixef.csv"
        frame.to_csv(csv, index=False)
        code = R_CODE % {"csv": csv.as_posix(), "out": out.as_posix()}
        res = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=False)
        if res.returncode != 0 or not res.stdout.split():
            print("  R run failed:", res.stderr.strip().splitlines()[-1:])
            return
        r_time, r_sigma, r_loglik = (float(v) for v in res.stdout.split()[:3])
        ref = pd.read_csv(out).set_index("term")
    est_rel = np.max(np.abs(fit.params.to_numpy() / ref["estimate"].to_numpy() - 1))
    est_se = np.max(np.abs(fit.params.to_numpy() - ref["estimate"].to_numpy()) / ref["se"].to_numpy())
    se_rel = np.max(np.abs(fit.se().to_numpy() / ref["se"].to_numpy() - 1))
    print(f"  R glmer + vcov          {r_time:8.2f} s   sigma {r_sigma:.6f}")
    print(f"  ratio R / ours          {r_time / ours:8.2f}")
    print(f"  agreement: estimates {est_rel:.1e} rel ({est_se:.1e} SEs), SEs {se_rel:.1e} rel, "
          f"sigma {abs(fit.extra['sigma_group'] / r_sigma - 1):.1e} rel, "
          f"log-likelihood ours - R's {fit.loglik - r_loglik:+.1e}")


def main() -> None:
    """Parse the arguments and run each size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50000,650000")
    ap.add_argument("--p", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20100601)
    ap.add_argument("--no-peer", action="store_true", help="time this package only (no R run)")
    args = ap.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        run(n, args.p, args.seed, peer=not args.no_peer)


if __name__ == "__main__":
    main()
