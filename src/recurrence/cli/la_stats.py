"""``recurrence la-stats``: the real-data analysis of the repeat-plan indicator across LAs."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from recurrence.cli import app, output_dir
from recurrence.data.io import write_frame
from recurrence.dfe import la_stats
from recurrence.dfe.loader import la_changes, load_table
from recurrence.models.base import check_literal
from recurrence.sdc import TableDeclaration, write_declarations
from recurrence.validity.funnel import funnel_figure, save_figure

PUBLISHED_REASON = (
    "published DfE LA-level statistics (already suppressed at source), not child-level data"
)


def run_la_stats(dfe_dir: Path, out_dir: Path, suppressed: str = "midpoint") -> list[Path]:
    """Run every real-data analysis and write its tables and figures to ``out_dir``.

    Outputs are written to a staging folder and moved into place only when all succeeded, so a
    failure (e.g. a missing or malformed input file) leaves no partial output. Files:
    ``panel.csv`` (the LA-by-year panel), ``la_changes.csv``, ``suppression.csv``, ``icc.csv``,
    ``year_to_year.csv``, ``overdispersion.csv``, ``funnel_<year>.csv`` and ``.png``,
    ``correlations.csv``, ``multilevel_model.csv``, ``multilevel_summary.json``, and
    ``disclosure.json`` declaring every table as derived from published LA-level statistics
    (not child-level), so that ``python -m recurrence.sdc`` checks the folder as such.
    """
    check_literal("suppressed", suppressed, la_stats.SUPPRESSED_OPTIONS)
    panel = la_stats.la_panel(dfe_dir, suppressed=suppressed)  # type: ignore[arg-type]
    d3 = load_table(dfe_dir, "d3")
    supp = []
    for name in ("d3", "c1", "c3", "d5", "population"):
        s = load_table(dfe_dir, name).suppression_counts()
        s.insert(0, "table", name)
        supp.append(s)
    icc = la_stats.icc_over_years(panel)
    funnel, od, year = la_stats.latest_funnel(panel)
    coefs, summary = la_stats.multilevel_model(panel)
    frames = {
        "panel": panel,
        "la_changes": la_changes(d3),
        "suppression": pd.concat(supp, ignore_index=True),
        "icc": pd.DataFrame([{"indicator": "repeat_percent", **asdict(icc)}]),
        "year_to_year": la_stats.year_to_year(panel),
        "overdispersion": la_stats.overdispersion_by_year(panel),
        f"funnel_{year}": funnel,
        "correlations": la_stats.correlations(panel),
        "multilevel_model": coefs,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        for name, frame in frames.items():
            write_frame(frame, staging / f"{name}.csv", "csv")
        write_declarations(
            staging,
            {f"{name}.csv": TableDeclaration(child_level=False, reason=PUBLISHED_REASON)
             for name in frames},
        )
        (staging / "multilevel_summary.json").write_text(
            json.dumps(summary, indent=2, sort_keys=True) + "\n"
        )
        fig = funnel_figure(funnel, od, numerator="cpp_subsequent", denominator="cpp_starts",
                            title=f"Plans that are a second or subsequent plan (D3), {year}",
                            ylabel="% of plan starts", label_column="la_name")
        save_figure(fig, staging / f"funnel_{year}.png")
        written = []
        for f in sorted(staging.iterdir()):
            target = out_dir / f.name
            os.replace(f, target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@app.command("la-stats")
def la_stats_command(
    dfe: Annotated[
        Path, typer.Option("--dfe", help="Folder of DfE EES CSV files (e.g. ../shared/data/dfe).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder for CSV tables and PNG plots.")],
    suppressed: Annotated[
        str,
        typer.Option(help="How to treat 'c' counts (1-5): 'midpoint' (3) or 'missing'."),
    ] = "midpoint",
) -> None:
    """Reliability (ICC), overdispersion and convergent validity of the repeat-plan percentage on real LA data."""
    output_dir(out)
    written = run_la_stats(dfe, out, suppressed)
    typer.echo(f"wrote {len(written)} files to {out}")
