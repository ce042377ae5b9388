"""MirrorSourceConfig: MM2 defaults, typed parsing, and the client configs it resolves."""

from __future__ import annotations

import pytest

from mirror.config.connectors import (
    MirrorSourceConfig,
    inspect_client_configs,
    parse_boolean,
    parse_integer,
    validate_connector_config,
    validate_connector_value,
)
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.policy import DefaultReplicationPolicy, IdentityReplicationPolicy

BASE = {
    "name": "MirrorSourceConnector",
    "source.cluster.alias": "A",
    "target.cluster.alias": "B",
    "source.cluster.bootstrap.servers": "a:9092",
    "target.cluster.bootstrap.servers": "b:9092",
}


def parse(**overrides: str) -> MirrorSourceConfig:
    return MirrorSourceConfig.parse(
        {**BASE, **{key.replace("__", "."): value for key, value in overrides.items()}}
    )


def parse_with(extra: dict[str, str]) -> MirrorSourceConfig:
    return MirrorSourceConfig.parse({**BASE, **extra})


def error_keys(extra: dict[str, str], base: dict[str, str] | None = None) -> list[str | None]:
    with pytest.raises(ConfigErrors) as raised:
        MirrorSourceConfig.parse({**(BASE if base is None else base), **extra})
    return [error.key for error in raised.value.errors]


def test_defaults() -> None:
    config = MirrorSourceConfig.parse({"source.cluster.alias": "A"})
    assert config.name == "MirrorSourceConnector"
    assert config.source_alias == "A"
    assert config.target_alias == "target"
    assert config.enabled
    assert config.tasks_max == 1
    assert config.topic_filter.accepts("orders")
    assert not config.topic_filter.accepts("__consumer_offsets")
    assert not config.config_property_filter.accepts("min.insync.replicas")
    assert config.use_defaults_from == "target"
    assert config.policy == DefaultReplicationPolicy()
    assert config.replication_factor == 2
    assert (config.refresh_topics_enabled, config.refresh_topics_interval_s) == (True, 600)
    assert (config.sync_topic_configs_enabled, config.sync_topic_configs_interval_s) == (True, 600)
    assert (config.sync_topic_acls_enabled, config.sync_topic_acls_interval_s) == (True, 600)
    assert config.offset_syncs_topic_location == "source"
    assert config.offset_syncs_topic_replication_factor == 3
    assert config.offset_lag_max == 100
    assert config.emit_offset_syncs_enabled
    assert config.heartbeats_replication_enabled
    assert config.consumer_poll_timeout_ms == 1000
    assert config.admin_timeout_ms == 60000
    assert config.exactly_once_support == "requested"


def test_every_key_is_read() -> None:
    config = parse_with(
        {
            "enabled": "false",
            "tasks.max": "8",
            "topics": "orders.*",
            "topics.exclude": "orders-private",
            "config.properties.exclude": "retention.ms",
            "use.defaults.from": "source",
            "replication.factor": "-1",
            "refresh.topics.enabled": "FALSE",
            "refresh.topics.interval.seconds": "30",
            "sync.topic.configs.enabled": "false",
            "sync.topic.configs.interval.seconds": "31",
            "sync.topic.acls.enabled": "false",
            "sync.topic.acls.interval.seconds": "32",
            "offset-syncs.topic.location": "target",
            "offset-syncs.topic.replication.factor": "1",
            "offset.lag.max": "0",
            "heartbeats.replication.enabled": "false",
            "consumer.poll.timeout.ms": "250",
            "admin.timeout.ms": "5000",
            "exactly.once.support": "REQUIRED",
            "replication.policy.separator": "_",
        }
    )
    assert not config.enabled
    assert config.tasks_max == 8
    assert config.topic_filter.accepts("orders-public")
    assert not config.topic_filter.accepts("orders-private")
    assert not config.config_property_filter.accepts("retention.ms")
    assert config.config_property_filter.accepts("min.insync.replicas")
    assert config.use_defaults_from == "source"
    assert config.replication_factor == -1
    assert (config.refresh_topics_enabled, config.refresh_topics_interval_s) == (False, 30)
    assert (config.sync_topic_configs_enabled, config.sync_topic_configs_interval_s) == (False, 31)
    assert (config.sync_topic_acls_enabled, config.sync_topic_acls_interval_s) == (False, 32)
    assert config.offset_syncs_topic_location == "target"
    assert config.offset_syncs_topic_replication_factor == 1
    assert config.offset_lag_max == 0
    assert not config.heartbeats_replication_enabled
    assert config.consumer_poll_timeout_ms == 250
    assert config.admin_timeout_ms == 5000
    assert config.exactly_once_support == "required"
    assert config.policy == DefaultReplicationPolicy("_")


