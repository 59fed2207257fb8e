"""The `leadq` command line: qualify files of leads (as resumable jobs), look at history,
export, record outcomes, serve the API, and manage the database. Each command lives in a
module of its own; this one assembles them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Annotated

import typer

from leadq.cli import db, jobs, learning, profile, qualify, records, webhooks
from leadq.cli.console import err
from leadq.cli.outcomes import outcomes
from leadq.config import EVERY_ADDRESS, LOOPBACK_HOSTS, Settings
from leadq.observability.logs import configure_logging

app = typer.Typer(
    help="leadq: qualify B2B sales leads.", no_args_is_help=True, pretty_exceptions_enable=False
)


@app.callback(help="leadq: qualify B2B sales leads.")
def _start() -> None:
    """Log in LEADQ_LOG_FORMAT at LEADQ_LOG_LEVEL; by default only errors, as the terminal
    shows progress and a summary (LEADQ_LOG_LEVEL=INFO adds an event per lead and call)."""
    with suppress(ValueError):  # a bad setting: the command itself reports it
        configure_logging(Settings(), default_level="ERROR")


app.command()(qualify.qualify)
app.command()(records.history)
app.command()(records.export)
app.command("outcomes")(outcomes)
app.command("train")(learning.train_command)
app.add_typer(db.db_app, name="db")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(learning.model_app, name="model")
app.add_typer(profile.profile_app, name="profile")
app.add_typer(jobs.jobs_app, name="jobs")
app.command("worker")(jobs.worker)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default LEADQ_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LEADQ_PORT, 8001).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes on the one port (default LEADQ_WORKERS, 1); /metrics "
            "adds all of theirs up.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API with uvicorn, in one process or in several worker processes."""
    import uvicorn

    from leadq.api.app import create_app

    settings = Settings()
    configure_logging(settings, default_level="INFO")  # uvicorn's records too, one format
    host, port = host or settings.host, port or settings.port
    workers = workers or settings.workers
    # The address it binds is a Host name it answers to: for this process, and (through the
    # environment) for the worker processes that build their own settings.
    settings = settings.model_copy(update={"host": host})
    os.environ["LEADQ_HOST"] = host
    if not settings.api_key_list and host not in LOOPBACK_HOSTS:
        err.print(
            f"[yellow]warning:[/yellow] serving on {host} with no LEADQ_API_KEYS: "
            "anyone who can reach it can use it"
        )
    if not settings.allowed_hosts and host in EVERY_ADDRESS:
        err.print(
            "[yellow]warning:[/yellow] only loopback Host names are answered: set "
            "LEADQ_ALLOWED_HOSTS to the names clients use to reach this server"
        )
    try:  # with several workers, a check that they can start (and the migration, done once)
        app_ = create_app(settings)
    except Exception as exc:  # noqa: BLE001 - a clear message instead of a traceback
        err.print(f"[red]error:[/red] cannot start: {exc}")
        raise typer.Exit(2) from None
    err.print(
        f"leadq on http://{host}:{port} (provider: {settings.effective_provider}, "
        f"database: {app_.state.store.engine.dialect.name}"
        + (f", {workers} workers" if workers > 1 else "")
        + "); API docs at /docs"
    )
    if workers == 1:
        uvicorn.run(app_, host=host, port=port, log_config=None, access_log=False)  # http.request
        return
    app_.state.store.close()  # each worker builds its own app, from the environment
    with _multiprocess_metrics():
        uvicorn.run(
            "leadq.api.app:create_app_from_env",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )


MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def _multiprocess_metrics() -> Iterator[str]:
    """Prometheus multiprocess mode for the workers about to start: a fresh, empty directory
    in PROMETHEUS_MULTIPROC_DIR, which each worker's prometheus-client reads when it is
    imported (uvicorn spawns the workers, with this environment). This process imported it
    before and keeps its metrics in memory, where no one reads them. The directory goes when
    the workers have exited; a left-over one would add its counts to the next run's."""
    directory = tempfile.mkdtemp(prefix="leadq-metrics-")
    before = os.environ.get(MULTIPROC_DIR)
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield directory
    finally:
        if before is None:
            os.environ.pop(MULTIPROC_DIR, None)
        else:
            os.environ[MULTIPROC_DIR] = before
        shutil.rmtree(directory, ignore_errors=True)


@app.command()
def version() -> None:
    """Print leadq's version."""
    from leadq import __version__

    typer.echo(__version__)
