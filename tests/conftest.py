"""Shared fixtures. Every test runs in its own temp directory with leadq's environment
variables cleared, so a developer's `.env` or key can never reach a test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from leadq.config import Settings
from leadq.providers.ratelimit import clear_shared_limiters

pytest_plugins = ["tests.support.fixtures"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "leads.csv"

ENV_VARS = [
    name
    for field in Settings.model_fields.values()
    for name in getattr(field.validation_alias, "choices", [])
    if name.isupper()
]


PG_ADMIN = os.environ.get("LEADQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (the server must be running: .ci/run
    starts it)."""
    name = f"leadq_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - say what to do, then fail
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is not usable ({exc}); start it (see .ci/run)")
    yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_fresh(pg_url: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return pg_url


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    clear_shared_limiters()  # limits learned from one test's server must not pace the next


@pytest.fixture
def strong_lead() -> dict[str, str]:
    return {
        "lead_id": "L-1",
        "lead_name": "John Doe",
        "company_name": "Acme Corp",
        "industry": "SaaS",
        "company_size": "100-500",
        "annual_revenue": "$10M",
        "job_title": "VP Sales",
        "website": "acme.example.com",
        "engagement_history": "Visited pricing 3x, requested a demo",
        "additional_context": "Recently funded Series B, evaluating vendors this quarter",
    }
