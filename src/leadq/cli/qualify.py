"""`leadq qualify FILE`: every lead in a CSV or JSONL file, as a stored, resumable job."""

from __future__ import annotations

import gc
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from leadq.cli.console import err, open_store, progress
from leadq.cli.jobs import submit_file
from leadq.cli.records import EXCEL_HELP
from leadq.config import Settings
from leadq.core.errors import LeadqError
from leadq.leadfiles import (
    MAP_FIELDS,
    LeadFileError,
    file_format,
    job_record,
    open_output,
    parse_mapping,
    read_lead_file,
    row_error,
    write_records,
)
from leadq.qualifier import LeadQualifier
from leadq.service.jobs import run_job
from leadq.service.leads import LeadService, parse_each, seed_budget
from leadq.storage.cache import ResultCache
from leadq.storage.jobs import JobLedger, file_hash
from leadq.storage.models import Job


def _run(
    service: LeadService,
    ledger: JobLedger,
    job: Job,
    leads: list[Any],
    pending: list[int],
    concurrency: int | None,
    quiet: bool,
) -> None:
    """The job's pending rows through the job pipeline, with a progress bar."""
    parsed = parse_each(
        [row_error(r) if isinstance(r, str) else r for r in (leads[row - 1] for row in pending)]
    )
    # The file's rows and their parsed leads live to the end of the command: frozen (until
    # `qualify` unfreezes them), the collector stops walking them again at every collection.
    gc.freeze()
    total = job.total
    with progress(quiet) as bar:
        task = bar.add_task("leads", total=total, completed=total - len(pending))
        run_job(service, ledger, job.id, pending, parsed, concurrency, lambda: bar.advance(task))


