"""Read and write the package's own tables as CSV or parquet.

Files are ``DIR/<table>.csv`` or ``DIR/<table>.parquet`` for each name in
:data:`recurrence.data.schema.TABLE_NAMES`. Writes go to a temporary sibling directory that
is renamed into place only when every table has been written, so an interrupted or failed write
leaves no partial output. CSV dates are ISO ``YYYY-MM-DD``; CSV output is byte-deterministic
(fixed column order, ``\\n`` line endings, no index).
"""

from __future__ import annotations

import numbers
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

import pandas as pd
from pandera import errors as pa_errors

from recurrence.data.schema import DATE, SCHEMAS, TABLE_NAMES, CINTables, coerce_table
from recurrence.errors import InputFileError

TableFormat = Literal["csv", "parquet"]
FORMATS: tuple[str, ...] = get_args(TableFormat)


def check_format(fmt: str) -> TableFormat:
    """Return ``fmt`` if it is a supported table format, else raise ``ValueError``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return fmt  # type: ignore[return-value]


def write_frame(frame: pd.DataFrame, path: Path, fmt: TableFormat) -> None:
    """Write one frame deterministically (dates as ISO dates in CSV)."""
    if fmt == "csv":
        out = frame.copy()
        for col in out.columns:
            if str(out[col].dtype) == DATE:
                out[col] = out[col].dt.strftime("%Y-%m-%d")
        out.to_csv(path, index=False, lineterminator="\n")
    else:
        frame.to_parquet(path, index=False)


def _default_file_mode() -> int:
    """What ``open()`` would give a new file under the current umask (mkstemp gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def replace_atomically(out: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a file through a temporary sibling and rename it, so a failure leaves no file.

    ``write(tmp)`` writes the content; the file then gets the permissions a plainly created file
    would have (not mkstemp's owner-only 0600, which left other members of a project group
    unable to read an output).
    """
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def write_tables(
    tables: CINTables,
    out_dir: str | os.PathLike[str],
    fmt: TableFormat = "csv",
    extra: dict[str, pd.DataFrame] | None = None,
) -> list[Path]:
    """Write every table (and any ``extra`` frames) to ``out_dir`` atomically.

    Returns the written paths. Existing files of the same names are replaced; other files in
    ``out_dir`` are left alone.
    """
    check_format(fmt)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputFileError(str(out), "output path exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    frames = {**tables.as_dict(), **(extra or {})}
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        for name, frame in frames.items():
            write_frame(frame, staging / f"{name}.{fmt}", fmt)
        paths = []
        for name in frames:
            target = out / f"{name}.{fmt}"
            os.replace(staging / f"{name}.{fmt}", target)
            paths.append(target)
        return paths
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_frame(path: Path, table: str | None = None) -> pd.DataFrame:
    """Read one CSV or parquet file; when ``table`` names a schema, coerce to its dtypes."""
    if not path.exists():
        raise InputFileError(str(path), "file not found")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if table is not None and table in SCHEMAS:
        try:
            frame = coerce_table(table, frame)
        except (KeyError, ValueError, TypeError) as exc:
            raise InputFileError(str(path), f"not a valid {table} table: {exc}") from exc
    return frame


def read_tables(directory: str | os.PathLike[str], validate: bool = True) -> CINTables:
    """Read a directory written by :func:`write_tables` (CSV or parquet, detected per table).

    Tables that are absent are returned empty, except ``children`` and ``cin_episodes``, which
    must exist.
    """
    d = Path(directory)
    if not d.is_dir():
        raise InputFileError(str(d), "not a directory of recurrence tables")
    frames: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        found = [d / f"{name}.{ext}" for ext in ("parquet", "csv") if (d / f"{name}.{ext}").exists()]
        if len(found) > 1:
            # Which one is current cannot be known (write_tables leaves the other format alone).
            raise InputFileError(
                str(d), f"holds both {name}.parquet and {name}.csv; remove the stale one"
            )
        if found:
            frames[name] = read_frame(found[0], name)
        elif name in ("children", "cin_episodes"):
            raise InputFileError(str(d), f"missing table {name}.csv or {name}.parquet")
    tables = CINTables.from_mapping(frames)
    if not validate:
        return tables
    try:
        return tables.validate()
    except pa_errors.SchemaErrors as exc:
        raise _schema_error(d, exc) from exc


def _schema_error(directory: Path, exc: pa_errors.SchemaErrors) -> InputFileError:
    """One line naming the file, row and column of the first schema failure of a folder."""
    first = exc.failure_cases.iloc[0]
    name = getattr(exc.schema, "name", None)
    path = directory
    if name:
        path = next(
            (directory / f"{name}.{ext}" for ext in ("parquet", "csv")
             if (directory / f"{name}.{ext}").exists()),
            directory / name,
        )
    row = first.get("index")
    # CSV row number as a spreadsheet shows it: header is row 1.
    where = f"row {int(row) + 2}, " if isinstance(row, numbers.Integral) else ""
    return InputFileError(str(path), where + schema_failure_text(exc))


def schema_failure_text(exc: pa_errors.SchemaErrors) -> str:
    """The first failure of a pandera validation as one line: column, value, check, count."""
    first = exc.failure_cases.iloc[0]
    return (
        f"column {first.get('column')!r}: value {first.get('failure_case')!r} "
        f"fails {first.get('check')!r} ({len(exc.failure_cases)} failure(s) in all)"
    )
