"""``recurrence ni65``: NI 65 and its variants for each LA and year, from a folder of tables.

Writes one CSV row per LA (``la_code``) and year ending 31 March (``year``) with the 2008-10
definition (``children_becoming_subject``, ``children_with_previous_plan_same_la``,
``ni65_percent``) followed by the counting variants the seed names and today's DfE D3; see
:func:`recurrence.indicators.ni65` and :func:`recurrence.indicators.d3_repeat_plans` for the
definitions and their sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from recurrence.cli import SDCRounding, SDCThreshold, app, output_file
from recurrence.data.io import read_tables, replace_atomically, write_frame
from recurrence.data.schema import CINTables
from recurrence.indicators import d3_repeat_plans, ni65
from recurrence.sdc import SDCRules, suppress_and_round
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
    ``plan_starts_with_previous_plan_any_la``, ``ni65_occasions_any_la_percent``
        Occasions, any LA.
    ``children_with_previous_plan_lookback_<k>y``, ``ni65_lookback_<k>y_percent``
        Distinct children, same LA, previous plan ended within ``k`` years.
    ``d3_cpp_start``, ``d3_cpp_subsequent``, ``d3_percent``
        DfE D3 from the recorded ``number_of_previous_cpp``.
    ``history_years``
        Years of data in the LA before the year began (left truncation); whole years (rounded
        down) under disclosure control.
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
        {
            "n_previous_plan": "plan_starts_with_previous_plan_any_la",
            "ni65_percent": "ni65_occasions_any_la_percent",
        },
    )
    for k in sorted(set(lookback_years)):
        merge(
            ni65(tables, lookback_years=k, history_start=hs),
            {
                "n_previous_plan": f"children_with_previous_plan_lookback_{k}y",
                "ni65_percent": f"ni65_lookback_{k}y_percent",
            },
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


def ni65_disclosure(lookback_years: Sequence[int]) -> tuple[list[str], dict[str, tuple[str, str, float]]]:
    """The count columns of :func:`ni65_table` and each percentage's (numerator, denominator)."""
    ratios: dict[str, tuple[str, str, float]] = {
        "ni65_percent": ("children_with_previous_plan_same_la", "children_becoming_subject", 100.0),
        "ni65_occasions_percent": ("plan_starts_with_previous_plan_same_la", "plan_starts", 100.0),
        "ni65_any_la_percent": ("children_with_previous_plan_any_la", "children_becoming_subject",
                                100.0),
        "ni65_occasions_any_la_percent": ("plan_starts_with_previous_plan_any_la", "plan_starts",
                                          100.0),
        "d3_percent": ("d3_cpp_subsequent", "d3_cpp_start", 100.0),
    }
    for k in sorted(set(lookback_years)):
        ratios[f"ni65_lookback_{k}y_percent"] = (
            f"children_with_previous_plan_lookback_{k}y", "children_becoming_subject", 100.0
        )
    counts = sorted({c for num, den, _ in ratios.values() for c in (num, den)})
    return counts, ratios


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
    exact_counts: Annotated[
        bool,
        typer.Option(
            "--exact-counts",
            help="Write exact counts, without disclosure control: a working file for use "
            "inside the secure setting only.",
        ),
    ] = False,
    threshold: SDCThreshold = 10,
    rounding: SDCRounding = 5,
) -> None:
    """Write NI 65 (2008-10 definition), its variants and D3 per LA and year to a CSV file.

    By default the table passes disclosure control (:func:`recurrence.sdc.suppress_and_round`):
    counts below 10 are suppressed (``c``), the others rounded to 5 (``--sdc-threshold``,
    ``--sdc-rounding``, to match the secure setting's output rules), and every percentage is
    recomputed from the rounded counts or suppressed with them. ``--exact-counts`` writes the
    exact working table instead.
    """
    output_file(out)
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
    if not exact_counts:
        counts, ratios = ni65_disclosure(lookback)
        rules = SDCRules(threshold=threshold, rounding_base=rounding)
        table = suppress_and_round(table, counts, rules=rules, ratios=ratios)
        # To the day, the history length gives each LA's earliest referral date back (a child's
        # date); whole years are enough to judge left truncation.
        table["history_years"] = np.floor(table["history_years"])
    replace_atomically(out, lambda tmp: write_frame(table, tmp, "csv"))
    control = "exact counts (not for release)" if exact_counts else "disclosure control applied"
    typer.echo(f"wrote {len(table)} LA-years to {out} ({control})")
