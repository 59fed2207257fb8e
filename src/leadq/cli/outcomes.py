"""`leadq outcomes FILE`: record lead outcomes in bulk from a CSV, as a CRM exports it: a lead
column (leadq's `lead_ref`, your `lead_id` or `email`, or a CRM's name for those: "Record ID",
"Lead ID", "Email"), an outcome column (leadq's names or the CRM's stages: "Closed Won") and
an optional date. Headers are compared without case, spacing or punctuation."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leadq.config import Settings
from leadq.core.outcomes import OUTCOMES, StageTable, check_date
from leadq.leadfiles import crm_aliases, header_key, sniff_delimiter
from leadq.storage.outcomes import LOOKUPS, LookupKind, find_lead_refs, record_outcomes
from leadq.storage.store import Store

# The outcome's and the date's columns, by the names leadq and CRM exports give them; of two
# in one file, the one listed first is read.
OUTCOME_COLUMNS = ("Outcome", "Stage", "Deal Stage", "Lead Status", "Status")
DATE_COLUMNS = ("Date", "Outcome Date", "Close Date", "Closed Date")

Row = dict[str, str]  # field (lead_ref, lead_id, email, outcome, date) -> the cell


class OutcomeFileError(Exception):
    """The file cannot be used at all."""


def columns(header: list[str]) -> dict[str, int]:
    """Field -> position of the column that gives it: `lead_ref`, `lead_id`, `email`,
    `outcome`, `date`. A lead column's name is leadq's own or one that `leadq qualify`
    reads from CRM exports (data/crm_columns.toml)."""
    ranks: dict[str, tuple[int, str]] = {header_key("lead_ref"): (-1, "lead_ref")}
    for key, (field, rank) in crm_aliases().items():
        if field in ("lead_id", "email"):
            ranks[key] = (rank, field)
    for rank, name in enumerate(OUTCOME_COLUMNS):
        ranks[header_key(name)] = (rank, "outcome")
    for rank, name in enumerate(DATE_COLUMNS):
        ranks[header_key(name)] = (rank, "date")
    best: dict[str, tuple[tuple[int, int], int]] = {}
    for pos, name in enumerate(header):
        found = ranks.get(header_key(name))
        if found is None:
            continue
        rank, field = found
        if field not in best or (rank, pos) < best[field][0]:
            best[field] = ((rank, pos), pos)
    return {field: pos for field, (_, pos) in best.items()}


def read_rows(path: Path) -> list[Row]:
    """The CSV's rows as field -> cell (stripped); comma, semicolon or tab between columns."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            fh.seek(0)
            reader = csv.reader(fh, delimiter=sniff_delimiter(first))
            header = next(reader, [])
            at = columns(header)
            if "outcome" not in at or not set(LOOKUPS) & set(at):
                raise OutcomeFileError(
                    f"{path}: needs an `outcome` column (or {', '.join(OUTCOME_COLUMNS[1:])}) "
                    "and a lead column (lead_ref, lead_id or email, or a CRM's name for one, "
                    "e.g. Record ID)"
                )
            return [
                {f: cells[p].strip() if p < len(cells) else "" for f, p in at.items()}
                for cells in reader
                if any(c.strip() for c in cells)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise OutcomeFileError(f"{path}: {exc}") from None


def _date(raw: str, today: date) -> date | str:
    """The row's date (an ISO date, or the day of an ISO date-time), or why it is refused."""
    if not raw:
        return today
    try:
        on = date.fromisoformat(raw)
    except ValueError:
        try:
            on = datetime.fromisoformat(raw).date()
        except ValueError:
            return f"date {raw!r} is not an ISO date (YYYY-MM-DD)"
    try:
        return check_date(on, today)
    except ValueError as exc:
        return f"date {raw} {exc}"


def _lookup(row: Row) -> tuple[LookupKind, str] | None:
    """How the row names its lead: its first non-empty lead column."""
    return next(((kind, row[kind]) for kind in LOOKUPS if row.get(kind)), None)


def _parse(rows: list[Row], store: Store, stages: StageTable) -> list[tuple[int, str, date] | str]:
    """Per row, `(lead_ref, outcome, date)` or why it cannot be recorded."""
    today = datetime.now(UTC).date()
    lookups = [_lookup(row) for row in rows]
    refs = iter(find_lead_refs(store, [x for x in lookups if x is not None]))
    out: list[tuple[int, str, date] | str] = []
    for row, lookup in zip(rows, lookups, strict=True):
        ref = next(refs) if lookup is not None else None
        outcome = stages.outcome(row.get("outcome", ""))
        on = _date(row.get("date", ""), today)
        if outcome is None:
            out.append(f"outcome {stages.unknown(row.get('outcome', ''))}")
        elif isinstance(on, str):
            out.append(on)
        elif lookup is None:
            out.append("no lead_ref, lead_id or email")
        elif ref is None:
            out.append(f"unknown lead ({lookup[0]} {lookup[1]})")
        else:
            out.append((ref, outcome, on))
    return out


def outcomes(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV: a lead column (lead_ref, lead_id, email, Record ID, ...), an outcome "
            "column (Outcome, Stage, Deal Stage, Lead Status, Status) and optionally a date.",
        ),
    ],
) -> None:
    """Record what happened to stored leads: won, lost, no_response, disqualified, or a CRM
    stage that says one of them ("Closed Won"; see LEADQ_OUTCOME_STAGES). Exit 1 if any row
    could not be recorded (the others still are)."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        settings = Settings()
        rows = read_rows(file)
        store = Store.open(settings)
    except Exception as exc:  # noqa: BLE001 - a clear message, not a traceback
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    try:
        parsed = _parse(rows, store, settings.stage_table)
        good = [p for p in parsed if isinstance(p, tuple)]
        record_outcomes(store, good)
    finally:
        store.close()
    counts = Counter(outcome for _, outcome, _ in good)
    summary = ", ".join(f"{k} {counts[k]}" for k in OUTCOMES if counts[k]) or "none"
    err.print(f"recorded {len(good)} of {len(rows)} outcomes: {summary}", markup=False)
    failed = [(i, p) for i, p in enumerate(parsed, 1) if isinstance(p, str)]
    if failed:
        err.print(f"[red]{len(failed)} row(s) failed:[/red]")
        for i, why in failed:
            err.print(f"  row {i}: {why}", markup=False, highlight=False)
        raise typer.Exit(1)
