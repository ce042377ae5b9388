"""Alembic environment of mirror's store: run by the ``alembic`` CLI and by ``Store.open``.

The database URL comes from, in order: a connection handed over in ``config.attributes``
(``Store.open``), ``alembic -x db=URL``, ``sqlalchemy.url`` set in code, ``$MIRROR_DATABASE_URL``,
then ``mirror.db`` in the working directory.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text

from mirror.store.database import (
    SQLITE_BEGIN_OPTION,
    create_database_engine,
    default_database_url,
    parse_database_url,
)
from mirror.store.migrations import CONNECTION_ATTRIBUTE
from mirror.store.models import Base, UTCDateTime

MIGRATION_LOCK_KEY = 7_316_843_220_551
"""PostgreSQL advisory lock taken while migrating, so processes starting together migrate one at a time."""

config = context.config
target_metadata = Base.metadata
if config.config_file_name is not None:  # the alembic CLI: log as alembic.ini says
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    from_command_line = context.get_x_argument(as_dictionary=True).get("db")
    if from_command_line:
        return from_command_line
    return config.get_main_option("sqlalchemy.url") or default_database_url()


def render_item(kind: str, item: object, _context: AutogenContext) -> str | Literal[False]:
    """Migrations spell column types in plain SQLAlchemy: they must not import the live models."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=parse_database_url(database_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_on(connection: Connection) -> None:
    # SQLite: take the write lock at BEGIN, so a second process waits here and then finds the schema at head.
    connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        render_item=render_item,
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    handed_over = config.attributes.get(CONNECTION_ATTRIBUTE)
    if isinstance(handed_over, Connection):
        run_migrations_on(handed_over)
        return
    engine = create_database_engine(database_url())
    try:
        with engine.connect() as connection:
            run_migrations_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
