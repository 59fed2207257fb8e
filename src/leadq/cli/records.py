"""`leadq history` and `leadq export`: what the database holds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadq.cli.console import err, open_store
from leadq.config import Settings
from leadq.leadfiles import file_format, write_records


def history(
    lead: Annotated[str, typer.Argument(help="Stored id, your lead_id, email or name.")],
) -> None:
    """A lead's score history, oldest first."""
    store = open_store(Settings())
    ref = store.find_lead(lead)
    found = store.get_lead(ref) if ref is not None else None
    store.close()
    if found is None:
        err.print(f"[red]no stored lead matches {lead!r}[/red]")
        raise typer.Exit(1)
    table = Table(
        title=f"{found['lead_name']} at {found['company_name']} (id {found['id']}"
        + (f", {found['lead_id']}" if found["lead_id"] else "")
        + ")"
    )
    for col in ("when", "overall", "action", "provider/model", "qualification"):
        table.add_column(col)
    for h in found["history"]:
        table.add_row(
            h["at"][:19],
            f"{h['overall_score']:.3f}",
            h["recommended_action"],
            f"{h['provider']}/{h['model']}",
            str(h["qualification_id"]),
        )
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160).print(table)


def export(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help=".csv or .jsonl; default: JSONL on stdout."),
    ] = None,
) -> None:
    """The latest result of every stored lead."""
    store = open_store(Settings())
    records = (
        {
            "row": n,
            "lead_id": q.get("lead_id"),
            "lead_name": q["input"].get("lead_name"),
            "status": "ok",
            "result": {k: v for k, v in q.items() if k != "input"},
        }
        for n, q in enumerate(store.latest_results(), 1)
    )
    if output:
        with output.open("w", encoding="utf-8", newline="") as fh:
            n = write_records(fh, file_format(output), records)
        err.print(f"wrote {n} leads to {output}")
    else:
        write_records(sys.stdout, "jsonl", records)
    store.close()
