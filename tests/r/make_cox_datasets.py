"""Write the synthetic datasets of the Cox reference tests to tests/r/data/cox_*.csv.

Deterministic (numpy Generator with fixed seeds); run from the repository root:
``.venv/bin/python tests/r/make_cox_datasets.py``, then ``Rscript tests/r/cox_reference.R``.
All data are simulated; no child-level records.

Datasets
--------
cox_right.csv
    400 subjects, right-censored, times rounded to whole days (many ties); covariates x1
    (normal), x2 (0/1), x3 (age-like, not centred); strata ``s`` (3 levels), case weights ``w``,
    ``la`` (30 clusters, as local authorities).
cox_untied.csv
    Same design, continuous distinct times (no ties).
cox_recurrent.csv
    300 children followed up to 1000 days with recurrent events in counting-process form:
    ``(start, stop]`` intervals split at each event and at a change of the time-varying
    covariate ``tv``; ``enum`` event number (stratum for PWP), ``gap`` = stop - start,
    ``id`` child and ``la`` (30 clusters). Whole-day times, so there are ties.
cox_frailty.csv
    60 families of 3-8 children with a shared gamma frailty (variance 0.5) on the hazard.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "data"


def right_censored(seed: int, tied: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, n)
    x3 = rng.uniform(0, 17, n)
    s = rng.integers(0, 3, n)
    la = rng.integers(0, 30, n)
    la_eff = rng.normal(scale=0.4, size=30)[la]
    eta = 0.5 * x1 - 0.4 * x2 + 0.05 * x3 + la_eff
    base = np.array([1 / 300, 1 / 500, 1 / 800])[s]
    t = rng.exponential(1 / (base * np.exp(eta)))
    c = rng.uniform(50, 900, n)
    time = np.minimum(t, c)
    time = np.ceil(time) if tied else np.round(time, 6)
    return pd.DataFrame(
        {
            "time": time,
            "status": (t <= c).astype(int),
            "x1": np.round(x1, 6),
            "x2": x2,
            "x3": np.round(x3, 4),
            "s": s,
            "w": np.round(rng.uniform(0.5, 2.0, n), 4),
            "la": la + 1,
        }
    )


def recurrent(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, follow = 300, 1000.0
    rows = []
    for i in range(n):
        x1 = round(float(rng.normal()), 6)
        x2 = int(rng.integers(0, 2))
        la = int(rng.integers(1, 31))
        frail = rng.gamma(2.0, 0.5)
        tv_change = float(np.ceil(rng.uniform(100, 900)))  # tv switches 0 -> 1 here
        end = float(np.ceil(rng.uniform(300, follow)))
        t, enum = 0.0, 1
        while t < end:
            tv = 1 if t >= tv_change else 0
            rate = frail * np.exp(-6.5 + 0.4 * x1 + 0.5 * x2 + 0.3 * tv + 0.2 * min(enum - 1, 3))
            nxt = t + max(1.0, float(np.ceil(rng.exponential(1 / rate))))
            seg_end = min(nxt, end)
            if t < tv_change < seg_end:
                # split at the covariate change: a censored interval, then the rest
                rows.append((i + 1, t, tv_change, 0, enum, x1, x2, 0, la))
                t = tv_change
                continue
            event = int(nxt <= end)
            rows.append((i + 1, t, seg_end, event, enum, x1, x2, tv, la))
            t = seg_end
            if event:
                enum += 1
    df = pd.DataFrame(
        rows, columns=["id", "start", "stop", "event", "enum", "x1", "x2", "tv", "la"]
    )
    # Time since the previous event (PWP gap time); intervals split at a tv change keep the
    # clock of the current gap running.
    gap_origin = df.groupby(["id", "enum"])["start"].transform("min")
    df["gstart"] = df["start"] - gap_origin
    df["gstop"] = df["stop"] - gap_origin
    df["enum"] = df["enum"].clip(upper=4)  # pool events 4+ in one stratum, as usual for PWP
    return df


def frailty(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for fam in range(1, 61):
        z = rng.gamma(2.0, 0.25)  # mean 1, variance 0.5
        for _ in range(int(rng.integers(3, 9))):
            x1 = round(float(rng.normal()), 6)
            x2 = int(rng.integers(0, 2))
            t = rng.exponential(1 / (z * np.exp(-5.5 + 0.6 * x1 - 0.5 * x2)))
            c = rng.uniform(100, 700)
            rows.append((fam, float(np.ceil(min(t, c))), int(t <= c), x1, x2))
    return pd.DataFrame(rows, columns=["family", "time", "status", "x1", "x2"])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    right_censored(20261127, tied=True).to_csv(OUT / "cox_right.csv", index=False)
    right_censored(20261128, tied=False).to_csv(OUT / "cox_untied.csv", index=False)
    recurrent(20261129).to_csv(OUT / "cox_recurrent.csv", index=False)
    frailty(20261130).to_csv(OUT / "cox_frailty.csv", index=False)


if __name__ == "__main__":
    main()
