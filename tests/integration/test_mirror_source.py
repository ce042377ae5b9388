"""MirrorSourceConnector on two real clusters: fidelity, naming, topics, configs, progress."""

from __future__ import annotations

import time

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    ResourceType,
)

from mirror.kafka import ClusterAdmin
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import (
    Record,
    create_topic,
    mm2_properties,
    produce,
    produce_transactions,
    read_all,
    replicated,
    running,
    topic_partitions,
    wait_until,
)


def flow_properties(clusters: KafkaClusters, topics: str, *lines: str) -> str:
    return mm2_properties(
        clusters.primary.bootstrap_servers,
        clusters.backup.bootstrap_servers,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {topics}",
        *lines,
    )


def tricky_records(partitions: int, per_partition: int) -> list[Record]:
    base = 1_700_000_000_000
    records = []
    for p in range(partitions):
        for i in range(per_partition):
            n = p * per_partition + i
            headers: tuple[tuple[str, bytes | None], ...] = (
                ("dup", b"first"),
                ("nil", None),
                ("dup", b"second"),
                ("seq", str(n).encode()),
            )
            key = None if i % 7 == 0 else f"key-{n}".encode()
            value = None if i % 5 == 0 else bytes([n % 256]) * (i % 50) + f"value-{n}".encode()
            records.append(Record(p, key, value, headers if i % 3 else (), base + n * 1000))
    return records


def test_records_are_copied_exactly(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name, partitions=3)
    records = tricky_records(3, 200)
    produce(primary, unique_name, records)

    with running(flow_properties(kafka_clusters, unique_name)):
        remote = f"primary.{unique_name}"
        wait_until(replicated(backup, remote, len(records)), what=f"{remote} to hold every record")

    copied = read_all(backup, remote)
    assert copied == records  # partition, key, value, headers (order, duplicates, nulls), timestamp
    assert topic_partitions(backup)[remote] == 3