class _Tally:
    """Counts for the summary, taken as records stream past (nothing is kept per row but
    the first failures), so a 100,000-row job does not hold its output in memory."""

    SHOWN = 50

    def __init__(self) -> None:
        self.rows = 0
        self.actions: Counter[str] = Counter()
        self.served: Counter[str] = Counter()
        self.failed: list[dict[str, Any]] = []
        self.failures = 0
        self.tokens_in = self.tokens_out = 0
        self.cost = 0.0
        self.unpriced = 0

    def count(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            self.rows += 1
            if record["status"] == "ok":
                r = record["result"]
                self.actions[r["recommended_action"]] += 1
                self.served[f"{r['provider']}/{r['model']}"] += 1
                self.tokens_in += r["usage"]["input_tokens"]
                self.tokens_out += r["usage"]["output_tokens"]
                if r["cost_usd"] is None:
                    self.unpriced += 1
                else:
                    self.cost += r["cost_usd"]
            else:
                self.failures += 1
                if len(self.failed) < self.SHOWN:
                    self.failed.append(record)
            yield record

    def print(self, elapsed: float) -> None:
        table = Table(title=f"{self.rows} leads in {elapsed:.1f}s", show_header=True)
        table.add_column("action")
        table.add_column("leads", justify="right")
        for action, n in self.actions.most_common():
            table.add_row(action, str(n))
        table.add_row("[red]failed[/red]", str(self.failures))
        err.print(table)
        cost = f"${self.cost:.6f}" + (" (some models unpriced)" if self.unpriced else "")
        by = ", ".join(f"{p} {n}" for p, n in self.served.items()) or "-"
        err.print(
            f"tokens: {self.tokens_in} in, {self.tokens_out} out; cost: {cost}; served by: {by}"
        )
        if self.failures:
            err.print(f"[red]{self.failures} row(s) failed:[/red]")
            for r in self.failed:
                who = r["lead_id"] or r["lead_name"] or "no id or name"
                e = r.get("error") or {"error": r["status"], "message": "no result"}
                err.print(f"  row {r['row']} ({who}): {e['error']}: {e['message']}")
            if self.failures > self.SHOWN:
                err.print(f"  ... and {self.failures - self.SHOWN} more (see the output)")


MAP_HELP = (
    "Read the file's COLUMN (or JSONL key) as the lead's FIELD, e.g. "
    '--map "Organisation=company_name"; repeatable; wins over the headers leadq knows (its '
    "field names and those of HubSpot, Salesforce, Pipedrive and Zoho exports). FIELD: "
    f"{', '.join(MAP_FIELDS)} (first_name and last_name are joined into lead_name), or "
    "ignore to leave the column out (not even kept as an attribute)."
)


def _source_hash(file: Path, mapping: dict[str, str]) -> str:
    """What makes a job: the file's bytes, and the column map when one is given (the same
    file read through another map holds other leads, so it is another job)."""
    digest = file_hash(file)
    if not mapping:
        return digest
    both = json.dumps([digest, sorted(mapping.items())], ensure_ascii=False)
    return hashlib.sha256(both.encode("utf-8")).hexdigest()


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
    column_map: Annotated[
        list[str] | None,
        typer.Option("--map", metavar="COLUMN=FIELD", help=MAP_HELP),
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
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume", help="Continue this job id (re-running on the same file also resumes)."
        ),
    ] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Start a new job even if this file was qualified before.")
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Resuming: qualify again the rows that failed with a retryable error "
            "(provider outage, rate limit, timeout, unusable answer); invalid leads stay failed.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache", help="Call the provider even for leads qualified within LEADQ_CACHE_TTL."
        ),
    ] = False,
    excel: Annotated[bool, typer.Option("--excel", help=EXCEL_HELP)] = False,
    submit: Annotated[
        bool,
        typer.Option(
            "--submit",
            help="Send FILE to the server (LEADQ_SERVER_URL) as a job and follow it there; "
            "its workers qualify it, and it goes on if this command stops.",
        ),
    ] = False,
    server: Annotated[
        str | None, typer.Option("--server", help="With --submit: the server's URL.")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            " /--no-wait", help="With --submit: print the job id and exit, without following."
        ),
    ] = True,
) -> None:
    """Qualify every lead in FILE as a stored, resumable job; exit 1 if any row failed (all
    others are still written)."""
    settings = Settings()
    if submit:
        try:
            mapping = parse_mapping(column_map or ())
            fmt, out_fmt = (
                file_format(file, input_format),
                file_format(output) if output else "jsonl",
            )
        except LeadFileError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        submit_file(file, fmt, mapping, output, out_fmt, server, wait, quiet)
        return
    try:
        mapping = parse_mapping(column_map or ())
        read = read_lead_file(
            file,
            input_format,
            max_bytes=settings.max_file_bytes,
            max_rows=settings.max_rows,
            mapping=mapping,
        )
        leads = read.rows
        out_fmt = file_format(output) if output else "jsonl"
        qualifier = LeadQualifier(settings)
    except (LeadFileError, LeadqError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    store = open_store(settings)
    seed_budget(qualifier, store)
    ledger = JobLedger(store)
    try:
        job, resumed = ledger.open(
            file.resolve(), _source_hash(file, mapping), len(leads), job_id=resume, new=new
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for note in read.notes:
        err.print(note, markup=False, highlight=False)
    for w in read.warnings:  # column names are the file's: not markup
        err.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if resumed and retry_failed:
        err.print(f"job {job.id}: {ledger.reopen_failed(job.id)} failed rows to try again")
    pending = ledger.pending(job.id)
    err.print(f"provider: {qualifier.provider}, model: {qualifier.model}")
    if resumed:
        err.print(
            f"job {job.id}: resuming, {len(pending)} of {job.total} rows left "
            "(use --new to qualify the file again)"
        )
    else:
        err.print(
            f"job {job.id}: {job.total} rows (if interrupted, run the same command "
            f"again or add --resume {job.id})"
        )
    cache = None if no_cache else ResultCache.from_settings(store, settings)
    service = LeadService(qualifier, None, cache)
    try:
        t0 = time.perf_counter()
        try:
            if pending:
                _run(service, ledger, job, leads, pending, concurrency, quiet)
            ledger.close_job(job.id)
        finally:
            qualifier.close()
        elapsed = time.perf_counter() - t0
        tally = _Tally()
        records = tally.count(
            job_record(row, leads[row - 1] if row <= len(leads) else None, status, payload)
            for row, status, payload in ledger.outcomes(job.id)
        )
        if output:
            with open_output(output, out_fmt, excel=excel) as fh:
                n = write_records(fh, out_fmt, records, leads, attributes=read.attributes)
            err.print(f"wrote {n} results to {output}")
        else:
            write_records(sys.stdout, "jsonl", records, leads)
    finally:
        gc.unfreeze()  # what `_run` froze
    store.close()
    tally.print(elapsed)
    if tally.failures:
        raise typer.Exit(1)
