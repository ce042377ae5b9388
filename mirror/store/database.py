"""Engines for the store's database: SQLite (the default, a local file) or PostgreSQL (psycopg 3).

SQLite gets write-ahead logging (readers never block the writer), a busy timeout (writers queue
instead of failing), enforced foreign keys, and SQLAlchemy in charge of ``BEGIN``: a transaction
that will write starts with ``BEGIN IMMEDIATE``, so two processes never both read under a shared
lock and then fail to upgrade it ("database is locked").

The SQLite file holds every credential the service is given, so it is created 0600 (SQLite gives
its ``-wal`` and ``-shm`` files the mode of the database file), and a looser existing file is
tightened. A connection the store cannot write through (the file was read-only for a while, or
the disk failed) is thrown away with the rest of the pool, so the store recovers by itself once
the file is writable again. A file deleted or replaced under the running service is noticed at
the next transaction, which fails with ``DatabaseUnavailableError`` instead of writing into a
file nobody will read again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "MIRROR_DATABASE_URL"
DEFAULT_SQLITE_FILE = "mirror.db"
SQLITE_BUSY_TIMEOUT_S = 30.0
SQLITE_BEGIN_OPTION = "mirror_sqlite_begin"
"""Execution option naming the ``BEGIN`` variant on SQLite: ``DEFERRED`` (reads) or ``IMMEDIATE`` (writes)."""

_SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})
_SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_PRIVATE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")
_FILE_ID = "mirror_file_id"
"""Key in a pooled connection's ``info``: (st_dev, st_ino) of the file it opened."""

# Primary result codes after which a connection may stay unable to write: SQLite opens a file it
# cannot write read-only for the connection's whole life, and an I/O error can leave it unusable.
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN = 8, 10, 14
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL = 5, 6, 13
_SQLITE_RECONNECT_CODES = frozenset({_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN})
_SQLITE_UNAVAILABLE_CODES = _SQLITE_RECONNECT_CODES | {_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL}


# No path in messages: they reach API clients (the operator knows which file --db names).
_GONE = (
    "the database file was deleted while in use, so nothing written now would be kept: "
    "put it back, or restart the service to start from an empty database"
)


class DatabaseUnavailableError(Exception):
    """The database cannot be used safely right now (e.g. its file was deleted under us)."""


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database is out of reach or cannot write for now (worth a
    retry later: HTTP 503), as opposed to a statement that is wrong (a bug: HTTP 500)."""
    if isinstance(error, DatabaseUnavailableError | PoolTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        # SQLite also calls a missing table an OperationalError: only these codes are outages.
        return _sqlite_primary_code(original) in _SQLITE_UNAVAILABLE_CODES
    # psycopg: a lost or refused connection, a shutdown, a deadlock or lock timeout; statement
    # errors have classes of their own (ProgrammingError, DataError, IntegrityError).
    return isinstance(error, OperationalError)


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


class Transactions:
    """Read and write transactions over one engine's pool, for every part of the store: a write
    takes SQLite's write lock when it begins (``writing``), and loaded rows stay readable after
    the commit."""

    def __init__(self, engine: Engine) -> None:
        self._read_sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(writing(engine), expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._write_sessions() as session, session.begin():
            yield session


def _sqlite_engine(url: URL) -> Engine:
    path = _sqlite_file(url)
    if path is not None:
        _create_private(path)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        hide_parameters=True,
    )
    if path is not None:
        _watch_file(engine, path)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    event.listen(engine, "handle_error", _sqlite_on_error)
    return engine


def _sqlite_file(url: URL) -> Path | None:
    """The database file's absolute path; None for an in-memory database or a ``file:`` URI."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).absolute()


def _create_private(path: Path) -> None:
    """Create the file 0600 before SQLite does (it would use 0644 under the usual umask), or
    tighten an existing one: it holds every credential the service is given."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _PRIVATE_MODE))
        return
    except FileExistsError:
        pass
    for companion in _SQLITE_COMPANIONS:
        file = Path(f"{path}{companion}")
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077 == 0:
            continue
        try:
            file.chmod(mode & 0o700)
        except OSError as error:
            log.warning(
                "the database file %s is readable by other users (mode %o) and could not be made "
                "private (%s): it holds credentials; chmod 600 it",
                file,
                mode,
                error.strerror,
            )
        else:
            log.warning(
                "the database file %s was readable by other users (mode %o); it holds credentials: now %o",
                file,
                mode,
                mode & 0o700,
            )


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _watch_file(engine: Engine, path: Path) -> None:
    """Refuse to open a deleted file anew (SQLite would create an empty one) and to use a
    connection whose file was deleted or replaced since it opened it."""

    def before_connect(*_: object) -> None:
        if _file_id(path) is None:
            raise DatabaseUnavailableError(_GONE)

    def on_connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_FILE_ID] = _file_id(path)

    def on_begin(connection: Connection) -> None:
        now = _file_id(path)
        if now is not None and now == connection.info.get(_FILE_ID):
            return
        # Replaced: the next connection opens the new file. Deleted: none can be opened.
        connection.invalidate()
        if now is None:
            raise DatabaseUnavailableError(_GONE)
        raise DatabaseUnavailableError(
            "the database file was replaced while in use; the next request opens the new one"
        )

    event.listen(engine, "do_connect", before_connect)
    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


def _sqlite_primary_code(error: sqlite3.Error) -> int:
    return int(getattr(error, "sqlite_errorcode", 0)) & 0xFF


def _sqlite_on_error(context: ExceptionContext) -> None:
    # Marked as a disconnect, the connection and the rest of the pool are replaced: one opened
    # while the file was read-only would otherwise refuse every write for ever.
    original = context.original_exception
    if isinstance(original, sqlite3.Error) and _sqlite_primary_code(original) in _SQLITE_RECONNECT_CODES:
        context.is_disconnect = True


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
