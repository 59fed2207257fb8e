"""The shared bucket model in the machine's real Redis (a key prefix of this test's own):
two limiters, as two processes would have, keep one model; three real `leadq serve`
processes keep to one limit; Redis going away degrades to a limiter of this process only,
with a warning, not to failures."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from leadq.providers.ratelimit import RateLimiter, SharedBuckets
from tests.api.test_leads_llm import LEAD
from tests.support.llm import answer
from tests.support.openai_server import RateLimit, ScriptedServer
from tests.support.serve import free_port, wait_until_serving

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"leadq-test-{uuid.uuid4().hex[:12]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


def limiter(prefix: str, url: str = REDIS_URL) -> RateLimiter:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RateLimiter(shared=SharedBuckets(client, f"{prefix}ratelimit:test"))


def spent(limiter: RateLimiter, remaining: int) -> None:
    """An answer: 100 requests an hour (a refill too slow to matter here), `remaining` left."""
    _, ticket = limiter.take(1)
    limiter.observe(
        {
            "x-ratelimit-limit-requests-hour": "100",
            "x-ratelimit-remaining-requests-hour": str(remaining),
            "x-ratelimit-reset-requests-hour": "1800",
        },
        200,
        ticket,
    )


def test_two_limiters_on_one_key_share_one_bucket(prefix: str) -> None:
    a, b = limiter(prefix), limiter(prefix)
    spent(a, 10)  # process A learns: 100 an hour, 10 left
    assert b.learned == {"requests/3600s": 100}  # process B knows without asking
    went = 0
    for lim in (a, b) * 10:
        _, ticket = lim.take(1)
        went += ticket is not None
    assert went == 10  # the 10 left, between them: not 10 each
    assert a.describe()["shared"] is True


def test_the_probe_is_shared_too(prefix: str) -> None:
    a, b = limiter(prefix), limiter(prefix)
    tickets = [lim.take(1)[1] for lim in (a, b, a, b, a, b)]
    assert sum(t is not None for t in tickets) == 4  # PROBE requests before any answer


def test_without_redis_it_limits_in_this_process_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lim = limiter("unused:", url="redis://127.0.0.1:1/0")  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="leadq.ratelimit"):
        spent(lim, 2)
        tickets = [lim.take(1)[1] for _ in range(5)]
    assert sum(t is not None for t in tickets) == 2
    assert lim.describe()["shared"] is False
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once, not per call


def test_three_servers_on_one_key_keep_to_one_limit(
    prefix: str, openai_server: ScriptedServer, tmp_path: Path
) -> None:
    """Three `leadq serve` processes, one key, one Redis: 20 leads each against 10 requests
    a second. Each alone would send its whole share at once; sharing the bucket, the
    provider refuses (almost) nothing."""
    openai_server.handler = lambda body: answer(body)
    openai_server.rate_limit = RateLimit(requests=10, window=1.0, unit="second", mode="sliding")
    servers = []
    for i in range(3):
        port = free_port()
        env = {
            **os.environ,
            "LEADQ_PROVIDER": "openai",
            "OPENAI_BASE_URL": openai_server.url,
            "OPENAI_API_KEY": "sk-shared-test",
            "LEADQ_MODEL": "test-model",
            "REDIS_URL": REDIS_URL,
            "LEADQ_REDIS_PREFIX": prefix,  # the shared cache's keys too: a fresh cache
            "LEADQ_DATA_DIR": str(tmp_path / f"data{i}"),
            "LEADQ_MAX_RETRIES": "2",
        }
        log = (tmp_path / f"serve{i}.log").open("w", encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadq", "serve", "--port", str(port)],
            env=env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
        servers.append((proc, f"http://127.0.0.1:{port}", log))
    try:
        for proc, url, _ in servers:
            wait_until_serving(proc, url, seconds=30)
        leads = [
            [{**LEAD, "lead_id": f"S{i}-{j}", "lead_name": f"Shared {i}-{j}"} for j in range(20)]
            for i in range(3)
        ]
        with ThreadPoolExecutor(3) as pool:
            bodies = list(
                pool.map(
                    lambda pair: httpx.post(
                        f"{pair[0][1]}/api/leads/qualify-batch", json=pair[1], timeout=60
                    ).json(),
                    zip(servers, leads, strict=True),
                )
            )
    finally:
        for proc, _, log in servers:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            log.close()
    assert [b["succeeded"] for b in bodies] == [20, 20, 20]
    # Each process alone: about 50 of the 60 refused. Sharing one model: a few at most. In a
    # window of one second, the scheduling noise of three processes on two cores is a
    # sizeable share of it, so this allows up to 10; at 120 a minute it is far below 5%.
    assert openai_server.rejected <= 10
    assert openai_server.completed - openai_server.rejected == 60
