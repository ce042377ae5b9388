"""Kafka Connect's /connectors endpoints over a real SQLite store."""

from __future__ import annotations

from typing import Any

import pytest

from mirror.store.records import TargetState
from tests.api.harness import (
    MM2_CHECKPOINT,
    MM2_HEARTBEAT,
    MM2_SOURCE,
    WORKER,
    Api,
    jaas,
    mm2_source_config,
    snapshot,
)


def create(api: Api, name: str = "orders", **extra: Any) -> Any:
    response = api.client.post("/connectors", json={"name": name, "config": mm2_source_config(), **extra})
    assert response.status_code == 201, response.json
    return response.json


def test_root_describes_the_server(api: Api) -> None:
    response = api.client.get("/")
    assert response.status_code == 200
    assert response.json == {"version": "4.3.1", "commit": "0000000000000000", "kafka_cluster_id": None}
    assert response.headers["Content-Type"] == "application/json"


def test_health_is_healthy_while_the_store_answers(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    assert response.json == {
        "status": "healthy",
        "message": "Worker has completed startup and is ready to handle requests.",
    }


def test_create_answers_201_with_location_and_connector_info(api: Api) -> None:
    response = api.client.post(
        "/connectors/",
        json={
            "name": "orders mirror",
            "config": {**mm2_source_config(), "tasks.max": 3, "emit.offset-syncs.enabled": True},
        },
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "http://localhost/connectors/orders%20mirror"
    assert response.json == {
        "name": "orders mirror",
        "config": {
            **mm2_source_config(),
            "tasks.max": "3",
            "emit.offset-syncs.enabled": "true",
            "name": "orders mirror",
        },
        "tasks": [],
        "type": "source",
    }
    record = api.store.get_connector("orders mirror")
    assert record is not None
    assert record.connector_class == MM2_SOURCE
    assert record.target_state == TargetState.RUNNING
    assert record.config["tasks.max"] == "3"
    [entry, *_] = api.store.audit_log()
    assert (entry.actor, entry.action, entry.resource) == (
        "local",
        "connector.create",
        "connectors/orders mirror",
    )


def test_list_get_and_config_with_and_without_trailing_slashes(api: Api) -> None:
    create(api, "b")
    create(api, "a")
    for path in ("/connectors", "/connectors/"):
        assert api.client.get(path).json == ["a", "b"]
    for path in ("/connectors/a", "/connectors/a/"):
        response = api.client.get(path)
        assert response.status_code == 200
        assert response.json["name"] == "a"
    for path in ("/connectors/a/config", "/connectors/a/config/"):
        assert api.client.get(path).json == {**mm2_source_config(), "name": "a"}
    missing = api.client.get("/connectors/nope")
    assert missing.status_code == 404
    assert missing.json == {"error_code": 404, "message": "Connector nope not found"}
    assert api.client.get("/connectors/nope/config").status_code == 404


@pytest.mark.parametrize(
    "connector_class",
    [
        MM2_SOURCE,
        "MirrorSourceConnector",
        "MirrorSource",
        MM2_CHECKPOINT,
        "MirrorCheckpointConnector",
        "MirrorCheckpoint",
        MM2_HEARTBEAT,
        "MirrorHeartbeatConnector",
        "MirrorHeartbeat",
    ],
)
def test_connector_classes_by_java_and_short_names(api: Api, connector_class: str) -> None:
    config = {**mm2_source_config(), "connector.class": connector_class}
    response = api.client.post("/connectors", json={"name": "c", "config": config})
    assert response.status_code == 201, response.json
    assert response.json["config"]["connector.class"] == connector_class
    assert response.json["type"] == "source"


def test_mm2_on_connect_json_configs_work_unchanged(api: Api) -> None:
    """The configs of Apache Kafka's MM2-on-Connect documentation, as JSON."""
    common = {
        "source.cluster.alias": "primary",
        "target.cluster.alias": "backup",
        "source.cluster.bootstrap.servers": "127.0.0.1:9092",
        "target.cluster.bootstrap.servers": "127.0.0.1:9093",
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "source.cluster.security.protocol": "SASL_SSL",
        "source.cluster.sasl.mechanism": "PLAIN",
        "source.cluster.sasl.jaas.config": jaas(api.secret()),
    }
    configs = {
        "mm2-msc": {
            **common,
            "connector.class": MM2_SOURCE,
            "tasks.max": "4",
            "topics": "orders,payments",
            "replication.factor": "1",
            "refresh.topics.interval.seconds": "10",
            "sync.topic.acls.enabled": "false",
            "offset-syncs.topic.replication.factor": "1",
            "producer.override.compression.type": "lz4",
        },
        "mm2-cpc": {
            **common,
            "connector.class": MM2_CHECKPOINT,
            "groups": ".*",
            "emit.checkpoints.interval.seconds": "5",
            "sync.group.offsets.enabled": "true",
            "checkpoints.topic.replication.factor": "1",
        },
        "mm2-hbc": {
            **common,
            "connector.class": MM2_HEARTBEAT,
            "emit.heartbeats.interval.seconds": "5",
            "heartbeats.topic.replication.factor": "1",
        },
    }
    for name, config in configs.items():
        response = api.client.put(f"/connectors/{name}/config", json=config)
        assert response.status_code == 201, response.json
        assert response.json["config"]["source.cluster.sasl.jaas.config"] == "[hidden]"
        stored = api.store.get_connector(name)
        assert stored is not None
        assert stored.config == {**config, "name": name}


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" padded", "leading or trailing whitespace"),
        ("padded\t", "leading or trailing whitespace"),
        ("bell\x07", "control characters"),
        ("del\x7f", "control characters"),
        ("a/b", "'/'"),
        ("x" * 256, "longer than 255"),
    ],
)
def test_connector_name_rules(api: Api, name: str, fragment: str) -> None:
    before = snapshot(api.store)
    response = api.client.post("/connectors", json={"name": name, "config": mm2_source_config()})
    assert response.status_code == 400
    assert fragment in response.json["message"]
    assert snapshot(api.store) == before


