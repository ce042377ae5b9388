"""Resolution of mm2.properties with MirrorMaker 2's precedence, and validation with file lines."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.config.errors import ConfigError, ConfigErrors
from mirror.config.mm2 import MirrorMakerConfig, resolve_mm2
from mirror.config.properties import parse_properties
from mirror.mm2_file import MAX_FILE_BYTES, load_mm2_file
from tests import made_up

PASSWORD = made_up.secret()

TWO_CLUSTERS = """
clusters = A, B
A.bootstrap.servers = a:9092
B.bootstrap.servers = b:9092
"""


def resolve(text: str) -> MirrorMakerConfig:
    return resolve_mm2(parse_properties(textwrap.dedent(text)))


def failures(text: str) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as raised:
        resolve(text)
    return list(raised.value.errors)


def failure_keys(text: str) -> list[tuple[str | None, int | None]]:
    return [(error.key, error.line) for error in failures(text)]


class TestFlows:
    def test_reference_example(self) -> None:
        config = resolve(
            TWO_CLUSTERS
            + """
            A->B.enabled = true
            A->B.topics = orders.*, payments
            replication.factor = 3
            """
        )
        assert config.clusters == ("A", "B")
        assert [(flow.name, flow.enabled, flow.heartbeats_enabled) for flow in config.flows] == [
            ("A->B", True, True),
            ("B->A", False, True),
        ]
        assert [flow.name for flow in config.enabled_flows()] == ["A->B"]
        source = config.flow("A", "B").source_config()
        assert source.topic_filter.accepts("orders.eu")
        assert not source.topic_filter.accepts("invoices")
        assert source.replication_factor == 3
        assert config.warnings == ()

    def test_every_ordered_pair_gets_a_herder_while_heartbeats_are_on(self) -> None:
        config = resolve(
            """
            clusters = A, B, C
            A.bootstrap.servers = a
            B.bootstrap.servers = b
            C.bootstrap.servers = c
            """
        )
        assert len(config.flows) == 6
        assert config.enabled_flows() == ()

    def test_heartbeats_off_leaves_only_enabled_flows(self) -> None:
        config = resolve(TWO_CLUSTERS + "A->B.enabled = true\nemit.heartbeats.enabled = false\n")
        assert [flow.name for flow in config.flows] == ["A->B"]
        assert not config.flow("A", "B").heartbeats_enabled

    def test_per_pair_heartbeats_override(self) -> None:
        config = resolve(TWO_CLUSTERS + "B->A.emit.heartbeats.enabled = false\n")
        assert [flow.name for flow in config.flows] == ["A->B"]

    def test_trailing_blank_after_true_still_enables(self) -> None:
        config = resolve(TWO_CLUSTERS + "A->B.enabled = true   \nemit.heartbeats.enabled = false\n")
        assert [flow.name for flow in config.enabled_flows()] == ["A->B"]

    def test_unknown_flow_is_a_key_error(self) -> None:
        config = resolve(TWO_CLUSTERS)
        with pytest.raises(KeyError):
            config.flow("A", "C")


class TestConnectorConfigs:
    def test_shape_of_the_three_connector_configs(self) -> None:
        flow = resolve(TWO_CLUSTERS + "A->B.enabled = true\nA->B.tasks.max = 4\n").flow("A", "B")
        for connector, config in (
            ("MirrorSourceConnector", flow.source_connector),
            ("MirrorCheckpointConnector", flow.checkpoint_connector),
            ("MirrorHeartbeatConnector", flow.heartbeat_connector),
        ):
            assert config["name"] == connector
            assert config["connector.class"] == f"org.apache.kafka.connect.mirror.{connector}"
            assert config["source.cluster.alias"] == "A"
            assert config["target.cluster.alias"] == "B"
            assert config["source.cluster.bootstrap.servers"] == "a:9092"
            assert config["target.cluster.bootstrap.servers"] == "b:9092"
            assert config["source.consumer.bootstrap.servers"] == "a:9092"
            assert config["target.producer.bootstrap.servers"] == "b:9092"
            assert config["tasks.max"] == "4"
            assert config["enabled"] == "true"

    def test_disabled_pairs_get_enabled_false(self) -> None:
        assert resolve(TWO_CLUSTERS).flow("B", "A").source_connector["enabled"] == "false"

    def test_top_level_connector_keys_reach_every_flow_but_flow_keys_win(self) -> None:
        config = resolve(
            TWO_CLUSTERS
            + """
            tasks.max = 2
            topics = a.*
            B->A.topics = b.*
            replication.policy.separator = _
            """
        )
        assert config.flow("A", "B").source_connector["tasks.max"] == "2"
        assert config.flow("A", "B").source_connector["topics"] == "a.*"
        assert config.flow("B", "A").source_connector["topics"] == "b.*"
        assert config.flow("A", "B").source_connector["replication.policy.separator"] == "_"

    def test_flow_keys_are_copied_without_filtering(self) -> None:
        flow = resolve(
            TWO_CLUSTERS + "A->B.consumer.max.poll.records = 10\nA->B.exactly.once.support = requested\n"
        ).flow("A", "B")
        assert flow.source_connector["consumer.max.poll.records"] == "10"
        assert flow.source_connector["exactly.once.support"] == "requested"
        assert flow.source_config().source_consumer.max_poll_records == 10

    def test_cluster_worker_keys_become_source_cluster_keys(self) -> None:
        flow = resolve(TWO_CLUSTERS + "A.offset.flush.interval.ms = 1000\n").flow("A", "B")
        assert flow.source_connector["source.cluster.offset.flush.interval.ms"] == "1000"


class TestClientPrecedence:
    def test_cluster_consumer_key_beats_cluster_key_beats_top_level(self) -> None:
        base = TWO_CLUSTERS + "A->B.enabled = true\n"
        top = resolve(base + "security.protocol = SSL\n").flow("A", "B").source_config()
        assert top.source_consumer.librdkafka["security.protocol"] == "SSL"
        cluster = resolve(base + "security.protocol = SSL\nA.security.protocol = SASL_SSL\n")
        assert (
            cluster.flow("A", "B").source_config().source_consumer.librdkafka["security.protocol"]
            == "SASL_SSL"
        )
        consumer = resolve(
            base
            + "security.protocol = SSL\nA.security.protocol = SASL_SSL\n"
            + "A.consumer.security.protocol = PLAINTEXT\n"
        )
        source = consumer.flow("A", "B").source_config()
        assert source.source_consumer.librdkafka["security.protocol"] == "PLAINTEXT"
        # The cluster-level key still reaches A's other clients.
        assert source.source_admin.librdkafka["security.protocol"] == "SASL_SSL"

    def test_flow_consumer_key_is_overridden_by_cluster_level_settings(self) -> None:
        base = TWO_CLUSTERS + "A->B.enabled = true\nA->B.consumer.fetch.min.bytes = 100\n"
        alone = resolve(base).flow("A", "B").source_config()
        assert alone.source_consumer.librdkafka["fetch.min.bytes"] == "100"
        overridden = resolve(base + "A.consumer.fetch.min.bytes = 200\n").flow("A", "B").source_config()
        assert overridden.source_consumer.librdkafka["fetch.min.bytes"] == "200"

    def test_flow_consumer_connection_key_loses_to_the_cluster_key(self) -> None:
        text = (
            TWO_CLUSTERS
            + "A->B.enabled = true\nA.security.protocol = SSL\nA->B.consumer.security.protocol = SASL_SSL\n"
        )
        assert (
            resolve(text).flow("A", "B").source_config().source_consumer.librdkafka["security.protocol"]
            == "SSL"
        )

    def test_flow_source_consumer_key_wins_over_everything(self) -> None:
        text = (
            TWO_CLUSTERS
            + "A->B.enabled = true\nA.consumer.fetch.min.bytes = 200\n"
            + "A->B.source.consumer.fetch.min.bytes = 300\n"
        )
        assert (
            resolve(text).flow("A", "B").source_config().source_consumer.librdkafka["fetch.min.bytes"]
            == "300"
        )

    def test_top_level_bootstrap_servers_is_inherited(self) -> None:
        config = resolve("clusters = A, B\nbootstrap.servers = shared:9092\nA->B.enabled = true\n")
        source = config.flow("A", "B").source_config()
        assert source.source_consumer.librdkafka["bootstrap.servers"] == "shared:9092"
        assert source.target_producer.librdkafka["bootstrap.servers"] == "shared:9092"

    def test_target_producer_and_overrides(self) -> None:
        text = (
            TWO_CLUSTERS
            + "A->B.enabled = true\nB.producer.linger.ms = 50\nA->B.producer.override.batch.size = 123\n"
        )
        producer = resolve(text).flow("A", "B").source_config().target_producer.librdkafka
        assert producer["linger.ms"] == "50"
        assert producer["batch.size"] == "123"
        assert producer["acks"] == "all"

    def test_librdkafka_security_keys_are_shared_by_a_clusters_clients(self) -> None:
        text = TWO_CLUSTERS + f"A->B.enabled = true\nA.sasl.username = alice\nA.sasl.password = {PASSWORD}\n"
        source = resolve(text).flow("A", "B").source_config()
        assert source.source_consumer.librdkafka["sasl.username"] == "alice"
        assert source.source_admin.librdkafka["sasl.password"] == PASSWORD


class TestWorkerConfig:
    def test_defaults(self) -> None:
        worker = resolve(TWO_CLUSTERS).flow("A", "B").worker
        assert worker["bootstrap.servers"] == "b:9092"
        assert worker["client.id"] == "A->B"
        assert worker["group.id"] == "A-mm2"
        assert worker["offset.storage.topic"] == "mm2-offsets.A.internal"
        assert worker["status.storage.topic"] == "mm2-status.A.internal"
        assert worker["config.storage.topic"] == "mm2-configs.A.internal"
        assert worker["key.converter"] == "org.apache.kafka.connect.converters.ByteArrayConverter"
        assert worker["header.converter"] == "org.apache.kafka.connect.converters.ByteArrayConverter"

    def test_target_cluster_and_top_level_worker_prefixes(self) -> None:
        text = (
            TWO_CLUSTERS
            + "B.group.id = custom\noffset.storage.replication.factor = 1\nB.offset.flush.interval.ms = 5\n"
        )
        worker = resolve(text).flow("A", "B").worker
        assert worker["group.id"] == "custom"
        assert worker["offset.storage.replication.factor"] == "1"
        assert worker["offset.flush.interval.ms"] == "5"
        assert "offset.flush.interval.ms" not in resolve(text).flow("B", "A").worker


class TestValidation:
    def test_missing_clusters(self) -> None:
        [error] = failures("A.bootstrap.servers = a\n")[:1]
        assert (error.key, error.line) == ("clusters", None)
        assert (
            str(error)
            == "mm2.properties: clusters: is required: list the cluster aliases, e.g. clusters = A, B"
        )

    def test_flow_alias_not_in_clusters(self) -> None:
        assert failure_keys(TWO_CLUSTERS + "A->C.enabled = true\n") == [("A->C.enabled", 5)]

    def test_enabled_flow_needs_bootstrap_servers(self) -> None:
        errors = failures("clusters = A, B\nA.bootstrap.servers = a\nA->B.enabled = true\n")
        assert [(error.key, error.line) for error in errors] == [("B.bootstrap.servers", None)]
        assert "flow A->B" in errors[0].message

    def test_heartbeat_only_pair_without_bootstrap_is_a_warning(self) -> None:
        config = resolve(
            "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nclusters = A, B, C\n"
        )
        assert any("C has no bootstrap.servers" in warning for warning in config.warnings)

    def test_typos_are_unknown_keys_with_suggestions(self) -> None:
        errors = failures(TWO_CLUSTERS + "topics.exlude = x\nA->B.topcs = y\nA.consumer.isolation.levl = x\n")
        rendered = [str(error) for error in errors]
        assert rendered == [
            "mm2.properties:5: topics.exlude: unknown key (did you mean topics.exclude?)",
            "mm2.properties:6: A->B.topcs: unknown key (did you mean topics?)",
            "mm2.properties:7: A.consumer.isolation.levl: unknown consumer setting: neither a Java client "
            "nor a librdkafka property (did you mean isolation.level?)",
        ]

    def test_key_of_an_unlisted_cluster(self) -> None:
        [error] = failures(TWO_CLUSTERS + "C.bootstrap.servers = c\n")
        assert (error.key, error.line) == ("C.bootstrap.servers", 5)
        assert "is 'C' missing from clusters?" in error.message

    @pytest.mark.parametrize(
        ("line", "fragment"),
        [
            ("A->B.enabled = yes", "expected true or false"),
            ("A->B.tasks.max = lots", "expected an integer"),
            ("tasks.max = 0", "at least 1"),
            ("emit.checkpoints.interval.seconds = soon", "expected an integer"),
            ("sync.group.offsets.enabled = 1", "expected true or false"),
            ("A->B.topics = x(", "bad regex 'x('"),
            ("groups = [", "bad regex '['"),
            ("topics.exclude = (?U)x", "inline flag"),
            ("offset-syncs.topic.location = elsewhere", "expected one of source, target"),
            ("replication.policy.class = com.example.Policy", "unsupported replication policy"),
            (
                "A.producer.buffer.memory = 1",
                "buffer.memory is a Java client setting with no librdkafka equivalent",
            ),
            ("A.ssl.truststore.location = /ts.jks", "truststore cannot be read by librdkafka"),
            ("A->B.consumer.max.blok.ms = 1", "unknown consumer setting"),
            ("A->B.source.cluster.linger.ms = 5", "not a connection setting"),
            ("replication.policy.separatr = _", "unknown key"),
            ("offset.storage.topik = x", "unknown key"),
            ("A.alias = x", "unknown key"),
            ("A->A.enabled = true", "cannot replicate to itself"),
            ("dedicated.mode.enable.internal.rest = perhaps", "expected true or false"),
        ],
    )
    def test_errors_name_the_file_key_and_line(self, line: str, fragment: str) -> None:
        errors = failures(TWO_CLUSTERS + "A->B.enabled = true\n" + line + "\n")
        key = line.split("=", maxsplit=1)[0].strip()
        matching = [error for error in errors if error.key == key]
        assert matching, errors
        assert matching[0].line == 6
        assert matching[0].source == "mm2.properties"
        assert fragment in matching[0].message, matching[0].message

    def test_all_errors_are_reported_at_once_in_line_order(self) -> None:
        errors = failures(
            TWO_CLUSTERS
            + """
            A->B.enabled = true
            A->B.tasks.max = x
            topics = (
            nonsense.key = 1
            A.producer.max.block.ms = 1
            """
        )
        assert [(error.key, error.line) for error in errors] == [
            ("A->B.tasks.max", 7),
            ("topics", 8),
            ("nonsense.key", 9),
            ("A.producer.max.block.ms", 10),
        ]

    def test_errors_render_one_per_line(self) -> None:
        with pytest.raises(ConfigErrors) as raised:
            resolve_mm2(parse_properties("clusters = A\nfoo = 1\nbar = 2\n"), source="site.properties")
        assert str(raised.value).splitlines() == [
            "site.properties:2: foo: unknown key",
            "site.properties:3: bar: unknown key",
        ]

    def test_top_level_default_errors_are_attributed_once(self) -> None:
        errors = failures("clusters = A, B, C\nbootstrap.servers = x\ntasks.max = nope\n")
        assert [(error.key, error.line) for error in errors] == [("tasks.max", 3)]

    def test_secrets_stay_out_of_errors(self) -> None:
        text = (
            TWO_CLUSTERS
            + f'A->B.enabled = true\nA.sasl.jaas.config = com.example.Login required password="{PASSWORD}";\n'
        )
        errors = failures(text)
        assert errors[0].key == "A.sasl.jaas.config"
        assert all(PASSWORD not in str(error) for error in errors)


class TestWarnings:
    @pytest.mark.parametrize(
        "line",
        [
            "consumer.max.poll.records = 5",
            "exactly.once.support = required",
            "use.defaults.from = source",
            "group.id = g",
            "A.topics = x",
            "A.fetch.min.bytes = 1",
        ],
    )
    def test_keys_mm2_drops_where_they_are_written(self, line: str) -> None:
        config = resolve(TWO_CLUSTERS + line + "\n")
        key = line.split("=", maxsplit=1)[0].strip()
        assert any(warning.startswith(f"mm2.properties:5: {key}: ") for warning in config.warnings), (
            config.warnings
        )

    @pytest.mark.parametrize(
        "line",
        [
            "sync.topic.acls.enabled = true",
            "dedicated.mode.enable.internal.rest = true",
            "config.providers = file",
            "config.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider",
            "B.exactly.once.source.support = enabled",
            "transforms = t",
            "A->B.transforms.t.type = x",
            "listeners = http://:8083",
        ],
    )
    def test_keys_accepted_but_not_implemented(self, line: str) -> None:
        config = resolve(TWO_CLUSTERS + line + "\n")
        assert any("not implemented by mirror" in warning for warning in config.warnings), config.warnings

    def test_no_warning_for_defaults_that_match(self) -> None:
        config = resolve(
            TWO_CLUSTERS + "sync.topic.acls.enabled = false\nB.exactly.once.source.support = disabled\n"
        )
        assert config.warnings == ()

    def test_legacy_blacklist(self) -> None:
        config = resolve(TWO_CLUSTERS + "A->B.enabled = true\ntopics.blacklist = secret.*\n")
        assert any("use topics.exclude" in warning for warning in config.warnings)
        assert not config.flow("A", "B").source_config().topic_filter.accepts("secrets")

    def test_duplicate_keys(self) -> None:
        config = resolve(TWO_CLUSTERS + "A->B.topics = a\nA->B.topics = b\n")
        assert config.warnings == (
            "mm2.properties:6: A->B.topics: also set on line 5; this later value wins",
        )
        assert config.flow("A", "B").source_connector["topics"] == "b"

    def test_placeholders(self) -> None:
        config = resolve(TWO_CLUSTERS + "A.sasl.password = ${file:/secrets.properties:password}\n")
        assert any("placeholders" in warning for warning in config.warnings)

    def test_client_settings_ignored_for_a_role(self) -> None:
        config = resolve(TWO_CLUSTERS + "A->B.enabled = true\nA.consumer.linger.ms = 5\n")
        assert any(
            warning.startswith("mm2.properties:6: A.consumer.linger.ms: ignored: a producer setting")
            for warning in config.warnings
        ), config.warnings


def test_a_realistic_file() -> None:
    config = resolve(
        rf"""
        # Two datacenters, active/passive.
        clusters = primary, backup
        primary.bootstrap.servers = p1:9093, p2:9093
        backup.bootstrap.servers = b1:9093

        security.protocol = SASL_SSL
        sasl.mechanism = SCRAM-SHA-512
        sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
            username="mm2" password="{PASSWORD}";
        ssl.truststore.type = PEM
        ssl.truststore.location = /etc/kafka/ca.pem

        primary->backup.enabled = true
        primary->backup.topics = .*
        primary->backup.groups = .*
        primary->backup.sync.group.offsets.enabled = true
        primary->backup.emit.checkpoints.interval.seconds = 10
        backup->primary.emit.heartbeats.enabled = false

        replication.factor = 3
        checkpoints.topic.replication.factor = 3
        primary.consumer.isolation.level = read_uncommitted
        backup.producer.compression.type = zstd
        """
    )
    assert [flow.name for flow in config.flows] == ["primary->backup"]
    flow = config.flow("primary", "backup")
    assert flow.checkpoint_connector["sync.group.offsets.enabled"] == "true"
    source = flow.source_config()
    consumer = source.source_consumer.librdkafka
    assert consumer["sasl.username"] == "mm2"
    assert consumer["sasl.password"] == PASSWORD
    assert consumer["ssl.ca.location"] == "/etc/kafka/ca.pem"
    assert consumer["isolation.level"] == "read_uncommitted"
    assert consumer["bootstrap.servers"] == "p1:9093, p2:9093"
    assert source.target_producer.librdkafka["compression.type"] == "zstd"
    assert source.target_producer.librdkafka["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config.warnings == ()


class TestErrorRendering:
    def test_the_documented_format(self) -> None:
        errors = failures(TWO_CLUSTERS + "A->B.enabled = true\n\n\n\n\n\n\nA->B.topics = x(\n")
        assert [str(error) for error in errors] == [
            "mm2.properties:12: A->B.topics: bad regex 'x(': missing )"
        ]

    @pytest.mark.parametrize(
        ("error", "rendered"),
        [
            (ConfigError("boom"), "boom"),
            (ConfigError("boom", key="k"), "k: boom"),
            (ConfigError("boom", line=3), "line 3: boom"),
            (ConfigError("boom", key="k", source="f.properties"), "f.properties: k: boom"),
            (ConfigError("boom", key="k", line=3, source="f.properties"), "f.properties:3: k: boom"),
        ],
    )
    def test_config_error_rendering(self, error: ConfigError, rendered: str) -> None:
        assert str(error) == rendered
        assert isinstance(error, ValueError)

    def test_relocated_keeps_what_is_not_replaced(self) -> None:
        moved = ConfigError("boom", key="tasks.max").relocated(line=4, source="f")
        assert (moved.key, moved.line, moved.source, moved.message) == ("tasks.max", 4, "f", "boom")

    def test_aggregate_deduplicates_and_needs_an_error(self) -> None:
        error = ConfigError("boom", key="k", line=1)
        aggregate = ConfigErrors([error, ConfigError("boom", key="k", line=1), ConfigError("bang")])
        assert aggregate.errors == (error, ConfigError("bang"))
        assert str(aggregate) == "line 1: k: boom\nbang"
        assert isinstance(aggregate, ValueError)
        with pytest.raises(ValueError, match="at least one"):
            ConfigErrors([])


# Highest precedence first, for a connection key of the source consumer of A->B (mm2.md §1.1).
_CONSUMER_KEY_LEVELS = (
    "A->B.source.consumer.security.protocol",
    "A.consumer.security.protocol",
    "A.security.protocol",
    "security.protocol",
    "A->B.consumer.security.protocol",
)


@given(st.lists(st.sampled_from(_CONSUMER_KEY_LEVELS), min_size=1, unique=True))
def test_source_consumer_precedence(levels: list[str]) -> None:
    protocols = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", "plaintext")
    lines = [f"{key} = {protocols[_CONSUMER_KEY_LEVELS.index(key)]}" for key in levels]
    config = resolve(TWO_CLUSTERS + "A->B.enabled = true\n" + "\n".join(lines) + "\n")
    winner = min(levels, key=_CONSUMER_KEY_LEVELS.index)
    consumer = config.flow("A", "B").source_config().source_consumer.librdkafka
    assert consumer["security.protocol"] == protocols[_CONSUMER_KEY_LEVELS.index(winner)]


IDENTITY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"


class TestLoopsAndSeparators:
    """Files MM2 accepts although their replication loops forever, or its cycle detection is void."""

    def test_identity_both_ways_is_refused_naming_the_key_and_line(self) -> None:
        errors = failures(
            TWO_CLUSTERS
            + f"""
            A->B.enabled = true
            B->A.enabled = true
            replication.policy.class = {IDENTITY}
            """
        )
        assert [(error.key, error.line) for error in errors] == [("replication.policy.class", 8)]
        assert "A->B and B->A are both enabled with IdentityReplicationPolicy" in errors[0].message

    def test_identity_set_per_flow_both_ways_is_refused_at_the_reverse_flows_line(self) -> None:
        keys = failure_keys(
            TWO_CLUSTERS
            + """
            A->B.enabled = true
            A->B.replication.policy.class = IdentityReplicationPolicy
            B->A.enabled = true
            B->A.replication.policy.class = IdentityReplicationPolicy
            """
        )
        assert keys == [("B->A.replication.policy.class", 9)]

    @pytest.mark.parametrize(
        ("a_to_b", "b_to_a"),
        [("orders-a, payments-a", "orders-b"), (".*-a", r"orders-b, orders\\.eu"), ("orders-a", "orders-.*")],
    )
    def test_identity_both_ways_with_disjoint_plain_topic_names_is_fine(
        self, a_to_b: str, b_to_a: str
    ) -> None:
        # Active/active with IdentityReplicationPolicy: each side replicates only its own topics.
        overlapping = b_to_a == "orders-.*"
        text = (
            TWO_CLUSTERS
            + f"A->B.enabled = true\nA->B.topics = {a_to_b}\nB->A.enabled = true\nB->A.topics = {b_to_a}\n"
            + f"replication.policy.class = {IDENTITY}\n"
        )
        if overlapping:
            assert failure_keys(text) == [("replication.policy.class", 9)]
        else:
            assert len(resolve(text).enabled_flows()) == 2

    def test_identity_both_ways_with_regex_filters_is_refused_as_undecidable(self) -> None:
        keys = failure_keys(
            TWO_CLUSTERS
            + "A->B.enabled = true\nA->B.topics = a.*\nB->A.enabled = true\nB->A.topics = b.*\n"
            + f"replication.policy.class = {IDENTITY}\n"
        )
        assert keys == [("replication.policy.class", 9)]

    def test_identity_one_way_is_fine(self) -> None:
        config = resolve(TWO_CLUSTERS + f"A->B.enabled = true\nreplication.policy.class = {IDENTITY}\n")
        assert [flow.name for flow in config.enabled_flows()] == ["A->B"]
        assert config.warnings == ()

    def test_identity_against_a_default_flow_is_a_warning_naming_the_filter_that_breaks_the_loop(
        self,
    ) -> None:
        config = resolve(
            TWO_CLUSTERS
            + """
            A->B.enabled = true
            A->B.replication.policy.class = IdentityReplicationPolicy
            B->A.enabled = true
            """
        )
        (warning,) = config.warnings
        assert warning.startswith("mm2.properties:7: A->B.replication.policy.class: A->B uses Identity")
        assert "unless A->B.topics excludes the names starting B." in warning

    def test_empty_separator_is_refused_once_naming_key_and_line(self) -> None:
        errors = failures(TWO_CLUSTERS + "A->B.enabled = true\nreplication.policy.separator =\n")
        assert [(error.key, error.line) for error in errors] == [("replication.policy.separator", 6)]
        assert "replication cycles would go undetected" in errors[0].message

    def test_an_alias_holding_the_separator_is_refused_at_the_separator(self) -> None:
        errors = failures(
            """
            clusters = us-east, eu
            us-east.bootstrap.servers = a:9092
            eu.bootstrap.servers = b:9092
            us-east->eu.enabled = true
            replication.policy.separator = -
            """
        )
        assert [(error.key, error.line) for error in errors] == [("replication.policy.separator", 6)]
        assert errors[0].message.startswith("cluster alias 'us-east' contains the separator '-'")

    @pytest.mark.parametrize("alias", ["b.ad", "b+ad", "_b", "b/ad"])
    def test_aliases_follow_the_rest_apis_cluster_name_rule(self, alias: str) -> None:
        errors = failures(
            f"""
            clusters = A, {alias}
            A.bootstrap.servers = a:9092
            {alias}.bootstrap.servers = b:9092
            """
        )
        assert [(error.key, error.line) for error in errors] == [("clusters", 2)]
        assert f"cluster alias {alias!r} must start with a letter or digit" in errors[0].message

    def test_an_alias_with_underscore_and_dash_and_a_custom_separator_is_fine(self) -> None:
        config = resolve(
            """
            clusters = us_east-1, eu
            us_east-1.bootstrap.servers = a:9092
            eu.bootstrap.servers = b:9092
            us_east-1->eu.enabled = true
            replication.policy.separator = .
            """
        )
        assert config.flow("us_east-1", "eu").enabled


class TestLoadingAFile:
    """mirror/mm2_file.py: the one loader behind run, failover, failback and lag --config."""

    def test_a_latin1_byte_is_read_as_mm2_reads_it_with_a_warning_naming_file_line_and_key(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "mm2.properties"
        path.write_bytes(
            textwrap.dedent(TWO_CLUSTERS).encode() + b"A->B.enabled = true\nA->B.topics = caf\xe9\n"
        )
        config = load_mm2_file(path)
        assert config.flow("A", "B").source_connector["topics"] == "caf\u00e9"
        assert config.warnings[0].startswith(
            f"{path}:6: A->B.topics: not UTF-8, so the file was read as ISO-8859-1"
        )

    def test_utf8_is_read_as_utf8_without_a_warning(self, tmp_path: Path) -> None:
        path = tmp_path / "mm2.properties"
        path.write_text(TWO_CLUSTERS + "A->B.enabled = true\nA->B.topics = caf\u00e9\n", encoding="utf-8")
        config = load_mm2_file(path)
        assert config.flow("A", "B").source_connector["topics"] == "caf\u00e9"
        assert config.warnings == ()

    def test_a_file_over_the_bound_is_refused_naming_it(self, tmp_path: Path) -> None:
        path = tmp_path / "huge.properties"
        path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
        with pytest.raises(ConfigError) as raised:
            load_mm2_file(path)
        assert str(raised.value) == f"{path}: is larger than 10 MiB, or endless: not an mm2.properties file"

    def test_a_file_at_the_bound_is_read(self, tmp_path: Path) -> None:
        path = tmp_path / "big.properties"
        text = textwrap.dedent(TWO_CLUSTERS).encode()
        path.write_bytes(text + b"#" * (MAX_FILE_BYTES - len(text)))
        assert load_mm2_file(path).clusters == ("A", "B")

    def test_an_endless_file_is_refused(self) -> None:
        with pytest.raises(ConfigError) as raised:
            load_mm2_file(Path("/dev/zero"))
        assert raised.value.source == "/dev/zero"
        assert "larger than 10 MiB" in raised.value.message
