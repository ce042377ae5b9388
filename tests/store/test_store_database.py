"""Database URLs and the SQLite engine's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from mirror.store.database import (
    DATABASE_URL_ENV,
    create_database_engine,
    default_database_url,
    parse_database_url,
)
from tests import postgres_harness


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
