"""`JobWriter`: finishes a job's rows (`JobLedger.finish_rows`) in a process of its own, so
the rules engine qualifies the next rows on one core while SQLite stores the last ones on
the other. A thread could not do this: sqlite3 releases and re-takes the GIL for every row
a statement steps over, and each re-take waited behind the qualifying thread, so a writer
thread made the command slower rather than faster."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from leadq.config import Settings
from leadq.core.calls import CallAttempt
from leadq.core.lead import LeadInput
from leadq.core.result import ResultOrError

Entries = Sequence[tuple[int, LeadInput | None, ResultOrError]]


class WriterError(RuntimeError):
    """The writer process could not store a batch (its rows stay pending, for a resume)."""


class JobWriter:
    """Hands batches of finished rows to a writer process, which stores them one at a time
    and in order, each in its own transaction (as `finish_rows` does in this process).

    `submit` returns once the process has taken the batch, which it does when it has stored
    the one before: at most two batches are qualified and not stored yet. A failure in the
    process is raised by the next `submit` or by `close`; later batches are not stored.

    `events`: whether stored results get webhook events (`Store.events`); by default, as
    LEADQ_WEBHOOK_URL says in the command's environment."""

    def __init__(self, database_url: str, job_id: str, *, events: bool | None = None) -> None:
        if events is None:
            events = Settings().webhooks_on
        ctx = multiprocessing.get_context("spawn")  # nothing inherited: no pool, no loop
        self._conn, theirs = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve,
            args=(database_url, job_id, events, theirs),
            name="leadq-writer",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._error: WriterError | None = None

    def submit(self, entries: Entries, calls: Sequence[CallAttempt] = ()) -> None:
        self._check()
        try:
            self._conn.send((list(entries), list(calls)))
        except (BrokenPipeError, ConnectionResetError):
            self._check(wait=True)  # raises what the process reported before it ended

    def close(self) -> None:
        """Wait until every submitted batch is stored; raises the writer's failure if any."""
        try:
            if self._error is None:
                # A process that ended already: its report (or its absence) says why.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._conn.send(None)
            self._check(wait=True)
        finally:
            self._process.join()
            self._conn.close()

    def _check(self, wait: bool = False) -> None:
        """Raise what the writer reported (a failure), if it reported anything yet."""
        if self._error is None and (wait or self._conn.poll()):
            try:
                report = self._conn.recv()
            except EOFError:
                self._process.join()
                report = f"it ended without a report (exit code {self._process.exitcode})"
            if report is not None:
                self._error = WriterError(f"storing results failed: {report}")
        if self._error is not None:
            raise self._error


def _serve(database_url: str, job_id: str, events: bool, conn: Connection) -> None:
    """The writer process: store each batch received until `None`, then report `None`, or
    the first failure as text (an exception may not survive pickling)."""
    from leadq.storage.db import make_engine
    from leadq.storage.jobs import JobLedger
    from leadq.storage.store import Store

    # Ctrl-C reaches the whole process group: this process finishes what it was handed, and
    # the command decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # stored rows make no reference cycles (see `leadq qualify`)
    store = Store(make_engine(database_url), events=events)
    ledger = JobLedger(store)
    report: Any = None
    try:
        while True:
            try:
                batch = conn.recv()
            except EOFError:  # the command died: what it handed over is stored
                return
            if batch is None:
                break
            ledger.finish_rows(job_id, *batch)
    except Exception as exc:  # noqa: BLE001 - reported to the command, which raises it
        report = f"{type(exc).__name__}: {exc}"
    finally:
        store.close()
    conn.send(report)
