"""A flow's offset maps: the saved ones from the target, then the offset syncs written after them.

Shared by the checkpoint task (which keeps reading) and the failover runbook (which reads once),
so both translate from the same history, and neither trusts an offset-syncs topic that
compaction has thinned (see ``mirror.translation.OffsetMapStore``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import Message

from mirror.config.connectors import MirrorCheckpointConfig
from mirror.formats import offset_maps
from mirror.formats.mm2_records import RecordFormatError, decode_offset_sync
from mirror.kafka import KafkaClientError, make_consumer
from mirror.kafka.clients import read_to_end, watermarks
from mirror.translation import OffsetMap, OffsetMapStore, SnapshotError

log = logging.getLogger("connectors.offset_maps")


def load_saved(config: MirrorCheckpointConfig, name: str, timeout_s: float) -> OffsetMapStore:
    """The maps the checkpoint task last committed, or an empty store (nothing saved, or unreadable)."""
    maps: dict[tuple[str, int], bytes] = {}
    committed: int | None = None
    try:
        records = read_to_end(config.target_consumer.librdkafka, config.offset_maps_topic, name, timeout_s)
    except KafkaClientError as exc:
        if exc.code != "UNKNOWN_TOPIC":
            raise
        records = []  # a flow MirrorMaker 2 ran, or one that never checkpointed
    for record in records:
        try:
            decoded = offset_maps.decode(record.key(), record.value())
        except RecordFormatError as exc:
            log.warning("skipping unreadable offset map record", extra={"error": str(exc)})
            continue
        if isinstance(decoded, offset_maps.MapsCommitted):
            committed = decoded.syncs_position
        elif isinstance(decoded, offset_maps.PartitionMap):
            maps[(decoded.topic, decoded.partition)] = decoded.snapshot
    store = OffsetMapStore()
    if committed is None:
        return store
    try:
        for (topic, partition), snapshot in maps.items():
            store.restore(topic, partition, OffsetMap.from_snapshot(snapshot))
    except SnapshotError as exc:
        log.warning("saved offset maps unreadable; rebuilding from offset syncs", extra={"error": str(exc)})
        return OffsetMapStore()
    store.restore_position(committed)
    return store


def resume(store: OffsetMapStore, low: int, high: int, syncs_topic: str) -> tuple[OffsetMapStore, int]:
    """The store to continue with and the offset-syncs offset to read from."""
    saved = store.position
    if saved is None:
        return store, max(low, 0)
    if saved >= high:
        log.warning(
            "offset-syncs topic ends before the saved offset maps (was it recreated?); "
            "reading it from the start",
            extra={"topic": syncs_topic, "saved_position": saved},
        )
        return OffsetMapStore(), max(low, 0)
    # Below the low watermark the records are gone: the store sees the jump and forgets.
    return store, max(saved + 1, low)


def apply_syncs(store: OffsetMapStore, messages: Iterable[Message]) -> None:
    for message in messages:
        if message.error() is not None:
            continue
        position = message.offset()
        try:
            sync = decode_offset_sync(message.key(), message.value())
        except RecordFormatError:
            if position is not None:
                store.skip(position)
            continue
        store.add(sync, position)


def read_current(config: MirrorCheckpointConfig, name: str, timeout_s: float) -> OffsetMapStore:
    """Saved maps brought up to the end of the offset syncs, read once."""
    store = load_saved(config, name, timeout_s)
    topic = config.offset_syncs_topic
    consumer, _watch = make_consumer(config.offset_syncs_consumer.librdkafka, name)
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return store
        low, high = watermarks(consumer, topic, 0, timeout_s)
    finally:
        consumer.close()
    store, start = resume(store, low, high, topic)
    if start < high:
        apply_syncs(
            store, read_to_end(config.offset_syncs_consumer.librdkafka, topic, name, timeout_s, start)
        )
    return store
