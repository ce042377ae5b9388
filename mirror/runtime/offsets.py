"""Source offsets kept on the target cluster, in Kafka Connect's offsets topic.

Progress lives next to the data it describes: a worker that loses its database, or a
target-side restart, still resumes from what the target actually holds, and a later
exactly-once mode can commit records and offsets in one producer transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message, Producer

from mirror.formats.connect_offsets import (
    OffsetRecordError,
    SourceOffsetKey,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
)
from mirror.kafka import ClusterAdmin, TopicSpec
from mirror.kafka.clients import read_to_end
from mirror.runtime.contracts import SourcePartition

log = logging.getLogger("mirror.runtime.offsets")

DeliveryCallback = Callable[[KafkaError | None, Message], None]


@dataclass(frozen=True)
class OffsetStorageSettings:
    topic: str
    partitions: int
    replication_factor: int
    consumer: Mapping[str, str] = field(repr=False)
    admin: Mapping[str, str] = field(repr=False)
    timeout_s: float = 60.0


class OffsetStore:
    """Reads and writes one connector's source offsets on the offsets topic."""

    def __init__(self, settings: OffsetStorageSettings, connector: str, cluster: str) -> None:
        self.settings = settings
        self.connector = connector
        self.cluster = cluster

    def ensure_topic(self) -> None:
        admin = ClusterAdmin(self.settings.admin, f"{self.connector}|offsets-admin", self.settings.timeout_s)
        try:
            created = admin.create_topics(
                [
                    TopicSpec(
                        self.settings.topic,
                        self.settings.partitions,
                        self.settings.replication_factor,
                        {"cleanup.policy": "compact"},
                    )
                ]
            )
        finally:
            admin.close()
        if created:
            log.info("created offsets topic", extra={"topic": self.settings.topic})

    def read(self) -> dict[SourcePartition, int]:
        """The last committed source offset of every partition of this connector's cluster."""
        offsets: dict[SourcePartition, int] = {}
        for record in read_to_end(
            self.settings.consumer,
            self.settings.topic,
            f"{self.connector}|offsets-reader",
            self.settings.timeout_s,
        ):
            self._apply(offsets, record.key(), record.value())
        return offsets

    def _apply(self, offsets: dict[SourcePartition, int], key: bytes | None, value: bytes | None) -> None:
        try:
            decoded = decode_key(key)
            offset = decode_value(value)
        except OffsetRecordError as exc:
            # Connect shares this topic between connectors; records of other shapes are not ours.
            log.debug("skipping foreign offset record", extra={"reason": str(exc)})
            return
        if decoded.connector != self.connector or decoded.cluster != self.cluster:
            return
        partition = (decoded.topic, decoded.partition)
        if offset is None:
            offsets.pop(partition, None)
        else:
            offsets[partition] = offset

    def forget(
        self,
        producer: Producer,
        partitions: Iterable[SourcePartition],
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Queue tombstones: these partitions then have no committed offset."""
        for topic, partition in partitions:
            producer.produce(
                self.settings.topic,
                None,
                encode_key(SourceOffsetKey(self.connector, self.cluster, topic, partition)),
                on_delivery=on_delivery,
            )

    def write(
        self,
        producer: Producer,
        offsets: Mapping[SourcePartition, int],
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Queue offset records on ``producer`` (the caller serves and flushes it)."""
        for (topic, partition), offset in offsets.items():
            producer.produce(
                self.settings.topic,
                encode_value(offset),
                encode_key(SourceOffsetKey(self.connector, self.cluster, topic, partition)),
                on_delivery=on_delivery,
            )
