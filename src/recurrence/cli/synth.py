"""``recurrence synth``: generate a synthetic linked CIN cohort with known truth.

Example (the committed sample, ``make data``)::

    recurrence synth --children 5000 --years 10 --seed 20090331 --preset england-2009 \\
        --out data/synthetic --format csv

Writes the census tables, ``truth.csv``, ``truth_events.csv``, ``truth_referrals.csv`` and
``manifest.json`` (see :class:`recurrence.synth.SyntheticCohort`). With ``--format xml`` the
census tables are CIN census XML returns, one per LA and census year from 2008-09.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recurrence.cli import app
from recurrence.errors import ModelInputError
from recurrence.synth import PRESETS, generate
from recurrence.synth.cohort import check_output_format


@app.command("synth")
def synth(
    children: Annotated[int, typer.Option("--children", min=1, help="Distinct children in contact with CSC over the window.")],
    years: Annotated[int, typer.Option("--years", min=1, max=30, help="Years in the window, ending 31 March of the preset's year.")],
    seed: Annotated[int, typer.Option("--seed", help="Integer seed (same seed: identical files).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (created if needed).")],
    preset: Annotated[str, typer.Option("--preset", help="england-2009 or england-2025.")] = "england-2009",
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xml.")] = "csv",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes sharing the work (this one and workers - 1 more); output does not depend on it.")] = 1,
) -> None:
    """Generate a synthetic cohort calibrated to national figures, with its truth tables."""
    if preset not in PRESETS:
        raise ModelInputError(f"--preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    check_output_format(fmt)
    if seed < 0:
        raise ModelInputError(f"--seed must be a non-negative integer; got {seed}")
    cohort = generate(n_children=children, years=years, seed=seed, preset=preset, n_jobs=workers)
    paths = cohort.write(out, fmt)
    counts = cohort.tables.counts()
    typer.echo(
        f"wrote {len(paths)} files to {out}: {counts['children']} child records, "
        f"{counts['cin_episodes']} episodes, {counts['cpps']} plans, "
        f"{len(cohort.truth_events)} true maltreatment events"
    )