def test_offset_syncs_topic_is_named_after_the_other_cluster() -> None:
    assert parse().offset_syncs_topic == "mm2-offset-syncs.B.internal"
    assert (
        parse_with({"offset-syncs.topic.location": "target"}).offset_syncs_topic
        == "mm2-offset-syncs.A.internal"
    )


def test_policy_helpers() -> None:
    config = parse_with({"replication.policy.class": "IdentityReplicationPolicy"})
    assert config.policy == IdentityReplicationPolicy(source_alias="A")
    assert config.remote_topic("orders") == "orders"
    default = parse()
    assert default.remote_topic("orders") == "A.orders"
    assert default.should_replicate_topic("orders")
    assert not default.should_replicate_topic("B.orders")
    assert default.should_replicate_topic("heartbeats")


class TestSourceConsumer:
    def test_composition_precedence(self) -> None:
        consumer = parse_with(
            {
                "source.cluster.security.protocol": "SSL",
                "source.cluster.client.id": "not-a-connection-key",
                "consumer.security.protocol": "SASL_SSL",
                "consumer.fetch.min.bytes": "10",
                "source.consumer.fetch.min.bytes": "20",
            }
        ).source_consumer.librdkafka
        assert consumer["security.protocol"] == "SASL_SSL"
        assert consumer["fetch.min.bytes"] == "20"
        assert consumer["bootstrap.servers"] == "a:9092"
        assert "client.id" not in consumer

    def test_forced_and_default_values(self) -> None:
        consumer = parse_with({"source.consumer.enable.auto.commit": "true"}).source_consumer.librdkafka
        assert consumer["enable.auto.commit"] == "false"
        assert consumer["auto.offset.reset"] == "earliest"
        assert consumer["isolation.level"] == "read_committed"

    def test_explicit_isolation_level_and_offset_reset_are_kept(self) -> None:
        consumer = parse_with(
            {"consumer.isolation.level": "read_uncommitted", "source.consumer.auto.offset.reset": "latest"}
        ).source_consumer.librdkafka
        assert consumer["isolation.level"] == "read_uncommitted"
        assert consumer["auto.offset.reset"] == "latest"

    def test_connector_keys_under_client_prefixes_do_not_reach_clients(self) -> None:
        config = parse_with({"consumer.poll.timeout.ms": "5", "admin.timeout.ms": "7"})
        assert "poll.timeout.ms" not in config.source_consumer.librdkafka
        assert "timeout.ms" not in config.source_admin.librdkafka

    def test_max_poll_records(self) -> None:
        assert parse_with({"source.consumer.max.poll.records": "42"}).source_consumer.max_poll_records == 42


class TestProducers:
    def test_data_producer_defaults(self) -> None:
        producer = parse().target_producer.librdkafka
        assert dict(producer) == {
            "bootstrap.servers": "b:9092",
            "acks": "all",
            "linger.ms": "20",
            "enable.idempotence": "true",
        }

    def test_data_producer_precedence(self) -> None:
        producer = parse_with(
            {
                "producer.linger.ms": "1",
                "producer.batch.size": "1000",
                "target.producer.batch.size": "2000",
                "producer.override.batch.size": "3000",
                "target.producer.compression.type": "lz4",
            }
        ).target_producer.librdkafka
        assert producer["linger.ms"] == "1"
        assert producer["batch.size"] == "3000"
        assert producer["compression.type"] == "lz4"

    @pytest.mark.parametrize(
        "override",
        [{"producer.override.acks": "1"}, {"target.producer.max.in.flight.requests.per.connection": "10"}],
    )
    def test_idempotence_is_not_defaulted_when_it_would_conflict(self, override: dict[str, str]) -> None:
        assert "enable.idempotence" not in parse_with(override).target_producer.librdkafka

    def test_explicit_idempotence_is_kept(self) -> None:
        assert (
            parse_with({"producer.enable.idempotence": "false"}).target_producer.librdkafka[
                "enable.idempotence"
            ]
            == "false"
        )

    def test_offset_syncs_producer_follows_the_topic_location(self) -> None:
        extra = {"source.producer.linger.ms": "3", "target.producer.linger.ms": "4"}
        on_source = parse_with(extra).offset_syncs_producer.librdkafka
        assert (on_source["bootstrap.servers"], on_source["linger.ms"]) == ("a:9092", "3")
        on_target = parse_with(
            {**extra, "offset-syncs.topic.location": "target"}
        ).offset_syncs_producer.librdkafka
        assert (on_target["bootstrap.servers"], on_target["linger.ms"]) == ("b:9092", "4")

    def test_overrides_do_not_reach_the_offset_syncs_producer(self) -> None:
        config = parse_with({"producer.override.linger.ms": "99", "offset-syncs.topic.location": "target"})
        assert config.offset_syncs_producer.librdkafka.get("linger.ms") != "99"


