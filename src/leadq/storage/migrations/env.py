"""Alembic environment: migrations run on the engine leadq hands over."""

from __future__ import annotations

from alembic import context

from leadq.storage.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if engine.dialect.name == "postgresql":  # a migration may take longer than a request
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    context.run_migrations()
