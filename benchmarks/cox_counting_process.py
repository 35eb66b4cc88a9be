"""Benchmark: counting-process Cox of this package against R survival::coxph and lifelines.

Two problems, generated here (seeded) and written to CSV so every engine fits the same rows:

1. Andersen-Gill Cox on ``--rows`` ``(start, stop]`` intervals (5 per child, whole-day times,
   so with ties) x ``--covariates`` covariates, Efron ties, robust SE clustered by LA (150 LAs).
   Goal (issue 4): at most 1/5 of R's time.
2. Efron Cox on ``--rows`` right-censored rows with distinct (untied) times. Goal: at most 1/3
   of R's time.

Each engine's fit is timed alone (reading the CSV is not timed). This package runs in a child
process so its peak resident memory (``ru_maxrss``, includes reading the CSV) is reported; the
goal is at most 4 GiB. R runs when ``Rscript`` is on PATH (``--no-r`` skips it). lifelines is
slow at this size, so it runs on a random subsample of ``--lifelines-rows`` rows (default
100,000; 0 skips it) and the report says so.

Measured on the development machine (2 cores shared with other jobs, load average ~12, so all
times are inflated; 2026-11-27, default options, lifelines on 50,000 rows)::

    AG, 1,000,000 intervals x 10, clustered SE: recurrence 15.2 s, R 112.8 s  -> ratio 0.134
        (goal <= 0.2), peak RSS 0.79 GiB; lifelines 89.5 s on 50,000 rows
    Efron, 1,000,000 untied rows x 10:         recurrence 7.4 s,  R 31.2 s   -> ratio 0.237
        (goal <= 0.333), peak RSS 0.92 GiB; lifelines 11.4 s on 50,000 rows
    Largest coefficient difference from R: 4e-11 (AG), 7e-10 (untied).

What limits it: per Newton iteration, two weighted ``bincount`` passes over all rows per
covariate (risk-set sums) and one ``n x p`` BLAS product (information); with few Newton
iterations (3 here) the one-off sorting in ``engine.prepare`` is about a quarter of the time.

Usage::

    .venv/bin/python benchmarks/cox_counting_process.py               # 1,000,000 rows
    .venv/bin/python benchmarks/cox_counting_process.py --rows 100000 # quick check
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[2])
covs <- grep("^x", names(d), value = TRUE)
if (args[1] == "ag") {
  f <- as.formula(paste("Surv(start, stop, event) ~", paste(covs, collapse = " + ")))
  el <- system.time(fit <- coxph(f, data = d, cluster = la, ties = "efron"))[["elapsed"]]
} else {
  f <- as.formula(paste("Surv(time, event) ~", paste(covs, collapse = " + ")))
  el <- system.time(fit <- coxph(f, data = d, ties = "efron"))[["elapsed"]]
}
cat(sprintf("%.6f\n", el))
cat(paste(sprintf("%.10g", coef(fit)), collapse = ","), "\n")
"""


def make_ag(rows: int, p: int, seed: int) -> pd.DataFrame:
    """Counting-process data: 5 intervals per child with a time-varying covariate block."""
    rng = np.random.default_rng(seed)
    n_child = rows // 5
    n = n_child * 5
    child = np.repeat(np.arange(n_child), 5)
    x = rng.normal(size=(n, p))
    beta = np.linspace(-0.3, 0.3, p)
    length = rng.integers(20, 200, n).astype(np.float64)
    # intervals of a child follow each other; start at 0
    stop = pd.Series(length).groupby(child).cumsum().to_numpy()
    start = stop - length
    rate = np.exp(-5.5 + x @ beta)
    event = (rng.random(n) < 1 - np.exp(-rate * length)).astype(np.int64)
    df = pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(p)])
    df.insert(0, "start", start)
    df.insert(1, "stop", stop)
    df.insert(2, "event", event)
    df["id"] = child
    df["la"] = child % 150
    return df


