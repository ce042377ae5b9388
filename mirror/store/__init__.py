"""The control plane's state in SQL: SQLAlchemy models, Alembic migrations, typed records."""
