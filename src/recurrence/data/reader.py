"""One front door for CIN data: :func:`read_cin` reads files and folders into linked tables.

Dispatch, per path given:

- a ``.xml`` file: a CIN census return (:mod:`recurrence.data.cin_xml`);
- a ``.csv`` / ``.tsv`` / ``.txt`` file: an NPD-style flat extract (:mod:`recurrence.data.npd`);
- a folder: the package's own tables when it holds ``children.csv`` (or ``.parquet``) and
  ``cin_episodes.*`` (:func:`recurrence.data.io.read_tables`; a tables folder that also holds
  ``.xml`` returns is refused, as ambiguous); otherwise every ``*.xml`` and NPD-style ``*.csv``
  in it and its sub-folders, in sorted path order (other files, such as notes, are not inputs;
  ``.tsv`` / ``.txt`` extracts are read when named explicitly). Folders passed as ``exclude``
  (the command's own output folder) are skipped, so a re-run does not read its earlier output.

All CIN XML returns and NPD extracts found are parsed first and then linked together into one
de-duplicated dataset (:func:`recurrence.data.linkage.link_returns`), so a folder of returns
from several LAs and years becomes one dataset. Every input is read completely before anything
is returned: a whole-file problem in any input raises
:class:`recurrence.errors.InputFileError` and nothing is returned.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from pandera import errors as pa_errors

from recurrence.data import cin_xml, npd
from recurrence.data.io import read_tables, schema_failure_text
from recurrence.data.linkage import ParsedLike, link_returns, sort_tables
from recurrence.data.schema import TABLE_NAMES, CINTables, coerce_table, empty_table
from recurrence.errors import InputFileError

XML_SUFFIXES = frozenset({".xml"})
FLAT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
FOLDER_SUFFIXES = frozenset({".xml", ".csv"})
"""Files collected from folders (a ``.txt`` beside the returns is usually notes)."""


def _is_tables_dir(d: Path) -> bool:
    return any((d / f"children.{e}").exists() for e in ("csv", "parquet")) and any(
        (d / f"cin_episodes.{e}").exists() for e in ("csv", "parquet")
    )


def _inside(f: Path, dirs: Sequence[Path]) -> bool:
    rf = f.resolve()
    return any(rf.is_relative_to(d) for d in dirs)


def expand_paths(
    paths: Iterable[str | os.PathLike[str]], exclude: Sequence[str | os.PathLike[str]] = ()
) -> tuple[list[Path], list[Path]]:
    """Split inputs into (files to parse, directories of package tables).

    Files inside an ``exclude`` folder are not collected from folders (see the module docstring).
    """
    files: list[Path] = []
    table_dirs: list[Path] = []
    skip = [Path(e).resolve() for e in exclude]
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            if _is_tables_dir(p):
                returns = sorted(f for f in p.rglob("*.xml") if f.is_file() and not _inside(f, skip))
                if returns:
                    raise InputFileError(
                        str(p),
                        f"holds the package's tables (children, cin_episodes) and also "
                        f"{len(returns)} XML file(s), e.g. {returns[0]}; pass them separately",
                    )
                table_dirs.append(p)
                continue
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and not f.name.startswith(".")
                and f.suffix.lower() in FOLDER_SUFFIXES
                and not _inside(f, skip)
            )
            if not found:
                raise InputFileError(str(p), "folder holds no CIN XML (.xml) or NPD (.csv) files")
            files.extend(found)
        elif p.is_file():
            if p.suffix.lower() not in XML_SUFFIXES | FLAT_SUFFIXES:
                raise InputFileError(
                    str(p),
                    f"unsupported file type {p.suffix or '(none)'!r}; expected .xml, or .csv, "
                    ".tsv or .txt for an NPD-style extract",
                )
            files.append(p)
        else:
            raise InputFileError(str(p), "file not found")
    return files, table_dirs


def read_cin(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    validate: bool = True,
    workers: int = 1,
    exclude: Sequence[str | os.PathLike[str]] = (),
) -> CINTables:
    """Read CIN XML returns, NPD-style extracts and/or table folders into one :class:`CINTables`.

    Parameters
    ----------
    paths
        Files and folders (see the module docstring for how each is read).
    validate
        Validate the result against :mod:`recurrence.data.schema`.
    workers
        Processes that parse the CIN XML returns (and pieces of large ones) in parallel
        (:func:`recurrence.data.cin_xml.parse_cin_xml_files`); the result is the same
        whatever the number.
    exclude
        Folders whose files are not collected when a folder is scanned (an output folder).

    Notes
    -----
    Folders of the package's own tables are already linked; they are concatenated with the
    linked XML/NPD inputs as they are (no de-duplication across the two kinds of input).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise InputFileError("(none)", "no input paths given")
    files, table_dirs = expand_paths(paths, exclude)
    xml_files = [str(f) for f in files if f.suffix.lower() in XML_SUFFIXES]
    done = iter(cin_xml.parse_in_parallel(xml_files, workers=workers))
    parsed: list[ParsedLike] = []
    # Inputs are taken in order (a file the parallel parse left to us is parsed here), so the
    # first bad input in order is the one reported, whatever the number of workers.
    for f in files:
        if f.suffix.lower() in XML_SUFFIXES:
            parsed.append(next(done) or cin_xml.parse_streaming(f))
        else:
            parsed.extend(npd.parse_npd(f))
    parts = [read_tables(d, validate=False) for d in table_dirs]
    if parsed:
        parts.insert(0, link_returns(parsed, validate=False))
    if len(parts) == 1:
        tables = parts[0]
    else:
        merged = {}
        for name in TABLE_NAMES:
            frames = [p.as_dict()[name] for p in parts if len(p.as_dict()[name])]
            merged[name] = (
                coerce_table(name, pd.concat(frames, ignore_index=True))
                if frames
                else empty_table(name)
            )
        tables = sort_tables(CINTables(**merged))
    if validate:
        try:
            tables.validate()
        except pa_errors.SchemaErrors as exc:
            names = ", ".join(str(p) for p in paths)
            table = getattr(exc.schema, "name", None) or "?"
            raise InputFileError(
                names,
                f"inputs do not combine into valid tables: table {table}, "
                f"{schema_failure_text(exc)}",
            ) from exc
    return tables