def make_untied(rows: int, p: int, seed: int) -> pd.DataFrame:
    """Right-censored data with distinct continuous times."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, p))
    beta = np.linspace(-0.3, 0.3, p)
    t = rng.exponential(1 / np.exp(x @ beta))
    c = rng.exponential(1.5, rows)
    time_ = np.minimum(t, c) + rng.uniform(0, 1e-6, rows)  # break any ties at print precision
    df = pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(p)])
    df.insert(0, "time", np.round(time_, 10))
    df.insert(1, "event", (t <= c).astype(np.int64))
    return df


def worker(kind: str, path: str) -> None:
    """Child process: fit with this package, print elapsed seconds, peak RSS and coefficients."""
    from recurrence.models.cox import coxph

    d = pd.read_csv(path)
    covs = [c for c in d.columns if c.startswith("x")]
    t0 = time.perf_counter()
    if kind == "ag":
        res = coxph(d, covariates=covs, event="event", time="stop", start="start", cluster="la")
    else:
        res = coxph(d, covariates=covs, event="event", time="time")
    el = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"elapsed": el, "rss": rss, "coef": res.params.tolist(), "iter": res.n_iter}))


def run_ours(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_r(kind: str, path: Path, tmp: Path) -> tuple[float, list[float]] | None:
    if shutil.which("Rscript") is None:
        return None
    script = tmp / "bench.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(
        ["Rscript", str(script), kind, str(path)], check=True, capture_output=True, text=True
    )
    lines = out.stdout.strip().splitlines()
    return float(lines[0]), [float(v) for v in lines[1].split(",")]


def run_lifelines(kind: str, d: pd.DataFrame, n_sub: int, seed: int) -> tuple[float, int]:
    from lifelines import CoxPHFitter, CoxTimeVaryingFitter

    rng = np.random.default_rng(seed)
    if kind == "ag":
        ids = d["id"].unique()
        keep = rng.choice(ids, size=min(len(ids), max(1, n_sub // 5)), replace=False)
        sub = d[d["id"].isin(keep)]
        cols = [c for c in d.columns if c.startswith("x")] + ["id", "start", "stop", "event"]
        t0 = time.perf_counter()
        CoxTimeVaryingFitter().fit(
            sub[cols], id_col="id", event_col="event", start_col="start", stop_col="stop"
        )
    else:
        sub = d.sample(n=min(len(d), n_sub), random_state=seed)
        t0 = time.perf_counter()
        CoxPHFitter().fit(sub, duration_col="time", event_col="event")
    return time.perf_counter() - t0, len(sub)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows (intervals) per problem")
    ap.add_argument("--covariates", type=int, default=10, help="covariates in the AG problem")
    ap.add_argument("--untied-covariates", type=int, default=10, help="covariates, untied problem")
    ap.add_argument("--lifelines-rows", type=int, default=100_000, help="lifelines subsample; 0 skips")
    ap.add_argument("--no-r", action="store_true", help="skip R even when Rscript is present")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(*a.worker)
        return
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        problems = {
            "ag": (make_ag(a.rows, a.covariates, a.seed), "AG Cox, clustered SE (goal <= 1/5 of R)"),
            "untied": (
                make_untied(a.rows, a.untied_covariates, a.seed + 1),
                "Efron Cox, untied times (goal <= 1/3 of R)",
            ),
        }
        for kind, (d, label) in problems.items():
            path = tmp / f"{kind}.csv"
            d.to_csv(path, index=False)
            p = sum(c.startswith("x") for c in d.columns)
            print(f"\n== {label}: {len(d):,} rows x {p} covariates, {int(d['event'].sum()):,} events")
            ours = run_ours(kind, path)
            print(
                f"recurrence : {ours['elapsed']:8.2f} s   peak RSS {ours['rss'] / 2**30:.2f} GiB"
                f"   ({ours['iter']} Newton iterations)"
            )
            r = None if a.no_r else run_r(kind, path, tmp)
            if r is None:
                print("R survival : not run (Rscript absent or --no-r)")
            else:
                diff = float(np.max(np.abs(np.asarray(r[1]) - np.asarray(ours["coef"]))))
                print(
                    f"R survival : {r[0]:8.2f} s   ratio recurrence/R = {ours['elapsed'] / r[0]:.3f}"
                    f"   max |coef difference| = {diff:.2e}"
                )
            if a.lifelines_rows > 0:
                el, n_sub = run_lifelines(kind, d, a.lifelines_rows, a.seed)
                print(
                    f"lifelines  : {el:8.2f} s on a subsample of {n_sub:,} rows "
                    f"(x{len(d) / n_sub:.1f} fewer rows than the others)"
                )


if __name__ == "__main__":
    main()
