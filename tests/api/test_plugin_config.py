"""Config definitions and validation of the MM2 plugins (pure)."""

from __future__ import annotations

from mirror.config.connectors import ALL_CONNECTOR_KEYS
from mirror.service.plugins import (
    PLUGINS,
    config_definitions,
    config_errors,
    config_groups,
    find_plugin,
    validate_config,
)

SOURCE = find_plugin("MirrorSource")


def test_every_user_key_has_a_definition_in_a_group() -> None:
    assert SOURCE is not None
    definitions = config_definitions(SOURCE)
    names = [definition.name for definition in definitions]
    assert set(names) == set(ALL_CONNECTOR_KEYS) - {
        "task.assigned.partitions",
        "task.assigned.groups",
        "task.index",
    }
    assert config_groups(SOURCE) == (
        "Common",
        "Mirror",
        "Source",
        "Checkpoint",
        "Heartbeat",
        "Exactly Once Support",
        "Topic Creation",
    )
    by_group: dict[str, list[int]] = {}
    for definition in definitions:
        by_group.setdefault(definition.group, []).append(definition.order)
    assert all(orders == list(range(1, len(orders) + 1)) for orders in by_group.values())
    required = {definition.name for definition in definitions if definition.required}
    assert required == {"name", "connector.class", "source.cluster.alias"}


def test_task_class_names() -> None:
    assert [plugin.task_class for plugin in PLUGINS] == [
        "org.apache.kafka.connect.mirror.MirrorSourceTask",
        "org.apache.kafka.connect.mirror.MirrorCheckpointTask",
        "org.apache.kafka.connect.mirror.MirrorHeartbeatTask",
        "io.mirror.connect.s3.S3SinkTask",
        "io.mirror.connect.s3.S3SourceTask",
    ]


def test_errors_are_reported_once_per_problem() -> None:
    assert SOURCE is not None
    errors = config_errors(SOURCE, {"connector.class": "MirrorSource", "tasks.max": "x"})
    assert sorted(str(error) for error in errors) == [
        'name: Missing required configuration "name" which has no default value.',
        'source.cluster.alias: Missing required configuration "source.cluster.alias" '
        "which has no default value.",
        "tasks.max: expected an integer (int), got 'x'",
    ]


def test_validation_shows_defaults_and_hides_secrets() -> None:
    assert SOURCE is not None
    result = validate_config(
        SOURCE,
        {
            "name": "c",
            "connector.class": "MirrorSource",
            "source.cluster.alias": "A",
            "source.cluster.ssl.key.password": "p",
            "source.consumer.unknown.setting": "1",
        },
    )
    values = {key.name: key for key in result.keys}
    assert values["tasks.max"].value == "1"
    assert values["source.cluster.alias"].value == "A"
    assert values["source.consumer.unknown.setting"].definition is None
    assert result.error_count == 1
    assert result.messages() == [
        "source.consumer.unknown.setting: unknown consumer setting: "
        "neither a Java client nor a librdkafka property"
    ]
