"""``recurrence version``: print the package version."""

from __future__ import annotations

import typer

from recurrence import __version__
from recurrence.cli import app


@app.command("version")
def version() -> None:
    """Print the package version."""
    typer.echo(__version__)
