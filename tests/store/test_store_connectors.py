"""Connectors: create, replace (generation bumps only on change), target states, restarts, delete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mirror.store.records import ConnectorState, TargetState, TaskState
from mirror.store.store import AlreadyExistsError, NotFoundError, Store
from tests.made_up import secret

SOURCE = "org.apache.kafka.connect.mirror.MirrorSourceConnector"


def config(**extra: str) -> dict[str, str]:
    return {"name": "source", "connector.class": SOURCE, "topics": "orders.*", **extra}


def test_create_connector(store: Store) -> None:
    record = store.create_connector("source", SOURCE, config(), TargetState.PAUSED, "cli")
    assert record.generation == 1
    assert record.target_state is TargetState.PAUSED
    assert record.flow is None
    assert record.assigned_worker is None
    assert record.config == config()
    assert record.created_at.tzinfo is UTC
    assert store.get_connector("source") == record
    with pytest.raises(AlreadyExistsError):
        store.create_connector("source", SOURCE, config(), TargetState.RUNNING, "cli")
    assert store.get_connector("source") == record


def test_create_connector_in_missing_flow_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="flow"):
        store.create_connector("source", SOURCE, config(), TargetState.RUNNING, "cli", flow="a->b")
    assert store.list_connectors() == []


def test_bad_target_state_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="target state"):
        store.create_connector("source", SOURCE, config(), "SLEEPING", "cli")  # type: ignore[arg-type]  # on purpose


def test_list_connectors_sorted(store: Store) -> None:
    for name in ("b", "c", "a"):
        store.create_connector(name, SOURCE, config(name=name), TargetState.RUNNING, "cli")
    assert [record.name for record in store.list_connectors()] == ["a", "b", "c"]
    assert store.get_connector("d") is None


def test_put_connector_config_creates_running(store: Store) -> None:
    record, created = store.put_connector_config("source", SOURCE, config(), "cli")
    assert created
    assert record.target_state is TargetState.RUNNING
    assert record.generation == 1


def test_generation_bumps_only_on_change(store: Store) -> None:
    first, _ = store.put_connector_config("source", SOURCE, config(), "cli")
    same, created = store.put_connector_config("source", SOURCE, config(), "cli")
    assert not created
    assert same == first

    changed, _ = store.put_connector_config("source", SOURCE, config(topics="payments"), "cli")
    assert changed.generation == 2
    assert changed.config["topics"] == "payments"
    assert changed.updated_at > first.updated_at
    assert changed.created_at == first.created_at

    renamed_class, _ = store.put_connector_config(
        "source", "MirrorSourceConnector", config(topics="payments"), "cli"
    )
    assert renamed_class.generation == 3
    assert renamed_class.connector_class == "MirrorSourceConnector"

    paused = store.set_target_state("source", TargetState.PAUSED, "cli")
    assert paused.generation == 3


def test_set_target_state(store: Store) -> None:
    store.create_connector("source", SOURCE, config(), TargetState.RUNNING, "cli")
    for state in (TargetState.PAUSED, TargetState.STOPPED, TargetState.RUNNING):
        assert store.set_target_state("source", state, "cli").target_state is state
        stored = store.get_connector("source")
        assert stored is not None
        assert stored.target_state is state
    with pytest.raises(NotFoundError):
        store.set_target_state("missing", TargetState.PAUSED, "cli")


def test_delete_connector_cascades(store: Store) -> None:
    now = datetime.now(UTC)
    for name in ("source", "other"):
        store.create_connector(name, SOURCE, config(name=name), TargetState.RUNNING, "cli")
        store.report_status(
            "worker-1",
            [ConnectorState(name, "RUNNING", "worker-1", None, now)],
            [TaskState(name, 0, "RUNNING", "worker-1", None, None, now)],
        )
        store.request_restart(name, None, True, False, "cli")

    store.delete_connector("source", "cli")

    assert store.get_connector("source") is None
    assert store.connector_state("source") is None
    assert store.task_states("source") == []
    assert [request.connector for request in store.pending_restarts(["source", "other"])] == ["other"]
    assert store.connector_state("other") is not None
    assert len(store.task_states("other")) == 1
    with pytest.raises(NotFoundError):
        store.delete_connector("source", "cli")

    recreated = store.create_connector("source", SOURCE, config(), TargetState.RUNNING, "cli")
    assert recreated.generation == 1
    assert store.connector_state("source") is None


def test_restart_requests(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.create_connector(name, SOURCE, config(name=name), TargetState.RUNNING, "cli")
    first = store.request_restart("b", None, True, True, "cli")
    second = store.request_restart("a", 2, False, False, "cli")
    store.request_restart("c", None, False, False, "cli")
    assert first.requested_at.tzinfo is UTC
    assert (first.connector, first.task_id, first.include_tasks, first.only_failed) == ("b", None, True, True)
    assert (second.task_id, second.include_tasks, second.only_failed) == (2, False, False)

    assert store.pending_restarts(["a", "b"]) == [first, second]
    assert store.pending_restarts([]) == []

    store.finish_restart(first.id)
    assert store.pending_restarts(["a", "b"]) == [second]
    store.finish_restart(first.id)  # twice: still handled once
    store.finish_restart(10_000)  # gone: ignored
    assert store.pending_restarts(["a", "b"]) == [second]

    with pytest.raises(NotFoundError):
        store.request_restart("missing", None, False, False, "cli")


def test_connector_audit_has_key_names_not_values(store: Store) -> None:
    password = secret()
    store.create_connector("source", SOURCE, config(), TargetState.RUNNING, "ops")
    store.put_connector_config(
        "source", SOURCE, config(**{"source.cluster.ssl.key.password": password}), "ops"
    )
    store.set_target_state("source", TargetState.PAUSED, "ops")
    store.request_restart("source", 0, False, False, "ops")
    store.delete_connector("source", "ops")

    entries = store.audit_log()
    assert [entry.action for entry in entries] == [
        "connector.delete",
        "connector.restart",
        "connector.set_state",
        "connector.update",
        "connector.create",
    ]
    assert all(entry.resource == "connectors/source" and entry.actor == "ops" for entry in entries)
    update = entries[3]
    assert update.detail["changed_keys"] == "source.cluster.ssl.key.password"
    assert update.detail["generation"] == "2"
    assert entries[2].detail["target_state"] == "PAUSED"
    assert all(password not in value for entry in entries for value in entry.detail.values())
