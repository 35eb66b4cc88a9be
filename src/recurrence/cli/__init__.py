"""The ``recurrence`` command line.

Each sub-command lives in its own module under :mod:`recurrence.cli` and registers itself on
:data:`app`. User-facing errors (:class:`recurrence.errors.RecurrenceError`) become one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

# typer vendors its own click (typer._click, pinned with typer in the lock file); its usage
# errors are those classes, not the separately installed click's.
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from recurrence.errors import InputFileError, RecurrenceError

SDCThreshold = Annotated[
    int, typer.Option("--sdc-threshold", min=1, help="Smallest count that may be published.")
]
"""The disclosure threshold option shared by the commands that release tables."""

SDCRounding = Annotated[
    int, typer.Option("--sdc-rounding", min=1, help="Round published counts to this base.")
]
"""The rounding-base option shared by the commands that release tables."""

app = typer.Typer(
    name="recurrence",
    help="Statistics of child-maltreatment recurrence from Children in Need census data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Statistics of child-maltreatment recurrence from Children in Need census data."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point.

    Errors of the user's making leave as one line on stderr and exit status 2: the package's
    own (:class:`~recurrence.errors.RecurrenceError`) and click's usage errors (an unknown
    option, a value out of range), which click would otherwise print as a usage block.
    """
    try:
        code = app(args=argv, standalone_mode=False)
    except NoArgsIsHelpError as exc:
        # No arguments: the help text, as standalone click prints it.
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(2)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "recurrence"
        message = " ".join(exc.format_message().split())
        typer.echo(f"recurrence: error: {command}: {message}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("recurrence: aborted", err=True)
        sys.exit(1)
    except RecurrenceError as exc:
        typer.echo(f"recurrence: error: {exc}", err=True)
        sys.exit(2)
    # As click's standalone mode: always leave through SystemExit (0 on success).
    sys.exit(code if isinstance(code, int) else 0)


def output_file(path: Path) -> Path:
    """Refuse an ``--out`` that must be a file but is a folder (one line, before any work)."""
    if path.is_dir():
        raise InputFileError(str(path), "--out is a folder; give the path of the output file")
    if path.parent != Path("") and path.parent.exists() and not path.parent.is_dir():
        raise InputFileError(str(path.parent), "is a file, not a folder, so --out cannot go in it")
    return path


def output_dir(path: Path) -> Path:
    """Refuse an ``--out`` that must be a folder but is a file (one line, before any work)."""
    if path.exists() and not path.is_dir():
        raise InputFileError(str(path), "--out is an existing file; give a folder")
    return path


# Sub-command modules register themselves on `app` when imported.
from recurrence.cli import effects as _effects  # noqa: E402,F401
from recurrence.cli import fit as _fit  # noqa: E402,F401
from recurrence.cli import la_stats as _la_stats  # noqa: E402,F401
from recurrence.cli import ni65 as _ni65  # noqa: E402,F401
from recurrence.cli import read_cin as _read_cin  # noqa: E402,F401
from recurrence.cli import reproduce as _reproduce  # noqa: E402,F401
from recurrence.cli import synth as _synth  # noqa: E402,F401
from recurrence.cli import validity as _validity  # noqa: E402,F401
from recurrence.cli import version as _version  # noqa: E402,F401
