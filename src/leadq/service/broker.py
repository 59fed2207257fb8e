"""Submitted jobs on Dramatiq: the server sends each chunk as a message `(job_id, first_row,
last_row)` to LEADQ_BROKER_URL (Redis or RabbitMQ), and `leadq worker` processes run them
with the same chunk function as the server's own runner (`run_chunk`).

Delivery is at least once and acknowledged late: a message is acknowledged after its chunk
ended, so a worker killed mid-chunk leaves it to be delivered again (RabbitMQ: as soon as
the dead worker's connection drops; Redis: once its heartbeat is LEADQ_JOB_LEASE seconds
old). What a repeat does is decided by the database: it claims the chunk (waiting while
another runner's lease on it is alive), finds the finished rows finished, and qualifies
only the rest. Imported only when a broker is configured: Dramatiq is the `jobs` extra."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import dramatiq
from dramatiq.middleware import AsyncIO, Retries

from leadq.config import Settings
from leadq.observability.logs import log_event
from leadq.qualifier import LeadQualifier
from leadq.service.jobs import run_chunk
from leadq.service.leads import LeadService, seed_budget
from leadq.storage import chunks
from leadq.storage.cache import ResultCache
from leadq.storage.jobs import JobLedger
from leadq.storage.store import Store

log = logging.getLogger("leadq.jobs")

ACTOR = "leadq_chunk"
# Retries of a chunk whose run raised (the database away...): enough that a chunk always
# reaches the claim that fails its rows (`chunks.MAX_ATTEMPTS`) rather than a dead letter.
MAX_RETRIES = 2 * chunks.MAX_ATTEMPTS
MIN_BACKOFF_MS, MAX_BACKOFF_MS = 1_000, 60_000
# Redis: how many dispatches in a million look for dead workers' messages to deliver again
# (Dramatiq's default, 1,000, can leave them for minutes on a quiet queue).
MAINTENANCE_CHANCE = 50_000


class BrokerError(RuntimeError):
    """The broker URL is not one leadq can use, or the broker could not be reached."""


def make_broker(settings: Settings) -> dramatiq.Broker:
    """The broker of LEADQ_BROKER_URL, with leadq's chunk actor declared on LEADQ_JOB_QUEUE
    and set as Dramatiq's global broker."""
    url = settings.broker_url
    if not url:
        raise BrokerError("LEADQ_BROKER_URL is not set")
    scheme = urlsplit(url).scheme
    middleware = [
        AsyncIO(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
    ]
    broker: dramatiq.Broker
    if scheme in ("redis", "rediss", "unix"):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(
            url=url,
            middleware=middleware,
            namespace=f"{settings.redis_prefix}jobs",
            heartbeat_timeout=int(settings.job_lease * 1000),
            maintenance_chance=MAINTENANCE_CHANCE,
        )
    elif scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=middleware, confirm_delivery=True)
    else:
        raise BrokerError(
            f"LEADQ_BROKER_URL must be redis://... or amqp://... (RabbitMQ), not {scheme}://"
        )
    dramatiq.set_broker(broker)
    dramatiq.actor(actor_name=ACTOR, queue_name=settings.job_queue, broker=broker)(_qualify_chunk)
    return broker


