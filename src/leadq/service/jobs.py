"""The job pipeline: a job's pending rows through `LeadService.pipeline`, each row finished in
the job's ledger (its result stored and the row marked, in one transaction, only while it is
still pending) as it comes, so a crash or Ctrl-C loses at most what was in flight and a
resumed job qualifies nothing twice. `leadq qualify` runs it; anything else that runs jobs
should too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext

from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, ResultOrError
from leadq.observability.events import observe_results
from leadq.qualifier import collector_paused
from leadq.service.leads import LeadService
from leadq.storage.jobs import JobLedger
from leadq.storage.writer import JobWriter

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
    ) -> None:
        self.service = service
        self.ledger = ledger
        self.job_id = job_id
        self.writer = writer
        self._buffer: list[Entry] = []
        self._fresh: list[tuple[LeadInput | None, ResultOrError]] = []
        self._last = time.monotonic()

    def _flush(self) -> None:
        calls = self.service.qualifier.drain_calls()
        if self.writer is not None:
            self.writer.submit(self._buffer, calls)
        else:
            self.ledger.finish_rows(self.job_id, self._buffer, calls)
        observe_results(self._fresh, self.service.qualifier.settings.log_pii)
        self._buffer.clear()
        self._fresh.clear()
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
        flush_every = LOCAL_FLUSH if self.writer is not None else 1
        try:
            async for i, lead, outcome, fresh in self.service.pipeline(parsed, concurrency):
                self._buffer.append((rows[i], lead, outcome))
                if fresh:  # a cache hit was observed when it was found
                    self._fresh.append((lead, outcome))
                if (
                    len(self._buffer) >= flush_every
                    or time.monotonic() - self._last > FLUSH_SECONDS
                ):
                    self._flush()
                advance()
        finally:
            if self._buffer:
                self._flush()


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
