"""Engines and migrations. SQLite (WAL mode, foreign keys on) is the embedded default;
`postgresql+psycopg://...` is what a team deploys."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

if TYPE_CHECKING:
    from alembic.config import Config


class JSONText(str):
    """Text that is JSON already (a pydantic model's `model_dump_json()`), for a JSON column:
    stored as it is rather than decoded into a dict only to be encoded again. It reads back
    as the same value; only the spacing and the escaping of non-ASCII text differ."""


def _to_json(value: Any) -> str:
    """The engines' JSON serializer: `json.dumps`, except for `JSONText`."""
    return value if isinstance(value, JSONText) else json.dumps(value)


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms:d}")  # another process's write: wait
        cur.close()

    return on_connect


POOL_SIZE, POOL_OVERFLOW = 10, 20  # PostgreSQL connections a process keeps, and beyond


def make_engine(url: str, timeout: float | None = None) -> Engine:
    """An engine for `url`; creates the SQLite file's folder when needed. Its JSON columns
    take `JSONText` as it is (the store's engines must come from here). With `timeout`
    (seconds), PostgreSQL connects, hands out a pooled connection and runs each statement
    within it, and a peer that stops answering is dropped by TCP within it too; SQLite
    waits that long for another process's write to finish."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            json_serializer=_to_json,
            hide_parameters=True,  # a failed statement's log line would hold leads' data
        )
        busy_ms = round((timeout if timeout is not None else 10.0) * 1000)
        event.listen(engine, "connect", _sqlite_pragmas(busy_ms))
        return engine
    connect_args: dict[str, Any] = {}
    pool_timeout = 30.0
    if timeout is not None and parsed.get_backend_name() == "postgresql":
        ms = max(1, round(timeout * 1000))
        connect_args = {
            "connect_timeout": max(2, math.ceil(timeout)),  # libpq's minimum is 2 s
            "options": f"-c statement_timeout={ms}",
            "tcp_user_timeout": ms,  # unacknowledged data: the peer is gone
            "keepalives": 1,
            "keepalives_idle": max(1, math.ceil(timeout)),
            "keepalives_interval": 1,
            "keepalives_count": 3,
        }
        pool_timeout = timeout
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=pool_timeout,
        connect_args=connect_args,
        json_serializer=_to_json,
        hide_parameters=True,
    )


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database is unreachable, slow or locked, rather than that the
    request or the code is wrong: the same request may succeed shortly."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # only for migrating: a quarter second to import

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("leadq.storage") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


MIGRATION_LOCK = 0x6C65616471  # PostgreSQL advisory lock key: "leadq"
MIGRATION_WAIT = 300.0  # seconds a process waits for another one's migration


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied (run at start and by `leadq db upgrade`). On
    PostgreSQL one process at a time: a server and its workers started together on a new
    database would otherwise all create the same tables."""
    from alembic import command

    with _migrating_alone(engine):
        command.upgrade(alembic_config(engine), "head")


@contextmanager
def _migrating_alone(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        yield
        return
    key = {"k": MIGRATION_LOCK}
    with engine.connect() as conn:
        give_up = time.monotonic() + MIGRATION_WAIT
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar():
            if time.monotonic() > give_up:
                raise TimeoutError(f"another process kept migrating for {MIGRATION_WAIT:g} s")
            time.sleep(0.2)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
