"""The same storage tests on both backends: a temp SQLite file, and a PostgreSQL database
that this test session creates on the machine's server and drops at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leadq.storage.db import make_engine, upgrade
from leadq.storage.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leadq.db'}"
    return str(request.getfixturevalue("pg_fresh"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    engine = make_engine(db_url)
    upgrade(engine)
    s = Store(engine)
    yield s
    s.close()
