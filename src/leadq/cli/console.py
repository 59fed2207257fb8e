"""What every command shares: the stderr console, its progress bar and opening the
database."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadq.config import Settings
from leadq.storage.store import Store

# Piped output is not cut at 80 columns: messages and tables stay whole and greppable.
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


def open_store(settings: Settings) -> Store:
    """The database, migrated; exit 2 with the reason when it cannot be opened."""
    try:
        return Store.open(settings)
    except Exception as exc:  # noqa: BLE001 - the user sees what is wrong, not a traceback
        err.print(f"[red]error:[/red] cannot open the database: {exc}")
        raise typer.Exit(2) from None


def progress(quiet: bool) -> Progress:
    """The bar a command shows on stderr while it qualifies (none with `quiet`)."""
    return Progress(
        TextColumn("qualifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    )
