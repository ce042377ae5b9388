"""Reads of MirrorMaker 2's own topics: checkpoints, heartbeats, offset syncs and offset maps.

The checkpoint connector, the lag probe, the failover runbook and ``MirrorClient`` all ask the
same questions of these topics; answering them here keeps one meaning for "latest checkpoint"
and "newest heartbeat". Bytes are decoded by the pure ``mirror.formats`` modules; records they
cannot decode are skipped, as MM2's own readers skip them.

A flow's offset maps are the saved ones from the target, then the offset syncs written after
them: the checkpoint task keeps reading, the failover runbook reads once, so both translate from
the same history and neither trusts an offset-syncs topic that compaction has thinned (see
``mirror.translation.OffsetMapStore``). A flow's progress (Connect's offsets topic) is read by
``mirror.runtime.offsets.OffsetStore``, the layer above this one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Message

from mirror.config.connectors import MirrorCheckpointConfig
from mirror.formats import offset_maps as offset_maps_format
from mirror.formats.mm2_records import (
    Checkpoint,
    RecordFormatError,
    decode_checkpoint,
    decode_heartbeat,
    decode_offset_sync,
)
from mirror.kafka.clients import KafkaClientError, make_consumer, read_to_end, watermarks
from mirror.translation import OffsetMap, OffsetMapStore, SnapshotError

log = logging.getLogger("mirror.kafka.mm2_topics")

CheckpointKey = tuple[str, str, int]
"""(consumer group, topic as the checkpoint names it (the remote one), partition)."""


@dataclass(frozen=True)
class LatestCheckpoint:
    checkpoint: Checkpoint
    written_ms: int
    """Timestamp of the record that carried it."""


def read_or_empty(settings: Mapping[str, str], topic: str, name: str, timeout_s: float) -> list[Message]:
    """Every record of ``topic`` up to the end seen at the start; none if the topic does not exist
    (MM2 creates its topics lazily: a flow that has not written one yet has nothing to read)."""
    try:
        return read_to_end(settings, topic, name, timeout_s)
    except KafkaClientError as exc:
        if exc.code != "UNKNOWN_TOPIC":
            raise
        return []


def latest_checkpoints(
    settings: Mapping[str, str], topic: str, name: str, timeout_s: float, *, missing_ok: bool
) -> dict[CheckpointKey, LatestCheckpoint]:
    """The last checkpoint written per (group, topic, partition) in a checkpoints topic.

    "Last" is by position, as compaction keeps it. A missing topic is empty if ``missing_ok``,
    else the ``KafkaClientError`` (code ``UNKNOWN_TOPIC``) is raised.
    """
    records = (
        read_or_empty(settings, topic, name, timeout_s)
        if missing_ok
        else read_to_end(settings, topic, name, timeout_s)
    )
    latest: dict[CheckpointKey, LatestCheckpoint] = {}
    for record in records:
        try:
            decoded = decode_checkpoint(record.key(), record.value())
        except RecordFormatError:
            continue
        key = (decoded.group, decoded.topic, decoded.partition)
        latest[key] = LatestCheckpoint(decoded, int(record.timestamp()[1]))
    return latest


def newest_heartbeat_ms(
    settings: Mapping[str, str],
    topic: str,
    name: str,
    timeout_s: float,
    emitted_for: tuple[str, str] | None = None,
) -> int | None:
    """Emit time of the newest heartbeat in ``topic``, across all its partitions; None if it has
    none (or does not exist). With ``emitted_for=(source, target)``, only that flow's heartbeats.

    Newest by the emit time a heartbeat carries, over every record read to the end: a topic that
    collects several flows' heartbeats has no order by flow, and its last offset may be a
    transaction marker or another flow's record.
    """
    newest: int | None = None
    for record in read_or_empty(settings, topic, name, timeout_s):
        try:
            heartbeat = decode_heartbeat(record.key(), record.value())
        except RecordFormatError:
            continue
        if emitted_for is not None and (heartbeat.source_alias, heartbeat.target_alias) != emitted_for:
            continue
        newest = heartbeat.timestamp_ms if newest is None else max(newest, heartbeat.timestamp_ms)
    return newest


def load_saved_offset_maps(config: MirrorCheckpointConfig, name: str, timeout_s: float) -> OffsetMapStore:
    """The maps the checkpoint task last committed, or an empty store (nothing saved, or unreadable)."""
    maps: dict[tuple[str, int], bytes] = {}
    committed: int | None = None
    # Nothing saved for a flow MirrorMaker 2 ran, or one that never checkpointed.
    for record in read_or_empty(config.target_consumer.librdkafka, config.offset_maps_topic, name, timeout_s):
        try:
            decoded = offset_maps_format.decode(record.key(), record.value())
        except RecordFormatError as exc:
            log.warning("skipping unreadable offset map record", extra={"error": str(exc)})
            continue
        if isinstance(decoded, offset_maps_format.MapsCommitted):
            committed = decoded.syncs_position
        elif isinstance(decoded, offset_maps_format.PartitionMap):
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


def resume_offset_maps(
    store: OffsetMapStore, low: int, high: int, syncs_topic: str
) -> tuple[OffsetMapStore, int]:
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


def apply_offset_syncs(store: OffsetMapStore, messages: Iterable[Message]) -> None:
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


def read_offset_maps(config: MirrorCheckpointConfig, name: str, timeout_s: float) -> OffsetMapStore:
    """Saved maps brought up to the end of the offset syncs, read once."""
    store = load_saved_offset_maps(config, name, timeout_s)
    topic = config.offset_syncs_topic
    consumer, _watch = make_consumer(config.offset_syncs_consumer.librdkafka, name)
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return store
        low, high = watermarks(consumer, topic, 0, timeout_s)
    finally:
        consumer.close()
    store, start = resume_offset_maps(store, low, high, topic)
    if start < high:
        apply_offset_syncs(
            store, read_to_end(config.offset_syncs_consumer.librdkafka, topic, name, timeout_s, start)
        )
    return store
