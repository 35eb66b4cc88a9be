"""``recurrence effects`` and ``recurrence simulate``: design-matched and general simulation studies.

``recurrence effects`` re-estimates the review's effect claims in design-matched scenarios
(:mod:`recurrence.effects.scenarios`) and writes ``effects.csv`` (performance with Monte Carlo
SEs on the scale of each claim's reported measure), ``reexpressed.csv`` (each ratio claim as
OR, RR and HR at its scenario's baseline risk) and ``forest.png``.

``recurrence simulate STUDY.yaml`` runs a general ADEMP study declared in YAML
(:func:`recurrence.effects.ademp.load_study`) and writes ``performance.csv``,
``replicates.csv`` and nested-loop plots of bias and coverage.

Both write every output to a temporary folder first and move the files into ``--out`` only
when all are complete, so a failed run leaves no partial output. Numbers are formatted with 10
significant digits, and rows are sorted, so files do not depend on the number of workers.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from recurrence.cli import app, output_dir
from recurrence.errors import RecurrenceError

FLOAT_FORMAT = "%.10g"


def _publish(tmp: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(tmp.iterdir()):
        shutil.move(str(f), str(out / f.name))


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


OutOpt = Annotated[Path, typer.Option("--out", help="Output folder.")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, help="joblib worker processes.")]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler", help="Dask scheduler address tcp://HOST:PORT (overrides --workers)."
    ),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache", help="Folder caching finished replicates (resumes an interrupted run)."
    ),
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")]


def _tmpdir(out: Path) -> tempfile.TemporaryDirectory[str]:
    parent = out.parent if out.parent.exists() else None
    return tempfile.TemporaryDirectory(prefix=".recurrence-tmp-", dir=parent)


@app.command("effects")
def effects(
    out: OutOpt,
    claims: Annotated[
        str | None,
        typer.Option("--claims", help="Comma-separated claim ids (default: all with a scenario)."),
    ] = None,
    reps: Annotated[int, typer.Option("--reps", min=2, help="Replicates per scenario.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of all random streams.")] = 20100601,
    workers: WorkersOpt = 1,
    scheduler: SchedulerOpt = None,
    cache: CacheOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Reproduce the review's effect claims in design-matched simulations."""
    output_dir(out)
    from recurrence.effects.ademp import run_study
    from recurrence.effects.plots import forest_plot
    from recurrence.effects.scenarios import claims_study, summarise_claims

    ids = None if claims is None else [c.strip() for c in claims.split(",") if c.strip()]
    try:
        study, triples = claims_study(ids, n_reps=reps, seed=seed)
    except KeyError as exc:
        raise RecurrenceError(f"--claims: {exc.args[0]}") from None
    run = run_study(study, n_jobs=workers, scheduler=scheduler, cache_dir=cache, progress=progress)
    result = summarise_claims(run.replicates, study, triples)
    with _tmpdir(out) as t:
        tmp = Path(t)
        _write_csv(result.effects, tmp / "effects.csv")
        _write_csv(result.reexpressed, tmp / "reexpressed.csv")
        forest_plot(result.effects, result.intervals, tmp / "forest.png")
        _publish(tmp, out)
    typer.echo(f"wrote {out / 'effects.csv'} ({len(result.effects)} claims, {reps} replicates)")


@app.command("simulate")
def simulate(
    study_file: Annotated[
        Path, typer.Argument(help="Study declared in YAML (see docs/effects.md).")
    ],
    out: OutOpt,
    workers: WorkersOpt = 1,
    scheduler: SchedulerOpt = None,
    cache: CacheOpt = None,
    reps: Annotated[
        int | None, typer.Option("--reps", min=2, help="Override the study's n_reps.")
    ] = None,
    progress: ProgressOpt = True,
) -> None:
    """Run a general ADEMP simulation study declared in YAML."""
    output_dir(out)
    from dataclasses import replace

    from recurrence.effects.ademp import StudyError, dgm_parameters, load_study, run_study
    from recurrence.effects.plots import nested_loop_plot

    study = load_study(study_file)
    if reps is not None:
        study = replace(study, n_reps=reps)
    run = run_study(study, n_jobs=workers, scheduler=scheduler, cache_dir=cache, progress=progress)
    try:
        perf = run.performance()
    except StudyError as exc:
        raise StudyError(f"{study_file}: {exc}") from None  # the YAML's own mistake: name it
    params = dgm_parameters(study)
    with _tmpdir(out) as t:
        tmp = Path(t)
        _write_csv(perf, tmp / "performance.csv")
        _write_csv(run.replicates, tmp / "replicates.csv")
        if len(study.dgms) > 1:
            for measure, ref in (("bias", 0.0), ("coverage", 1 - study.alpha)):
                for estimand in sorted(perf["estimand"].unique()):
                    nested_loop_plot(
                        perf,
                        params,
                        measure,
                        tmp / f"nested_loop_{measure}_{estimand}.png",
                        estimand=estimand,
                        reference=ref,
                    )
        _publish(tmp, out)
    typer.echo(
        f"wrote {out / 'performance.csv'} "
        f"({len(study.dgms)} scenarios x {len(study.methods)} methods, {study.n_reps} replicates)"
    )
