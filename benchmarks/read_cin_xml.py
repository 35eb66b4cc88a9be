"""Benchmark: read a national-size CIN census year (about 650,000 children) from XML.

What it does
------------
1. Builds synthetic tables shaped like one national census year (episodes, assessments with
   factors, section 47 enquiries, CIN plans, child protection plans with reviews; invented
   values, vectorised with a seeded numpy Generator) and writes them with the project's own
   writer (:func:`recurrence.data.cin_xml_writer.write_cin_xml`) into a temporary directory,
   at several sizes (default 50k, 200k, 650k children).
2. For each size, in a fresh subprocess (so peak memory is that run's own ``ru_maxrss``):
   - ``stream``: :func:`recurrence.data.cin_xml.iter_cin_xml_chunks` with 50,000-child chunks,
     each chunk discarded: the parser's own memory, which should stay flat as files grow;
   - ``read``: :func:`recurrence.data.cin_xml.read_cin_xml` (parse, link, validate) in one
     process: memory grows with the output tables, which must be held;
   - ``pread``: the same read with ``workers=2`` (``--workers``): the file is cut into pieces
     of about 16 MiB at ``<Child>`` start tags and the pieces are parsed by loky worker
     processes (started inside the timed region), then linked and validated in the calling
     process. CPU includes the workers'; memory is the calling process's peak plus the
     largest worker's own peak (``VmHWM``), which should stay flat as files grow;
   - ``peer``: the naive way, ``lxml.etree.parse`` of the whole tree and a walk over it
     collecting the same leaf values (no validation), with the ratios of ``read`` and
     ``pread`` to it.
3. Prints children per second, seconds, CPU seconds and peak RSS for each.

Target (issue 2): one national year in at most 60 s, with memory that stays flat as files
grow. Run ``python benchmarks/read_cin_xml.py`` (``--sizes 20000,50000`` for a quick run).
Timings depend on the machine and its load; the script prints what it measured.

Re-measured in session 5 after the reader's structure and comment checks, ``--sizes 650000
--modes pread,peer`` on a quiet machine under the lock: pread 47.1 s (13,793 children/s, 75.1 CPU
s, 1,694+298 MiB), peer 35.5 s (7,191 MiB); pread/peer time x1.33.

Measured (2026-11-27, session 3, 2-core container, under the bench lock; one run of the
whole script after the clean-return fast path, :mod:`recurrence.data.cin_xml_clean`)::

     children   MB  stream (parse only)       read (1 process)            pread (2 workers)               peer (lxml full tree)
       50,000   54  10,777/s  4.6 s  214 MiB  10,750/s  4.7 s   278 MiB    6,271/s  8.0 s   277+267 MiB  34,651/s  1.4 s   685 MiB
      200,000  217  10,665/s 18.8 s  257 MiB   9,017/s 22.2 s   545 MiB   11,575/s 17.3 s   632+268 MiB  21,443/s  9.3 s 2,311 MiB
      650,000  707  11,347/s 57.3 s  340 MiB   9,373/s 69.3 s 1,499 MiB   14,903/s 43.6 s 1,702+298 MiB  20,300/s 32.0 s 7,191 MiB

(CPU seconds at 650,000: stream 57.2, read 69.3, pread 71.1 over parent and workers, peer
32.0; pread/peer time x1.36, peak memory x0.24; pread/read time x0.63.) A second run,
``--sizes 650000 --modes pread,peer``, gave pread 47.1 s (13,806 children/s, 74.9 CPU s,
1,712+282 MiB) and peer 32.7 s. The same script
before the fast path (session 2, same machine) gave read 102.0 s and pread 62.3 s at 650,000
(55.6-68.4 s over five runs), with 107.2 CPU s; the phase timing below, run today on the
code before and after, gave 62.9 s and 41.9 s.

So the 60 s target is met: with two workers a national year reads, links and validates in
43.6 s (1.4x the peer's time, a quarter of its memory), and in 69.3 s in one process. Memory
is bounded by the piece size where it can be: a worker holds one piece's tree and rows
(267-298 MiB at every size; it grew by 30 MiB between 200,000 and 650,000 children, which
the worker's heap fragmentation over 21 pieces would explain, not measured further); the
streaming parse holds one child at a time plus the set of child ids seen (214-340 MiB); the
calling process holds the output tables (1.7 GiB at 650,000 children). At 50,000 children
the workers' start-up (9 CPU seconds more than the one-process read, mostly importing
pandas, pandera and lxml twice) outweighs the gain; files are cut only above 16 MiB.

Where the time goes (a separate timing of each phase, same lock, 650,000 children, 2 workers):
parse 25.8 s (43 pieces of 16 MiB; one clean piece takes 0.8-1.7 s through the fast path
against 1.5-2.1 s through the full reader on this noisy machine), linking 9.3 s and
validation 3.7 s in the calling process. Three things made the difference: the fast path
(no record objects, notes or error lists for clean children); pausing the cyclic garbage
collector during the parse (one piece, twelve runs each in alternating blocks of three:
1.46 s mean with it, 1.10 s without); and one shared ``str`` object per code value. The last matters because
linking and validation walk the object columns many times, and strings scattered over the
heap among the parse's freed objects made them 1.3-1.7 times slower (seen when the calling
process parsed a share of the pieces itself, which is why it now only collects the
workers' results: their strings arrive unpickled side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FACTORS = np.array(
    "1B 2B 3A 3B 4A 4B 5B 6B 7A 8B 9A 10A 11A 12A 13A 14A 15A 16A 17A 18B 18C 19B 19C 20 21 22A 23A 24A".split()
)
ETHNICITY = np.array("WBRI WIRI WOTH MWBC MWBA AIND APKN BCRB BAFR CHNE OOTH REFU NOBT".split())
SOURCES = np.array("1A 1B 2A 3A 3B 3C 3D 4 5A 5B 6 7 8 9 10".split())
NEEDS = np.array([f"N{i}" for i in range(1, 10)])
CLOSURE = np.array([f"RC{i}" for i in range(1, 9)])
ABUSE = np.array(["NEG", "PHY", "SAB", "EMO", "MUL"])


def national_tables(n_children: int, year: int = 2024, seed: int = 20240331) -> object:
    """Invented tables shaped like one census year: ~1.15 episodes per child, 85% assessed,
    25% with a section 47 enquiry, 10% with a plan (1-2 reviews), 30% with a CIN plan."""
    from recurrence.data.linkage import child_key
    from recurrence.data.schema import CINTables

    rng = np.random.default_rng(seed)
    la = "999"
    start = np.datetime64(f"{year - 1}-04-01")
    ids = np.char.add("B", np.char.zfill(np.arange(n_children).astype(str), 7))
    birth = np.datetime64(f"{year - 18}-04-01") + rng.integers(0, 18 * 365, n_children).astype(
        "timedelta64[D]"
    )
    children = pd.DataFrame(
        {
            "child_key": [child_key(la, i) for i in ids],
            "la_code": la,
            "la_child_id": ids,
            "person_birth_date": birth.astype("datetime64[ns]"),
            "expected_person_birth_date": pd.NaT,
            "sex": rng.choice(np.array(["M", "F", "U"]), n_children, p=[0.52, 0.47, 0.01]),
            "ethnicity": rng.choice(ETHNICITY, n_children),
            "disabilities": np.where(rng.random(n_children) < 0.1, "LD", None),
            "person_death_date": pd.NaT,
        }
    )
    n_eps = 1 + (rng.random(n_children) < 0.15)
    child_idx = np.repeat(np.arange(n_children), n_eps)
    k = np.arange(len(child_idx)) - np.repeat(np.cumsum(n_eps) - n_eps, n_eps)
    ref = start + (rng.integers(0, 150, len(child_idx)) + 160 * k).astype("timedelta64[D]")
    n = len(ref)
    closed = rng.random(n) < 0.6
    closure = np.where(
        closed, ref + rng.integers(0, 150, n).astype("timedelta64[D]"), np.datetime64("NaT")
    )
    ep = pd.DataFrame(
        {
            "child_key": children["child_key"].to_numpy()[child_idx],
            "la_code": la,
            "la_child_id": ids[child_idx],
            "cin_referral_date": ref.astype("datetime64[ns]"),
            "referral_source": rng.choice(SOURCES, n),
            "primary_need_code": rng.choice(NEEDS, n),
            "cin_closure_date": closure.astype("datetime64[ns]"),
            "reason_for_closure": np.where(closed, rng.choice(CLOSURE, n), None),
            "date_of_initial_cpc": pd.NaT,
            "referral_nfa": rng.random(n) < 0.1,
            "census_year": year,
        }
    )

    def sub(mask: np.ndarray) -> pd.DataFrame:
        return ep.loc[
            mask, ["child_key", "la_code", "la_child_id", "cin_referral_date"]
        ].reset_index(drop=True)

    a = sub(rng.random(n) < 0.85)
    a["assessment_actual_start_date"] = a["cin_referral_date"] + pd.Timedelta(days=1)
    a["assessment_internal_review_date"] = pd.NaT
    a["assessment_authorisation_date"] = a["assessment_actual_start_date"] + pd.Timedelta(days=20)
    n_f = rng.integers(1, 4, len(a))
    f_idx = np.repeat(np.arange(len(a)), n_f)
    pick = rng.permuted(np.tile(np.arange(len(FACTORS)), (len(a), 1)), axis=1)[:, :3]
    f_rank = np.arange(len(f_idx)) - np.repeat(np.cumsum(n_f) - n_f, n_f)
    factors = a.iloc[f_idx][
        ["child_key", "la_code", "la_child_id", "cin_referral_date", "assessment_actual_start_date"]
    ]
    factors = factors.reset_index(drop=True).assign(assessment_factor=FACTORS[pick[f_idx, f_rank]])
    s47 = sub(rng.random(n) < 0.25)
    s47["s47_actual_start_date"] = s47["cin_referral_date"] + pd.Timedelta(days=2)
    s47["initial_cpc_target"] = s47["s47_actual_start_date"] + pd.Timedelta(days=15)
    s47["date_of_initial_cpc"] = s47["s47_actual_start_date"] + pd.Timedelta(days=14)
    s47["icpc_not_required"] = False
    plans = sub(rng.random(n) < 0.3)
    plans["cin_plan_start_date"] = plans["cin_referral_date"] + pd.Timedelta(days=25)
    plans["cin_plan_end_date"] = plans["cin_plan_start_date"] + pd.Timedelta(days=90)
    cpps = sub(rng.random(n) < 0.1)
    cpps["cpp_start_date"] = cpps["cin_referral_date"] + pd.Timedelta(days=16)
    cpps["cpp_end_date"] = np.where(
        rng.random(len(cpps)) < 0.5, cpps["cpp_start_date"] + pd.Timedelta(days=120), pd.NaT
    )
    cpps["cpp_end_date"] = pd.to_datetime(cpps["cpp_end_date"])
    cpps["initial_category_of_abuse"] = rng.choice(ABUSE, len(cpps))
    cpps["latest_category_of_abuse"] = cpps["initial_category_of_abuse"]
    cpps["number_of_previous_cpp"] = rng.integers(1, 3, len(cpps))
    n_r = rng.integers(1, 3, len(cpps))
    r_idx = np.repeat(np.arange(len(cpps)), n_r)
    r_rank = np.arange(len(r_idx)) - np.repeat(np.cumsum(n_r) - n_r, n_r)
    reviews = cpps.iloc[r_idx][
        ["child_key", "la_code", "la_child_id", "cin_referral_date", "cpp_start_date"]
    ]
    reviews = reviews.reset_index(drop=True)
    reviews["cpp_review_date"] = reviews["cpp_start_date"] + pd.to_timedelta(
        15 + 90 * r_rank, unit="D"
    )
    return CINTables.from_mapping(
        {
            "children": children,
            "cin_episodes": ep,
            "assessments": a,
            "assessment_factors": factors,
            "cin_plans": plans,
            "section47": s47,
            "cpps": cpps,
            "cpp_reviews": reviews,
        }
    )


def naive_read(path: str) -> int:
    """The peer: parse the whole tree with lxml, then walk it collecting every leaf's text."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(path, parser).getroot()
    rows = []
    for child in root.iterfind("Children/Child"):
        rows.append({el.tag: el.text for el in child.iter() if len(el) == 0})
    return len(rows)


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB.

    Read from ``VmHWM`` in ``/proc/self/status`` where available: ``ru_maxrss`` survives
    ``execve`` on Linux, so in a subprocess it would report the parent's peak (here the parent
    holds the generated tables) rather than the measured read's own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peaks_mib() -> list[float]:
    """Peak resident memory (``VmHWM``, MiB) of each live child process of this one.

    The parallel read's loky workers are children of the measuring process and stay alive
    after the read; their own ``VmHWM`` counts only what they used after ``execve``, whereas
    ``RUSAGE_CHILDREN``'s ``ru_maxrss`` would start from the measuring process's size when it
    spawned them. Falls back to ``RUSAGE_CHILDREN`` (workers shut down and waited for) where
    ``/proc`` is not available.
    """
    me = str(os.getpid())
    peaks = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] != me:  # field 4 of stat: the parent's pid
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except (OSError, IndexError):
            continue
    if peaks:
        return peaks
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    return [resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]


