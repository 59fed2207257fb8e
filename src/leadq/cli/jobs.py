"""Jobs on a server: `leadq qualify FILE --submit` sends a file as a job and follows it,
`leadq jobs` lists them (`show`, `results`, `cancel`, `retry-failed`), and `leadq worker`
runs submitted jobs' chunks from a broker. The client commands speak the HTTP API of
LEADQ_SERVER_URL (`--server`), with LEADQ_API_KEY as X-API-Key."""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.table import Table

from leadq.cli.console import err, progress
from leadq.config import Settings

jobs_app = typer.Typer(
    help="Jobs on the server (LEADQ_SERVER_URL): list, show, download results, cancel, retry.",
    no_args_is_help=False,
)
POLL = 1.0  # seconds between looks at a followed job
ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="The leadq server (default LEADQ_SERVER_URL)."),
]
CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


class ServerError(Exception):
    """The server answered an error (its message), or could not be reached."""


class Client:
    """The few calls the CLI makes, over urllib: no client library to install."""

    def __init__(self, settings: Settings, server: str | None = None) -> None:
        self.base = (server or settings.server_url).rstrip("/")
        if urllib.parse.urlsplit(self.base).scheme not in ("http", "https"):
            raise ServerError(f"{self.base}: the server must be an http:// or https:// URL")
        self.headers = {"Accept": "application/json"}
        if settings.api_key is not None:
            self.headers["X-API-Key"] = settings.api_key.get_secret_value()

    def open(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        query: Sequence[tuple[str, str]] = (),
        timeout: float = 60.0,
    ) -> IO[bytes]:
        import urllib.error  # here, not at the top: `leadq --help` stays fast
        import urllib.request

        url = self.base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - http(s) only, checked above
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # type: ignore[no-any-return]  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise ServerError(_message(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(
                f"cannot reach the leadq server at {self.base} ({reason}): start `leadq serve` "
                "or set LEADQ_SERVER_URL"
            ) from None

    def json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        with self.open(method, path, **kw) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]


def _message(exc: Any) -> str:
    """The error message of an HTTP error answer (`urllib.error.HTTPError`)."""
    try:
        body = json.loads(exc.read())
        return f"{exc.code}: {body['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{exc.code}: {exc.reason}"


def _client(server: str | None) -> Client:
    try:
        return Client(Settings(), server)
    except (ServerError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _fail(exc: ServerError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(2)


# ---- submit and follow -------------------------------------------------------------------------


def submit_file(
    file: Path,
    fmt: str,
    mapping: Mapping[str, str],
    output: Path | None,
    out_fmt: str,
    server: str | None,
    follow: bool,
    quiet: bool,
) -> None:
    """`leadq qualify FILE --submit`: the file as a job on the server, followed to its end
    with a progress bar, then its results written as `leadq qualify` writes them; exit 1
    if any row failed."""
    client = _client(server)
    query = [("name", file.name), ("format", fmt)]
    query += [("map", f"{column}={field}") for column, field in mapping.items()]
    try:
        job = client.json(
            "POST",
            "/api/jobs",
            body=file.read_bytes(),
            content_type=CONTENT_TYPES[fmt],
            query=query,
            timeout=600.0,
        )["data"]
    except ServerError as exc:
        raise _fail(exc) from None
    for w in job.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {w}", markup=True, highlight=False)
    err.print(
        f"job {job['id']}: {job['total']} rows submitted to {client.base} "
        f"(`leadq jobs show {job['id']}`, `leadq jobs results {job['id']}`)"
    )
    if not follow:
        typer.echo(job["id"])
        return
    try:
        job = _follow(client, job, quiet)
        _download(client, job["id"], output, out_fmt)
    except ServerError as exc:
        raise _fail(exc) from None
    err.print(
        f"job {job['id']} {job['status']}: {job['succeeded']} succeeded, {job['failed']} failed"
    )
    if job["failed"] or job["status"] != "done":
        raise typer.Exit(1)


def _follow(client: Client, job: dict[str, Any], quiet: bool) -> dict[str, Any]:
    with progress(quiet) as bar:
        task = bar.add_task("rows", total=job["total"], completed=job["done"])
        while job["status"] in ("queued", "running"):
            time.sleep(POLL)
            job = client.json("GET", f"/api/jobs/{job['id']}")["data"]
            bar.update(task, completed=job["done"])
    return job


def _download(client: Client, job_id: str, output: Path | None, fmt: str) -> None:
    with client.open(
        "GET", f"/api/jobs/{job_id}/results", query=[("format", fmt)], timeout=600.0
    ) as reply:
        if output is None:
            shutil.copyfileobj(reply, sys.stdout.buffer)
            sys.stdout.flush()
            return
        with output.open("wb") as fh:
            shutil.copyfileobj(reply, fh)
    err.print(f"wrote the results to {output}")


# ---- leadq jobs ----------------------------------------------------------------------------------


def _table(jobs: Sequence[dict[str, Any]]) -> Table:
    table = Table(show_header=True)
    for column in ("id", "kind", "status", "done", "failed", "rate/s", "created", "source"):
        table.add_column(column, justify="right" if column in ("done", "failed") else "left")
    for j in jobs:
        table.add_row(
            j["id"],
            j["kind"],
            j["status"],
            f"{j['done']}/{j['total']}",
            str(j["failed"]),
            f"{j['rate']:.1f}" if j.get("rate") else "-",
            (j.get("created_at") or "")[:19],
            j["source"][-50:],
        )
    return table


@jobs_app.callback(invoke_without_command=True)
def list_jobs(
    ctx: typer.Context,
    server: ServerOption = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
) -> None:
    """The newest jobs on the server, submitted ones and `leadq qualify` runs."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        jobs = _client(server).json("GET", "/api/jobs", query=[("limit", str(limit))])["data"]
    except ServerError as exc:
        raise _fail(exc) from None
    err.print(_table(jobs))


@jobs_app.command("show")
def show_job(job_id: str, server: ServerOption = None) -> None:
    """A job's status and progress, as JSON."""
    try:
        job = _client(server).json("GET", f"/api/jobs/{job_id}")["data"]
    except ServerError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(job, indent=2))


@jobs_app.command("results")
def job_results(
    job_id: str,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write here (.jsonl or .csv); default JSONL on stdout."
        ),
    ] = None,
    server: ServerOption = None,
) -> None:
    """Download a job's results so far, in input order, as `leadq qualify` writes them."""
    fmt = "csv" if output is not None and output.suffix.lower() == ".csv" else "jsonl"
    try:
        _download(_client(server), job_id, output, fmt)
    except ServerError as exc:
        raise _fail(exc) from None


