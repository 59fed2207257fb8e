"""Engines and migrations. SQLite (WAL mode, foreign keys on) is the embedded default;
`postgresql+psycopg://...` is what a team deploys."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


class JSONText(str):
    """Text that is JSON already (a pydantic model's `model_dump_json()`), for a JSON column:
    stored as it is rather than decoded into a dict only to be encoded again. It reads back
    as the same value; only the spacing and the escaping of non-ASCII text differ."""


def _to_json(value: Any) -> str:
    """The engines' JSON serializer: `json.dumps`, except for `JSONText`."""
    return value if isinstance(value, JSONText) else json.dumps(value)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; creates the SQLite file's folder when needed. Its JSON columns
    take `JSONText` as it is (the store's engines must come from here)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, json_serializer=_to_json
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=_to_json
    )


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("leadq.storage") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied (run at start and by `leadq db upgrade`)."""
    command.upgrade(alembic_config(engine), "head")
