"""Assembly: the cohort does not depend on batch sizes or on how LAs are split into chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recurrence.synth import generate, preset_config
from recurrence.synth import generator as g
from recurrence.synth.assemble import build, prepare
from recurrence.synth.cohort import _chunks
from recurrence.synth.las import load_la_populations

N = 700


def _context(preset: str = "england-2025"):
    cfg = preset_config(preset)
    las = load_la_populations(cfg.population_year)
    return g.make_context(cfg, 6, 21, las["la_code"], las["population_0_17"])


def _frames(ctx, max_families: int, n_chunks: int) -> dict[str, pd.DataFrame]:
    """The cohort assembled from ``n_chunks`` LA ranges simulated in batches of ``max_families``."""
    targets = [int(t) for t in g.allocate(N, ctx.la_weights)]
    parts = []
    for chunk in _chunks(targets, n_chunks):
        sims = g.simulate_las(ctx, chunk, [targets[i] for i in chunk], max_families=max_families)
        parts += [prepare(ctx, sim) for sim in sims]
    tables, truth, events, referrals = build(ctx, parts)
    return {**dict(tables.items()), "truth": truth, "truth_events": events, "truth_referrals": referrals}


def test_batch_sizes_and_chunking_do_not_change_the_tables() -> None:
    ctx = _context()
    # One batch for everything against many small batches (most LAs topped up several times)
    # split over three chunks.
    a = _frames(ctx, max_families=400_000, n_chunks=1)
    b = _frames(ctx, max_families=500, n_chunks=3)
    assert len(a["truth"]) == N
    for name, frame in a.items():
        pd.testing.assert_frame_equal(frame, b[name], check_exact=True, obj=name)


def test_generate_matches_the_steps_it_is_made_of() -> None:
    # generate() with two processes (one worker, result through a file) gives the same frames.
    ctx = _context()
    steps = _frames(ctx, max_families=400_000, n_chunks=1)
    cohort = generate(n_children=N, years=6, seed=21, preset="england-2025", n_jobs=2)
    pd.testing.assert_frame_equal(cohort.truth_referrals, steps["truth_referrals"], check_exact=True)
    pd.testing.assert_frame_equal(cohort.tables.assessment_factors, steps["assessment_factors"],
                                  check_exact=True)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_chunks_are_contiguous_balanced_and_cover_every_la(n: int) -> None:
    targets = [int(t) for t in g.allocate(100_000, _context().la_weights)]
    chunks = _chunks(targets, n)
    assert len(chunks) == n
    assert [la for c in chunks for la in c] == list(range(len(targets)))
    sizes = np.array([sum(targets[i] for i in c) for c in chunks])
    # Each chunk within one LA of an equal share.
    assert np.all(np.abs(sizes - 100_000 / n) <= max(targets))


def test_census_rows_are_in_la_then_id_order() -> None:
    ctx = _context("england-2009")
    frames = _frames(ctx, max_families=400_000, n_chunks=1)
    ch = frames["children"]
    ids = ch["la_child_id"].astype("uint64").to_numpy()
    la = ch["la_code"].to_numpy()
    key = list(zip(la, ids, strict=True))
    assert key == sorted(key)
    ep = frames["cin_episodes"]
    ep_key = list(zip(ep["la_code"], ep["la_child_id"].astype("uint64"), ep["cin_referral_date"], strict=True))
    assert ep_key == sorted(ep_key)