@jobs_app.command("cancel")
def cancel_job(job_id: str, server: ServerOption = None) -> None:
    """Cancel a queued or running job (its finished rows stay)."""
    try:
        job = _client(server).json("POST", f"/api/jobs/{job_id}/cancel")["data"]
    except ServerError as exc:
        raise _fail(exc) from None
    err.print(f"job {job_id}: {job['status']}, {job['done']} of {job['total']} rows finished")


@jobs_app.command("retry-failed")
def retry_failed(job_id: str, server: ServerOption = None) -> None:
    """Qualify again a finished job's rows that failed with a retryable error."""
    try:
        answer = _client(server).json("POST", f"/api/jobs/{job_id}/retry-failed")
    except ServerError as exc:
        raise _fail(exc) from None
    err.print(f"job {job_id}: {answer['reopened']} failed rows to try again")


# ---- leadq worker --------------------------------------------------------------------------------


def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-c", min=1, max=256, help="Chunks this worker runs at once."
        ),
    ] = 2,
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues",
            help="Comma-separated broker queues to take chunks from (default LEADQ_JOB_QUEUE).",
        ),
    ] = None,
) -> None:
    """Run submitted jobs' chunks from LEADQ_BROKER_URL, with this machine's provider
    settings, storing into LEADQ_DATABASE_URL (shared with the server: PostgreSQL). SIGTERM
    or Ctrl-C: finish the chunks in hand, then exit; a second one exits at once (they are
    delivered again to another worker)."""
    from leadq.observability.logs import configure_logging

    settings = Settings()
    configure_logging(settings, default_level="INFO")
    if not settings.broker_url:
        err.print(
            "[red]error:[/red] leadq worker needs LEADQ_BROKER_URL (redis://... or amqp://...); "
            "without a broker, `leadq serve` runs submitted jobs itself"
        )
        raise typer.Exit(2)
    if settings.effective_database_url.startswith("sqlite"):
        err.print(
            "[yellow]warning:[/yellow] the database is a SQLite file: workers on other "
            "machines cannot share it; set LEADQ_DATABASE_URL to PostgreSQL"
        )
    try:
        from leadq.service.broker import BrokerError, run_worker
    except ImportError as exc:
        err.print(
            f"[red]error:[/red] leadq worker needs the jobs extra ({exc.name} is not "
            "installed): pip install 'leadq[jobs]'"
        )
        raise typer.Exit(2) from None
    names = [q.strip() for q in (queues or settings.job_queue).split(",") if q.strip()]
    try:
        code = run_worker(settings, concurrency, names)
    except BrokerError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)
