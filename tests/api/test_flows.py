"""/flows: one resource owning a flow's source, checkpoint and heartbeat connectors."""

from __future__ import annotations

from typing import Any

import pytest

from mirror.store.records import TargetState
from tests.api.harness import MM2_CHECKPOINT, MM2_HEARTBEAT, MM2_SOURCE, WORKER, Api, jaas, snapshot

MEMBERS = ["primary-backup-checkpoint", "primary-backup-heartbeat", "primary-backup-source"]


@pytest.fixture
def clusters(api: Api) -> None:
    for name in ("primary", "backup"):
        config = {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": jaas(api.secret()),
        }
        response = api.client.post(
            "/clusters", json={"name": name, "bootstrap_servers": f"{name}:9092", "config": config}
        )
        assert response.status_code == 201


def create(api: Api, **body: Any) -> Any:
    response = api.client.post("/flows", json={"source": "primary", "target": "backup", **body})
    assert response.status_code == 201, response.json
    return response


@pytest.mark.usefixtures("clusters")
def test_create_expands_into_three_connectors(api: Api) -> None:
    response = create(api, config={"topics": "orders.*", "sync.group.offsets.enabled": True, "tasks.max": 2})
    assert response.headers["Location"] == "http://localhost/flows/primary-backup"
    body = response.json
    assert body["name"] == "primary-backup"
    assert (body["source"], body["target"], body["target_state"]) == ("primary", "backup", "RUNNING")
    assert body["config"] == {"topics": "orders.*", "sync.group.offsets.enabled": "true", "tasks.max": "2"}
    assert [connector["name"] for connector in body["connectors"]] == MEMBERS
    assert all(connector["connector"]["state"] == "UNASSIGNED" for connector in body["connectors"])
    for suffix, connector_class in (
        ("source", MM2_SOURCE),
        ("checkpoint", MM2_CHECKPOINT),
        ("heartbeat", MM2_HEARTBEAT),
    ):
        record = api.store.get_connector(f"primary-backup-{suffix}")
        assert record is not None
        assert record.flow == "primary-backup"
        assert record.connector_class == connector_class
        assert record.config == {
            "topics": "orders.*",
            "sync.group.offsets.enabled": "true",
            "tasks.max": "2",
            "name": f"primary-backup-{suffix}",
            "connector.class": connector_class,
            "source.cluster.alias": "primary",
            "target.cluster.alias": "backup",
        }
    # The flow's connectors are Connect connectors too.
    assert api.client.get("/connectors").json == MEMBERS


@pytest.mark.usefixtures("clusters")
def test_named_flow_with_initial_state_and_states_from_the_runtime(api: Api) -> None:
    create(api, name="dr", initial_state="paused")
    record = api.store.get_connector("dr-source")
    assert record is not None
    assert record.target_state == TargetState.PAUSED
    api.report("dr-source", "PAUSED", {0: "PAUSED"})
    flow = api.client.get("/flows/dr/").json
    [_checkpoint, heartbeat, source] = flow["connectors"]
    assert source["connector"] == {"state": "PAUSED", "worker_id": WORKER}
    assert source["tasks"] == [{"id": 0, "state": "PAUSED", "worker_id": WORKER}]
    assert heartbeat["connector"]["state"] == "UNASSIGNED"
    assert flow["target_state"] == "PAUSED"
    assert api.client.get("/flows").json == [flow]


@pytest.mark.usefixtures("clusters")
def test_config_put_and_patch_reach_every_connector(api: Api) -> None:
    create(api, config={"topics": "orders.*", "groups": "billing"})
    replaced = api.client.put("/flows/primary-backup/config", json={"topics": "payments"})
    assert replaced.status_code == 200
    assert replaced.json["config"] == {"topics": "payments"}
    for name in MEMBERS:
        record = api.store.get_connector(name)
        assert record is not None
        assert record.config["topics"] == "payments"
        assert "groups" not in record.config
        assert record.generation == 2
    patched = api.client.patch("/flows/primary-backup/config", json={"groups": "billing.*", "topics": None})
    assert patched.status_code == 200
    assert patched.json["config"] == {"groups": "billing.*"}
    record = api.store.get_connector("primary-backup-checkpoint")
    assert record is not None
    assert record.config["groups"] == "billing.*"
    assert "topics" not in record.config
    assert api.client.put("/flows/nope/config", json={}).status_code == 404
    assert api.client.patch("/flows/nope/config", json={}).status_code == 404


