"""/connector-plugins: the list, config definitions and validation (Connect's ConfigInfos)."""

from __future__ import annotations

from typing import Any

from mirror import __version__
from tests.api.harness import MM2_CHECKPOINT, MM2_HEARTBEAT, MM2_SOURCE, Api, jaas, mm2_source_config

PLUGIN_LIST = [
    {"class": MM2_SOURCE, "type": "source", "version": "4.3.1"},
    {"class": MM2_CHECKPOINT, "type": "source", "version": "4.3.1"},
    {"class": MM2_HEARTBEAT, "type": "source", "version": "4.3.1"},
    {"class": "io.mirror.connect.s3.S3SinkConnector", "type": "sink", "version": __version__},
    {"class": "io.mirror.connect.s3.S3SourceConnector", "type": "source", "version": __version__},
]


def by_name(result: Any) -> dict[str, Any]:
    return {entry["value"]["name"]: entry for entry in result["configs"]}


def test_plugin_list(api: Api) -> None:
    for path in ("/connector-plugins", "/connector-plugins/", "/connector-plugins?connectorsOnly=false"):
        response = api.client.get(path)
        assert response.status_code == 200
        assert response.json == PLUGIN_LIST
    assert api.client.get("/connector-plugins?connectorsOnly=sure").status_code == 400


def test_plugin_config_by_java_and_short_name(api: Api) -> None:
    definitions = api.client.get(f"/connector-plugins/{MM2_SOURCE}/config").json
    assert api.client.get("/connector-plugins/MirrorSource/config").json == definitions
    named = {definition["name"]: definition for definition in definitions}
    assert named["source.cluster.alias"] == {
        "name": "source.cluster.alias",
        "type": "STRING",
        "required": True,
        "default_value": None,
        "importance": "HIGH",
        "documentation": "",
        "group": "Mirror",
        "width": "NONE",
        "display_name": "source.cluster.alias",
        "dependents": [],
        "order": named["source.cluster.alias"]["order"],
    }
    assert named["tasks.max"]["default_value"] == "1"
    assert named["tasks.max"]["type"] == "INT"
    assert "task.assigned.partitions" not in named
    missing = api.client.get("/connector-plugins/FileStreamSink/config")
    assert missing.status_code == 404
    assert missing.json == {"error_code": 404, "message": "Unknown plugin FileStreamSink."}


def test_validate_a_good_config(api: Api) -> None:
    config = {**mm2_source_config(), "name": "c"}
    response = api.client.put("/connector-plugins/MirrorSourceConnector/config/validate", json=config)
    assert response.status_code == 200
    result = response.json
    assert result["name"] == MM2_SOURCE
    assert result["error_count"] == 0
    assert result["groups"][:3] == ["Common", "Mirror", "Source"]
    values = by_name(result)
    assert values["topics"]["value"] == {
        "name": "topics",
        "value": "orders.*",
        "recommended_values": [],
        "errors": [],
        "visible": True,
    }
    # Unset keys show their default, as Connect does.
    assert values["refresh.topics.interval.seconds"]["value"]["value"] == "600"
    assert values["offset-syncs.topic.location"]["value"]["recommended_values"] == ["source", "target"]


def test_validate_counts_every_error(api: Api) -> None:
    password = api.secret()
    config: dict[str, object] = {
        **mm2_source_config(),
        "tasks.max": "none",
        "offset-syncs.topic.location": "elsewhere",
        "source.consumer.no.such.setting": "1",
        "source.cluster.sasl.jaas.config": jaas(password),
        "target.cluster.alias": None,
    }
    del config["source.cluster.alias"]
    result = api.client.put(f"/connector-plugins/{MM2_SOURCE}/config/validate", json=config).json
    assert result["name"] == MM2_SOURCE
    errors = {
        name: entry["value"]["errors"] for name, entry in by_name(result).items() if entry["value"]["errors"]
    }
    assert set(errors) == {
        "name",
        "source.cluster.alias",
        "tasks.max",
        "offset-syncs.topic.location",
        "source.consumer.no.such.setting",
        "target.cluster.alias",
    }
    assert result["error_count"] == sum(len(messages) for messages in errors.values())
    assert errors["name"] == ['Missing required configuration "name" which has no default value.']
    assert errors["target.cluster.alias"] == ["Null value can not be supplied as the configuration value."]
    undeclared = by_name(result)["source.consumer.no.such.setting"]
    assert undeclared["definition"] is None
    assert undeclared["value"]["value"] == "1"


def test_validate_hides_secret_values(api: Api) -> None:
    password = api.secret()
    config = {
        **mm2_source_config(),
        "name": "c",
        "source.cluster.sasl.jaas.config": "not jaas " + password,
        "source.cluster.sasl.mechanism": "PLAIN",
        "source.cluster.security.protocol": "SASL_SSL",
    }
    result = api.client.put(f"/connector-plugins/{MM2_SOURCE}/config/validate", json=config).json
    entry = by_name(result)["source.cluster.sasl.jaas.config"]
    assert entry["value"]["value"] == "[hidden]"
    assert entry["value"]["errors"]
    assert result["error_count"] == 1


def test_validate_structural_errors(api: Api) -> None:
    config = mm2_source_config()
    mismatch = api.client.put("/connector-plugins/MirrorCheckpoint/config/validate", json=config)
    assert mismatch.status_code == 400
    assert (
        mismatch.json["message"]
        == f"Included connector type {MM2_SOURCE} does not match request type MirrorCheckpoint"
    )
    no_class = api.client.put(
        f"/connector-plugins/{MM2_SOURCE}/config/validate",
        json={"topics": "x", "source.cluster.ssl.key.password": "p"},
    )
    assert no_class.status_code == 400
    assert no_class.json["message"] == (
        "Connector config {'topics': 'x', 'source.cluster.ssl.key.password': '[hidden]'} "
        "contains no connector type"
    )
    unknown = api.client.put(
        "/connector-plugins/FileStreamSink/config/validate",
        json={**config, "connector.class": "FileStreamSink"},
    )
    assert unknown.status_code == 400
    assert "FileStreamSink" in unknown.json["message"]
    unknown_path = api.client.put("/connector-plugins/FileStreamSink/config/validate", json=config)
    assert unknown_path.status_code == 400
    assert unknown_path.json["message"].startswith("Included connector type")
    # Connect's suffix rule, and names of one plugin in either form, both match.
    for path in ("MirrorSource", "MirrorSourceConnector", MM2_SOURCE):
        assert api.client.put(f"/connector-plugins/{path}/config/validate", json=config).status_code == 200
    short = {**config, "connector.class": "MirrorSource"}
    assert api.client.put(f"/connector-plugins/{MM2_SOURCE}/config/validate", json=short).status_code == 200
    nested = api.client.put(
        f"/connector-plugins/{MM2_SOURCE}/config/validate", json={**config, "topics": ["a"]}
    )
    assert nested.status_code == 400
    assert "'topics'" in nested.json["message"]
