"""Engines for the store's database: SQLite (the default, a local file) or PostgreSQL (psycopg 3).

SQLite gets write-ahead logging (readers never block the writer), a busy timeout (writers queue
instead of failing), enforced foreign keys, and SQLAlchemy in charge of ``BEGIN``: a transaction
that will write starts with ``BEGIN IMMEDIATE``, so two processes never both read under a shared
lock and then fail to upgrade it ("database is locked").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import ConnectionPoolEntry

DATABASE_URL_ENV = "MIRROR_DATABASE_URL"
DEFAULT_SQLITE_FILE = "mirror.db"
SQLITE_BUSY_TIMEOUT_S = 30.0
SQLITE_BEGIN_OPTION = "mirror_sqlite_begin"
"""Execution option naming the ``BEGIN`` variant on SQLite: ``DEFERRED`` (reads) or ``IMMEDIATE`` (writes)."""

_SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})
_SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def default_database_url() -> str:
    """``$MIRROR_DATABASE_URL`` if set, else a SQLite file ``mirror.db`` in the working directory."""
    configured = os.environ.get(DATABASE_URL_ENV, "").strip()
    if configured:
        return configured
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


def parse_database_url(url: str) -> URL:
    """The URL, with PostgreSQL pinned to psycopg 3; ValueError names what is wrong."""
    try:
        parsed = make_url(url)
    except Exception as error:
        raise ValueError(f"database URL is not a valid SQLAlchemy URL: {error}") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED_BACKENDS:
        raise ValueError(
            f"database URL scheme {parsed.drivername!r} is not supported: "
            "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
        )
    if backend == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_database_engine(url: str) -> Engine:
    """An engine safe to share across threads, set up for the store's concurrency rules."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    # hide_parameters: a failed statement's message (which may reach a log) never carries its values.
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def writing(engine: Engine) -> Engine:
    """The same engine (and pool) whose transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        hide_parameters=True,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # The driver must not emit its own BEGIN: _sqlite_on_begin does, with the right lock mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    mode = str(connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED"))
    if mode not in _SQLITE_BEGIN_MODES:
        raise ValueError(f"{SQLITE_BEGIN_OPTION} must be one of {sorted(_SQLITE_BEGIN_MODES)}, not {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