def test_refused_creations_name_the_problem_and_change_nothing(api: Api) -> None:
    create(api, "taken")
    before = snapshot(api.store)
    cases: list[tuple[object, int, str]] = [
        ({"config": mm2_source_config()}, 400, "'name' is required"),
        ({"name": 7, "config": mm2_source_config()}, 400, "'name' must be a string"),
        ({"name": "c"}, 400, "'config' is required"),
        ({"name": "c", "config": []}, 400, "config must be a JSON object"),
        (["c"], 400, "Request body must be a JSON object"),
        (
            {"name": "c", "config": {**mm2_source_config(), "name": "other"}},
            400,
            "Connector name configuration (other) doesn't match connector name in the URL (c)",
        ),
        ({"name": "c", "config": {"topics": "x"}}, 400, "contains no connector type"),
        (
            {"name": "c", "config": {**mm2_source_config(), "connector.class": "FileStreamSink"}},
            400,
            "which name matches FileStreamSink",
        ),
        (
            {"name": "c", "config": {**mm2_source_config(), "topics": {"a": 1}}},
            400,
            "'topics' must be a string",
        ),
        ({"name": "c", "config": {**mm2_source_config(), "topics": ["a"]}}, 400, "'topics' must be a string"),
        (
            {"name": "c", "config": {**mm2_source_config(), "topics": None}},
            400,
            "Null value can not be supplied",
        ),
        (
            {"name": "c", "config": mm2_source_config(), "initial_state": "GONE"},
            400,
            "initial_state must be one of",
        ),
        ({"name": "taken", "config": mm2_source_config()}, 409, "Connector taken already exists"),
    ]
    for body, status, fragment in cases:
        response = api.client.post("/connectors", json=body)
        assert response.status_code == status, body
        assert response.json["error_code"] == status
        assert fragment in response.json["message"], (body, response.json)
    assert snapshot(api.store) == before


def test_validation_errors_list_every_bad_key(api: Api) -> None:
    config = {
        **mm2_source_config(),
        "tasks.max": "many",
        "sync.topic.acls.enabled": "perhaps",
        "source.consumer.no.such.setting": "1",
    }
    del config["source.cluster.alias"]
    response = api.client.post("/connectors", json={"name": "c", "config": config})
    assert response.status_code == 400
    message = response.json["message"]
    assert message.startswith("Connector configuration is invalid and contains the following 4 error(s):\n")
    for key in (
        "tasks.max",
        "sync.topic.acls.enabled",
        "source.consumer.no.such.setting",
        "source.cluster.alias",
    ):
        assert f"\n{key}: " in message
    assert message.endswith(f"`/connector-plugins/{MM2_SOURCE}/config/validate`")


