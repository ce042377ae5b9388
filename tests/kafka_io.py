"""Small real-Kafka helpers for integration tests: create, produce, read back, wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_INVALID,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from mirror.config.mm2 import resolve_mm2
from mirror.config.properties import parse_properties
from mirror.kafka import KafkaClientError, failure_from, watermarks
from mirror.standalone import RunningFlow, selected_flows, start_flows, stop_flows

Header = tuple[str, bytes | None]
T = TypeVar("T")


@dataclass(frozen=True)
class Record:
    """What a replica must reproduce exactly."""

    partition: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    timestamp: int


def create_topic(
    bootstrap: str, name: str, partitions: int = 1, config: dict[str, str] | None = None
) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})], operation_timeout=30)
    futures[name].result(timeout=30)


def topic_partitions(bootstrap: str) -> dict[str, int]:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def end_offsets_total(bootstrap: str, topic: str) -> int:
    """Sum of the topic's log-end offsets (0 if it does not exist yet); cheap progress probe."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "mirror-tests-probe"})
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        return sum(watermarks(consumer, topic, p, 30)[1] for p in metadata.partitions)
    finally:
        consumer.close()


def produce(bootstrap: str, topic: str, records: Sequence[Record]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for record in records:
        producer.produce(
            topic,
            record.value,
            record.key,
            record.partition,
            timestamp=record.timestamp,
            headers=list(record.headers) if record.headers else None,
        )
    assert producer.flush(30) == 0


def read_all(
    bootstrap: str, topic: str, *, isolation: str = "read_committed", timeout: float = 30
) -> list[Record]:
    """Every record of the topic, partition by partition, in offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "mirror-tests-reader",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = sorted(metadata.topics[topic].partitions)
        ends = {}
        for partition in partitions:
            _low, high = watermarks(consumer, topic, partition, timeout)
            ends[partition] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        by_partition: dict[int, list[Record]] = {p: [] for p in partitions}
        deadline = time.monotonic() + timeout
        pending = {p for p in partitions if ends[p] > 0}
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(10_000, 0.5):
                if message.error() is not None:
                    raise KafkaException(message.error())
                partition = message.partition()
                assert partition is not None
                by_partition[partition].append(
                    Record(
                        partition,
                        message.key(),
                        message.value(),
                        _headers(message.headers()),
                        message.timestamp()[1],
                    )
                )
            for tp in consumer.position([TopicPartition(topic, p) for p in list(pending)]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
        assert not pending, f"could not read {topic} to its end in {timeout}s"
        return [record for p in partitions for record in by_partition[p]]
    finally:
        consumer.close()


def _headers(raw: object) -> tuple[Header, ...]:
    # The consumer returns headers as a list of (str, bytes | None) pairs, or None.
    if raw is None:
        return ()
    assert isinstance(raw, list)
    return tuple((str(key), None if value is None else bytes(value)) for key, value in raw)


def assert_age_of_record(seconds: float, timestamp_ms: int, sampled_at: str) -> None:
    """``seconds`` is the age of the record stamped ``timestamp_ms``, as a lag sample that started
    at ``sampled_at`` (ISO 8601) and ended before now measures it: to the millisecond."""
    started_s = datetime.fromisoformat(sampled_at).timestamp()
    earliest, latest = started_s - timestamp_ms / 1000, time.time() - timestamp_ms / 1000
    assert earliest - 0.002 <= seconds <= latest + 0.002, (seconds, earliest, latest)


def wait_until(
    check: Callable[[], T], *, timeout: float = 60, interval: float = 0.25, what: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)
        last = check()
    return last


SINGLE_BROKER_REPLICATION = (
    "replication.factor = 1",
    "offset-syncs.topic.replication.factor = 1",
    "checkpoints.topic.replication.factor = 1",
    "heartbeats.topic.replication.factor = 1",
    "offset.storage.replication.factor = 1",
    "config.storage.replication.factor = 1",
    "status.storage.replication.factor = 1",
)
"""Every replication factor an MM2 file sets, at 1: the test clusters have one broker each."""


def mm2_properties(primary: str, backup: str, *lines: str) -> str:
    """An mm2.properties for the two test clusters; extra lines come last and win."""
    return "\n".join(
        [
            "clusters = primary, backup",
            f"primary.bootstrap.servers = {primary}",
            f"backup.bootstrap.servers = {backup}",
            *SINGLE_BROKER_REPLICATION,
            "emit.heartbeats.enabled = false",
            *lines,
        ]
    )


@contextmanager
def running(properties: str) -> Iterator[list[RunningFlow]]:
    """Run every enabled flow of ``properties`` in this process for the duration of the block."""
    config = resolve_mm2(parse_properties(properties, "test.properties"), source="test.properties")
    flows = start_flows(selected_flows(config, None))
    try:
        yield flows
    finally:
        stop_flows(flows)


def replicated(bootstrap: str, topic: str, expected: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            if topic not in topic_partitions(bootstrap):
                return False
            return len(read_all(bootstrap, topic, timeout=30)) >= expected
        except (KafkaException, KafkaClientError):
            return False  # a topic this new may still be electing its leader

    return check


def produce_transactions(
    bootstrap: str, topic: str, sizes: Sequence[int], *, aborted: Sequence[int] = ()
) -> list[bytes]:
    """One transaction per entry of ``sizes`` on partition 0, values ``b"<txn>-<i>"``.

    Each commit or abort leaves a marker offset, so upstream and downstream offsets diverge as
    they do in production. Transactions whose index is in ``aborted`` are aborted after their
    records reached the log. Returns the committed values, in order.
    """
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": topic})
    producer.init_transactions(30)
    committed: list[bytes] = []
    for txn, size in enumerate(sizes):
        producer.begin_transaction()
        values = [f"{txn}-{i}".encode() for i in range(size)]
        for value in values:
            producer.produce(topic, value, partition=0)
        # Without a flush, abort_transaction purges records never sent: the log would hold no aborted data.
        assert producer.flush(30) == 0
        if txn in aborted:
            producer.abort_transaction(30)
        else:
            producer.commit_transaction(30)
            committed.extend(values)
    return committed


def consume_and_commit(
    bootstrap: str,
    topic: str,
    group: str,
    count: int,
    *,
    start: int = OFFSET_INVALID,
    to_end: bool = False,
    timeout: float = 60,
) -> list[bytes]:
    """A real consumer in ``group`` reads ``count`` records of partition 0 and commits its position.

    ``start`` defaults to the group's committed offset, which is what a failed-over consumer
    uses. With ``to_end``, a record beyond ``count`` (a duplicate, say) fails the call.
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
    try:
        consumer.assign([TopicPartition(topic, 0, start)])
        seen: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(seen) < count:
            assert time.monotonic() < deadline, f"only {len(seen)} of {count} records in {timeout}s"
            for message in consumer.consume(count - len(seen), 2.0):
                error = message.error()
                if error is not None and failure_from(error, f"consuming {topic}").retriable:
                    continue  # a cluster this fresh may still be electing its group coordinator
                value = message.value()
                assert error is None and value is not None, error
                seen.append(value)
        if to_end:
            assert not [m for m in consumer.consume(10, 2.0) if m.error() is None], (
                "more records than expected"
            )
        consumer.commit(asynchronous=False)
        return seen
    finally:
        consumer.close()


def group_flow_properties(
    primary: str, backup: str, topic: str, group: str, *lines: str, sync_group_offsets: bool = False
) -> str:
    """A primary->backup flow of ``topic`` that checkpoints ``group`` every second."""
    sync = ["sync.group.offsets.enabled = true", "sync.group.offsets.interval.seconds = 1"]
    return mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {topic}",
        f"primary->backup.groups = {group}",
        "emit.checkpoints.interval.seconds = 1",
        *(sync if sync_group_offsets else []),
        *lines,
    )
