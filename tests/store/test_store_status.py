"""Workers, assignments and observed status, as the service runtime writes them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mirror.store.records import ConnectorState, TargetState, TaskState
from mirror.store.store import Store

SOURCE = "MirrorSourceConnector"
INCARNATION = datetime.now(UTC)
"""One process's start time for every worker row these tests hold."""


def connector_state(name: str, state: str = "RUNNING", worker: str = "worker-1") -> ConnectorState:
    return ConnectorState(name, state, worker, None, datetime.now(UTC))


def task_state(name: str, task_id: int, state: str = "RUNNING", trace: str | None = None) -> TaskState:
    return TaskState(name, task_id, state, "worker-1", trace, None, datetime.now(UTC))


def test_holding_a_worker_id_inserts_then_refreshes(store: Store) -> None:
    started = datetime.now(UTC)
    assert store.hold_worker("worker-1", "127.0.0.1:8083", started, 60) is None
    [first] = store.live_workers(60)
    assert first.worker_id == "worker-1"
    assert first.started_at == started
    assert first.started_at.tzinfo is UTC

    assert store.hold_worker("worker-1", "127.0.0.1:8084", started, 60) is None
    [refreshed] = store.live_workers(60)
    assert refreshed.address == "127.0.0.1:8084"
    assert refreshed.started_at == first.started_at
    assert refreshed.last_heartbeat > first.last_heartbeat


def test_live_workers_leaves_out_silent_ones(store: Store) -> None:
    store.hold_worker("quiet", "127.0.0.1:8083", INCARNATION, 60)
    time.sleep(0.3)
    store.hold_worker("b-busy", "127.0.0.1:8084", INCARNATION, 60)
    store.hold_worker("a-busy", "127.0.0.1:8085", INCARNATION, 60)
    assert [worker.worker_id for worker in store.live_workers(0.2)] == ["a-busy", "b-busy"]
    assert [worker.worker_id for worker in store.live_workers(60)] == ["a-busy", "b-busy", "quiet"]


def test_assign_and_remove_worker(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.create_connector(name, SOURCE, {}, TargetState.RUNNING, "cli")
    store.hold_worker("worker-1", "127.0.0.1:8083", INCARNATION, 60)
    store.hold_worker("worker-2", "127.0.0.1:8084", INCARNATION, 60)
    store.assign({"a": "worker-1", "b": "worker-1", "c": "worker-2", "deleted-meanwhile": "worker-2"})
    assert {record.name: record.assigned_worker for record in store.list_connectors()} == {
        "a": "worker-1",
        "b": "worker-1",
        "c": "worker-2",
    }
    store.report_status("worker-1", [connector_state("a")], [task_state("a", 0)])

    store.remove_worker("worker-1")

    assert [worker.worker_id for worker in store.live_workers(60)] == ["worker-2"]
    assert {record.name: record.assigned_worker for record in store.list_connectors()} == {
        "a": None,
        "b": None,
        "c": "worker-2",
    }
    assert store.connector_state("a") is not None  # states stay until a new owner reports
    store.assign({"c": None})
    connector = store.get_connector("c")
    assert connector is not None
    assert connector.assigned_worker is None
    assert connector.updated_at == connector.created_at  # assignment is not a desired-state change


def test_report_status_upserts_and_prunes_tasks(store: Store) -> None:
    for name in ("a", "b"):
        store.create_connector(name, SOURCE, {}, TargetState.RUNNING, "cli")
    store.report_status(
        "worker-1",
        [connector_state("a"), connector_state("b")],
        [task_state("a", 0), task_state("a", 1), task_state("a", 2), task_state("b", 0)],
    )
    assert [task.task_id for task in store.task_states("a")] == [0, 1, 2]

    failed_at = datetime.now(UTC)
    store.report_status(
        "worker-2",
        [ConnectorState("a", "RUNNING", "worker-2", None, failed_at)],
        [
            TaskState("a", 1, "FAILED", "worker-2", "Traceback: boom", "partition 3", failed_at),
            task_state("a", 0),
        ],
    )
    assert [(task.task_id, task.state) for task in store.task_states("a")] == [(0, "RUNNING"), (1, "FAILED")]
    failed = store.task_states("a")[1]
    assert (failed.worker_id, failed.trace, failed.detail, failed.updated_at) == (
        "worker-2",
        "Traceback: boom",
        "partition 3",
        failed_at,
    )
    state = store.connector_state("a")
    assert state is not None
    assert (state.worker_id, state.updated_at) == ("worker-2", failed_at)
    # "b" was not in the report: its tasks stay.
    assert [task.task_id for task in store.task_states("b")] == [0]


def test_report_status_for_a_connector_with_no_tasks_left(store: Store) -> None:
    store.create_connector("a", SOURCE, {}, TargetState.RUNNING, "cli")
    store.report_status("worker-1", [connector_state("a")], [task_state("a", 0)])
    store.report_status("worker-1", [connector_state("a", "STOPPED")], [])
    assert store.task_states("a") == []
    state = store.connector_state("a")
    assert state is not None
    assert state.state == "STOPPED"


def test_report_status_of_deleted_connector_is_dropped(store: Store) -> None:
    store.report_status("worker-1", [connector_state("gone")], [task_state("gone", 0)])
    assert store.connector_state("gone") is None
    assert store.task_states("gone") == []


def test_status_timestamps_come_back_in_utc(store: Store) -> None:
    store.create_connector("a", SOURCE, {}, TargetState.RUNNING, "cli")
    observed = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    store.report_status("worker-1", [ConnectorState("a", "RUNNING", "worker-1", None, observed)], [])
    state = store.connector_state("a")
    assert state is not None
    assert state.updated_at == observed
    assert state.updated_at.tzinfo is UTC
    assert state.updated_at.hour == 10


def test_naive_timestamp_is_refused(store: Store) -> None:
    store.create_connector("a", SOURCE, {}, TargetState.RUNNING, "cli")
    naive = ConnectorState("a", "RUNNING", "worker-1", None, datetime(2025, 3, 1, 12, 0))
    with pytest.raises(ValueError, match="updated_at of connector a has no time zone"):
        store.report_status("worker-1", [naive], [])
    assert store.connector_state("a") is None


def test_all_statuses_answer_what_each_connector_read_answers(store: Store) -> None:
    for name in ("a", "b", "quiet"):
        store.create_connector(name, SOURCE, {}, TargetState.RUNNING, "cli")
    # Reported out of order, with task ids that sort differently as text (10 before 2).
    store.report_status(
        "worker-1",
        [connector_state("b", "PAUSED"), connector_state("a")],
        [task_state("b", 10), task_state("a", 1, "FAILED", "boom"), task_state("b", 2), task_state("a", 0)],
    )
    statuses = store.all_statuses()
    for name in ("a", "b", "quiet", "never-created"):
        assert statuses.of(name) == (store.connector_state(name), store.task_states(name))
    assert [task.task_id for task in statuses.of("b")[1]] == [2, 10]
    assert statuses.of("quiet") == (None, [])
    # Each answer is the caller's own list: changing it changes no later answer.
    statuses.of("a")[1].clear()
    assert len(statuses.of("a")[1]) == 2
