"""mirror.service.flows: a flow as MM2's three connectors (pure)."""

from __future__ import annotations

from mirror.service.flows import (
    FLOW_PLUGINS,
    default_flow_name,
    expand_flow,
    flow_config_errors,
    flow_key_errors,
)


def test_three_connectors_carry_the_aliases_and_every_flow_key() -> None:
    connectors = expand_flow(
        "dr", "primary", "backup", {"topics": "orders.*", "sync.group.offsets.enabled": "true"}
    )
    assert [(connector.name, connector.connector_class) for connector in connectors] == [
        ("dr-source", "org.apache.kafka.connect.mirror.MirrorSourceConnector"),
        ("dr-checkpoint", "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"),
        ("dr-heartbeat", "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"),
    ]
    for connector in connectors:
        assert dict(connector.config) == {
            "topics": "orders.*",
            "sync.group.offsets.enabled": "true",
            "name": connector.name,
            "connector.class": connector.connector_class,
            "source.cluster.alias": "primary",
            "target.cluster.alias": "backup",
        }
    assert default_flow_name("primary", "backup") == "primary-backup"
    assert set(FLOW_PLUGINS) == {"source", "checkpoint", "heartbeat"}


def test_the_flow_sets_its_own_keys_over_anything_given() -> None:
    [source, *_] = expand_flow("dr", "primary", "backup", {"name": "x", "source.cluster.alias": "y"})
    assert source.config["name"] == "dr-source"
    assert source.config["source.cluster.alias"] == "primary"


def test_forbidden_keys_are_named() -> None:
    errors = flow_key_errors(
        {
            "topics": "fine",
            "connector.class": "x",
            "target.cluster.bootstrap.servers": "h:1",
            "source.producer.ssl.key.password": "p",
            "producer.override.sasl.jaas.config": "j",
            "task.assigned.partitions": "t-0",
        }
    )
    assert [(error.key, error.message) for error in errors] == [
        ("connector.class", "is set by the flow from its name and clusters"),
        ("target.cluster.bootstrap.servers", "is a connection setting: put it in the cluster profile"),
        ("source.producer.ssl.key.password", "is a secret: put it in the cluster profile"),
        ("producer.override.sasl.jaas.config", "is a secret: put it in the cluster profile"),
        ("task.assigned.partitions", "is written by connectors into task configs"),
    ]


def test_values_are_checked_by_every_plugin_and_reported_once() -> None:
    assert flow_config_errors("dr", "primary", "backup", {"topics": "orders.*", "tasks.max": "4"}) == []
    errors = flow_config_errors(
        "dr", "primary", "backup", {"tasks.max": "x", "emit.heartbeats.interval.seconds": "0"}
    )
    assert sorted(str(error) for error in errors) == [
        "emit.heartbeats.interval.seconds: must be at least 1, got 0",
        "tasks.max: expected an integer (int), got 'x'",
    ]
