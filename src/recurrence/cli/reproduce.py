"""``recurrence reproduce``: regenerate every table, figure and the HTML report.

``make reproduce`` runs ``recurrence reproduce --quick --out analyses/output``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recurrence.cli import SDCRounding, SDCThreshold, app, output_dir
from recurrence.reproduce.pipeline import DEFAULT_SEED, PROFILE_NAMES, run_pipeline
from recurrence.sdc import SDCRules


@app.command("reproduce")
def reproduce(
    quick: Annotated[
        bool, typer.Option("--quick", help="Quick profile (<= 10 minutes on 2 cores).")
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("analyses/output"),
    dfe: Annotated[
        Path | None,
        typer.Option(
            "--dfe",
            help="Folder of real DfE LA tables (Explore Education Statistics CSVs); "
            "default ../shared/data/dfe when present.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the whole chain.")] = DEFAULT_SEED,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help=f"Profile ({', '.join(PROFILE_NAMES)}); overrides --quick. 'tiny' is for tests.",
        ),
    ] = None,
    threshold: SDCThreshold = 10,
    rounding: SDCRounding = 5,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Cache folder (default .cache/reproduce in the repo)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
) -> None:
    """Run the whole chain: synthetic cohort, tables, models, effects, NI 65 validity, LA data.

    Writes CSV tables, PNG figures and OUT/report.html. A rerun redoes only the steps whose
    inputs changed. Every output is checked against the disclosure rules; a failure names the
    file and cell and releases nothing.
    """
    output_dir(out)
    chosen = profile if profile is not None else ("quick" if quick else "full")
    if chosen not in PROFILE_NAMES:
        raise typer.BadParameter(
            f"must be one of {', '.join(PROFILE_NAMES)}", param_hint="--profile"
        )
    result = run_pipeline(
        out,
        profile=chosen,  # type: ignore[arg-type]
        seed=seed,
        workers=workers,
        dfe=dfe,
        rules=SDCRules(threshold=threshold, rounding_base=rounding),
        cache_dir=cache_dir,
        show_progress=not quiet,
    )
    typer.echo(
        f"Wrote {len(result.output_hashes)} files to {result.out_dir} "
        f"(ran {len(result.executed)} step(s), {len(result.cached)} from cache); "
        f"report: {result.report}"
    )
