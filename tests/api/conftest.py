"""Fixtures of the API tests: a migrated SQLite store per test and the app over it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirror.store.store import Store
from tests.api.harness import Api, build_api


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'mirror.db'}")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def api(store: Store, caplog: pytest.LogCaptureFixture) -> Iterator[Api]:
    """The app without authentication (every request acts as ``local``); after the test, no secret
    the test generated may appear in any response or log line."""
    caplog.set_level(logging.DEBUG)
    harness = build_api(store, auth_required=False)
    yield harness
    assert harness.leaks() == []
    assert [value for value in harness.secrets if value in caplog.text] == []


@pytest.fixture
def api_on_each_backend(store_url: str) -> Iterator[Api]:
    """The app without authentication, over a fresh SQLite file and a fresh PostgreSQL database."""
    store = Store.open(store_url)
    try:
        yield build_api(store, auth_required=False)
    finally:
        store.close()


@pytest.fixture
def restore_log_levels() -> Iterator[None]:
    """Tests that change logger levels through the API put them back."""
    manager = logging.root.manager
    before = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root_level = logging.root.level
    yield
    for name, logger in manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(before.get(name, logging.NOTSET))
    logging.root.setLevel(root_level)
