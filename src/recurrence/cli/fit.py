"""``recurrence fit {logit,cox}``: fit a model to a CSV file and write its tidy table.

The contract reviewers script against::

    recurrence fit {logit,cox} --data FILE.csv --covariates a,b,c --event COL [--time COL]
        [--start COL] [--cluster COL] [--strata COL] [--ties efron|breslow] [--firth]
        --out RESULT.csv

``RESULT.csv`` is :meth:`recurrence.models.base.ModelResults.tidy`: one row per covariate with
``term, estimate, std_error, statistic, p_value, ci_lower, ci_upper, exp_estimate, exp_ci_lower,
exp_ci_upper`` (estimates in log-odds for ``logit``, log-hazard for ``cox``). For ``logit`` the
intercept row is dropped (it is not a covariate) and ``--event`` names the 0/1 outcome;
``--cluster`` gives CR1 cluster-robust SEs; ``--firth`` fits Firth's penalised likelihood with
profile intervals. For ``cox``, ``--start`` fits the counting-process (Andersen-Gill) model with
``--time`` as the interval stop; a PWP model is ``--strata`` on the event number; ``--cluster``
gives robust SEs clustered on that column.

Bad input (unreadable file, missing column, NaN, non-0/1 event, separation, singular design...)
prints one line and exits with status 2; the output file is then not written. The output is
written atomically (temporary file, then rename).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from recurrence.cli import app, output_file
from recurrence.data.io import replace_atomically
from recurrence.errors import ConvergenceError, InputFileError, ModelInputError
from recurrence.models.base import ModelResults

MODELS = ("logit", "cox")
TIES = ("efron", "breslow")


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError(str(path), "file not found")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"not a readable CSV file ({type(exc).__name__})") from exc
    if frame.empty:
        raise InputFileError(str(path), "has no data rows")
    return frame


def _write_atomic(frame: pd.DataFrame, out: Path) -> None:
    replace_atomically(
        out,
        lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n", float_format="%.10g"),
    )


def _check_mixed_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    """Refuse a column of numbers with stray text in it (``unknown``, ``n/a``).

    Read as text, such a column would silently become categorical, each distinct number a
    level; a column of numbers with a typo is far likelier than a category named like one.
    """
    for col in columns:
        if col not in frame.columns or frame[col].dtype != object:
            continue
        text = frame[col].astype(str)
        present = frame[col].notna().to_numpy()
        numeric = pd.to_numeric(text.where(present), errors="coerce").notna().to_numpy()
        stray = present & ~numeric
        if numeric.any() and stray.any():
            i = int(stray.argmax())  # position of the first stray value; header is line 1
            raise InputFileError(
                str(path),
                f"row {i + 2}, column {col!r}: value {text.iloc[i]!r} in a column of numbers; "
                "fix or blank it (a blank is a missing value)",
            )


def fit_model(
    model: str,
    frame: pd.DataFrame,
    *,
    covariates: list[str],
    event: str,
    time: str | None = None,
    start: str | None = None,
    cluster: str | None = None,
    strata: str | None = None,
    ties: str = "efron",
    firth: bool = False,
) -> ModelResults:
    """Fit ``model`` as the command line does (importable for scripts and tests)."""
    if model not in MODELS:
        raise ModelInputError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    if ties not in TIES:
        raise ModelInputError(f"--ties must be efron or breslow; got {ties!r}")
    if not covariates:
        raise ModelInputError("--covariates names no columns")
    if model == "logit":
        for opt, val in (("--time", time), ("--start", start), ("--strata", strata)):
            if val is not None:
                raise ModelInputError(f"{opt} applies to cox only")
        if firth:
            if cluster is not None:
                raise ModelInputError("--firth does not support --cluster")
            from recurrence.models.firth import firth_logit

            return firth_logit(frame, outcome=event, covariates=covariates)
        from recurrence.models.logistic import logit

        return logit(frame, outcome=event, covariates=covariates, cluster=cluster)
    if firth:
        raise ModelInputError("--firth applies to logit only")
    if time is None:
        raise ModelInputError("cox needs --time (the stop time with --start)")
    from recurrence.models.cox import coxph

    return coxph(
        frame,
        covariates=covariates,
        event=event,
        time=time,
        start=start,
        strata=strata,
        cluster=cluster,
        ties="breslow" if ties == "breslow" else "efron",
        robust=cluster is not None,
    )


@app.command("fit")
def fit(
    model: Annotated[str, typer.Argument(help="logit or cox")],
    data: Annotated[Path, typer.Option("--data", help="input CSV, one row per unit/interval")],
    covariates: Annotated[str, typer.Option("--covariates", help="comma-separated columns")],
    event: Annotated[str, typer.Option("--event", help="0/1 event (cox) or outcome (logit)")],
    out: Annotated[Path, typer.Option("--out", help="output CSV (tidy table)")],
    time: Annotated[str | None, typer.Option("--time", help="time, or interval stop")] = None,
    start: Annotated[str | None, typer.Option("--start", help="interval start (AG)")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="robust SEs by")] = None,
    strata: Annotated[str | None, typer.Option("--strata", help="strata column (cox)")] = None,
    ties: Annotated[str, typer.Option("--ties", help="efron or breslow (cox)")] = "efron",
    firth: Annotated[bool, typer.Option("--firth", help="Firth penalised logit")] = False,
) -> None:
    """Fit a logistic or Cox model and write its tidy table (one row per covariate)."""
    output_file(out)
    covs = [c.strip() for c in covariates.split(",") if c.strip()]
    frame = _read_csv(data)
    _check_mixed_columns(frame, [*covs, event, *(c for c in (time, start) if c)], data)
    try:
        res = fit_model(
            model, frame, covariates=covs, event=event, time=time, start=start,
            cluster=cluster, strata=strata, ties=ties, firth=firth,
        )
    except ModelInputError as exc:
        raise ModelInputError(f"{data}: {exc}") from exc
    except ConvergenceError as exc:
        raise ConvergenceError(f"{data}: {exc}") from exc
    tidy = res.tidy()
    tidy = tidy[tidy["term"] != "(Intercept)"].reset_index(drop=True)
    _write_atomic(tidy, out)
    typer.echo(f"wrote {out} ({len(tidy)} terms, {res.nobs} rows, covariance {res.cov_type})")