def test_initial_states(api: Api) -> None:
    for name, initial, expected in [
        ("r", "running", TargetState.RUNNING),
        ("p", "PAUSED", TargetState.PAUSED),
        ("s", "Stopped", TargetState.STOPPED),
    ]:
        create(api, name, initial_state=initial)
        record = api.store.get_connector(name)
        assert record is not None
        assert record.target_state == expected


def test_put_config_creates_then_updates(api: Api) -> None:
    created = api.client.put("/connectors/c/config", json=mm2_source_config())
    assert created.status_code == 201
    assert created.headers["Location"] == "http://localhost/connectors/c"
    updated = api.client.put(
        "/connectors/c/config/", json={**mm2_source_config(), "topics": "payments", "name": "c"}
    )
    assert updated.status_code == 200
    assert "Location" not in updated.headers
    assert updated.json["config"]["topics"] == "payments"
    record = api.store.get_connector("c")
    assert record is not None
    assert record.generation == 2


def test_put_config_refuses_the_create_body_and_name_mismatches(api: Api) -> None:
    create(api, "c")
    before = snapshot(api.store)
    wrapped = api.client.put("/connectors/c/config", json={"name": "c", "config": mm2_source_config()})
    assert wrapped.status_code == 400
    assert "'config' must be a string, number or boolean, not an object" in wrapped.json["message"]
    mismatch = api.client.put("/connectors/c/config", json={**mm2_source_config(), "name": "d"})
    assert mismatch.status_code == 400
    assert "doesn't match connector name in the URL (c)" in mismatch.json["message"]
    invalid = api.client.put("/connectors/c/config", json={**mm2_source_config(), "tasks.max": "0"})
    assert invalid.status_code == 400
    assert "tasks.max: must be at least 1" in invalid.json["message"]
    bad_name = api.client.put("/connectors/%20c/config", json=mm2_source_config())
    assert bad_name.status_code == 400
    assert snapshot(api.store) == before


def test_patch_merges_and_null_removes(api: Api) -> None:
    create(api, "c", config={**mm2_source_config(), "groups": "billing.*"})
    response = api.client.patch(
        "/connectors/c/config", json={"topics": "payments", "groups": None, "tasks.max": 5}
    )
    assert response.status_code == 200
    config = response.json["config"]
    assert config["topics"] == "payments"
    assert config["tasks.max"] == "5"
    assert "groups" not in config
    assert api.client.patch("/connectors/nope/config", json={"topics": "x"}).status_code == 404
    before = snapshot(api.store)
    invalid = api.client.patch("/connectors/c/config", json={"source.cluster.alias": None})
    assert invalid.status_code == 400
    assert "source.cluster.alias" in invalid.json["message"]
    assert snapshot(api.store) == before


def test_secrets_are_hidden_everywhere_and_hidden_means_keep(api: Api) -> None:
    password = api.secret()
    key_password = api.secret()
    config = {
        **mm2_source_config(),
        "source.cluster.security.protocol": "SASL_PLAINTEXT",
        "source.cluster.sasl.mechanism": "PLAIN",
        "source.cluster.sasl.jaas.config": jaas(password),
        "target.cluster.ssl.key.password": key_password,
    }
    api.client.post("/connectors", json={"name": "c", "config": config, "initial_state": "PAUSED"})
    api.report("c", "RUNNING", {0: "RUNNING"})
    for path in (
        "/connectors/c",
        "/connectors/c/config",
        "/connectors?expand=info&expand=status",
        "/connectors/c/tasks",
        "/connectors/c/tasks-config",
        "/audit",
    ):
        assert api.client.get(path).status_code == 200
    shown = api.client.get("/connectors/c/config").json
    assert shown["source.cluster.sasl.jaas.config"] == "[hidden]"
    assert shown["target.cluster.ssl.key.password"] == "[hidden]"

    # A client that read the config and sends it back with a change keeps the secrets.
    echoed = api.client.put("/connectors/c/config", json={**shown, "topics": "payments"})
    assert echoed.status_code == 200, echoed.json
    record = api.store.get_connector("c")
    assert record is not None
    assert record.config["source.cluster.sasl.jaas.config"] == jaas(password)
    assert record.config["target.cluster.ssl.key.password"] == key_password
    assert record.config["topics"] == "payments"

    patched = api.client.patch("/connectors/c/config", json={"target.cluster.ssl.key.password": "[hidden]"})
    assert patched.status_code == 200
    record = api.store.get_connector("c")
    assert record is not None
    assert record.config["target.cluster.ssl.key.password"] == key_password

    unknown = api.client.put(
        "/connectors/c/config", json={**shown, "source.cluster.ssl.key.password": "[hidden]"}
    )
    assert unknown.status_code == 400
    assert "source.cluster.ssl.key.password: [hidden] stands for a stored secret" in unknown.json["message"]
    # Not a secret key: "[hidden]" is an ordinary value there.
    plain = api.client.patch("/connectors/c/config", json={"topics": "[hidden]"})
    assert plain.status_code == 200
    assert plain.json["config"]["topics"] == "[hidden]"


