"""Leases: one holder at a time across processes; renewable; taken over once expired."""

from __future__ import annotations

import time
from functools import partial

import pytest

from mirror.store.store import Store
from tests.store.racing import race


def test_lease_lifecycle(store: Store) -> None:
    assert store.acquire_lease("scheduler", "worker-1", 30)
    assert not store.acquire_lease("scheduler", "worker-2", 30)
    assert store.acquire_lease("scheduler", "worker-1", 30)  # renewal
    assert store.acquire_lease("assigner", "worker-2", 30)  # another lease is independent

    store.release_lease("scheduler", "worker-2")  # not its lease: nothing happens
    assert not store.acquire_lease("scheduler", "worker-2", 30)
    store.release_lease("scheduler", "worker-1")
    assert store.acquire_lease("scheduler", "worker-2", 30)
    assert not store.acquire_lease("scheduler", "worker-1", 30)


def test_expired_lease_is_taken_over(store: Store) -> None:
    assert store.acquire_lease("scheduler", "worker-1", 0.2)
    assert not store.acquire_lease("scheduler", "worker-2", 30)
    time.sleep(0.3)
    assert store.acquire_lease("scheduler", "worker-2", 30)
    assert not store.acquire_lease("scheduler", "worker-1", 30)


def test_ttl_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        store.acquire_lease("scheduler", "worker-1", 0)


def test_concurrent_acquire_has_exactly_one_winner(store_url: str, store: Store) -> None:
    """Separate engines, so separate connections: as two processes would race."""
    contenders = [store, Store(store_url), Store(store_url)]
    try:
        for round_number in range(15):
            lease = f"lease-{round_number}"
            taken = race(
                [
                    partial(contender.acquire_lease, lease, f"worker-{index}", 30)
                    for index, contender in enumerate(contenders)
                ]
            )
            assert taken.count(True) == 1, taken
            assert store.acquire_lease(lease, f"worker-{taken.index(True)}", 30)
    finally:
        for contender in contenders[1:]:
            contender.close()
