"""Submitted jobs, as the HTTP routes (and so `leadq qualify --submit`) see them: leads in
(a JSON list, or a CSV/JSONL file read exactly as `leadq qualify` reads one), a job id out
at once; progress; results in input order, in `leadq qualify`'s output format; cancel and
retry. The chunks go to `JobQueue` (the server's own runner, or a broker's workers)."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from leadq.config import Settings
from leadq.core.errors import Conflict, InvalidFile, NotFound, PayloadTooLarge
from leadq.core.lead import MAX_ATTRIBUTES
from leadq.leadfiles import LeadFileError, job_record, read_lead_file, write_records
from leadq.observability.logs import log_event
from leadq.qualifier import LeadQualifier
from leadq.service.job_runner import JobQueue
from leadq.storage import chunks
from leadq.storage.jobs import JobLedger
from leadq.storage.store import Store

log = logging.getLogger("leadq.jobs")

FORMATS = ("csv", "jsonl")
RESULTS_PAGE = 1000  # rows per piece of a streamed download
LLM_CHUNK, LOCAL_CHUNK = 100, 5000  # default rows per chunk (LEADQ_JOB_CHUNK_ROWS)


def chunk_rows(settings: Settings, qualifier: LeadQualifier | None) -> int:
    """Rows per chunk: LEADQ_JOB_CHUNK_ROWS, else small for an LLM (several workers share a
    job of a few hundred leads) and large for the rules engine (a transaction per chunk)."""
    if settings.job_chunk_rows:
        return settings.job_chunk_rows
    return LOCAL_CHUNK if qualifier is not None and qualifier.backend.is_local else LLM_CHUNK


def read_upload(
    data: bytes, fmt: str, mapping: Mapping[str, str], settings: Settings, name: str
) -> tuple[list[Any], dict[str, Any]]:
    """A submitted file's rows (as `read_lead_file` gives them) and the job's options (the
    attribute names a CSV download adds as columns, the file's warnings and notes). A file
    that cannot be read is `InvalidFile`, naming the row or byte."""
    if fmt not in FORMATS:
        raise InvalidFile(f"cannot read a file as {fmt!r}: send CSV or JSONL")
    with tempfile.TemporaryDirectory(prefix="leadq-upload-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"
        path.write_bytes(data)
        try:
            read = read_lead_file(
                path,
                fmt,
                max_bytes=settings.max_file_bytes,
                max_rows=settings.max_rows,
                mapping=mapping,
            )
        except LeadFileError as exc:
            raise InvalidFile(str(exc).replace(str(path), name)) from None
    options = {
        "attributes": list(read.attributes),
        "warnings": read.warnings,
        "notes": read.notes,
        "format": fmt,
    }
    return read.rows, options


def read_json(leads: Sequence[Any], settings: Settings) -> tuple[list[Any], dict[str, Any]]:
    """A JSON list of leads as a job's rows; the attribute names its leads carry (the first
    MAX_ATTRIBUTES, in order of appearance) for a CSV download's columns."""
    if len(leads) > settings.max_rows:
        raise PayloadTooLarge(
            f"{len(leads)} leads is over the limit of {settings.max_rows} (LEADQ_MAX_ROWS)"
        )
    names: dict[str, None] = {}
    for lead in leads:
        given = lead.get("attributes") if isinstance(lead, dict) else None
        if isinstance(given, dict):
            for name in given:
                if len(names) < MAX_ATTRIBUTES:
                    names.setdefault(str(name), None)
    return list(leads), {"attributes": list(names), "warnings": [], "notes": [], "format": "json"}


def submit(
    store: Store,
    queue: JobQueue,
    source: str,
    rows: Sequence[Any],
    options: dict[str, Any],
    rows_per_chunk: int,
) -> dict[str, Any]:
    """Store the job, its rows and its chunks, then hand the chunks to `queue`. If the
    queue refuses them (the broker is away), the job is removed again and the error raised:
    a job is either accepted and run, or not there."""
    job_id, spans = chunks.submit(store, source, rows, rows_per_chunk, options)
    try:
        queue.enqueue(job_id, spans)
    except Exception:
        log.exception("job %s: its chunks could not be queued; the job is removed", job_id)
        chunks.remove(store, job_id)
        raise
    log_event("job.submitted", job_id=job_id, rows=len(rows), chunks=len(spans), source=source)
    return describe(store, job_id)


def describe(store: Store, job_id: str) -> dict[str, Any]:
    found = chunks.describe_job(store, job_id)
    if found is None:
        raise NotFound(f"no job {job_id}")
    return found


def cancel(store: Store, job_id: str) -> dict[str, Any]:
    """Cancel a job still queued or running; 409 for one that finished (or a `leadq
    qualify` job, which its command runs)."""
    job = describe(store, job_id)
    if job["kind"] != "api":
        raise Conflict(f"job {job_id} is run by `leadq qualify`: stop that command instead")
    if job["status"] == "done":
        raise Conflict(f"job {job_id} finished at {job['finished_at']}: there is nothing to cancel")
    if chunks.cancel(store, job_id):
        log_event("job.cancelled", job_id=job_id, done=job["done"], total=job["total"])
    return describe(store, job_id)


def retry_failed(store: Store, queue: JobQueue, job_id: str) -> tuple[dict[str, Any], int]:
    """Put a finished job's rows that failed with a retryable error back to pending and
    queue their chunks again; returns the job and how many rows. 409 while it runs."""
    job = describe(store, job_id)
    if job["kind"] != "api":
        raise Conflict(f"job {job_id} is run by `leadq qualify`: use its --retry-failed")
    if job["status"] != "done":
        raise Conflict(
            f"job {job_id} is {job['status']}: failed rows are retried once it has finished"
        )
    reopened = JobLedger(store).reopen_failed(job_id)
    spans = chunks.requeue_pending(store, job_id) if reopened else []
    if spans:
        queue.enqueue(job_id, spans)
        log_event("job.retried", job_id=job_id, rows=reopened, chunks=len(spans))
    return describe(store, job_id), reopened


def result_pieces(
    store: Store, job_id: str, fmt: str, after: int = 0, limit: int | None = None
) -> Iterator[str]:
    """A job's results so far as `leadq qualify` writes them, in input order, a page of rows
    at a time: finished rows (and, once a job is cancelled, its rows never run, status
    `cancelled`), those after row `after`, at most `limit` of them (a page reader asks for
    what it has not yet got). CSV has the columns of `leadq qualify -o out.csv`, then the
    submitted file's attribute columns."""
    job = describe(store, job_id)
    names = chunks.job_options(store, job_id).get("attributes") or []
    cancelled = job["status"] == "cancelled"
    found = chunks.records(store, job_id, RESULTS_PAGE, after=after, pending=cancelled)
    rows = islice(found, limit)
    header = _write(fmt, [], {}, names) if fmt == "csv" else ""
    first = True
    while True:
        page = list(islice(rows, RESULTS_PAGE))
        records, inputs = [], {}
        for row, status, payload, raw in page:  # pending only when the job was cancelled
            inputs[row - 1] = raw
            records.append(
                job_record(row, raw, "cancelled" if status == "pending" else status, payload)
            )
        text = _write(fmt, records, inputs, names)
        if fmt == "csv":
            text = (header if first else "") + text.removeprefix(header)
        if text or first:
            yield text
        first = False
        if not page:
            return


def _write(fmt: str, records: list[dict[str, Any]], inputs: dict[int, Any], names: Any) -> str:
    out = io.StringIO()
    write_records(out, fmt, records, inputs, attributes=tuple(names))
    return out.getvalue()