@pytest.mark.usefixtures("clusters")
def test_pause_resume_stop_apply_to_every_connector(api: Api) -> None:
    create(api)
    for verb, state in (
        ("pause", TargetState.PAUSED),
        ("stop", TargetState.STOPPED),
        ("resume", TargetState.RUNNING),
    ):
        response = api.client.put(f"/flows/primary-backup/{verb}")
        assert response.status_code == 202
        assert response.json["target_state"] == state.value
        assert {record.target_state for record in api.store.list_connectors()} == {state}
        assert api.client.put(f"/flows/nope/{verb}").status_code == 404


@pytest.mark.usefixtures("clusters")
def test_flow_connectors_are_changed_through_the_flow_only(api: Api) -> None:
    create(api)
    before = snapshot(api.store)
    for method, path, body in (
        ("DELETE", "/connectors/primary-backup-source", None),
        (
            "PUT",
            "/connectors/primary-backup-source/config",
            {"connector.class": MM2_SOURCE, "source.cluster.alias": "primary"},
        ),
        ("PATCH", "/connectors/primary-backup-source/config", {"topics": "x"}),
    ):
        response = api.client.open(path, method=method, json=body)
        assert response.status_code == 400
        assert "belongs to flow primary-backup" in response.json["message"]
    assert snapshot(api.store) == before
    # Operations on a single connector still work (Connect clients restart and pause connectors).
    assert api.client.put("/connectors/primary-backup-source/pause").status_code == 202


@pytest.mark.usefixtures("clusters")
def test_refused_flows_change_nothing(api: Api) -> None:
    create(api)
    api.client.post(
        "/connectors",
        json={
            "name": "taken-source",
            "config": {"connector.class": MM2_HEARTBEAT, "source.cluster.alias": "primary"},
        },
    )
    before = snapshot(api.store)
    cases: list[tuple[object, int, str]] = [
        ({"source": "primary", "target": "backup"}, 409, "Flow primary-backup already exists"),
        ({"name": "taken", "source": "primary", "target": "backup"}, 409, "taken-source"),
        ({"source": "nowhere", "target": "backup"}, 400, "cluster nowhere does not exist"),
        ({"source": "primary"}, 400, "'target' is required"),
        ({"source": "primary", "target": "primary"}, 400, "are the same cluster"),
        ({"name": "a b", "source": "primary", "target": "backup"}, 400, "flow name 'a b'"),
        ({"name": "x", "source": "primary", "target": "backup", "initial_state": "UP"}, 400, "initial_state"),
        (
            {"name": "x", "source": "primary", "target": "backup", "config": {"tasks.max": "0"}},
            400,
            "tasks.max: must be at least 1",
        ),
        (
            {"name": "x", "source": "primary", "target": "backup", "config": {"topics": ["a"]}},
            400,
            "'topics' must be a string",
        ),
        (
            {"name": "x", "source": "primary", "target": "backup", "config": {"name": "y"}},
            400,
            "name: is set by the flow",
        ),
        (
            {
                "name": "x",
                "source": "primary",
                "target": "backup",
                "config": {"source.cluster.bootstrap.servers": "h:1"},
            },
            400,
            "put it in the cluster profile",
        ),
        (
            {
                "name": "x",
                "source": "primary",
                "target": "backup",
                "config": {"source.consumer.sasl.jaas.config": "j"},
            },
            400,
            "source.consumer.sasl.jaas.config: is a secret",
        ),
        (
            {"name": "x", "source": "primary", "target": "backup", "config": {"task.index": "1"}},
            400,
            "task.index",
        ),
    ]
    for body, status, fragment in cases:
        response = api.client.post("/flows", json=body)
        assert response.status_code == status, body
        assert fragment in response.json["message"], (body, response.json)
    assert (
        api.client.put(
            "/flows/primary-backup/config", json={"emit.heartbeats.interval.seconds": "-1"}
        ).status_code
        == 400
    )
    assert snapshot(api.store) == before


@pytest.mark.usefixtures("clusters")
def test_delete_removes_the_connectors(api: Api) -> None:
    create(api)
    api.report("primary-backup-source", "RUNNING", {0: "RUNNING"})
    response = api.client.delete("/flows/primary-backup")
    assert response.status_code == 204
    assert api.store.list_connectors() == []
    assert api.store.task_states("primary-backup-source") == []
    missing = api.client.delete("/flows/primary-backup")
    assert missing.status_code == 404
    assert missing.json == {"error_code": 404, "message": "Flow primary-backup not found"}
    assert api.client.get("/flows/primary-backup").status_code == 404
