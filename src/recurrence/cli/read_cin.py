"""``recurrence read-cin``: read CIN XML returns / NPD extracts into the package's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recurrence.cli import app
from recurrence.data.io import check_format, write_tables
from recurrence.data.reader import expand_paths, read_cin
from recurrence.data.rejections import summarise
from recurrence.errors import InputFileError


@app.command("read-cin")
def read_cin_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="CIN XML returns (.xml), NPD-style extracts (.csv; .tsv or .txt when named "
            "directly), or folders of them (their .xml and .csv files, sub-folders included)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output directory for DIR/<table>.csv (or .parquet).")
    ],
    fmt: Annotated[str, typer.Option("--format", help="Table format: csv or parquet.")] = "csv",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Processes parsing the XML returns (large ones in pieces); same output for any number.",
        ),
    ] = 1,
) -> None:
    """Read, validate, link and de-duplicate CIN data; write one file per table, print a summary.

    Every input is read completely before anything is written: a whole-file problem in any
    input stops the command with one line naming the file and the problem, and writes nothing.
    Record-level problems go to the ``rejections`` table.
    """
    try:
        table_format = check_format(fmt)
    except ValueError as exc:
        raise InputFileError("--format", str(exc)) from exc
    if out.exists() and not out.is_dir():
        raise InputFileError(str(out), "--out exists and is not a directory")
    # The output folder is never an input: a re-run into a folder inside an input folder must
    # not read the previous run's tables as NPD extracts.
    files, table_dirs = expand_paths(paths, exclude=[out])
    tables = read_cin(paths, workers=workers, exclude=[out])
    write_tables(tables, out, table_format)
    n_plans = len(tables.cpps)
    typer.echo(
        f"read {len(tables.children)} child records (one per child and LA), "
        f"{len(tables.cin_episodes)} episodes, "
        f"{n_plans} child protection plans ({len(tables.cin_plans)} CIN plans) "
        f"from {len(files) + len(table_dirs)} input file(s) or table folder(s); wrote {len(tables.as_dict())} tables to {out}"
    )
    if tables.rejections.empty:
        typer.echo("rejections: none")
    else:
        typer.echo(f"rejections: {len(tables.rejections)}")
        for row in summarise(tables.rejections).itertuples(index=False):
            typer.echo(f"  {row.n:>8}  {row.record:<10}  {row.reason}")
