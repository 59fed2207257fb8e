"""The database as a failure domain, on the machine's real PostgreSQL behind a proxy the test
switches: refused or silent, it gives 503 `database_unavailable` (retryable) in bounded time
and health says so; computed results still reach the caller; on SQLite, concurrent batches
queue for the one writer instead of failing with "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.api.test_leads_llm import LEAD
from tests.support.tcp_proxy import Mode, TcpProxy


@pytest.fixture
def proxied_pg(pg_fresh: str) -> Iterator[tuple[str, TcpProxy]]:
    """The test's PostgreSQL database, reached through a proxy on its own port."""
    url = make_url(pg_fresh)
    with TcpProxy(url.port or 5432, url.host or "127.0.0.1") as proxy:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy


@pytest.fixture
def pg_app(live_app: Any, proxied_pg: tuple[str, TcpProxy]) -> tuple[Any, TcpProxy]:
    url, proxy = proxied_pg
    return live_app(provider="rules", database_url=url, db_timeout=1), proxy


def _is_unavailable(answer: Any) -> bool:
    error = answer.json().get("error", {})
    return (
        answer.status_code == 503
        and error.get("code") == "database_unavailable"
        and error.get("retryable") is True
    )


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_reads_answer_503_retryable_when_the_database_is_away(pg_app: Any, mode: Mode) -> None:
    app, proxy = pg_app
    with app.client() as api:
        stored = api.post("/api/leads/qualify", json=LEAD).json()["data"]
        proxy.mode = mode
        # A silent database used to hold these for good; the client's own timeout (30 s)
        # would fail the test long before.
        assert _is_unavailable(api.get("/api/leads"))
        assert _is_unavailable(api.get(f"/api/leads/{stored['lead_ref']}"))
        health = api.get("/api/leads/health").json()
        assert health["status"] == "degraded"
        assert health["database"]["ok"] is False
        proxy.mode = "pass"
        assert api.get("/api/leads").json()["total"] == 1  # and it recovers by itself


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_results_reach_the_caller_when_the_database_cannot_store_them(
    pg_app: Any, mode: Mode
) -> None:
    app, proxy = pg_app
    leads = [{**LEAD, "lead_id": f"U-{i}"} for i in range(5)]
    with app.client() as api:
        before = _unstored(api.get("/metrics").text)
        proxy.mode = mode
        batch = api.post("/api/leads/qualify-batch", json=leads)
        one = api.post("/api/leads/qualify", json=LEAD)
        after = _unstored(api.get("/metrics").text)
    assert batch.status_code == 200
    results = batch.json()["data"]
    assert [r["lead_id"] for r in results] == [f"U-{i}" for i in range(5)]
    assert all(r["qualification_id"] is None and 0 <= r["overall_score"] <= 1 for r in results)
    assert one.status_code == 200
    assert one.json()["data"]["qualification_id"] is None
    assert after - before == 6


def _unstored(metrics: str) -> float:
    line = next(x for x in metrics.splitlines() if x.startswith("leadq_results_unstored_total"))
    return float(line.split()[-1])


def test_sqlite_concurrent_batches_all_store(live_app: Any, tmp_path: Path) -> None:
    """Twelve 300-lead batches at once, one writer: every result stored, none refused."""
    app = live_app(provider="rules", data_dir=tmp_path, max_batches=12)
    answers: list[Any] = []

    def send(n: int) -> None:
        leads = [{**LEAD, "lead_id": f"B{n}-{i}"} for i in range(300)]
        with httpx.Client(base_url=app.url, timeout=120) as api:
            answers.append(api.post("/api/leads/qualify-batch", json=leads))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 12
    assert all(r["qualification_id"] for a in answers for r in a.json()["data"])
    with app.client() as api:
        assert api.get("/api/leads").json()["total"] == 12 * 300


def test_a_write_held_by_another_process_is_waited_for(live_app: Any, tmp_path: Path) -> None:
    """Another connection holds SQLite's write lock longer than the busy timeout
    (LEADQ_DB_TIMEOUT): the save tries again rather than failing or dropping its results."""
    app = live_app(provider="rules", data_dir=tmp_path, db_timeout=1)
    other = sqlite3.connect(
        app.app.state.store.engine.url.database, isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(2.0, other.execute, args=("COMMIT",))
    release.start()
    with app.client() as api:
        answer = api.post("/api/leads/qualify", json=LEAD)
    release.join()
    other.close()
    assert answer.status_code == 200
    assert answer.json()["data"]["qualification_id"] is not None


def test_statements_carry_the_timeout(pg_app: Any) -> None:
    """PostgreSQL cancels a statement that runs past LEADQ_DB_TIMEOUT."""
    app, _ = pg_app
    with app.app.state.store.engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
