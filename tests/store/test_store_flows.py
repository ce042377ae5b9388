"""Flows: one transaction for the flow and its connectors; state and config fan out to them."""

from __future__ import annotations

import pytest

from mirror.store.records import TargetState
from mirror.store.store import AlreadyExistsError, NotFoundError, Store

SOURCE = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
CHECKPOINT = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
FLOW = "primary->backup"


@pytest.fixture
def clusters(store: Store) -> Store:
    store.put_cluster("primary", "127.0.0.1:9092", {}, {}, "cli")
    store.put_cluster("backup", "127.0.0.1:9093", {}, {}, "cli")
    return store


def members(topics: str = "orders") -> dict[str, tuple[str, dict[str, str]]]:
    return {
        f"{FLOW}.source": (SOURCE, {"topics": topics}),
        f"{FLOW}.checkpoint": (CHECKPOINT, {"groups": ".*"}),
    }


def test_create_flow_creates_its_connectors(clusters: Store) -> None:
    flow = clusters.create_flow(
        FLOW, "primary", "backup", {"topics": "orders"}, members(), TargetState.PAUSED, "cli"
    )
    assert flow.connectors == (f"{FLOW}.checkpoint", f"{FLOW}.source")
    assert (flow.source_cluster, flow.target_cluster, flow.target_state) == (
        "primary",
        "backup",
        TargetState.PAUSED,
    )
    assert flow.config == {"topics": "orders"}
    for name in flow.connectors:
        connector = clusters.get_connector(name)
        assert connector is not None
        assert (connector.flow, connector.target_state, connector.generation) == (FLOW, TargetState.PAUSED, 1)
    assert clusters.get_flow(FLOW) == flow
    assert clusters.list_flows() == [flow]


def test_create_flow_refusals_leave_nothing_behind(clusters: Store) -> None:
    with pytest.raises(NotFoundError, match="nowhere"):
        clusters.create_flow(FLOW, "primary", "nowhere", {}, members(), TargetState.RUNNING, "cli")
    clusters.create_connector(f"{FLOW}.checkpoint", CHECKPOINT, {}, TargetState.RUNNING, "cli")
    with pytest.raises(AlreadyExistsError, match="checkpoint"):
        clusters.create_flow(FLOW, "primary", "backup", {}, members(), TargetState.RUNNING, "cli")
    assert clusters.list_flows() == []
    assert [connector.name for connector in clusters.list_connectors()] == [f"{FLOW}.checkpoint"]

    clusters.delete_connector(f"{FLOW}.checkpoint", "cli")
    clusters.create_flow(FLOW, "primary", "backup", {}, members(), TargetState.RUNNING, "cli")
    with pytest.raises(AlreadyExistsError, match="flow"):
        clusters.create_flow(FLOW, "primary", "backup", {}, {}, TargetState.RUNNING, "cli")


def test_update_flow(clusters: Store) -> None:
    clusters.create_flow(
        FLOW, "primary", "backup", {"topics": "orders"}, members(), TargetState.PAUSED, "cli"
    )
    heartbeat = f"{FLOW}.heartbeat"
    new_members = members(topics="orders|payments")
    del new_members[f"{FLOW}.checkpoint"]
    new_members[heartbeat] = ("MirrorHeartbeatConnector", {})

    flow = clusters.update_flow(FLOW, {"topics": "orders|payments"}, new_members, "cli")

    assert flow.config == {"topics": "orders|payments"}
    assert flow.connectors == (f"{FLOW}.heartbeat", f"{FLOW}.source")
    assert clusters.get_connector(f"{FLOW}.checkpoint") is None
    source = clusters.get_connector(f"{FLOW}.source")
    added = clusters.get_connector(heartbeat)
    assert source is not None
    assert added is not None
    assert (source.generation, source.config) == (2, {"topics": "orders|payments"})
    assert (added.generation, added.flow, added.target_state) == (1, FLOW, TargetState.PAUSED)

    again = clusters.update_flow(FLOW, {"topics": "orders|payments"}, new_members, "cli")
    assert again == flow
    unchanged = clusters.get_connector(f"{FLOW}.source")
    assert unchanged is not None
    assert unchanged.generation == 2


def test_update_flow_refusals(clusters: Store) -> None:
    with pytest.raises(NotFoundError):
        clusters.update_flow(FLOW, {}, {}, "cli")
    clusters.create_flow(FLOW, "primary", "backup", {}, members(), TargetState.RUNNING, "cli")
    clusters.create_connector("standalone", SOURCE, {}, TargetState.RUNNING, "cli")
    with pytest.raises(AlreadyExistsError, match="standalone"):
        clusters.update_flow(FLOW, {"topics": "x"}, {**members(), "standalone": (SOURCE, {})}, "cli")
    flow = clusters.get_flow(FLOW)
    assert flow is not None
    assert flow.config == {}
    standalone = clusters.get_connector("standalone")
    assert standalone is not None
    assert standalone.flow is None


def test_set_flow_state_reaches_every_connector(clusters: Store) -> None:
    clusters.create_flow(FLOW, "primary", "backup", {}, members(), TargetState.RUNNING, "cli")
    clusters.create_connector("standalone", SOURCE, {}, TargetState.RUNNING, "cli")
    flow = clusters.set_flow_state(FLOW, TargetState.STOPPED, "cli")
    assert flow.target_state is TargetState.STOPPED
    states = {connector.name: connector.target_state for connector in clusters.list_connectors()}
    assert states == {
        f"{FLOW}.checkpoint": TargetState.STOPPED,
        f"{FLOW}.source": TargetState.STOPPED,
        "standalone": TargetState.RUNNING,
    }
    with pytest.raises(NotFoundError):
        clusters.set_flow_state("a->b", TargetState.PAUSED, "cli")


def test_delete_flow_deletes_its_connectors(clusters: Store) -> None:
    clusters.create_flow(FLOW, "primary", "backup", {}, members(), TargetState.RUNNING, "cli")
    clusters.request_restart(f"{FLOW}.source", None, False, False, "cli")
    clusters.delete_flow(FLOW, "cli")
    assert clusters.get_flow(FLOW) is None
    assert clusters.list_connectors() == []
    assert clusters.pending_restarts([f"{FLOW}.source"]) == []
    with pytest.raises(NotFoundError):
        clusters.delete_flow(FLOW, "cli")


def test_flow_writes_are_audited(clusters: Store) -> None:
    clusters.create_flow(FLOW, "primary", "backup", {"topics": "a"}, members(), TargetState.RUNNING, "ops")
    clusters.update_flow(FLOW, {"topics": "b"}, members(topics="b"), "ops")
    clusters.set_flow_state(FLOW, TargetState.PAUSED, "ops")
    clusters.delete_flow(FLOW, "ops")
    entries = [entry for entry in clusters.audit_log() if entry.resource == f"flows/{FLOW}"]
    assert [entry.action for entry in entries] == [
        "flow.delete",
        "flow.set_state",
        "flow.update",
        "flow.create",
    ]
    assert entries[2].detail["changed_config_keys"] == "topics"
    assert entries[2].detail["changed_connectors"] == f"{FLOW}.source"
    assert entries[3].detail["connectors"] == f"{FLOW}.checkpoint,{FLOW}.source"