def test_admin_clients() -> None:
    config = parse_with(
        {"admin.client.id": "x", "source.admin.client.id": "src", "target.cluster.security.protocol": "SSL"}
    )
    assert config.source_admin.librdkafka["client.id"] == "src"
    assert config.target_admin.librdkafka["client.id"] == "x"
    assert config.target_admin.librdkafka["security.protocol"] == "SSL"


class TestErrors:
    def test_type_errors_name_connector_keys(self) -> None:
        keys = error_keys(
            {
                "tasks.max": "many",
                "enabled": "yes",
                "offset.lag.max": "1.5",
                "replication.factor": "99999999999",
                "offset-syncs.topic.location": "elsewhere",
                "use.defaults.from": "both",
            }
        )
        assert set(keys) == {
            "tasks.max",
            "enabled",
            "offset.lag.max",
            "replication.factor",
            "offset-syncs.topic.location",
            "use.defaults.from",
        }

    @pytest.mark.parametrize(
        ("extra", "key"),
        [
            ({"tasks.max": "0"}, "tasks.max"),
            ({"replication.factor": "0"}, "replication.factor"),
            ({"offset-syncs.topic.replication.factor": "-2"}, "offset-syncs.topic.replication.factor"),
            ({"refresh.topics.interval.seconds": "0"}, "refresh.topics.interval.seconds"),
            ({"topics": "a["}, "topics"),
            ({"topics.exclude": "a["}, "topics.exclude"),
            ({"config.properties.exclude": "a["}, "config.properties.exclude"),
            ({"replication.policy.class": "com.example.Policy"}, "replication.policy.class"),
            ({"topic.filter.class": "com.example.Filter"}, "topic.filter.class"),
            (
                {"emit.offset-syncs.enabled": "false", "offset-syncs.topic.location": "target"},
                "emit.offset-syncs.enabled",
            ),
            (
                {"exactly.once.support": "required", "consumer.isolation.level": "read_uncommitted"},
                "exactly.once.support",
            ),
            (
                {"source.consumer.buffer.memory": "5", "source.consumer.nonsense": "1"},
                "source.consumer.nonsense",
            ),
            ({"source.cluster.ssl.truststore.location": "/ts.jks"}, "source.cluster.ssl.truststore.location"),
            ({"producer.override.max.block.ms": "5"}, "producer.override.max.block.ms"),
        ],
    )
    def test_each_problem_names_its_key(self, extra: dict[str, str], key: str) -> None:
        assert key in error_keys(extra)

    def test_source_alias_is_required(self) -> None:
        assert error_keys({}, base={"target.cluster.alias": "B"}) == ["source.cluster.alias"]

    def test_default_filter_classes_are_accepted(self) -> None:
        parse_with(
            {
                "topic.filter.class": "org.apache.kafka.connect.mirror.DefaultTopicFilter",
                "config.property.filter.class": "DefaultConfigPropertyFilter",
            }
        )


class TestValueParsing:
    @pytest.mark.parametrize(("value", "expected"), [("true", True), (" TRUE ", True), ("False", False)])
    def test_booleans(self, value: str, expected: bool) -> None:
        assert parse_boolean("k", value) is expected

    @pytest.mark.parametrize("value", ["yes", "1", "", "t"])
    def test_bad_booleans(self, value: str) -> None:
        with pytest.raises(ConfigError, match="expected true or false"):
            parse_boolean("k", value)

    @pytest.mark.parametrize(("value", "expected"), [("1", 1), (" +5 ", 5), ("-3", -3)])
    def test_integers(self, value: str, expected: int) -> None:
        assert parse_integer("k", value, "int") == expected

    @pytest.mark.parametrize("value", ["1_000", "1.0", "", "0x10", "\u0661", "2147483648"])
    def test_bad_integers(self, value: str) -> None:
        with pytest.raises(ConfigError):
            parse_integer("k", value, "int")

    def test_validate_connector_values(self) -> None:
        assert validate_connector_value("tasks.max", "2") is None
        assert validate_connector_value("unknown.key", "x") is None
        assert validate_connector_value("security.protocol", "sasl_ssl") is None
        error = validate_connector_value("emit.checkpoints.interval.seconds", "soon")
        assert error is not None and error.key == "emit.checkpoints.interval.seconds"
        assert [
            e.key for e in validate_connector_config({"sync.group.offsets.enabled": "on", "groups": "x"})
        ] == ["sync.group.offsets.enabled"]


def test_inspect_client_configs_reports_every_client() -> None:
    report = inspect_client_configs(
        {
            "target.consumer.buffer.memory": "1",
            "source.consumer.nonsense": "1",
            "admin.linger.ms": "5",
            "producer.override.max.block.ms": "1",
        }
    )
    assert {error.key for error in report.errors} == {
        "source.consumer.nonsense",
        "producer.override.max.block.ms",
    }
    assert ("target.consumer.buffer.memory", "a producer setting; a consumer ignores it") in report.ignored
    assert ("admin.linger.ms", "a producer setting; an admin client ignores it") in report.ignored
