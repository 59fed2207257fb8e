"""SQLite ids are never given out again: after an erasure, a new lead no longer gets its id

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:00:00

Without AUTOINCREMENT, SQLite gives a new row the highest id in use plus one: erasing the
newest lead handed its id (its /api/leads/{id}, its `lead_ref` in the Redis cache keys and in
`cache_erasures`) to the next new lead, and the same for results, the call log and outcomes.
SQLite sets AUTOINCREMENT only when a table is made, so `leads`, `qualifications`,
`provider_calls` and `outcomes` are rebuilt, every row, id and index kept. PostgreSQL's
sequences never give an id out twice: nothing changes there.

The rebuild is SQLite's own documented procedure for changes ALTER TABLE cannot make:
foreign keys off, the rebuild in one transaction, `PRAGMA foreign_key_check`, foreign keys on
again. With them on, dropping the old `leads` runs its ON DELETE CASCADE: every result, call and
outcome would be deleted (`defer_foreign_keys` and `legacy_alter_table` do not prevent that).
`PRAGMA foreign_keys` does nothing inside a transaction, and env.py runs the migrations in one:
what the migrations before this one did is committed first (as Alembic's `autocommit_block`
does, which cannot be used in a transaction env.py began).

An id erased before this migration and above the highest one left may still be given out once
more (SQLite kept no record of it), except for the leads still listed in `cache_erasures`.
"""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy import Connection

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("leads", "qualifications", "provider_calls", "outcomes")


def _fk_problems(bind: Connection) -> set[tuple[Any, ...]]:
    return {tuple(row) for row in bind.exec_driver_sql("PRAGMA foreign_key_check")}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # The sqlite3 connection itself: its transaction is ended and begun here, below SQLAlchemy.
    raw: Any = bind.connection.driver_connection
    fks_were_on = bool(bind.exec_driver_sql("PRAGMA foreign_keys").scalar())
    raw.commit()
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        if raw.in_transaction or bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
            # Rebuilding with foreign keys on would delete rows: stop before anything changes.
            raise RuntimeError("could not turn SQLite's foreign keys off for the table rebuild")
        raw.execute("BEGIN IMMEDIATE")
        before = _fk_problems(bind)
        for table in TABLES:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass
        # Leads erased while Redis was away, and not yet forgotten there, keep their ids too.
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'leads', 0 WHERE NOT EXISTS "
            "(SELECT 1 FROM sqlite_sequence WHERE name = 'leads')"
        )
        bind.exec_driver_sql(
            "UPDATE sqlite_sequence SET seq = MAX(seq, "
            "(SELECT COALESCE(MAX(lead_ref), 0) FROM cache_erasures)) WHERE name = 'leads'"
        )
        broken = _fk_problems(bind) - before
        if broken:
            raise RuntimeError(f"the table rebuild broke foreign keys: {sorted(broken)[:5]}")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        if fks_were_on:
            raw.execute("PRAGMA foreign_keys=ON")


def downgrade() -> None:
    # Nothing to undo: AUTOINCREMENT only stops ids being given out again, which the code of
    # 0005 does not depend on either way, and rebuilding back would bring the reuse back.
    pass
