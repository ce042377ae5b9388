"""The store's tests get a migrated Store on each backend (``store_url`` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mirror.store.store import Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()