class BrokerQueue:
    """The server's side: each chunk of a submitted job as one message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = make_broker(settings)
        self.queue = settings.job_queue
        self._lock = threading.Lock()  # pika's connections are not shared between threads

    def enqueue(self, job_id: str, spans: Sequence[tuple[int, int]]) -> None:
        actor = self.broker.get_actor(ACTOR)
        with self._lock:
            for first, last in spans:
                actor.send(job_id, first, last)

    def resend_queued(self, store: Store) -> int:
        """Send again every chunk still queued in the database. A server that stopped between
        storing a job and sending its messages left those chunks with none; a chunk sent
        twice still runs once (the database says what is done), so this is safe at each
        start. Runs on a thread of its own: a database that hangs does not hold up start-up."""
        try:
            left = chunks.unfinished_chunks(store)
            spans: dict[str, list[tuple[int, int]]] = {}
            for job_id, first, last in left:
                spans.setdefault(job_id, []).append((first, last))
            for job_id, parts in spans.items():
                self.enqueue(job_id, parts)
        except Exception:  # logged; the next start tries again
            log.exception("jobs: could not send the queued chunks again")
            return 0
        if left:
            log_event("jobs.resent", chunks=len(left), jobs=len(spans))
        return len(left)

    def start(self, store: Store) -> None:
        threading.Thread(
            target=self.resend_queued, args=(store,), name="leadq-resend", daemon=True
        ).start()

    def close(self) -> None:
        self.broker.close()


# ---- the worker ----------------------------------------------------------------------------


@dataclass
class _Worker:
    """What a worker process's chunks share: one store, one qualifier (one rate limiter, in
    Redis with REDIS_URL: every worker's calls count against the provider's one limit)."""

    settings: Settings
    store: Store
    ledger: JobLedger
    service: LeadService
    owner: str


_worker: _Worker | None = None


async def _qualify_chunk(job_id: str, first_row: int, last_row: int) -> None:
    """The actor: claim the chunk and run it; if another runner holds it, wait until that
    one finishes it or its lease runs out (then take it over). A chunk that is done,
    cancelled or failed, or a job that no longer exists, is acknowledged as it is."""
    w = _worker
    if w is None:
        raise RuntimeError("the chunk actor runs in `leadq worker` only")
    lease = w.settings.job_lease
    while True:
        chunk = await asyncio.to_thread(chunks.claim, w.store, job_id, first_row, w.owner, lease)
        if chunk is not None:
            await run_chunk(w.service, w.ledger, chunk, w.owner, lease)
            return
        state = await asyncio.to_thread(chunks.chunk_state, w.store, job_id, first_row)
        if state is None or state[0] not in ("queued", "running"):
            return
        until = state[1]
        left = (until - datetime.now(UTC)).total_seconds() if until else 0.0
        await asyncio.sleep(min(max(0.2, left), lease / 3))


def run_worker(settings: Settings, concurrency: int, queues: Sequence[str]) -> int:
    """`leadq worker`: consume `queues` with `concurrency` chunks at once until SIGTERM or
    SIGINT, then stop taking messages, finish the chunks in hand, and return 0. A second
    signal exits at once: the chunks in hand are delivered again to another worker."""
    global _worker
    from dramatiq import Worker

    broker = make_broker(settings)
    for queue in queues:
        broker.declare_queue(queue)
    store = Store.open(settings)
    qualifier = LeadQualifier(settings)
    seed_budget(qualifier, store)
    cache = ResultCache.from_settings(store, settings)
    _worker = _Worker(
        settings=settings,
        store=store,
        ledger=JobLedger(store),
        service=LeadService(qualifier, None, cache),
        owner=chunks.make_owner("worker"),
    )
    worker = Worker(broker, queues=set(queues), worker_threads=concurrency)
    worker.queue_prefetch = concurrency  # a worker takes only what it runs: fair shares
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log_event("worker.abandoned", logging.WARNING, signal=signal.Signals(signum).name)
            os._exit(1)  # the chunks in hand are unacknowledged: delivered again elsewhere
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = datetime.now(UTC)
    queue_names = ",".join(queues)
    worker.start()
    log_event(
        "worker.started",
        worker=_worker.owner,
        queues=queue_names,
        concurrency=concurrency,
        provider=qualifier.provider,
    )
    try:
        while not stop.is_set():
            try:
                chunks.worker_alive(
                    store, _worker.owner, queue_names, concurrency, os.getpid(), started
                )
            except Exception as exc:  # noqa: BLE001 - the database away: said again later
                log.warning("worker: cannot say it is alive: %s", type(exc).__name__)
            stop.wait(chunks.WORKER_HEARTBEAT)
        log_event("worker.stopping", worker=_worker.owner)
        t0 = time.monotonic()
        worker.stop()  # finishes the chunks in hand; unstarted messages go back to the queue
        log_event("worker.stopped", worker=_worker.owner, seconds=round(time.monotonic() - t0, 3))
    finally:
        try:
            chunks.worker_gone(store, _worker.owner)
        except Exception:  # noqa: BLE001 - its row expires by itself
            log.warning("worker: could not remove its row")
        broker.close()
        qualifier.close()
        store.close()
    return 0


def describe(settings: Settings) -> dict[str, Any]:
    """The broker as the server's start line names it (no password)."""
    parts = urlsplit(settings.broker_url or "")
    return {"scheme": parts.scheme, "host": parts.hostname, "queue": settings.job_queue}
