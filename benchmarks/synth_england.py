"""Benchmark: the synthetic generator at England scale (time and peak memory).

England scale: ten census years of about 650,000 children in need a year (DfE *Characteristics
of children in need*: 704,430 children in need at any point in 2024/25; the seed's annexe: about
550,000 referrals a year in 2008/09). ``N`` for ``generate`` is the number of *distinct* children
in contact over the window, so the script first measures, on a pilot cohort, how many children
are in need (an episode open at some time) per census year per simulated child, and sets

    N = 650,000 / (children in need per year per child of the cohort)

It then generates the England-scale cohort with ``--workers`` processes and prints wall time,
CPU time and peak resident memory (the largest of this process and its worker processes). The
goal in the issue is at most 60 s and 8 GiB on the 2-core development machine.

Peer: the same generator on the pilot cohort with one worker, scaled linearly to N (the
generator is linear in N), printed beside the measured time as a ratio; this shows what the
workers and the batching buy over a single process at the same per-child cost.

Usage::

    .venv/bin/python benchmarks/synth_england.py [--per-year 650000] [--years 10] [--workers 2]
        [--pilot 50000] [--scale 1.0]

``--scale 0.1`` runs a tenth of England (useful on a busy machine); the printed numbers say
which size ran.
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from pathlib import Path

import numpy as np

from recurrence.synth import generate


def children_in_need_per_year(cohort) -> float:
    """Mean over the window's census years of distinct children with an episode open in the year."""
    ep = cohort.tables.cin_episodes
    final = cohort.config.final_year
    counts = []
    for y in range(final - cohort.years + 1, final + 1):
        start = np.datetime64(f"{y - 1}-04-01")
        end = np.datetime64(f"{y}-03-31")
        ref = ep["cin_referral_date"].to_numpy()
        clo = ep["cin_closure_date"].to_numpy()
        open_ = (ref <= end) & (np.isnat(clo) | (clo >= start))
        counts.append(ep.loc[open_, "child_key"].nunique())
    return float(np.mean(counts))


def _tree(root: int) -> dict[int, tuple[int, int]]:
    """Process ``root`` and all its descendants: pid -> (VmRSS, VmHWM) in bytes, from /proc."""
    out: dict[int, tuple[int, int]] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            fields = dict(
                line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            )
            out[pid] = (int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024)
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, KeyError):
            continue
    return out


class TreeRssSampler:
    """Memory of this process and its worker processes, sampled every 20 ms from /proc.

    Workers run at the same time as the parent, so the machine needs their sum: ``peak`` is the
    largest sampled sum of resident memory (it can miss a spike shorter than the interval) and
    ``hwm`` holds each process's own high-water mark (VmHWM, kept by the kernel), whose sum is
    an upper bound on the true peak.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self.hwm: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            tree = _tree(os.getpid())
            self.peak = max(self.peak, sum(rss for rss, _ in tree.values()))
            for pid, (_, hwm) in tree.items():
                self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)
            if self._stop.wait(self.interval):
                break

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--per-year", type=int, default=650_000)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pilot", type=int, default=50_000)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--preset", default="england-2025")
    ap.add_argument("--children", type=int, default=None,
                    help="N to generate (default: derived from the pilot and --per-year)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    pilot = generate(n_children=args.pilot, years=args.years, seed=1, preset=args.preset, n_jobs=1)
    pilot_s = time.perf_counter() - t0
    per_child = children_in_need_per_year(pilot) / args.pilot
    n = args.children if args.children else round(args.scale * args.per_year / per_child)
    print(f"pilot: {args.pilot:,} children, {pilot_s:.1f} s with 1 worker; "
          f"children in need per year per cohort child = {per_child:.3f}")
    print(f"England scale x{args.scale}: N = {n:,} distinct children over {args.years} years "
          f"(about {n * per_child:,.0f} in need a year)")

    c0 = time.process_time()
    t0 = time.perf_counter()
    with TreeRssSampler() as sampler:
        cohort = generate(n_children=n, years=args.years, seed=20250331, preset=args.preset,
                          n_jobs=args.workers)
        wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    counts = cohort.tables.counts()
    print(f"generated: {counts['children']:,} child records, {counts['cin_episodes']:,} episodes, "
          f"{counts['cpps']:,} plans, {len(cohort.truth_events):,} true events, "
          f"{len(cohort.truth_referrals):,} referrals in the truth")
    print(f"time: {wall:.1f} s wall, {cpu:.1f} s CPU in the parent, processes = {args.workers}")
    gib = 1024**3
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / gib  # Linux: KiB
    workers = [v / gib for pid, v in sampler.hwm.items() if pid != os.getpid()]
    bound = own + sum(workers)
    print(f"peak memory: parent {own:.2f} GiB, workers {', '.join(f'{w:.2f}' for w in workers) or '-'} "
          f"GiB; all processes together {sampler.peak / gib:.2f} GiB sampled, at most {bound:.2f} GiB "
          f"(sum of the peaks)")
    peer = pilot_s * n / args.pilot
    print(f"peer (pilot in 1 process, scaled linearly to N): {peer:.1f} s; ratio peer/measured = "
          f"{peer / wall:.2f}")
    print(f"goal: <= 60 s and <= 8 GiB -> time {'met' if wall <= 60 else 'NOT met'}, "
          f"memory {'met' if bound <= 8 else 'NOT met'} (judged on the sum of the peaks)")


if __name__ == "__main__":
    main()
