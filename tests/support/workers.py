"""Real `leadq worker` processes for the job tests and the bench: a PostgreSQL database of
the caller's own, a Redis key prefix or a RabbitMQ queue of its own, and workers started
(and stopped, or killed) as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

PG_ADMIN = os.environ.get("LEADQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = "redis://127.0.0.1:6379/0"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@contextmanager
def pg_database(prefix: str = "leadq_test_jobs") -> Iterator[str]:
    """A PostgreSQL database made for the block and dropped after it; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of the block's own; its keys are removed after it."""
    import redis

    prefix = f"leadq-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@contextmanager
def rabbitmq_queue() -> Iterator[str]:
    """A RabbitMQ queue name of the block's own; the queue and Dramatiq's delay and dead-letter
    queues beside it are deleted after it."""
    import pika

    name = f"leadq-test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        channel = connection.channel()
        for queue in (name, f"{name}.DQ", f"{name}.XQ"):
            channel.queue_delete(queue)
        connection.close()


def start_worker(env: dict[str, str], log: Path, concurrency: int = 2) -> subprocess.Popen[Any]:
    """`leadq worker` in a process group of its own, its log (JSON lines) appended to `log`."""
    with log.open("a") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "leadq", "worker", "--concurrency", str(concurrency)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, and SIGKILL for the group if it has not exited within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(
    url: str, job_id: str, until: Callable[[dict[str, Any]], bool], seconds: float = 120
) -> dict[str, Any]:
    """Poll `GET /api/jobs/{id}` until `until(job)`; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = httpx.get(f"{url}/api/jobs/{job_id}", timeout=10).json()["data"]
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not get there: {job}"
        time.sleep(0.1)


def leads(n: int, prefix: str = "W") -> list[dict[str, str]]:
    """`n` distinct leads (no cache can answer one from another)."""
    return [
        {
            "lead_id": f"{prefix}-{i}",
            "lead_name": f"Lead {i}",
            "email": f"lead{i}@co{i}.example.com",
            "company_name": f"Company {i}",
            "industry": "SaaS",
            "job_title": "VP Sales",
        }
        for i in range(n)
    ]
