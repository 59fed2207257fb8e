"""The job pipeline: a job's pending rows through `LeadService.pipeline`, each row finished in
the job's ledger (its result stored and the row marked, in one transaction, only while it is
still pending) as it comes, so a crash or Ctrl-C loses at most what was in flight and a
resumed job qualifies nothing twice. `leadq qualify` runs it; anything else that runs jobs
should too."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from typing import Any

from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, ResultOrError
from leadq.leadfiles import row_error
from leadq.observability.events import observe_results
from leadq.observability.logs import log_event
from leadq.qualifier import collector_paused
from leadq.service.leads import LeadService, parse_each
from leadq.storage import chunks
from leadq.storage.jobs import JobLedger
from leadq.storage.store import Store
from leadq.storage.writer import JobWriter

log = logging.getLogger("leadq.jobs")

LOCAL_FLUSH = 2000  # rules engine: rows per transaction
FLUSH_SECONDS = 1.0  # and at least this often, whatever the backend

Entry = tuple[int, LeadInput | None, ResultOrError]  # row, parsed lead, outcome


class JobRun:
    """Runs one job's pending rows. With a `writer` (a process of its own), finished rows are
    stored there a chunk at a time while this process qualifies the next ones; without one,
    each row is stored here as it completes."""

    def __init__(
        self,
        service: LeadService,
        ledger: JobLedger,
        job_id: str,
        writer: JobWriter | None = None,
        *,
        in_thread: bool = False,
    ) -> None:
        self.service = service
        self.ledger = ledger
        self.job_id = job_id
        self.writer = writer
        # Store on a thread (`finish_rows_patiently`), or hand over to the `writer` on one,
        # leaving the event loop to the other work it runs: a worker's other chunks, a
        # server's requests.
        self.in_thread = in_thread
        self._buffer: list[Entry] = []
        self._fresh: list[tuple[LeadInput | None, ResultOrError]] = []
        self._last = time.monotonic()

    async def _flush(self) -> None:
        calls = self.service.qualifier.drain_calls()
        buffer, fresh = list(self._buffer), list(self._fresh)
        self._buffer.clear()
        self._fresh.clear()
        if self.writer is not None:
            if self.in_thread:  # waits for the writer to take it: the loop goes on
                await asyncio.to_thread(self.writer.submit, buffer, calls, job_id=self.job_id)
            else:
                self.writer.submit(buffer, calls, job_id=self.job_id)
        elif self.in_thread:
            await asyncio.to_thread(self.ledger.finish_rows_patiently, self.job_id, buffer, calls)
        else:
            self.ledger.finish_rows(self.job_id, buffer, calls)
        observe_results(fresh, self.service.qualifier.settings.log_pii)
        self._last = time.monotonic()

    async def run(
        self,
        rows: Sequence[int],
        parsed: Sequence[LeadInput | LeadError],
        concurrency: int | None = None,
        advance: Callable[[], None] = lambda: None,
    ) -> None:
        """Qualify `parsed` (the leads of `rows`, in the same order) and finish each row;
        `advance` is called once a row."""
        local = self.service.qualifier.backend.is_local
        flush_every = LOCAL_FLUSH if self.writer is not None or (local and self.in_thread) else 1
        try:
            async for i, lead, outcome, fresh in self.service.pipeline(parsed, concurrency):
                self._buffer.append((rows[i], lead, outcome))
                if fresh:  # a cache hit was observed when it was found
                    self._fresh.append((lead, outcome))
                if (
                    len(self._buffer) >= flush_every
                    or time.monotonic() - self._last > FLUSH_SECONDS
                ):
                    await self._flush()
                advance()
        finally:
            if self._buffer:
                await self._flush()


def run_job(
    service: LeadService,
    ledger: JobLedger,
    job_id: str,
    rows: Sequence[int],
    parsed: Sequence[LeadInput | LeadError],
    concurrency: int | None = None,
    advance: Callable[[], None] = lambda: None,
) -> None:
    """`JobRun.run` to the end, on an event loop of its own. On the rules engine, finished
    rows are stored by a writer process (started first, so that it imports while this one
    qualifies) and cyclic garbage collection is paused: its leads and results are acyclic."""
    local = service.qualifier.backend.is_local
    url = service.qualifier.settings.effective_database_url
    writer = JobWriter(url, job_id, events=ledger.store.events) if local else None
    try:
        with collector_paused() if local else nullcontext():
            asyncio.run(
                JobRun(service, ledger, job_id, writer).run(rows, parsed, concurrency, advance)
            )
    finally:
        if writer is not None:
            writer.close()


# ---- submitted jobs: one chunk at a time, by the server or by `leadq worker` ------------------

CHUNK_FAILED = {
    "error": "job_chunk_failed",
    "message": f"the row's chunk failed {chunks.MAX_ATTEMPTS} times (see the workers' logs); "
    "retry-failed tries it again",
    "retryable": True,
}


async def run_chunk(
    service: LeadService,
    ledger: JobLedger,
    chunk: chunks.Chunk,
    owner: str,
    lease: float,
    concurrency: int | None = None,
    writer: JobWriter | None = None,
    qualified: Callable[[], None] = lambda: None,
) -> str:
    """Run a chunk that `owner` claimed: its pending rows through the job pipeline, each row
    finished once in the ledger, the lease moved ahead meanwhile; then the chunk marked and
    the job closed if it was the last. Returns how it ended: `done`; `cancelled` (its job
    was); `lost` (its lease ran out and another runner took it; what was finished stays);
    `failed` (claimed `MAX_ATTEMPTS` times: its pending rows get an error each). Raises
    what stopped it otherwise, after handing the chunk back (queued for another runner).

    With a `writer` (the rules engine: a process storing while this one qualifies, shared
    with the runner's other chunks), the chunk is done once the writer has stored every row
    handed to it; a writer that failed or died fails the chunk (handed back: the rows it did
    not store stay pending). `qualified` is called once every row is handed over to it: the
    runner may start qualifying another chunk while the writer stores this one's last rows."""
    store = ledger.store
    where: dict[str, Any] = {
        "job_id": chunk.job_id,
        "first_row": chunk.first_row,
        "last_row": chunk.last_row,
    }
    if chunk.attempts > chunks.MAX_ATTEMPTS:
        failed = await asyncio.to_thread(chunks.fail_rows, store, chunk, owner, CHUNK_FAILED)
        log_event("chunk.failed", logging.ERROR, **where, rows=failed, attempts=chunk.attempts)
        await _close(store, chunk.job_id)
        return "failed"
    try:
        todo = await asyncio.to_thread(chunks.pending_inputs, store, chunk)
    except BaseException:  # stopped (or the database away) before it started: handed back
        with suppress(Exception):
            await asyncio.to_thread(chunks.end, store, chunk, owner, "queued")
        raise
    rows = [row for row, _ in todo]
    parsed = parse_each([row_error(raw) if isinstance(raw, str) else raw for _, raw in todo])
    log_event("chunk.started", **where, rows=len(rows), attempt=chunk.attempts, owner=owner)
    started = time.monotonic()
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1

    job = JobRun(service, ledger, chunk.job_id, writer, in_thread=True)

    async def work() -> None:
        await job.run(rows, parsed, concurrency, advance)
        if writer is not None:  # stored, not just handed over, before the chunk is done
            qualified()
            mark = await asyncio.to_thread(writer.mark)  # waits while a batch is handed over
            await asyncio.wrap_future(mark)

    run = asyncio.ensure_future(work())
    ended = "done"
    try:
        while not run.done():
            await asyncio.wait({run}, timeout=lease / 3)
            if run.done():
                break
            try:
                state = await asyncio.to_thread(chunks.renew, store, chunk, owner, lease)
            except Exception as exc:  # noqa: BLE001 - the database away: the run goes on
                log.warning("chunk %s: lease not renewed: %s", where, type(exc).__name__)
                continue
            if state != "held":
                ended = "cancelled" if state == "cancelled" else "lost"
                run.cancel()
        with suppress(asyncio.CancelledError):
            await run
        if not run.cancelled():
            run.result()  # raises what made the run fail
        elif ended == "done":  # cancelled from outside (a shutdown): handed back below
            raise asyncio.CancelledError
    except BaseException:
        run.cancel()
        with suppress(BaseException):
            await run
        # Handed back: another runner (or this one, later) takes it up where it stopped.
        with suppress(Exception):
            await asyncio.to_thread(chunks.end, store, chunk, owner, "queued")
        log_event("chunk.released", logging.WARNING, **where, rows_finished=done)
        raise

    async def settle() -> None:
        if ended != "lost":
            await asyncio.to_thread(chunks.end, store, chunk, owner, ended)
        log_event(
            "chunk.finished",
            **where,
            outcome=ended,
            rows=done,
            seconds=round(time.monotonic() - started, 3),
        )
        if ended == "done":
            await _close(store, chunk.job_id)

    # Its rows are finished: a stop meanwhile (a shutdown) must not leave it running.
    await asyncio.shield(settle())
    return ended


async def _close(store: Store, job_id: str) -> None:
    if await asyncio.to_thread(chunks.close_if_complete, store, job_id, store.events):
        found = await asyncio.to_thread(chunks.describe_job, store, job_id)
        counts = found or {}
        log_event(
            "job.finished",
            job_id=job_id,
            total=counts.get("total"),
            succeeded=counts.get("succeeded"),
            failed=counts.get("failed"),
        )
