"""``recurrence ni65``: NI 65 and its variants for each LA and year, from a folder of tables.

Writes one CSV row per LA (``la_code``) and year ending 31 March (``year``) with the 2008-10
definition (``children_becoming_subject``, ``children_with_previous_plan_same_la``,
``ni65_percent``) followed by the counting variants the seed names and today's DfE D3; see
:func:`recurrence.indicators.ni65` and :func:`recurrence.indicators.d3_repeat_plans` for the
definitions and their sources.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from recurrence.cli import app
from recurrence.data.io import read_tables, write_frame
from recurrence.data.schema import CINTables
from recurrence.indicators import d3_repeat_plans, ni65
from recurrence.tables._common import as_timestamp

KEYS = ["la_code", "year"]


def ni65_table(
    tables: CINTables,
    lookback_years: Sequence[int] = (1, 2),
    history_start: object | None = None,
) -> pd.DataFrame:
    """Every NI 65 variant and D3 side by side, one row per LA and year (percentages 0-100).

    ``history_start`` (a date) hides plans that started before it from every NI 65 variant, to
    show the effect of left truncation; D3 uses the recorded count and is unaffected.

    Columns
    -------
    ``children_becoming_subject``, ``children_with_previous_plan_same_la``, ``ni65_percent``
        NI 65 as defined 2008-10 (distinct children, previous plan in the same LA, however
        long ago).
    ``plan_starts``, ``plan_starts_with_previous_plan_same_la``, ``ni65_occasions_percent``
        Each occasion (plan start) counted, as the published 2008-10 tables did.
    ``children_with_previous_plan_any_la``, ``ni65_any_la_percent``
        Distinct children, previous plan in any LA (via ``child_key``).
    ``ni65_occasions_any_la_percent``
        Occasions, any LA.
    ``ni65_lookback_<k>y_percent``
        Distinct children, same LA, previous plan ended within ``k`` years.
    ``d3_cpp_start``, ``d3_cpp_subsequent``, ``d3_percent``
        DfE D3 from the recorded ``number_of_previous_cpp``.
    ``history_years``
        Years of data in the LA before the year began (left truncation).
    """
    hs = history_start
    base = ni65(tables, history_start=hs)
    out = base[KEYS].copy()
    out["children_becoming_subject"] = base["n_becoming_subject"]
    out["children_with_previous_plan_same_la"] = base["n_previous_plan"]
    out["ni65_percent"] = base["ni65_percent"]

    def merge(frame: pd.DataFrame, columns: dict[str, str]) -> None:
        nonlocal out
        out = out.merge(frame[[*KEYS, *columns]].rename(columns=columns), on=KEYS, how="outer")

    merge(
        ni65(tables, counting="occasions", history_start=hs),
        {
            "n_becoming_subject": "plan_starts",
            "n_previous_plan": "plan_starts_with_previous_plan_same_la",
            "ni65_percent": "ni65_occasions_percent",
        },
    )
    merge(
        ni65(tables, scope="any_la", history_start=hs),
        {
            "n_previous_plan": "children_with_previous_plan_any_la",
            "ni65_percent": "ni65_any_la_percent",
        },
    )
    merge(
        ni65(tables, counting="occasions", scope="any_la", history_start=hs),
        {"ni65_percent": "ni65_occasions_any_la_percent"},
    )
    for k in sorted(set(lookback_years)):
        merge(
            ni65(tables, lookback_years=k, history_start=hs),
            {"ni65_percent": f"ni65_lookback_{k}y_percent"},
        )
    d3 = d3_repeat_plans(tables)
    if hs is not None:
        # Same LA-years as the NI 65 columns: plan starts before the history start are hidden.
        d3 = d3.merge(base[KEYS], on=KEYS, how="inner")
    merge(
        d3,
        {
            "cpp_start": "d3_cpp_start",
            "cpp_subsequent": "d3_cpp_subsequent",
            "cpp_subsequent_percent": "d3_percent",
        },
    )
    merge(base, {"history_years": "history_years"})
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


@app.command("ni65")
def ni65_command(
    data: Annotated[
        Path, typer.Option("--data", help="Folder of recurrence tables (CSV or parquet).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output CSV file.")],
    lookback: Annotated[
        list[int] | None,
        typer.Option("--lookback", help="Look-back window in years (repeatable; default 1 and 2)."),
    ] = None,
    history_start: Annotated[
        str | None,
        typer.Option(
            "--history-start",
            help="Hide plans starting before this date (YYYY-MM-DD) from NI 65: left truncation.",
        ),
    ] = None,
) -> None:
    """Write NI 65 (2008-10 definition), its variants and D3 per LA and year to a CSV file."""
    lookback = lookback or [1, 2]
    if any(k <= 0 for k in lookback):
        raise typer.BadParameter("look-back years must be positive", param_hint="--lookback")
    tables = read_tables(data)
    if history_start is not None:
        try:
            as_timestamp(history_start, "--history-start")
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--history-start") from exc
    table = ni65_table(tables, lookback, history_start)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        write_frame(table, Path(tmp), "csv")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    typer.echo(f"wrote {len(table)} LA-years to {out}")
