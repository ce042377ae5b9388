"""The S3 connectors as the service runs them: their one Kafka cluster, their offsets, their keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest

from mirror.config.backup import (
    BACKUP_SINK_SECTIONS,
    RESTORE_SOURCE_SECTIONS,
    BackupSinkConfig,
    ConfigSection,
    RestoreSourceConfig,
)
from mirror.config.errors import ConfigErrors
from mirror.runtime.worker import stores_source_offsets
from mirror.service.effective import resolve
from mirror.service.plugins import PLUGINS, S3_SINK_CLASS, S3_SOURCE_CLASS, config_errors, find_plugin
from mirror.store.records import ClusterProfile
from tests.made_up import secret

BASE = {"bootstrap.servers": "127.0.0.1:9092", "s3.bucket.name": "backups"}


def jaas(password: str) -> str:
    login_module = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return f'{login_module} required username="u" password="{password}";'


def profile(name: str, servers: str, secrets: dict[str, str]) -> ClusterProfile:
    now = datetime.now(UTC)
    config = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "socket.timeout.ms": "5000"}
    return ClusterProfile(name, servers, config, secrets, now, now)


@pytest.mark.parametrize(
    ("parse", "sections"),
    [(BackupSinkConfig.parse, BACKUP_SINK_SECTIONS), (RestoreSourceConfig.parse, RESTORE_SOURCE_SECTIONS)],
)
def test_declared_defaults_are_the_parsers_defaults(
    parse: Callable[[Mapping[str, str]], object], sections: tuple[ConfigSection, ...]
) -> None:
    declared = {
        key: spec.default
        for _group, keys in sections
        for key, spec in keys.items()
        if spec.default is not None and key not in BASE
    }
    assert "topics" in declared
    assert parse(BASE) == parse({**BASE, **declared})


def test_every_name_finds_the_plugin() -> None:
    for name in (S3_SINK_CLASS, "S3SinkConnector", "S3Sink"):
        plugin = find_plugin(name)
        assert plugin is not None and (plugin.java_class, plugin.type) == (S3_SINK_CLASS, "sink")
    for name in (S3_SOURCE_CLASS, "S3SourceConnector", "S3Source"):
        plugin = find_plugin(name)
        assert plugin is not None and (plugin.java_class, plugin.type) == (S3_SOURCE_CLASS, "source")


def test_a_profile_supplies_the_kafka_connection() -> None:
    password = secret()
    clusters = {"primary": profile("primary", "a:9092", {"sasl.jaas.config": jaas(password)})}
    config = {
        "connector.class": "S3Sink",
        "kafka.cluster.alias": "primary",
        "s3.bucket.name": "backups",
        "sasl.mechanism": "SCRAM-SHA-512",
    }
    resolved = resolve("nightly", "S3Sink", config, clusters)
    assert resolved.offsets is None  # the S3 manifest is a backup's progress
    assert resolved.config["bootstrap.servers"] == "a:9092"
    assert resolved.config["sasl.jaas.config"] == jaas(password)
    assert resolved.config["sasl.mechanism"] == "SCRAM-SHA-512"  # the connector's own key wins
    # A key the connectors take only per client goes to each client the sink makes.
    assert (
        resolved.config["consumer.socket.timeout.ms"] == resolved.config["admin.socket.timeout.ms"] == "5000"
    )
    assert "producer.socket.timeout.ms" not in resolved.config
    parsed = BackupSinkConfig.parse(resolved.config)
    assert parsed.consumer["bootstrap.servers"] == "a:9092"
    assert parsed.consumer["socket.timeout.ms"] == "5000"


def test_own_servers_win_over_the_profile() -> None:
    clusters = {"primary": profile("primary", "a:9092", {})}
    config = {**BASE, "connector.class": "S3Sink", "kafka.cluster.alias": "primary"}
    resolved = resolve("nightly", "S3Sink", config, clusters)
    assert resolved.config["bootstrap.servers"] == BASE["bootstrap.servers"]
    assert "security.protocol" not in resolved.config


def test_a_restore_keeps_its_progress_on_its_cluster() -> None:
    clusters = {"backup": profile("backup", "b:9092", {"sasl.jaas.config": jaas(secret())})}
    config = {"kafka.cluster.alias": "backup", "s3.bucket.name": "backups", "replication.factor": "1"}
    resolved = resolve("restore", "S3SourceConnector", config, clusters)
    assert resolved.source_alias == "s3"  # as `mirror restore` records it, so either continues the other
    assert resolved.offsets is not None
    assert resolved.offsets.topic == "mirror-restore-offsets.internal"
    assert resolved.offsets.replication_factor == 1
    assert resolved.offsets.admin["bootstrap.servers"] == "b:9092"
    assert resolved.config["producer.socket.timeout.ms"] == "5000"
    own = resolve("restore", "S3Source", {**config, "offsets.storage.topic": "own"}, clusters)
    assert own.offsets is not None and own.offsets.topic == "own"


def test_a_missing_connection_is_named_once() -> None:
    config = {"connector.class": "S3Sink", "kafka.cluster.alias": "nowhere", "s3.bucket.name": "backups"}
    with pytest.raises(ConfigErrors) as failure:
        resolve("nightly", "S3Sink", config, {})
    assert [str(error) for error in failure.value.errors] == [
        "bootstrap.servers: is required (no cluster profile named 'nowhere')"
    ]
    with pytest.raises(ConfigErrors) as unnamed:
        resolve("nightly", "S3Sink", {"s3.bucket.name": "backups"}, {})
    assert [str(error) for error in unnamed.value.errors] == [
        "bootstrap.servers: is required (kafka.cluster.alias is not set)"
    ]


def test_s3_configs_need_no_mm2_keys() -> None:
    plugin = find_plugin("S3Source")
    assert plugin is not None
    assert config_errors(plugin, {**BASE, "name": "r", "connector.class": "S3Source"}) == []
    errors = config_errors(
        plugin, {**BASE, "name": "r", "connector.class": "S3Source", "rotate.records": "5"}
    )
    assert [str(error) for error in errors] == ["rotate.records: unknown key for this connector"]


def test_only_connectors_whose_tasks_record_source_offsets_get_an_offsets_topic() -> None:
    needs_topic = {plugin.java_class: stores_source_offsets(plugin.factory()) for plugin in PLUGINS}
    assert needs_topic == {
        "org.apache.kafka.connect.mirror.MirrorSourceConnector": True,
        "org.apache.kafka.connect.mirror.MirrorCheckpointConnector": False,
        "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector": False,
        S3_SINK_CLASS: False,
        S3_SOURCE_CLASS: True,
    }
