"""`leadq outcomes FILE`: record lead outcomes in bulk from a CSV (lead_id, email or lead_ref;
outcome; date), for prompt experiments."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leadq.config import Settings
from leadq.storage.outcomes import OUTCOMES, find_lead_ref, record_outcomes
from leadq.storage.store import Store

IDS = ("lead_ref", "lead_id", "email")


class OutcomeFileError(Exception):
    """The file cannot be used at all."""


def read_rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows with lower-case, stripped column names."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            columns = {(n or "").strip().lower(): n for n in reader.fieldnames or []}
            if "outcome" not in columns or not set(IDS) & set(columns):
                raise OutcomeFileError(
                    f"{path}: needs an `outcome` column and one of {', '.join(IDS)}"
                )
            return [
                {n: str(row.get(orig) or "").strip() for n, orig in columns.items()}
                for row in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise OutcomeFileError(f"{path}: {exc}") from None


def _parse(row: dict[str, str], store: Store) -> tuple[int, str, date] | str:
    """`(lead_ref, outcome, date)`, or why the row cannot be recorded."""
    outcome = row.get("outcome", "").lower()
    if outcome not in OUTCOMES:
        return f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}"
    try:
        raw = row.get("date", "")
        on = date.fromisoformat(raw) if raw else datetime.now(UTC).date()
    except ValueError:
        return f"date {row.get('date')!r} is not an ISO date (YYYY-MM-DD)"
    given = {k: row[k] for k in IDS if row.get(k)}
    if not given:
        return "no lead_ref, lead_id or email"
    ref = find_lead_ref(store, **given)
    if ref is None:
        who = ", ".join(f"{k} {v}" for k, v in given.items())
        return f"unknown lead ({who})"
    return ref, outcome, on


def outcomes(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV: lead_ref, lead_id or email; outcome; date."
        ),
    ],
) -> None:
    """Record what happened to stored leads (won, lost, no_response, disqualified); exit 1
    if any row could not be recorded (the others still are)."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        rows = read_rows(file)
        store = Store.open(Settings())
    except Exception as exc:  # noqa: BLE001 - a clear message, not a traceback
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        parsed = [_parse(row, store) for row in rows]
        good = [p for p in parsed if isinstance(p, tuple)]
        record_outcomes(store, good)
    finally:
        store.close()
    counts = Counter(outcome for _, outcome, _ in good)
    summary = ", ".join(f"{k} {counts[k]}" for k in OUTCOMES if counts[k]) or "none"
    err.print(f"recorded {len(good)} of {len(rows)} outcomes: {summary}")
    failed = [(i, p) for i, p in enumerate(parsed, 1) if isinstance(p, str)]
    if failed:
        err.print(f"[red]{len(failed)} row(s) failed:[/red]")
        for i, why in failed:
            err.print(f"  row {i}: {why}")
        raise typer.Exit(1)
