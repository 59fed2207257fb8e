"""Where qualifications are kept: SQLAlchemy models, Alembic migrations, and the store."""
