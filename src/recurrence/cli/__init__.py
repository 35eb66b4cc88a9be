"""The ``recurrence`` command line.

Each sub-command lives in its own module under :mod:`recurrence.cli` and registers itself on
:data:`app`. User-facing errors (:class:`recurrence.errors.RecurrenceError`) become one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from recurrence.errors import RecurrenceError

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
    """Console entry point."""
    try:
        app(args=argv, standalone_mode=True)
    except RecurrenceError as exc:
        typer.echo(f"recurrence: error: {exc}", err=True)
        sys.exit(2)


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
