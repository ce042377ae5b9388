"""Database URLs and the SQLite engine's settings."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from mirror.store.database import (
    DATABASE_URL_ENV,
    DatabaseUnavailableError,
    create_database_engine,
    default_database_url,
    is_unavailable,
    parse_database_url,
)
from mirror.store.store import Store
from tests import postgres_harness
from tests.made_up import secret

INCARNATION = datetime.now(UTC)
"""One process's start time for every worker row these tests hold."""


def test_default_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_database_url() == f"sqlite:///{tmp_path / 'mirror.db'}"
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+psycopg://mirror@127.0.0.1/mirror")
    assert default_database_url() == "postgresql+psycopg://mirror@127.0.0.1/mirror"


def test_postgresql_urls_use_psycopg_3() -> None:
    assert parse_database_url("postgresql://mirror@127.0.0.1/mirror").drivername == "postgresql+psycopg"
    assert parse_database_url("postgresql+psycopg://mirror@127.0.0.1/m").drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "message"),
    [("mysql://127.0.0.1/mirror", "not supported"), ("not a url", "not a valid SQLAlchemy URL")],
)
def test_unsupported_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_database_engine(url)


def test_sqlite_settings(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'mirror.db'}")
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert connection.scalar(text("PRAGMA busy_timeout")) == 30_000
    finally:
        engine.dispose()


def test_missing_postgres_names_make_postgres(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(postgres_harness, "POSTGRES_BIN_GLOB", str(tmp_path / "*" / "bin"))
    with pytest.raises(postgres_harness.PostgresMissingError, match="make postgres"):
        postgres_harness.find_bin_dir()


# ---- the database file: private, and a store that outlives a read-only or deleted file ---------------


@contextlib.contextmanager
def read_only(*files: Path) -> Iterator[None]:
    """The files really unwritable: immutable (``chattr +i``) for root, which ignores modes, and
    mode 0444 otherwise. Never the ``-shm`` file: SQLite writes it through a shared mapping, and
    an immutable one kills the process with SIGBUS."""
    present = [str(file) for file in files if file.exists()]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *present], check=True)
    else:
        modes = {file: stat.S_IMODE(os.stat(file).st_mode) for file in present}
        for file in present:
            os.chmod(file, 0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *present], check=True)
        else:
            for file, mode in modes.items():
                os.chmod(file, mode)


def file_modes(database: Path) -> dict[str, int]:
    return {
        file.name: stat.S_IMODE(file.stat().st_mode)
        for file in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
    }


@contextlib.contextmanager
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_sqlite_files_are_private_under_a_permissive_umask(tmp_path: Path) -> None:
    database = tmp_path / "mirror.db"
    with permissive_umask(), Store.open(f"sqlite:///{database}") as store:
        store.put_cluster("sec", "127.0.0.1:1", {}, {"ssl.key.password": secret()}, actor="test")
        store.hold_worker("w1", "127.0.0.1:8083", INCARNATION, 60)
        assert file_modes(database) == {"mirror.db": 0o600, "mirror.db-wal": 0o600, "mirror.db-shm": 0o600}


def test_a_readable_existing_file_is_made_private(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = tmp_path / "mirror.db"
    with permissive_umask(), Store.open(f"sqlite:///{database}") as store:
        store.hold_worker("w1", "127.0.0.1:8083", INCARNATION, 60)
        for file in file_modes(database):
            os.chmod(tmp_path / file, 0o644)  # as SQLite made them before
        with Store(f"sqlite:///{database}") as reopened:
            reopened.hold_worker("w2", "127.0.0.1:8084", INCARNATION, 60)
            assert set(file_modes(database).values()) == {0o600}
    assert f"the database file {database} was readable by other users (mode 644)" in caplog.text


def test_the_store_writes_again_once_a_read_only_file_is_writable(tmp_path: Path) -> None:
    database = tmp_path / "mirror.db"
    with Store.open(f"sqlite:///{database}") as store:
        store.hold_worker("w1", "127.0.0.1:8083", INCARNATION, 60)
        # A connection opened while the file is read-only stays read-only for life (SQLite's
        # fallback): one is held so that the heartbeat opens another, as in a busy service.
        with read_only(database, Path(f"{database}-wal")), store.engine.connect():
            for _ in range(2):
                with pytest.raises(OperationalError) as refused:
                    store.hold_worker("w1", "127.0.0.1:8083", INCARNATION, 60)
                assert is_unavailable(refused.value)
        for _ in range(3):  # every pooled connection, not only one of them
            store.hold_worker("w1", "127.0.0.1:8083", INCARNATION, 60)
            store.check_writable()


def test_a_deleted_file_fails_every_transaction_and_is_not_recreated(tmp_path: Path) -> None:
    database = tmp_path / "mirror.db"
    with Store.open(f"sqlite:///{database}") as store:
        store.hold_worker("w1", "127.0.0.1:8083", INCARNATION, 60)
        database.unlink()
        for attempt in (
            lambda: store.hold_worker("w1", "127.0.0.1:8083", INCARNATION, 60),
            store.list_connectors,
        ):
            with pytest.raises(DatabaseUnavailableError, match="deleted while in use") as refused:
                attempt()
            assert is_unavailable(refused.value)
        assert not database.exists()


def test_outages_are_told_from_wrong_statements(tmp_path: Path, postgres_url: str) -> None:
    refused = create_database_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    missing_table = create_database_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    reachable = create_database_engine(postgres_url)
    try:
        with pytest.raises(OperationalError) as lost:
            refused.connect()
        assert is_unavailable(lost.value)
        for engine in (missing_table, reachable):
            with engine.connect() as connection, pytest.raises(DBAPIError) as wrong:
                connection.execute(text("SELECT * FROM no_such_table"))
            assert not is_unavailable(wrong.value), engine.dialect.name
    finally:
        for engine in (refused, missing_table, reachable):
            engine.dispose()
