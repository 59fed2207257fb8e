"""The `leadq` command line: qualify a file of leads and see what happened."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadq.config import Settings
from leadq.errors import LeadqError
from leadq.leadfiles import LeadFileError, file_format, read_leads, row_error, write_outcomes
from leadq.qualifier import LeadQualifier
from leadq.schemas.result import LeadError, Outcome, QualificationResult

app = typer.Typer(
    help="leadq: qualify B2B sales leads.", no_args_is_help=True, pretty_exceptions_enable=False
)
err = Console(stderr=True, soft_wrap=True)  # no hard wraps: messages stay greppable


async def _run(
    qualifier: LeadQualifier, leads: list[Any], concurrency: int | None, quiet: bool
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(leads)
    todo = [(i, lead) for i, lead in enumerate(leads) if not isinstance(lead, str)]
    for i, lead in enumerate(leads):
        if isinstance(lead, str):
            outcomes[i] = row_error(lead)
    with Progress(
        TextColumn("qualifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    ) as bar:
        task = bar.add_task("leads", total=len(leads), completed=len(leads) - len(todo))
        async for j, outcome in qualifier.qualify_leads_as_completed(
            [lead for _, lead in todo], concurrency
        ):
            outcomes[todo[j][0]] = outcome
            bar.advance(task)
    return outcomes  # type: ignore[return-value]


def _summary(outcomes: list[Outcome], leads: list[Any], elapsed: float) -> None:
    ok = [o for o in outcomes if isinstance(o, QualificationResult)]
    failed = [(i, o) for i, o in enumerate(outcomes, 1) if isinstance(o, LeadError)]
    table = Table(title=f"{len(outcomes)} leads in {elapsed:.1f}s", show_header=True)
    table.add_column("action")
    table.add_column("leads", justify="right")
    for action, n in Counter(o.recommended_action.value for o in ok).most_common():
        table.add_row(action, str(n))
    table.add_row("[red]failed[/red]", str(len(failed)))
    err.print(table)
    tokens_in = sum(o.usage.input_tokens for o in ok)
    tokens_out = sum(o.usage.output_tokens for o in ok)
    priced = [o.cost_usd for o in ok if o.cost_usd is not None]
    cost = f"${sum(priced):.6f}" + ("" if len(priced) == len(ok) else " (some models unpriced)")
    providers = ", ".join(
        f"{p} {n}" for p, n in Counter(f"{o.provider}/{o.model}" for o in ok).items()
    )
    err.print(
        f"tokens: {tokens_in} in, {tokens_out} out; cost: {cost}; served by: {providers or '-'}"
    )
    if failed:
        err.print(f"[red]{len(failed)} row(s) failed:[/red]")
        for row, e in failed[:50]:
            lead = leads[row - 1]
            who = e.lead_id or (lead.get("lead_name") if isinstance(lead, dict) else None)
            err.print(f"  row {row} ({who or 'no id or name'}): {e.error}: {e.message}")
        if len(failed) > 50:
            err.print(f"  ... and {len(failed) - 50} more (see the output file)")


@app.command()
def qualify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSONL leads.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write results here (.jsonl or .csv); default: JSONL on stdout."
        ),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option("--format", help="Input format: csv or jsonl (default: from the suffix)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            max=1024,
            help="Leads in flight at once (default LEADQ_MAX_CONCURRENCY).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Qualify every lead in FILE; exit 1 if any row failed (all others are still written)."""
    try:
        leads, warnings = read_leads(file, input_format)
        out_fmt = file_format(output) if output else "jsonl"
        qualifier = LeadQualifier(Settings())
    except (LeadFileError, LeadqError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for w in warnings:
        err.print(f"[yellow]warning:[/yellow] {w}")
    err.print(f"provider: {qualifier.provider}, model: {qualifier.model}")
    t0 = time.perf_counter()
    try:
        outcomes = asyncio.run(_run(qualifier, leads, concurrency, quiet))
    finally:
        qualifier.close()
    elapsed = time.perf_counter() - t0
    if output:
        with output.open("w", encoding="utf-8", newline="") as fh:
            for _ in write_outcomes(fh, out_fmt, leads, outcomes):
                pass
        err.print(f"wrote {len(outcomes)} results to {output}")
    else:
        for _ in write_outcomes(sys.stdout, "jsonl", leads, outcomes):
            pass
    _summary(outcomes, leads, elapsed)
    if any(isinstance(o, LeadError) for o in outcomes):
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default LEADQ_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LEADQ_PORT, 8001).")] = None,
) -> None:
    """Serve the HTTP API (and the web page) with uvicorn."""
    import uvicorn

    from leadq.api.app import create_app

    settings = Settings()
    host, port = host or settings.host, port or settings.port
    if not settings.api_key_list and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(
            f"[yellow]warning:[/yellow] serving on {host} with no LEADQ_API_KEYS: "
            "anyone who can reach it can use it"
        )
    app_ = create_app(settings)
    err.print(
        f"leadq on http://{host}:{port} (provider: "
        f"{settings.effective_provider}); API docs at /docs"
    )
    uvicorn.run(app_, host=host, port=port, log_level="info")


@app.command()
def version() -> None:
    """Print leadq's version."""
    from leadq import __version__

    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
