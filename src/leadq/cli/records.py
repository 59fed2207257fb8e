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
from leadq.leadfiles import (
    EXPORT_COLUMNS,
    export_record,
    file_format,
    open_output,
    write_records,
)

EXCEL_HELP = "CSV output: start the file with a UTF-8 byte-order mark, so Excel reads its accents."


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
    excel: Annotated[bool, typer.Option("--excel", help=EXCEL_HELP)] = False,
) -> None:
    """The latest result of every stored lead, with its CRM id, name, company, email and the
    outcome recorded last for it."""
    store = open_store(Settings())
    records = (export_record(n, lead) for n, lead in enumerate(store.latest_with_outcomes(), 1))
    if output:
        fmt = file_format(output)
        with open_output(output, fmt, excel=excel) as fh:
            n = write_records(fh, fmt, records, columns=EXPORT_COLUMNS)
        err.print(f"wrote {n} leads to {output}")
    else:
        write_records(sys.stdout, "jsonl", records)
    store.close()