def measure(mode: str, path: str, workers: int) -> dict[str, float]:
    """Run one read in this process; return seconds, children read and peak RSS (MiB).

    Imports happen before the clock starts; ``cpu_seconds`` (user + system time of this
    process and of the workers it waited for) is printed too because wall time is inflated
    when the machine is shared. For ``pread`` the workers are started inside the timed
    region (a one-off read pays for their start-up) and shut down after it.
    """
    from recurrence.data.cin_xml import iter_cin_xml_chunks, read_cin_xml

    def cpu() -> float:
        u = resource.getrusage(resource.RUSAGE_SELF)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    worker_mib = 0.0
    if mode == "stream":
        n = 0
        for chunk in iter_cin_xml_chunks(path, chunk_children=50_000):
            n += len(chunk.tables["children"])
    elif mode == "read":
        n = len(read_cin_xml(path).children)
    elif mode == "pread":
        n = len(read_cin_xml(path, workers=workers).children)
    else:
        n = naive_read(path)
    seconds = time.perf_counter() - t0
    if mode == "pread":
        worker_mib = max(worker_peaks_mib())
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    cpu_seconds = cpu() - c0
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "children": n,
        "peak_mib": peak_rss_mib(),
        "worker_mib": worker_mib,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sizes", default="50000,200000,650000", help="comma-separated numbers of children"
    )
    ap.add_argument("--modes", default="stream,read,pread,peer")
    ap.add_argument("--workers", type=int, default=2, help="processes of the pread mode")
    ap.add_argument("--measure", nargs=3, metavar=("MODE", "PATH", "W"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        mode, path, workers = args.measure
        print(json.dumps(measure(mode, path, int(workers))))
        return
    from recurrence.data.cin_xml_writer import write_cin_xml

    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    print(
        "per mode: children per wall second, wall s, CPU s (incl. workers), peak RSS of the "
        f"measuring process (pread: + largest worker's; {args.workers} workers)"
    )
    print(f"{'children':>9} {'MB':>7} {'write s':>8}  " + "  ".join(f"{m:>34}" for m in modes))
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            tables = national_tables(size)
            path = Path(tmp) / f"cin_{size}.xml"
            t0 = time.perf_counter()
            write_cin_xml(tables, path, la_code="999", collection_year=2024)  # type: ignore[arg-type]
            write_s = time.perf_counter() - t0
            del tables
            results = {}
            for mode in modes:
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", mode, str(path), str(args.workers)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[mode] = json.loads(out.stdout)
                assert results[mode]["children"] == size, (mode, results[mode])
            cells = []
            for r in results.values():
                mem = f"{r['peak_mib']:>5,.0f}"
                mem += f"+{r['worker_mib']:,.0f}MiB" if r["worker_mib"] else "MiB"
                cells.append(
                    f"{r['children'] / r['seconds']:>7,.0f}/s {r['seconds']:>6.1f}s "
                    f"{r['cpu_seconds']:>6.1f}cpu {mem:>12}"
                )
            mb = path.stat().st_size / 1e6
            print(f"{size:>9,} {mb:>7,.0f} {write_s:>8.1f}  " + "  ".join(cells), flush=True)
            for a, b in (("read", "peer"), ("pread", "peer"), ("pread", "read")):
                if a in results and b in results:
                    r, p = results[a], results[b]
                    print(
                        f"{'':>9} {a}/{b}: time x{r['seconds'] / p['seconds']:.2f}, "
                        f"CPU x{r['cpu_seconds'] / p['cpu_seconds']:.2f}, "
                        f"peak memory x{r['peak_mib'] / p['peak_mib']:.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