def test_filters_internal_topics_and_identity_policy(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    wanted, excluded, internal = f"{unique_name}-keep", f"{unique_name}-skip", f"{unique_name}.internal"
    for topic in (wanted, excluded, internal):
        create_topic(primary, topic)
        produce(primary, topic, [Record(0, b"k", b"v", (), 1_700_000_000_000)])

    properties = flow_properties(
        kafka_clusters,
        f"{unique_name}.*",
        "primary->backup.topics.exclude = .*-skip",
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    )
    with running(properties):
        wait_until(replicated(backup, wanted, 1), what="identity-named replica")
        time.sleep(2)  # the other topics had every chance to be picked up by now
    names = topic_partitions(backup)
    assert wanted in names
    assert excluded not in names and f"primary.{excluded}" not in names
    assert internal not in names and f"primary.{internal}" not in names


def test_active_active_copies_nothing_back(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    create_topic(backup, unique_name)
    produce(primary, unique_name, [Record(0, b"from", b"primary", (), 1_700_000_000_000)] * 10)
    produce(backup, unique_name, [Record(0, b"from", b"backup", (), 1_700_000_000_000)] * 20)

    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        "backup->primary.enabled = true",
        f"topics = .*{unique_name}",
        "refresh.topics.interval.seconds = 1",
    )
    with running(properties):
        wait_until(replicated(backup, f"primary.{unique_name}", 10), what="primary -> backup")
        wait_until(replicated(primary, f"backup.{unique_name}", 20), what="backup -> primary")
        time.sleep(3)  # several discovery rounds: a cycle would show up now
    assert len(read_all(backup, f"primary.{unique_name}")) == 10
    assert len(read_all(primary, f"backup.{unique_name}")) == 20
    assert f"backup.primary.{unique_name}" not in topic_partitions(backup)
    assert f"primary.backup.{unique_name}" not in topic_partitions(primary)
    assert f"backup.primary.{unique_name}" not in topic_partitions(primary)


def test_new_topics_and_partitions_are_picked_up(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    first, second = f"{unique_name}-a", f"{unique_name}-b"
    create_topic(primary, first, partitions=1)
    produce(primary, first, [Record(0, None, b"a0", (), 1_700_000_000_000)])
    properties = flow_properties(kafka_clusters, f"{unique_name}-.*", "refresh.topics.interval.seconds = 1")
    with running(properties):
        wait_until(replicated(backup, f"primary.{first}", 1), what="first topic")

        create_topic(primary, second, partitions=2)
        produce(primary, second, [Record(p, None, b"b", (), 1_700_000_000_000) for p in (0, 1)])
        wait_until(replicated(backup, f"primary.{second}", 2), what="topic created while running")

        admin = AdminClient({"bootstrap.servers": primary})
        admin.create_partitions([NewPartitions(first, 3)])[first].result(30)
        wait_until(lambda: topic_partitions(backup).get(f"primary.{first}") == 3, what="partition growth")
        produce(primary, first, [Record(2, None, b"a2", (), 1_700_000_000_001)])
        wait_until(replicated(backup, f"primary.{first}", 2), what="record in the new partition")
    assert [r.partition for r in read_all(backup, f"primary.{first}")] == [0, 2]


def test_topic_configs_are_synced_except_excluded(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(
        primary,
        unique_name,
        config={"cleanup.policy": "compact", "retention.ms": "3600000", "min.insync.replicas": "1"},
    )
    properties = flow_properties(kafka_clusters, unique_name, "sync.topic.configs.interval.seconds = 1")
    remote = f"primary.{unique_name}"
    with running(properties):
        wait_until(lambda: remote in topic_partitions(backup), what="remote topic")
        assert _topic_config(backup, remote)["cleanup.policy"] == "compact"
        source_admin = AdminClient({"bootstrap.servers": primary})
        change = ConfigResource(
            ResourceType.TOPIC,
            unique_name,
            incremental_configs=[
                ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)
            ],
        )
        source_admin.incremental_alter_configs([change])[change].result(30)
        wait_until(
            lambda: _topic_config(backup, remote)["retention.ms"] == "7200000", what="config change synced"
        )
    configs = _topic_config(backup, remote)
    assert configs["cleanup.policy"] == "compact"
    assert not _overridden(backup, remote, "min.insync.replicas")  # excluded by default
    assert _overridden(backup, remote, "retention.ms")


def _topic_config(bootstrap: str, topic: str) -> dict[str, str | None]:
    return {name: entry.value for name, entry in _describe(bootstrap, topic).items()}


def _overridden(bootstrap: str, topic: str, name: str) -> bool:
    """True if the topic itself sets the property (rather than inheriting a broker or default value)."""
    admin = ClusterAdmin({"bootstrap.servers": bootstrap}, "tests", 30)
    return admin.describe_topic_configs([topic])[topic][name].is_dynamic_topic_config


def _describe(bootstrap: str, topic: str) -> dict[str, ConfigEntry]:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
    resource = ConfigResource(ResourceType.TOPIC, topic)
    entries: dict[str, ConfigEntry] = admin.describe_configs([resource])[resource].result(30)
    return entries


def test_aborted_transactions_are_not_replicated(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    committed = produce_transactions(primary, unique_name, [5, 5, 5], aborted=[1])

    with running(flow_properties(kafka_clusters, unique_name)):
        wait_until(replicated(backup, f"primary.{unique_name}", 10), what="committed records")
        time.sleep(1)
    values = [r.value for r in read_all(backup, f"primary.{unique_name}", isolation="read_uncommitted")]
    assert values == committed == [f"{txn}-{i}".encode() for txn in (0, 2) for i in range(5)]


def test_cluster_consumer_settings_reach_the_source_consumer(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    """`primary.consumer.isolation.level` (MM2's per-cluster consumer key) switches to MM2's default."""
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    produce_transactions(primary, unique_name, [5, 5, 5], aborted=[1])

    properties = flow_properties(
        kafka_clusters, unique_name, "primary.consumer.isolation.level = read_uncommitted"
    )
    with running(properties):
        wait_until(replicated(backup, f"primary.{unique_name}", 15), what="every record, aborted ones too")
    values = [r.value for r in read_all(backup, f"primary.{unique_name}", isolation="read_uncommitted")]
    assert values == [f"{txn}-{i}".encode() for txn in range(3) for i in range(5)]


def test_restart_resumes_after_last_replicated_record(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name, partitions=2)
    first = [Record(i % 2, None, f"first-{i}".encode(), (), 1_700_000_000_000 + i) for i in range(100)]
    second = [Record(i % 2, None, f"second-{i}".encode(), (), 1_700_000_100_000 + i) for i in range(50)]
    properties = flow_properties(kafka_clusters, unique_name)
    remote = f"primary.{unique_name}"

    produce(primary, unique_name, first)
    with running(properties):
        wait_until(replicated(backup, remote, 100), what="first run")
    produce(primary, unique_name, second)
    with running(properties):
        wait_until(replicated(backup, remote, 150), what="second run")
        time.sleep(1.5)

    copied = read_all(backup, remote)
    assert len(copied) == 150, "a clean stop must leave nothing to replicate twice"
    assert sorted(r.value or b"" for r in copied) == sorted(r.value or b"" for r in first + second)
    offsets = read_all(backup, "mm2-offsets.primary.internal")
    ours = [r for r in offsets if r.key and unique_name.encode() in r.key]
    assert {r.key for r in ours} == {
        f'["MirrorSourceConnector",{{"cluster":"primary","partition":{p},"topic":"{unique_name}"}}]'.encode()
        for p in (0, 1)
    }
    latest = {r.key: r.value for r in ours}  # read_all keeps offset order within a partition
    assert set(latest.values()) == {b'{"offset":74}'}  # 75 records per partition: last offset 74
