"""`leadq db upgrade` and `leadq db purge`: database maintenance."""

from __future__ import annotations

from typing import Annotated

import typer

from leadq.cli.console import err, open_store
from leadq.config import Settings
from leadq.storage.retention import cutoff_for, purge
from leadq.storage.retention import describe as describe_purge

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to DATABASE_URL (also done at every start)."""
    settings = Settings()
    store = open_store(settings)
    store.close()
    err.print(f"database at {store.engine.url.render_as_string(hide_password=True)} is up to date")


@db_app.command("purge")
def db_purge(
    days: Annotated[
        float | None,
        typer.Option(min=0, help="Purge what is older than this (default LEADQ_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Delete qualifications and provider calls older than the retention period, and the
    leads left with nothing (see the README's Security section)."""
    settings = Settings()
    days = settings.retention_days if days is None else days
    if days is None:
        err.print("[red]error:[/red] set LEADQ_RETENTION_DAYS or pass --days")
        raise typer.Exit(2)
    store = open_store(settings)
    try:
        purged = purge(store, cutoff_for(days))
    finally:
        store.close()
    for line in describe_purge(purged):
        err.print(line)
