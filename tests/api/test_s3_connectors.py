"""The S3 backup and restore connectors through the Connect API: plugins, validation, backup schedules."""

from __future__ import annotations

import pytest

from mirror import __version__
from tests.api.harness import Api, mm2_source_config, snapshot

S3_SINK = "io.mirror.connect.s3.S3SinkConnector"
S3_SOURCE = "io.mirror.connect.s3.S3SourceConnector"


def sink_config(api: Api, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "S3SinkConnector",
        "bootstrap.servers": "127.0.0.1:9092",
        "topics": "orders.*",
        "s3.bucket.name": "backups",
        "s3.prefix": "nightly",
        "aws.access.key.id": "mirror-tests",
        "aws.secret.access.key": api.secret(),
        **extra,
    }


def test_plugins_are_listed_and_found_by_every_name(api: Api) -> None:
    listed = {plugin["class"]: plugin for plugin in api.client.get("/connector-plugins").json}
    assert listed[S3_SINK] == {"class": S3_SINK, "type": "sink", "version": __version__}
    assert listed[S3_SOURCE] == {"class": S3_SOURCE, "type": "source", "version": __version__}
    sink = api.client.get(f"/connector-plugins/{S3_SINK}/config").json
    for name in ("S3SinkConnector", "S3Sink"):
        assert api.client.get(f"/connector-plugins/{name}/config").json == sink
    assert api.client.get("/connector-plugins/S3Source/config").json != sink


def test_config_definitions_come_from_the_backup_config_keys(api: Api) -> None:
    sink = {key["name"]: key for key in api.client.get("/connector-plugins/S3Sink/config").json}
    source = {key["name"]: key for key in api.client.get("/connector-plugins/S3Source/config").json}
    assert {name for name, key in sink.items() if key["required"]} == {
        "name",
        "connector.class",
        "s3.bucket.name",
    }
    assert sink["format.output.type"]["default_value"] == "jsonl"
    assert sink["backup.mode"]["group"] == "Backup"
    assert sink["aws.secret.access.key"]["type"] == "PASSWORD"
    assert sink["kafka.cluster.alias"]["group"] == "Kafka"
    assert "topics.rename" not in sink and "task.end.offsets" not in sink
    assert source["topics.rename"]["group"] == "Restore"
    assert source["offsets.storage.topic"]["default_value"] == "mirror-restore-offsets.internal"
    assert "rotate.records" not in source


def test_validate_reports_each_bad_key_and_hides_secrets(api: Api) -> None:
    config = sink_config(api, **{"name": "b", "rotate.records": "many", "rotate.recrods": "5"})
    del config["bootstrap.servers"]
    result = api.client.put("/connector-plugins/S3SinkConnector/config/validate", json=config).json
    errors = {entry["value"]["name"]: entry["value"]["errors"] for entry in result["configs"]}
    assert errors["rotate.records"] == ["expected an integer (long), got 'many'"]
    assert errors["rotate.recrods"] == ["unknown key for this connector"]
    assert errors["bootstrap.servers"] == ["is required, unless kafka.cluster.alias names a cluster profile"]
    assert result["error_count"] == 3
    shown = {entry["value"]["name"]: entry["value"]["value"] for entry in result["configs"]}
    assert shown["aws.secret.access.key"] == "[hidden]"
    assert result["groups"] == ["Common", "Kafka", "S3", "Topics and groups", "Backup"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"rotate.records": "0"}, "rotate.records"),
        ({"format.output.type": "csv"}, "format.output.type"),
        ({"s3.bucket.name": "Not_A_Bucket"}, "s3.bucket.name"),
        ({"s3.bucket.name": ""}, "s3.bucket.name"),
        ({"consumer.isolation.level": "read_uncommitted"}, "consumer.isolation.level"),
        ({"restore.until.time": "yesterday"}, "restore.until.time"),
    ],
)
def test_bad_configs_are_refused_naming_the_key(api: Api, change: dict[str, str], key: str) -> None:
    before = snapshot(api.store)
    response = api.client.post("/connectors", json={"name": "b", "config": sink_config(api, **change)})
    assert response.status_code == 400
    assert f"\n{key}: " in response.json["message"]
    assert snapshot(api.store) == before


def test_a_cluster_alias_stands_for_the_servers(api: Api) -> None:
    config = sink_config(api, **{"kafka.cluster.alias": "primary"})
    del config["bootstrap.servers"]
    created = api.client.post("/connectors", json={"name": "b", "config": config})
    assert created.status_code == 201, created.json
    assert created.json["type"] == "sink"
    assert created.json["config"]["aws.secret.access.key"] == "[hidden]"
    restore = {
        "connector.class": S3_SOURCE,
        "kafka.cluster.alias": "backup",
        "s3.bucket.name": "backups",
        "topics.rename": "orders=orders-restored",
    }
    assert api.client.post("/connectors", json={"name": "r", "config": restore}).status_code == 201
    tasks = api.client.get("/connectors/r/tasks")
    assert tasks.status_code == 200


def test_backup_schedules_target_s3_sink_connectors(api: Api) -> None:
    api.client.post("/connectors", json={"name": "b", "config": sink_config(api), "initial_state": "STOPPED"})
    api.client.post("/connectors", json={"name": "m", "config": {**mm2_source_config(), "name": "m"}})
    created = api.client.post(
        "/schedules", json={"id": "nightly", "action": "backup", "target": "b", "cron": "0 2 * * *"}
    )
    assert created.status_code == 201, created.json
    assert created.json["action"] == "backup"
    assert created.json["target"] == "b"
    before = snapshot(api.store)
    for target, message in (
        ("gone", "'target': connector gone does not exist"),
        ("m", f"'target': connector m is a {mm2_source_config()['connector.class']}, not an S3SinkConnector"),
    ):
        refused = api.client.post(
            "/schedules", json={"action": "backup", "target": target, "interval_seconds": 60}
        )
        assert (refused.status_code, refused.json["message"]) == (400, message)
    flow_action_on_connector = api.client.post(
        "/schedules", json={"action": "pause_flow", "target": "b", "interval_seconds": 60}
    )
    assert flow_action_on_connector.status_code == 400
    assert snapshot(api.store) == before
    document = api.client.get("/openapi.json").json
    assert "backup" in document["components"]["schemas"]["ScheduleRequest"]["properties"]["action"]["enum"]
