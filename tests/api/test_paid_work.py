"""No paid work lost, over real HTTP against the scripted provider: a dropped
`qualify-batch` stops calling the provider and keeps what it finished; batches beyond
LEADQ_MAX_BATCHES get 429 with Retry-After; each provider call is in the call log as soon as
it completes, so a `kill -9` mid-batch loses none of the spend."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_leads_llm import LEAD
from tests.support.llm import answer, lead_in
from tests.support.openai_server import Reply, ScriptedServer
from tests.support.serve import serving


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_dropped_batch_stops_its_calls_and_keeps_what_it_finished(
    llm_app: Any, openai_server: ScriptedServer
) -> None:
    # Lead 0 answers at once, every other lead takes 3 s; 40 leads, 4 at a time. The client
    # gives up after 1 s, while leads 1-4 are in flight.
    openai_server.handler = lambda body: answer(
        body, delay=0.0 if lead_in(body)["lead_name"] == "Lead 0" else 3.0
    )
    leads = [{**LEAD, "lead_name": f"Lead {i}"} for i in range(40)]
    app = llm_app(max_concurrency=4)
    with (
        httpx.Client(base_url=app.url, timeout=1.0) as api,
        pytest.raises(httpx.ReadTimeout),
    ):
        api.post("/api/leads/qualify-batch", json=leads)
    assert _wait_for(lambda: openai_server.in_flight == 0)
    assert openai_server.cancelled >= 3  # abandoned, not finished at the provider's cost
    time.sleep(0.5)
    assert len(openai_server.requests) <= 8  # and no new ones were started
    with app.client() as api:
        stored = api.get("/api/leads").json()
    assert [lead["lead_name"] for lead in stored["data"]] == ["Lead 0"]


def test_batches_beyond_the_limit_get_429_with_retry_after(
    llm_app: Any, openai_server: ScriptedServer
) -> None:
    release = threading.Event()

    async def slow_until_released(body: dict[str, Any]) -> Reply:
        while not release.is_set():
            await _sleep(0.02)
        return answer(body)

    openai_server.handler = slow_until_released
    app = llm_app(max_batches=1)
    first: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: first.append(
            httpx.post(f"{app.url}/api/leads/qualify-batch", json=[LEAD], timeout=30)
        )
    )
    sender.start()
    try:
        assert _wait_for(lambda: openai_server.in_flight == 1)
        with app.client() as api:
            refused = [
                api.post("/api/leads/qualify-batch", json=[LEAD]),
                api.post("/api/leads/qualify-as-completed", json=[LEAD]),
            ]
            single = api.post("/api/leads/qualify", json={**LEAD, "lead_id": "one"}, timeout=0.5)
    except httpx.ReadTimeout:
        single = None  # a single lead is not a batch: it waits for the provider like the rest
    finally:
        release.set()
        sender.join()
    for answer_ in refused:
        assert answer_.status_code == 429
        assert answer_.headers["Retry-After"] == "5"
        assert answer_.json()["error"]["code"] == "busy"
        assert answer_.json()["error"]["retryable"] is True
    assert single is None or single.status_code == 200
    assert first[0].status_code == 200
    with app.client() as api:  # the slot is free again, after a batch and after a stream
        assert api.post("/api/leads/qualify-as-completed", json=[LEAD]).status_code == 200
        assert api.post("/api/leads/qualify-batch", json=[LEAD]).status_code == 200


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def test_each_call_is_logged_when_it_completes_and_survives_kill_9(
    openai_server: ScriptedServer, tmp_path: Path
) -> None:
    """Six calls answer, the next ones never do; the call log holds the six while the batch
    is still running, and still after the server is killed."""
    answered = 0
    lock = threading.Lock()

    def six_then_silence(body: dict[str, Any]) -> Reply:
        nonlocal answered
        with lock:
            answered += 1
            late = answered > 6
        return answer(body, delay=3600.0 if late else 0.0)

    openai_server.handler = six_then_silence
    db = tmp_path / "leadq.db"
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "sk-test-kill",
        "LEADQ_MODEL": "test-model",
        "LEADQ_MAX_RETRIES": "0",
        "LEADQ_MAX_CONCURRENCY": "3",
        "LEADQ_TIMEOUT": "3600",
        "LEADQ_LEAD_DEADLINE": "3600",
        "DATABASE_URL": f"sqlite:///{db}",
    }
    leads = [{**LEAD, "lead_id": f"K-{i}"} for i in range(30)]
    with serving(env) as (proc, url):

        def send() -> None:
            with contextlib.suppress(httpx.TransportError):  # the server is killed under it
                httpx.post(f"{url}/api/leads/qualify-batch", json=leads, timeout=120)

        threading.Thread(target=send, daemon=True).start()
        assert _wait_for(lambda: openai_server.completed == 6 and openai_server.in_flight == 3)
        assert _wait_for(lambda: _logged_calls(db) == 6, timeout=20)  # the batch still runs
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _logged_calls(db) == 6
    assert _wait_for(lambda: openai_server.in_flight == 0)


def _logged_calls(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        try:
            (n,) = conn.execute(
                "SELECT count(*) FROM provider_calls WHERE status = 'ok'"
            ).fetchone()
        except sqlite3.OperationalError:  # not created yet
            return 0
    return int(n)
