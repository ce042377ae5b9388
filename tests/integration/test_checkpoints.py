"""Checkpoints and group-offset sync: a group resumes on the target exactly where it stopped."""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from mirror.client import MirrorClient
from mirror.formats.mm2_records import Checkpoint, decode_checkpoint, decode_offset_sync, encode_partition_key
from mirror.formats.offset_maps import MapsCommitted, decode
from mirror.kafka import GroupOffset
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import (
    SINGLE_BROKER_REPLICATION,
    Record,
    consume_and_commit,
    create_topic,
    end_offsets_total,
    group_flow_properties,
    produce,
    produce_transactions,
    read_all,
    replicated,
    running,
    topic_partitions,
    wait_until,
)


def checkpoints(bootstrap: str, group: str) -> list[Checkpoint]:
    if "primary.checkpoints.internal" not in topic_partitions(bootstrap):
        return []
    decoded = [decode_checkpoint(r.key, r.value) for r in read_all(bootstrap, "primary.checkpoints.internal")]
    return [c for c in decoded if c.group == group]


def test_group_resumes_on_target_with_no_gap_and_no_duplicate(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    # Committed and aborted transactions: markers and aborted records both leave upstream gaps.
    values = produce_transactions(primary, unique_name, [7] * 10, aborted=[2, 6])
    group = f"{unique_name}-group"
    processed = consume_and_commit(primary, unique_name, group, 33, start=OFFSET_BEGINNING)
    assert processed == values[:33]

    properties = group_flow_properties(primary, backup, unique_name, group, sync_group_offsets=True)
    remote = f"primary.{unique_name}"
    with running(properties):
        wait_until(replicated(backup, remote, len(values)), what="replication")
        emitted = wait_until(lambda: checkpoints(backup, group), what="a checkpoint for the group")
        target_offset = wait_until(
            lambda: committed_offset(backup, group, remote), what="the group's offset synced to backup"
        )

    assert emitted[-1].topic == remote and emitted[-1].upstream_offset > 33  # markers: upstream > 33
    assert emitted[-1].downstream_offset == 33 == target_offset
    # The RemoteClusterUtils equivalent reads the same answer from the checkpoints.
    client = MirrorClient({"bootstrap.servers": backup})
    assert client.translate_offsets(group, "primary") == {(remote, 0): GroupOffset(33, "")}
    assert remote in client.remote_topics("primary")
    # Failover: the same group on the backup cluster receives exactly the records it had not processed.
    resumed = consume_and_commit(backup, remote, group, len(values) - 33, to_end=True)
    assert resumed == values[33:]


def committed_offset(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        position = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        consumer.close()
    return position if position >= 0 else None


def test_failover_is_exact_on_a_compacted_topic_after_a_restart(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    # Small segments and an eager cleaner, so the log really is compacted before replication.
    create_topic(
        primary,
        unique_name,
        config={"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"},
    )
    produce(
        primary, unique_name, [Record(0, f"k{n % 10}".encode(), str(n).encode(), (), 0) for n in range(100)]
    )
    time.sleep(0.5)  # let the active segment age past segment.ms, then roll it with new records
    produce(
        primary,
        unique_name,
        [Record(0, f"late{n}".encode(), str(100 + n).encode(), (), 0) for n in range(10)],
    )

    def compacted() -> list[Record]:
        records = read_all(primary, unique_name)
        return records if len(records) < 110 else []

    wait_until(compacted, timeout=120, interval=1, what="the log cleaner to compact the source topic")
    group = f"{unique_name}-group"
    remote = f"primary.{unique_name}"
    properties = group_flow_properties(
        primary, backup, unique_name, group, "refresh.groups.interval.seconds = 1", sync_group_offsets=True
    )
    with running(properties):  # a first run of the replicator, stopped...
        wait_until(replicated(backup, remote, len(read_all(primary, unique_name))), what="first run")
    produce(
        primary, unique_name, [Record(0, f"new{n}".encode(), str(200 + n).encode(), (), 0) for n in range(20)]
    )
    source = [r.value for r in read_all(primary, unique_name)]
    processed = consume_and_commit(primary, unique_name, group, len(source) - 25, start=OFFSET_BEGINNING)
    assert processed == source[: len(source) - 25]
    with running(properties):  # ...and restarted: a new task lifetime, new offset syncs
        wait_until(replicated(backup, remote, len(source)), what="second run")
        wait_until(
            lambda: committed_offset(backup, group, remote) == len(source) - 25, what="exact group offset"
        )
    resumed = consume_and_commit(backup, remote, group, 25, to_end=True)
    assert resumed == source[len(source) - 25 :]


def test_group_active_on_target_is_skipped_and_reported(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    produce(primary, unique_name, [Record(0, None, str(n).encode(), (), 0) for n in range(20)])
    group = f"{unique_name}-group"
    consume_and_commit(primary, unique_name, group, 10, start=OFFSET_BEGINNING)
    remote = f"primary.{unique_name}"
    properties = group_flow_properties(primary, backup, unique_name, group, sync_group_offsets=True)
    with running(properties) as flows:
        wait_until(replicated(backup, remote, 20), what="replication")
        # A live member of the same group on the target: the broker would refuse a commit.
        member = Consumer({"bootstrap.servers": backup, "group.id": group, "enable.auto.commit": False})
        member.subscribe([remote])
        try:
            worker = flows[0].worker

            def reported() -> str | None:
                member.poll(0.2)  # stay a live member
                tasks = worker.status("MirrorCheckpointConnector").tasks
                return tasks[0].detail if tasks and tasks[0].detail and group in tasks[0].detail else None

            detail = wait_until(reported, what="the task to report the skipped group")
            assert committed_offset(backup, group, remote) is None  # nothing was committed under it
        finally:
            member.close()
    assert detail is not None and f"active on backup: {group} (" in detail  # then the group's state


def test_translation_survives_compaction_of_the_offset_syncs_topic(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    """The offset-syncs topic is compacted to one sync per partition while the replicator is down;
    the checkpoint task's persisted maps still translate a group between old breakpoints exactly."""
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    target_alias = "vault" + unique_name.rsplit("-", 1)[-1]  # a flow of its own: its own syncs topic
    syncs_topic = f"mm2-offset-syncs.{target_alias}.internal"
    create_topic(
        primary,
        syncs_topic,
        config={"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"},
    )
    create_topic(primary, unique_name)
    values = produce_transactions(primary, unique_name, [7] * 10, aborted=[2, 6])
    group = f"{unique_name}-group"
    remote = f"primary.{unique_name}"
    properties = "\n".join(
        [
            f"clusters = primary, {target_alias}",
            f"primary.bootstrap.servers = {primary}",
            f"{target_alias}.bootstrap.servers = {backup}",
            *SINGLE_BROKER_REPLICATION,
            "emit.heartbeats.enabled = false",
            f"primary->{target_alias}.enabled = true",
            f"primary->{target_alias}.topics = {unique_name}",
            f"primary->{target_alias}.groups = {group}",
            "emit.checkpoints.interval.seconds = 1",
            "refresh.groups.interval.seconds = 1",
            "sync.group.offsets.enabled = true",
            "sync.group.offsets.interval.seconds = 1",
        ]
    )
    maps_topic = f"mirror-offset-maps.primary.{target_alias}.internal"

    def syncs_of_topic() -> list[Record]:
        return [
            r
            for r in read_all(primary, syncs_topic)
            if decode_offset_sync(r.key, r.value).topic == unique_name
        ]

    def maps_saved() -> bool:
        if maps_topic not in topic_partitions(backup):
            return False
        commits = [decode(r.key, r.value) for r in read_all(backup, maps_topic)]
        saved = [c.syncs_position for c in commits if isinstance(c, MapsCommitted)]
        return bool(saved) and max(saved) >= end_offsets_total(primary, syncs_topic) - 1

    with running(properties):  # no group has committed yet: the maps are kept all the same
        wait_until(replicated(backup, remote, len(values)), what="replication")
        wait_until(maps_saved, what="offset maps saved up to the end of the offset syncs")
    breakpoints = len(syncs_of_topic())
    assert breakpoints > 3  # every transaction marker breaks the line
    # Roll the active segment (a sync for a partition nobody replicates) and let the cleaner run.
    time.sleep(0.5)
    produce(primary, syncs_topic, [Record(0, encode_partition_key("roll", 0), bytes(16), (), 0)])
    wait_until(lambda: len(syncs_of_topic()) == 1, timeout=120, interval=1, what="compaction of the syncs")

    processed = consume_and_commit(primary, unique_name, group, 33, start=OFFSET_BEGINNING)
    assert processed == values[:33]
    with running(properties):
        wait_until(lambda: committed_offset(backup, group, remote) == 33, what="exact translated offset")
    resumed = consume_and_commit(backup, remote, group, len(values) - 33, to_end=True)
    assert resumed == values[33:]
