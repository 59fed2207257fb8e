"""Where submitted jobs' chunks go: `JobQueue` is the one seam; `JobRunner` runs them inside
`leadq serve` when no broker is configured, and `service/broker.py` sends them to
`leadq worker` processes when one is.

The runner claims chunks from the database (`storage/chunks.py`), so any number of server
processes on one database share the work without running a chunk twice, and a restarted
server takes up the chunks left queued or whose lease ran out: nothing needs a broker for
jobs to survive a restart."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Protocol

from leadq.config import Settings
from leadq.qualifier import LeadQualifier
from leadq.service.jobs import run_chunk
from leadq.service.leads import LeadService, seed_budget
from leadq.storage import chunks
from leadq.storage.cache import ResultCache
from leadq.storage.jobs import JobLedger
from leadq.storage.store import Store
from leadq.storage.writer import JobWriter

log = logging.getLogger("leadq.jobs")

POLL = 1.0  # seconds between looks for queued chunks when nothing woke the runner
BACKOFF = 2.0  # seconds before claiming again after a chunk or the database failed


class JobQueue(Protocol):
    """Takes a submitted job's chunks to whoever runs them."""

    def enqueue(self, job_id: str, spans: Sequence[tuple[int, int]]) -> None:
        """The job's chunks `(first_row, last_row)` are queued in the database: run them."""

    def close(self) -> None:
        """Stop; chunks being run are handed back (queued again) or finished."""


class JobRunner:
    """Runs queued chunks in this process, `slots` at a time, on a thread with an event loop
    and a qualifier of its own (the server's loop keeps answering requests). It registers
    as a worker (`job_workers`) while it runs.

    On the rules engine, finished rows are stored by a writer process (`JobWriter`), started
    with the first chunk and shared by all the chunks after it, so that qualifying and
    storing take a core each; a writer that failed or died is replaced for the next chunk. A
    slot is free again once its chunk's rows are qualified: the next chunk is qualified while
    the writer stores the last one's rows (it is done once they are stored)."""

    def __init__(self, settings: Settings, store: Store, slots: int | None = None) -> None:
        self.settings = settings
        self.store = store
        self.slots = slots or settings.job_slots
        self.lease = settings.job_lease
        self.owner = chunks.make_owner("serve")
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._writer: JobWriter | None = None

    def start(self) -> JobRunner:
        self._thread = threading.Thread(target=self._main, name="leadq-jobs", daemon=True)
        self._thread.start()
        return self

    def enqueue(self, job_id: str, spans: Sequence[tuple[int, int]]) -> None:
        self.wake()

    def wake(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    def close(self, timeout: float = 15.0) -> None:
        """Stop claiming; chunks being run stop and are handed back (queued), their finished
        rows stored."""
        self._stopping.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            qualifier = LeadQualifier(self.settings)
        except Exception as exc:  # noqa: BLE001 - the server still answers; jobs wait
            log.error("jobs: not run in this process, the provider is not usable: %s", exc)
            return
        local = qualifier.backend.is_local
        running: set[asyncio.Task[None]] = set()  # chunks run, until they ended
        busy: set[_Slot] = set()  # chunks being qualified: the slots taken
        alive = asyncio.ensure_future(self._heartbeat())
        try:
            await asyncio.to_thread(seed_budget, qualifier, self.store)
            cache = ResultCache.from_settings(self.store, self.settings)
            service = LeadService(qualifier, None, cache)
            ledger = JobLedger(self.store)
            while not self._stopping.is_set():
                self._wake.clear()
                pause = POLL
                try:
                    while len(busy) < self.slots and not self._stopping.is_set():
                        chunk = await asyncio.to_thread(
                            chunks.claim_next, self.store, self.owner, self.lease
                        )
                        if chunk is None:
                            break
                        slot = _Slot(busy, self._wake)
                        task = asyncio.ensure_future(
                            self._run(service, ledger, chunk, local, slot.free)
                        )
                        running.add(task)
                        task.add_done_callback(running.discard)
                        task.add_done_callback(slot.ended)
                except Exception as exc:  # noqa: BLE001 - the database away: try again later
                    log.warning("jobs: cannot claim a chunk: %s", type(exc).__name__)
                    pause = BACKOFF
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if self._writer is not None:  # what the chunks handed over, stored
                await asyncio.to_thread(_close_writer, self._writer)
            alive.cancel()
            with suppress(asyncio.CancelledError):
                await alive
            with suppress(Exception):
                await asyncio.to_thread(chunks.worker_gone, self.store, self.owner)
            await qualifier.backend.aclose()

    async def _run(
        self,
        service: LeadService,
        ledger: JobLedger,
        chunk: chunks.Chunk,
        local: bool,
        qualified: Callable[[], None],
    ) -> None:
        try:
            writer = self._shared_writer() if local else None
            await run_chunk(
                service, ledger, chunk, self.owner, self.lease, writer=writer, qualified=qualified
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("jobs: chunk %s rows %d-%d failed", chunk.job_id, *_span(chunk))
            await asyncio.sleep(BACKOFF)  # before the slot claims again (perhaps the same one)

    def _shared_writer(self) -> JobWriter | None:
        """The writer process, started now if there is none or it failed or ended; None
        if none can be started (the chunk's rows are then stored on a thread)."""
        writer = self._writer
        if writer is not None and writer.usable:
            return writer
        self._writer = None
        if writer is not None:  # its chunks failed (or will) and are handed back
            _close_writer(writer)
        try:
            self._writer = JobWriter(
                self.settings.effective_database_url,
                events=self.store.events,
                timeout=self.settings.db_timeout,
                patient=True,
            )
        except Exception as exc:  # noqa: BLE001 - slower, but the job goes on
            log.warning("jobs: no writer process (rows stored on a thread): %s", exc)
        return self._writer

    async def _heartbeat(self) -> None:
        started = datetime.now(UTC)
        while True:
            with suppress(Exception):
                await asyncio.to_thread(
                    chunks.worker_alive,
                    self.store,
                    self.owner,
                    "in-process",
                    self.slots,
                    os.getpid(),
                    started,
                )
            await asyncio.sleep(chunks.WORKER_HEARTBEAT)


class _Slot:
    """One of the runner's slots, taken by a chunk until it is `free`d: when its rows are
    qualified, or when it ended."""

    def __init__(self, busy: set[_Slot], wake: asyncio.Event) -> None:
        self._busy = busy
        self._wake = wake
        busy.add(self)

    def free(self) -> None:
        if self in self._busy:
            self._busy.discard(self)
            self._wake.set()  # the runner claims another chunk

    def ended(self, _task: asyncio.Task[None]) -> None:
        self.free()


def _close_writer(writer: JobWriter) -> None:
    try:
        writer.close()
    except Exception as exc:  # noqa: BLE001 - its chunks were handed back: nothing is lost
        log.warning("jobs: the writer process failed: %s", exc)


def _span(chunk: chunks.Chunk) -> tuple[int, int]:
    return chunk.first_row, chunk.last_row
