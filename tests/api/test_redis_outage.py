"""Redis as a failure domain, on the machine's real Redis behind a proxy the test switches:
with Redis refused or silent, leads are still qualified and health says the cache is
degraded; a lead erased while Redis was away is never served from Redis afterwards, and its
entries there are removed once Redis answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.api.test_leads_llm import LEAD
from tests.support.openai_server import ScriptedServer
from tests.support.tcp_proxy import Mode, TcpProxy


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    with TcpProxy(6379) as proxy:
        yield proxy


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own, emptied afterwards."""
    name = f"leadq-test-{uuid.uuid4().hex[:8]}:"
    yield name
    client = redis.Redis(port=6379)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def app(llm_app: Any, redis_proxy: TcpProxy, prefix: str) -> Any:
    return llm_app(
        redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0",
        redis_prefix=prefix,
        redis_timeout=0.3,
        redis_retry=0.2,
    )


def _redis_keys(prefix: str) -> list[str]:
    return sorted(k.decode() for k in redis.Redis(port=6379).scan_iter(f"{prefix}*"))


def test_a_lead_erased_while_redis_is_away_never_comes_back_from_it(
    app: Any, redis_proxy: TcpProxy, prefix: str, openai_server: ScriptedServer
) -> None:
    with app.client() as api:
        first = api.post("/api/leads/qualify", json=LEAD).json()["data"]
        assert api.post("/api/leads/qualify", json=LEAD).json()["data"]["cached"] is True
        assert _redis_keys(prefix)  # shared through Redis

        redis_proxy.mode = "refuse"
        erased = api.delete(f"/api/leads/{first['lead_ref']}")
        assert erased.status_code == 200
        assert erased.json()["cache"] == "pending"
        health = api.get("/api/leads/health").json()
        assert health["status"] == "degraded"
        assert health["cache"]["redis"] == "unavailable"
        assert health["cache"]["pending_erasures"] == 1

        redis_proxy.mode = "pass"
        time.sleep(0.3)  # LEADQ_REDIS_RETRY: the cache leaves Redis alone until then
        calls = len(openai_server.requests)
        again = api.post("/api/leads/qualify", json=LEAD).json()["data"]
        assert again["cached"] is False  # qualified afresh, not the erased lead's copy
        assert len(openai_server.requests) == calls + 1
        assert api.get(f"/api/leads/{again['lead_ref']}").status_code == 200
        health = api.get("/api/leads/health").json()
    assert health["cache"] == {"redis": "ok", "pending_erasures": 0}


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_leads_are_qualified_and_health_degrades_without_redis(
    app: Any, redis_proxy: TcpProxy, mode: Mode
) -> None:
    redis_proxy.mode = mode
    with app.client() as api:
        fresh = api.post("/api/leads/qualify", json={**LEAD, "lead_id": "R-1"})
        listed = api.get("/api/leads", params={"limit": 1})
        again = api.post("/api/leads/qualify", json={**LEAD, "lead_id": "R-1"})
        health = api.get("/api/leads/health").json()
    assert fresh.status_code == 200
    assert fresh.json()["data"]["qualification_id"] is not None
    assert listed.json()["total"] == 1
    assert again.json()["data"]["cached"] is True  # the database still answers hits
    assert health["status"] == "degraded"
    assert health["cache"]["redis"] == "unavailable"
