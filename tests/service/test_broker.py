"""Submitted jobs on a real broker, with real `leadq worker` processes, a real `leadq serve`
and a PostgreSQL database of the test's own: a worker killed with SIGKILL mid-job loses
nothing and qualifies nothing twice (its chunks are delivered again and finished by the
others); a worker stopped with SIGTERM finishes what it holds; the same on RabbitMQ."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.llm import answer
from tests.support.openai_server import ScriptedServer
from tests.support.serve import serving
from tests.support.workers import (
    RABBITMQ_URL,
    REDIS_URL,
    leads,
    pg_database,
    rabbitmq_queue,
    redis_prefix,
    start_worker,
    stop,
    wait_for,
)


@pytest.fixture
def pg_db() -> Iterator[str]:
    with pg_database() as url:
        yield url


@pytest.fixture
def prefix() -> Iterator[str]:
    with redis_prefix() as p:
        yield p


def _env(provider_url: str, db: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": provider_url,
        "OPENAI_API_KEY": "sk-test",
        "LEADQ_MODEL": "test-model",
        "LEADQ_MAX_RETRIES": "0",
        "DATABASE_URL": db,
        "LEADQ_BROKER_URL": REDIS_URL,
        "REDIS_URL": REDIS_URL,  # the provider's limit, shared by every worker
        "LEADQ_REDIS_PREFIX": prefix,
        "LEADQ_JOB_LEASE": "4",  # a dead worker's chunks are taken over after 4 s
        "LEADQ_JOB_CHUNK_ROWS": "50",
        "LEADQ_MAX_CONCURRENCY": "8",
        **extra,
    }


def _items(db: str, job_id: str) -> list[tuple[int, str, int | None]]:
    engine = create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT row, status, qualification_id FROM job_items WHERE job_id = :j"),
            {"j": job_id},
        ).all()
        stored = conn.execute(text("SELECT count(*) FROM qualifications")).scalar_one()
    engine.dispose()
    assert stored == len({qid for _, _, qid in rows if qid is not None})  # none stored twice
    return [(r, s, q) for r, s, q in rows]


def _attempts(db: str, job_id: str) -> list[int]:
    engine = create_engine(db)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT attempts FROM job_chunks WHERE job_id = :j ORDER BY first_row"),
            {"j": job_id},
        ).scalars()
        out = list(found)
    engine.dispose()
    return out


def _holder(db: str, job_id: str, seconds: float = 60) -> int:
    """The pid of a worker that holds a running chunk of the job (waiting for one)."""
    engine = create_engine(db)
    end = time.monotonic() + seconds
    try:
        while True:
            with engine.connect() as conn:
                pid = conn.execute(
                    text(
                        "SELECT w.pid FROM job_chunks c JOIN job_workers w ON w.id = c.owner "
                        "WHERE c.job_id = :j AND c.status = 'running' LIMIT 1"
                    ),
                    {"j": job_id},
                ).scalar()
            if pid is not None:
                return int(pid)
            assert time.monotonic() < end, "no worker took a chunk"
            time.sleep(0.02)
    finally:
        engine.dispose()


def _results(url: str, job_id: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{url}/api/jobs/{job_id}/results", timeout=60)
    assert reply.status_code == 200
    return [json.loads(line) for line in reply.text.splitlines()]


def _exactly_once(url: str, db: str, job_id: str, sent: list[dict[str, str]]) -> None:
    """One result per lead: every row done, each with its own stored qualification, and the
    download has them in input order."""
    items = _items(db, job_id)
    assert len(items) == len(sent)
    assert {status for _, status, _ in items} == {"done"}
    assert len({qid for _, _, qid in items}) == len(sent)
    results = _results(url, job_id)
    assert [r["row"] for r in results] == list(range(1, len(sent) + 1))
    assert [r["lead_id"] for r in results] == [lead["lead_id"] for lead in sent]
    assert all(r["status"] == "ok" for r in results)


def _run_with_kill(
    openai_server: ScriptedServer,
    tmp_path: Path,
    env: dict[str, str],
    n: int,
    workers: int,
    kill_after: int,
) -> None:
    """`leadq serve` and `workers` workers; `n` leads submitted; one worker SIGKILLed once
    `kill_after` rows are done; the job must end with exactly one result per lead."""
    openai_server.handler = lambda body: answer(body, delay=0.03)
    db = env["DATABASE_URL"]
    sent = leads(n)
    procs = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(workers)]
    with serving(env, tmp_path / "serve.log") as (_, url):  # the workers start meanwhile
        try:
            reply = httpx.post(f"{url}/api/jobs", json=sent, timeout=60)
            assert reply.status_code == 202, reply.text
            job_id = reply.json()["data"]["id"]
            wait_for(url, job_id, lambda j: j["done"] >= kill_after)
            # The worker killed is one that holds a chunk now (any worker may be between
            # chunks, or not have taken one at all, at the moment the count is reached).
            holder = _holder(db, job_id)
            victim = next(p for p in procs if p.pid == holder)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            assert victim.returncode == -signal.SIGKILL
            job = wait_for(url, job_id, lambda j: j["status"] == "done", seconds=180)
            assert (job["total"], job["succeeded"], job["failed"]) == (n, n, 0)
            _exactly_once(url, db, job_id, sent)
            # The killed worker held chunks: they were delivered again and claimed again.
            assert max(_attempts(db, job_id)) >= 2
            # At most the rows of the chunks it held (2 at a time, its --concurrency) are
            # asked again: those in flight and those answered but not stored yet. Nothing
            # else is. 1,500 leads in chunks of 50: at most 1,600 requests.
            held = 2 * int(env["LEADQ_JOB_CHUNK_ROWS"])
            assert len(openai_server.requests) <= n + held
        finally:
            for proc in procs:
                stop(proc)


@pytest.mark.slow  # the full size; the RabbitMQ test below kills one of two
def test_sigkill_one_of_three_workers_a_third_in_loses_nothing_and_repeats_nothing(
    openai_server: ScriptedServer, tmp_path: Path, pg_db: str, prefix: str
) -> None:
    env = _env(openai_server.url, pg_db, prefix)
    _run_with_kill(openai_server, tmp_path, env, n=1500, workers=3, kill_after=500)


def test_sigkill_on_rabbitmq_is_delivered_again_at_once(
    openai_server: ScriptedServer, tmp_path: Path, pg_db: str, prefix: str
) -> None:
    with rabbitmq_queue() as queue:
        env = _env(
            openai_server.url,
            pg_db,
            prefix,
            LEADQ_BROKER_URL=RABBITMQ_URL,
            LEADQ_JOB_QUEUE=queue,
        )
        _run_with_kill(openai_server, tmp_path, env, n=300, workers=2, kill_after=100)


def test_sigterm_finishes_the_chunk_in_hand_then_exits(
    openai_server: ScriptedServer, tmp_path: Path, pg_db: str, prefix: str
) -> None:
    openai_server.handler = lambda body: answer(body, delay=0.05)
    env = _env(openai_server.url, pg_db, prefix, LEADQ_JOB_CHUNK_ROWS="40")
    sent = leads(200)
    log = tmp_path / "worker0.log"
    with serving(env, tmp_path / "serve.log") as (_, url):
        first = start_worker(env, log, concurrency=1)
        second = None
        try:
            job_id = httpx.post(f"{url}/api/jobs", json=sent, timeout=60).json()["data"]["id"]
            job = wait_for(url, job_id, lambda j: 0 < j["done"] < 40)  # mid-way in its first
            first.send_signal(signal.SIGTERM)
            assert first.wait(60) == 0
            events = [json.loads(line) for line in log.read_text().splitlines() if "{" in line]
            finished = [e for e in events if e.get("event") == "chunk.finished"]
            released = [e for e in events if e.get("event") == "chunk.released"]
            assert finished  # what it held, it finished
            assert not released
            assert [e["event"] for e in events if e["event"].startswith("worker.s")][-2:] == [
                "worker.stopping",
                "worker.stopped",
            ]
            job = httpx.get(f"{url}/api/jobs/{job_id}", timeout=10).json()["data"]
            assert job["done"] == 40 * len(finished)  # whole chunks, no row half-done
            assert job["status"] == "running"  # the rest waits for a worker
            second = start_worker(env, tmp_path / "worker1.log")
            wait_for(url, job_id, lambda j: j["status"] == "done")
            _exactly_once(url, pg_db, job_id, sent)
            assert len(openai_server.requests) == len(sent)  # not one lead asked twice
        finally:
            stop(first)
            if second is not None:
                stop(second)


def test_workers_alive_and_chunks_on_metrics(
    openai_server: ScriptedServer, tmp_path: Path, pg_db: str, prefix: str
) -> None:
    openai_server.handler = lambda body: answer(body)
    env = _env(openai_server.url, pg_db, prefix)
    with serving(env, tmp_path / "serve.log") as (_, url):
        procs = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
        try:
            deadline = time.monotonic() + 60
            while _gauge(url, "leadq_job_workers") < 2:
                assert time.monotonic() < deadline, "the workers never said they were alive"
                time.sleep(0.2)
            job_id = httpx.post(f"{url}/api/jobs", json=leads(120), timeout=60).json()["data"]
            wait_for(url, job_id["id"], lambda j: j["status"] == "done")
            assert _gauge(url, "leadq_job_chunks", status="done") == 3
            assert _gauge(url, "leadq_jobs", status="done") == 1
            stop(procs[1])
            assert _gauge(url, "leadq_job_workers") == 1  # a stopped worker leaves at once
        finally:
            for proc in procs:
                stop(proc)


def _gauge(url: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    body = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_chunks_a_stopped_server_never_sent_are_sent_when_it_starts_again(
    openai_server: ScriptedServer, tmp_path: Path, pg_db: str, prefix: str
) -> None:
    """A job stored, its chunks queued in the database, and no message sent (the server
    stopped in between): the next `leadq serve` sends them, and a worker finishes the job."""
    from leadq.storage import chunks
    from leadq.storage.db import make_engine, upgrade
    from leadq.storage.store import Store

    openai_server.handler = lambda body: answer(body)
    engine = make_engine(pg_db)
    upgrade(engine)
    store = Store(engine)
    try:
        sent = leads(30)
        job_id, spans = chunks.submit(store, "left behind", sent, 10, {})
        assert len(spans) == 3
    finally:
        store.close()
    env = _env(openai_server.url, pg_db, prefix)
    proc = start_worker(env, tmp_path / "worker.log")
    try:
        with serving(env, tmp_path / "serve.log") as (_, url):
            job = wait_for(url, job_id, lambda j: j["status"] == "done", seconds=60)
            assert (job["succeeded"], job["failed"]) == (30, 0)
            _exactly_once(url, pg_db, job_id, sent)
    finally:
        stop(proc)
