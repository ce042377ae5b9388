"""A worker id belongs to one process at a time: the worker row's ``started_at`` tells processes apart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from mirror.store.records import TargetState
from mirror.store.store import Store

MAX_AGE_S = 1.0


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def test_a_second_process_is_refused_while_the_first_keeps_the_id_fresh(store: Store) -> None:
    first, second = datetime.now(UTC), datetime.now(UTC) + timedelta(microseconds=1)
    assert store.hold_worker("w1", "host-a:8083", first, MAX_AGE_S) is None
    assert store.hold_worker("w1", "host-a:8083", first, MAX_AGE_S) is None  # its own heartbeat

    holder = store.hold_worker("w1", "host-b:8083", second, MAX_AGE_S)

    assert holder is not None
    assert (holder.worker_id, holder.address, holder.started_at) == ("w1", "host-a:8083", first)
    [row] = store.live_workers(60)
    assert (row.address, row.started_at) == ("host-a:8083", first), "the refused process changed the row"


def test_a_silent_holder_is_taken_over_and_then_refused_itself(store: Store) -> None:
    dead, restarted = datetime.now(UTC), datetime.now(UTC) + timedelta(microseconds=1)
    assert store.hold_worker("w1", "host-a:8083", dead, MAX_AGE_S) is None
    time.sleep(MAX_AGE_S + 0.2)  # its heartbeat went stale (the process was killed)

    assert store.hold_worker("w1", "host-a:8084", restarted, MAX_AGE_S) is None
    [row] = store.live_workers(60)
    assert (row.address, row.started_at) == ("host-a:8084", restarted)
    # The old process, should it come back, no longer owns the id and is told who does.
    holder = store.hold_worker("w1", "host-a:8083", dead, MAX_AGE_S)
    assert holder is not None
    assert holder.started_at == restarted


def test_leaving_removes_only_the_own_incarnation(store: Store) -> None:
    old, new = datetime.now(UTC), datetime.now(UTC) + timedelta(microseconds=1)
    store.create_connector(
        "c1", "MirrorHeartbeatConnector", {"topics": "t"}, TargetState.STOPPED, actor="test"
    )
    assert store.hold_worker("w1", "host-a:8083", old, MAX_AGE_S) is None
    time.sleep(MAX_AGE_S + 0.2)
    assert store.hold_worker("w1", "host-a:8084", new, MAX_AGE_S) is None
    store.assign({"c1": "w1"})

    store.remove_worker("w1", old)  # the displaced process leaving

    assert [worker.started_at for worker in store.live_workers(60)] == [new]
    assert store.get_connector("c1").assigned_worker == "w1"  # type: ignore[union-attr]
    store.remove_worker("w1", new)
    assert store.live_workers(60) == []
    assert store.get_connector("c1").assigned_worker is None  # type: ignore[union-attr]