def test_status_before_and_after_the_runtime_reports(api: Api) -> None:
    create(api, "c")
    unassigned = api.client.get("/connectors/c/status")
    assert unassigned.status_code == 200
    assert unassigned.json == {
        "name": "c",
        "connector": {"state": "UNASSIGNED", "worker_id": ""},
        "tasks": [],
        "type": "source",
    }
    trace = "org.apache.kafka.common.errors.TimeoutException: boom\n\tat somewhere"
    api.report("c", "RUNNING", {1: "FAILED", 0: "RUNNING"}, traces={1: trace})
    status = api.client.get("/connectors/c/status/").json
    assert status == {
        "name": "c",
        "connector": {"state": "RUNNING", "worker_id": WORKER},
        "tasks": [
            {"id": 0, "state": "RUNNING", "worker_id": WORKER},
            {"id": 1, "state": "FAILED", "worker_id": WORKER, "trace": trace},
        ],
        "type": "source",
    }
    info = api.client.get("/connectors/c").json
    assert info["tasks"] == [{"connector": "c", "task": 0}, {"connector": "c", "task": 1}]
    api.report("c", "STOPPED", {})
    assert api.client.get("/connectors/c/status").json["tasks"] == []
    assert api.client.get("/connectors/c").json["tasks"] == []
    assert api.client.get("/connectors/nope/status").status_code == 404


def test_expand_gives_a_map_by_name(api: Api) -> None:
    create(api, "a")
    create(api, "b")
    api.report("a", "RUNNING", {0: "RUNNING"})
    both = api.client.get("/connectors?expand=status&expand=info").json
    assert set(both) == {"a", "b"}
    assert both["a"]["status"]["connector"]["state"] == "RUNNING"
    assert both["a"]["info"]["tasks"] == [{"connector": "a", "task": 0}]
    assert both["b"]["status"]["connector"]["state"] == "UNASSIGNED"
    assert api.client.get("/connectors?expand=info,status").json == both
    assert set(api.client.get("/connectors?expand=status").json["a"]) == {"status"}
    assert api.client.get("/connectors?expand=nothing").json == {"a": {}, "b": {}}


def test_restart_variants(api: Api) -> None:
    create(api, "c")
    api.report("c", "RUNNING", {0: "RUNNING", 1: "FAILED"}, traces={1: "trace"})

    legacy = api.client.post("/connectors/c/restart")
    assert legacy.status_code == 204
    assert legacy.get_data() == b""

    with_tasks = api.client.post("/connectors/c/restart?includeTasks=true")
    assert with_tasks.status_code == 202
    assert with_tasks.json == {
        "name": "c",
        "connector": {"state": "RESTARTING", "worker_id": WORKER},
        "tasks": [
            {"id": 0, "state": "RESTARTING", "worker_id": WORKER},
            {"id": 1, "state": "RESTARTING", "worker_id": WORKER},
        ],
        "type": "source",
    }
    failed_only = api.client.post("/connectors/c/restart?includeTasks=true&onlyFailed=true").json
    assert failed_only["connector"]["state"] == "RUNNING"
    assert [task["state"] for task in failed_only["tasks"]] == ["RUNNING", "RESTARTING"]
    healthy = api.client.post("/connectors/c/restart?onlyFailed=TRUE")
    assert healthy.status_code == 202
    assert healthy.json["connector"]["state"] == "RUNNING"

    requests = api.store.pending_restarts(["c"])
    assert [(r.task_id, r.include_tasks, r.only_failed) for r in requests] == [
        (None, False, False),
        (None, True, False),
        (None, True, True),
        (None, False, True),
    ]
    bad = api.client.post("/connectors/c/restart?includeTasks=maybe")
    assert bad.status_code == 400
    assert "includeTasks" in bad.json["message"]
    missing = api.client.post("/connectors/nope/restart")
    assert missing.status_code == 404
    assert missing.json["message"] == "Unknown connector: nope"


