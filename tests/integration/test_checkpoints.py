"""Checkpoints and group-offset sync: a group resumes on the target exactly where it stopped."""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, OFFSET_INVALID, Consumer, KafkaError, Producer, TopicPartition

from mirror.client import MirrorClient
from mirror.formats.mm2_records import Checkpoint, decode_checkpoint
from mirror.kafka import GroupOffset
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import (
    create_topic,
    mm2_properties,
    read_all,
    replicated,
    running,
    topic_partitions,
    wait_until,
)

COORDINATOR_NOT_READY = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


def consume_and_commit(
    bootstrap: str, topic: str, group: str, count: int, *, start: int = OFFSET_INVALID, timeout: float = 60
) -> list[bytes]:
    """A real consumer in `group` reads `count` records of partition 0 and commits its position.

    ``start`` defaults to the group's committed offset (what a failed-over consumer uses).
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, 0, start)])
    seen: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only {len(seen)} of {count} records in {timeout}s"
        for message in consumer.consume(count - len(seen), 5.0):
            error = message.error()
            if error is not None and (error.retriable() or error.code() in COORDINATOR_NOT_READY):
                continue  # a cluster this fresh may still be electing its group coordinator
            assert error is None and message.value() is not None
            seen.append(message.value())  # type: ignore[arg-type]
    consumer.commit(asynchronous=False)
    consumer.close()
    return seen


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
    # Transactions leave a marker offset after each commit: upstream and downstream offsets diverge.
    producer = Producer({"bootstrap.servers": primary, "transactional.id": unique_name})
    producer.init_transactions(30)
    values = []
    for txn in range(10):
        producer.begin_transaction()
        for i in range(7):
            value = f"{txn}-{i}".encode()
            values.append(value)
            producer.produce(unique_name, value, partition=0)
        producer.commit_transaction(30)
    group = f"{unique_name}-group"
    processed = consume_and_commit(primary, unique_name, group, 33, start=OFFSET_BEGINNING)
    assert processed == values[:33]

    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {unique_name}",
        f"primary->backup.groups = {group}",
        "emit.checkpoints.interval.seconds = 1",
        "sync.group.offsets.enabled = true",
        "sync.group.offsets.interval.seconds = 1",
    )
    remote = f"primary.{unique_name}"
    with running(properties):
        wait_until(replicated(backup, remote, len(values)), what="replication")
        emitted = wait_until(lambda: checkpoints(backup, group), what="a checkpoint for the group")

        def committed_on_backup() -> int | None:
            consumer = Consumer({"bootstrap.servers": backup, "group.id": group})
            try:
                position = consumer.committed([TopicPartition(remote, 0)], timeout=10)[0].offset
            finally:
                consumer.close()
            return position if position >= 0 else None

        target_offset = wait_until(committed_on_backup, what="the group's offset synced to backup")

    assert emitted[-1].topic == remote and emitted[-1].upstream_offset > 33  # markers: upstream > 33
    assert emitted[-1].downstream_offset == 33 == target_offset
    # The RemoteClusterUtils equivalent reads the same answer from the checkpoints.
    client = MirrorClient({"bootstrap.servers": backup})
    assert client.translate_offsets(group, "primary") == {(remote, 0): GroupOffset(33, "")}
    assert remote in client.remote_topics("primary")
    # Failover: the same group on the backup cluster receives exactly the records it had not processed.
    resumed = consume_and_commit(backup, remote, group, len(values) - 33)
    assert resumed == values[33:]
