"""`JobWriter`: finishes a job's rows (`JobLedger.finish_rows`) in a process of its own, so
the rules engine qualifies the next rows on one core while SQLite stores the last ones on
the other. A thread could not do this: sqlite3 releases and re-takes the GIL for every row
a statement steps over, and each re-take waited behind the qualifying thread, so a writer
thread made the command slower rather than faster.

`leadq qualify` starts one for its job; the server's job runner keeps one for as long as it
runs, shared by the chunks of every job it runs (starting one costs a second of imports)."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
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
    the one before: at most two batches are qualified and not stored yet. `sync` returns
    once every batch submitted before it is stored (`mark` gives a future instead: no thread
    waits). A failure in the process (or its end) is raised by the next `submit`, `sync` or
    `close`; later batches are not stored, and the process ends. Threads may share one.

    `job_id`: the job of batches submitted without one (`leadq qualify`'s). `events`: whether
    stored results get webhook events (`Store.events`); by default, as LEADQ_WEBHOOK_URL says
    in the command's environment. `timeout`: the database's (LEADQ_DB_TIMEOUT, as
    `Store.open` gives it). `patient`: each batch stored with `finish_rows_patiently`, tried
    again while the database is away, as a server's job runner stores on a thread."""

    def __init__(
        self,
        database_url: str,
        job_id: str | None = None,
        *,
        events: bool | None = None,
        timeout: float | None = None,
        patient: bool = False,
    ) -> None:
        if events is None:
            events = Settings().webhooks_on
        self.job_id = job_id
        ctx = multiprocessing.get_context("spawn")  # nothing inherited: no pool, no loop
        self._conn, theirs = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve,
            args=(database_url, events, timeout, patient, theirs),
            name="leadq-writer",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._sending = threading.Lock()  # one message at a time into the pipe
        self._changed = threading.Condition()  # the reader's news: what follows
        self._marks: dict[int, Future[None]] = {}  # marks sent and not answered yet
        self._sent = 0  # the last mark sent (they are answered in order)
        self._ended = False  # the process reported its end (closed, or failed)
        self._error: WriterError | None = None
        self._reader = threading.Thread(target=self._read, name="leadq-writer-reader")
        self._reader.daemon = True
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def usable(self) -> bool:
        """Neither failed nor ended: batches submitted now will be stored."""
        return not self._ended and self._process.is_alive()

    def submit(
        self, entries: Entries, calls: Sequence[CallAttempt] = (), *, job_id: str | None = None
    ) -> None:
        job = job_id or self.job_id
        if job is None:
            raise ValueError("a batch without a job: give job_id")
        with self._sending:
            self._check()
            try:
                self._conn.send((job, list(entries), list(calls)))
            except (BrokenPipeError, ConnectionResetError):
                self._wait(lambda: self._ended)  # it ended: its report says why
                self._check()

    def sync(self) -> None:
        """Wait until every batch submitted so far is stored; raises the writer's failure
        if any (then some of them are not: their rows stay pending)."""
        self.mark().result()

    def mark(self) -> Future[None]:
        """A future done once every batch submitted so far is stored, or failed with the
        writer's failure (then some of them are not: their rows stay pending)."""
        done: Future[None] = Future()
        done.set_running_or_notify_cancel()  # not cancellable: the reader always settles it
        with self._sending:
            with self._changed:
                if self._ended:
                    done.set_exception(self._error or WriterError("the writer was closed"))
                    return done
                self._sent += 1
                self._marks[self._sent] = done
                mark = self._sent
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._conn.send(mark)  # a process that ended: its report says why
        return done

    def close(self) -> None:
        """Wait until every submitted batch is stored, and the process ends; raises the
        writer's failure if any."""
        try:
            with self._sending:
                if not self._ended:
                    # A process that ended already: its report (or its absence) says why.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self._conn.send(None)
            self._wait(lambda: self._ended)
            self._check()
        finally:
            self._reader.join()
            self._process.join()
            self._conn.close()

    def _wait(self, until: Callable[[], bool]) -> None:
        with self._changed:
            self._changed.wait_for(until)

    def _check(self) -> None:
        """Raise the writer's failure, if it reported one (or ended without a report)."""
        if self._error is not None:
            raise self._error

    def _read(self) -> None:
        """The process's answers, as they come: each mark's number once what was sent
        before it is stored; at its end `None`, or its failure."""
        while True:
            try:
                answer = self._conn.recv()
            except (EOFError, OSError):
                self._process.join()
                answer = f"it ended without a report (exit code {self._process.exitcode})"
            with self._changed:
                if isinstance(answer, int):
                    for mark in [m for m in self._marks if m <= answer]:
                        self._marks.pop(mark).set_result(None)
                else:
                    if answer is not None:
                        self._error = WriterError(f"storing results failed: {answer}")
                    self._ended = True
                    for done in self._marks.values():
                        done.set_exception(self._error or WriterError("the writer was closed"))
                    self._marks.clear()
                self._changed.notify_all()
            if self._ended:
                return


def _serve(
    database_url: str, events: bool, timeout: float | None, patient: bool, conn: Connection
) -> None:
    """The writer process: store each batch received until `None`, answering each mark (a
    number) with it once what came before is stored; then report `None`, or the first
    failure as text (an exception may not survive pickling) and end."""
    from leadq.storage.db import make_engine
    from leadq.storage.jobs import JobLedger
    from leadq.storage.store import Store

    # Ctrl-C reaches the whole process group: this process finishes what it was handed, and
    # the command decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # stored rows make no reference cycles (see `leadq qualify`)
    gc.freeze()  # nor do the imports' objects need looking at again
    store = Store(make_engine(database_url, timeout), timeout, events=events)
    ledger = JobLedger(store)
    finish = ledger.finish_rows_patiently if patient else ledger.finish_rows
    report: Any = None
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the command died: what it handed over is stored
                return
            if message is None:
                break
            if isinstance(message, int):  # a mark: what came before is stored
                conn.send(message)
                gc.collect()  # between a server's chunks: what a long life leaves
                continue
            finish(*message)
    except Exception as exc:  # noqa: BLE001 - reported to the command, which raises it
        report = f"{type(exc).__name__}: {exc}"
    finally:
        store.close()
    conn.send(report)