def test_pause_resume_stop(api: Api) -> None:
    create(api, "c")
    for verb, status, state in [
        ("pause", 202, TargetState.PAUSED),
        ("pause", 202, TargetState.PAUSED),
        ("resume", 202, TargetState.RUNNING),
        ("stop", 204, TargetState.STOPPED),
        ("resume", 202, TargetState.RUNNING),
    ]:
        response = api.client.put(f"/connectors/c/{verb}")
        assert response.status_code == status
        assert response.get_data() == b""
        record = api.store.get_connector("c")
        assert record is not None
        assert record.target_state == state
        missing = api.client.put(f"/connectors/nope/{verb}")
        assert missing.status_code == 404
        assert missing.json["message"] == "Unknown connector nope"


def test_tasks_and_task_endpoints(api: Api) -> None:
    create(api, "c")
    assert api.client.get("/connectors/c/tasks").json == []
    api.report("c", "RUNNING", {0: "RUNNING", 1: "FAILED"}, traces={1: "trace"})
    tasks = api.client.get("/connectors/c/tasks").json
    assert [task["id"] for task in tasks] == [{"connector": "c", "task": 0}, {"connector": "c", "task": 1}]
    assert tasks[0]["config"]["task.class"] == "org.apache.kafka.connect.mirror.MirrorSourceTask"
    assert tasks[0]["config"]["topics"] == "orders.*"
    assert set(api.client.get("/connectors/c/tasks-config").json) == {"c-0", "c-1"}

    assert api.client.get("/connectors/c/tasks/1/status").json == {
        "id": 1,
        "state": "FAILED",
        "worker_id": WORKER,
        "trace": "trace",
    }
    missing_task = api.client.get("/connectors/c/tasks/7/status")
    assert missing_task.status_code == 404
    assert missing_task.json["message"] == "No status found for task c-7"
    assert api.client.get("/connectors/c/tasks/one/status").status_code == 404
    assert api.client.get("/connectors/nope/tasks").status_code == 404

    restarted = api.client.post("/connectors/c/tasks/1/restart")
    assert restarted.status_code == 204
    [request] = api.store.pending_restarts(["c"])
    assert request.task_id == 1
    unknown = api.client.post("/connectors/c/tasks/9/restart")
    assert unknown.status_code == 404
    assert unknown.json["message"] == "Unknown task: c-9"
    assert api.client.post("/connectors/nope/tasks/0/restart").json["message"] == "Unknown connector: nope"


def test_delete(api: Api) -> None:
    create(api, "c")
    api.report("c", "RUNNING", {0: "RUNNING"})
    response = api.client.delete("/connectors/c/")
    assert response.status_code == 204
    assert api.store.get_connector("c") is None
    assert api.store.connector_state("c") is None
    again = api.client.delete("/connectors/c")
    assert again.status_code == 404
    assert again.json == {"error_code": 404, "message": "Connector c not found"}


def test_topics_are_not_tracked(api: Api) -> None:
    create(api, "c")
    response = api.client.get("/connectors/c/topics")
    assert response.status_code == 403
    assert response.json == {"error_code": 403, "message": "Topic tracking is disabled."}
    assert api.client.put("/connectors/c/topics/reset").status_code == 403


def test_the_leak_check_sees_a_value_a_response_carries(api: Api) -> None:
    value = api.secret()
    create(api, "c", config={**mm2_source_config(), "topics": value})
    assert api.client.get("/connectors/c/config").json["topics"] == value
    assert api.leaks() != []
    api.secrets.clear()  # this test leaked on purpose
