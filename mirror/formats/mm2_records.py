"""MirrorMaker 2's three internal record types, byte for byte (heartbeats, checkpoints, offset syncs).

Java MM2 writes these with Kafka's protocol ``Struct`` classes: fields concatenated in declaration
order, big-endian, ``STRING`` = INT16 byte length + UTF-8. Identical bytes are what lets a Java
MirrorClient, ``RemoteClusterUtils`` or a Java checkpoint task read what we write and vice versa,
and what keeps compaction keys equal across implementations.

Decoding follows the Java readers where they are lenient (trailing bytes are ignored, which is the
forward-compatibility hook for future value versions; the value ``version`` prefix is read but not
checked, since Java only ``assert``s it) and is stricter where Java would silently produce garbage:
invalid UTF-8 is rejected rather than replaced with U+FFFD. Every problem surfaces as
:class:`RecordFormatError`, so a reader can skip bad records the way Java skips ``SchemaException``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "MAX_STRING_BYTES",
    "Checkpoint",
    "Heartbeat",
    "Mm2Record",
    "OffsetSync",
    "RecordFormatError",
    "decode_checkpoint",
    "decode_heartbeat",
    "decode_offset_sync",
    "decode_partition_key",
    "encode_key",
    "encode_partition_key",
    "encode_value",
]

# Kafka's STRING length is a signed INT16, and -1 (null) is not allowed for these fields.
MAX_STRING_BYTES = 32767
VALUE_VERSION = 0

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")


class RecordFormatError(ValueError):
    """Bytes that are not a record of the expected type, or a record that cannot be encoded."""


@dataclass(frozen=True)
class Heartbeat:
    """One heartbeat of the herder for flow ``source_alias -> target_alias``."""

    source_alias: str
    target_alias: str
    timestamp_ms: int

    def describe(self) -> str:
        """What Java's ``HeartbeatFormatter`` prints for this record."""
        return (
            f"Heartbeat{{sourceClusterAlias={self.source_alias}, "
            f"targetClusterAlias={self.target_alias}, timestamp={self.timestamp_ms}}}"
        )


@dataclass(frozen=True)
class Checkpoint:
    """A group's committed source offset and its translation; ``topic`` is the downstream (renamed) topic."""

    group: str
    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int
    metadata: str = ""

    def describe(self) -> str:
        """What Java's ``CheckpointFormatter`` prints for this record."""
        return (
            f"Checkpoint{{consumerGroupId={self.group}, topicPartition={self.topic}-{self.partition}, "
            f"upstreamOffset={self.upstream_offset}, downstreamOffset={self.downstream_offset}, "
            f"metadata={self.metadata}}}"
        )


@dataclass(frozen=True)
class OffsetSync:
    """Record ``upstream_offset`` of source ``topic``/``partition`` was written at ``downstream_offset``."""

    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int

    def describe(self) -> str:
        """What Java's ``OffsetSyncFormatter`` prints for this record."""
        return (
            f"OffsetSync{{topicPartition={self.topic}-{self.partition}, "
            f"upstreamOffset={self.upstream_offset}, downstreamOffset={self.downstream_offset}}}"
        )


Mm2Record = Heartbeat | Checkpoint | OffsetSync


def _pack(layout: struct.Struct, value: int, name: str) -> bytes:
    try:
        return layout.pack(value)
    except struct.error as exc:
        raise RecordFormatError(f"{name}={value} does not fit a {layout.size * 8}-bit signed field") from exc


def _string(text: str, name: str) -> bytes:
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates: Java would quietly write '?', which would then never round-trip.
        raise RecordFormatError(f"{name} is not valid Unicode: {exc}") from exc
    if len(raw) > MAX_STRING_BYTES:
        raise RecordFormatError(
            f"{name} is {len(raw)} UTF-8 bytes, more than a STRING holds ({MAX_STRING_BYTES})"
        )
    return _INT16.pack(len(raw)) + raw


def encode_key(record: Mm2Record) -> bytes:
    """The record key bytes; raises RecordFormatError if a field cannot be represented."""
    if isinstance(record, Heartbeat):
        return _string(record.source_alias, "sourceClusterAlias") + _string(
            record.target_alias, "targetClusterAlias"
        )
    if isinstance(record, Checkpoint):
        return (
            _string(record.group, "group")
            + _string(record.topic, "topic")
            + _pack(_INT32, record.partition, "partition")
        )
    return encode_partition_key(record.topic, record.partition)


def encode_partition_key(topic: str, partition: int) -> bytes:
    """MM2's topic-partition key (``STRING topic, INT32 partition``), as offset syncs use."""
    return _string(topic, "topic") + _pack(_INT32, partition, "partition")


def encode_value(record: Mm2Record) -> bytes:
    """The record value bytes; raises RecordFormatError if a field cannot be represented."""
    if isinstance(record, Heartbeat):
        return _INT16.pack(VALUE_VERSION) + _pack(_INT64, record.timestamp_ms, "timestamp")
    if isinstance(record, Checkpoint):
        return (
            _INT16.pack(VALUE_VERSION)
            + _pack(_INT64, record.upstream_offset, "upstreamOffset")
            + _pack(_INT64, record.downstream_offset, "offset")
            + _string(record.metadata, "metadata")
        )
    # Offset syncs were never versioned: the value is exactly the two offsets.
    return _pack(_INT64, record.upstream_offset, "upstreamOffset") + _pack(
        _INT64, record.downstream_offset, "offset"
    )


class _Reader:
    """Sequential reader over one key or value; anything short or malformed is a RecordFormatError."""

    __slots__ = ("_data", "_part", "_position")

    def __init__(self, data: bytes | None, part: str) -> None:
        if data is None:
            raise RecordFormatError(f"{part} is null")
        self._data = bytes(data)
        self._part = part
        self._position = 0

    def _take(self, size: int, name: str) -> bytes:
        end = self._position + size
        if end > len(self._data):
            raise RecordFormatError(
                f"{self._part} ends before field {name!r} ({len(self._data)} bytes, need {end})"
            )
        chunk = self._data[self._position : end]
        self._position = end
        return chunk

    def int16(self, name: str) -> int:
        value: int = _INT16.unpack(self._take(2, name))[0]
        return value

    def int32(self, name: str) -> int:
        value: int = _INT32.unpack(self._take(4, name))[0]
        return value

    def int64(self, name: str) -> int:
        value: int = _INT64.unpack(self._take(8, name))[0]
        return value

    def string(self, name: str) -> str:
        length = self.int16(name)
        if length < 0:
            raise RecordFormatError(f"{self._part} field {name!r} has negative length {length}")
        raw = self._take(length, name)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordFormatError(f"{self._part} field {name!r} is not UTF-8: {exc}") from exc


def decode_heartbeat(key: bytes | None, value: bytes | None) -> Heartbeat:
    key_reader = _Reader(key, "heartbeat key")
    source = key_reader.string("sourceClusterAlias")
    target = key_reader.string("targetClusterAlias")
    value_reader = _Reader(value, "heartbeat value")
    value_reader.int16("version")
    return Heartbeat(source, target, value_reader.int64("timestamp"))


def decode_checkpoint(key: bytes | None, value: bytes | None) -> Checkpoint:
    key_reader = _Reader(key, "checkpoint key")
    group = key_reader.string("group")
    topic = key_reader.string("topic")
    partition = key_reader.int32("partition")
    value_reader = _Reader(value, "checkpoint value")
    value_reader.int16("version")
    upstream = value_reader.int64("upstreamOffset")
    downstream = value_reader.int64("offset")
    metadata = value_reader.string("metadata")
    return Checkpoint(group, topic, partition, upstream, downstream, metadata)


def decode_partition_key(key: bytes | None) -> tuple[str, int]:
    key_reader = _Reader(key, "topic-partition key")
    return key_reader.string("topic"), key_reader.int32("partition")


def decode_offset_sync(key: bytes | None, value: bytes | None) -> OffsetSync:
    topic, partition = decode_partition_key(key)
    value_reader = _Reader(value, "offset sync value")
    upstream = value_reader.int64("upstreamOffset")
    return OffsetSync(topic, partition, upstream, value_reader.int64("offset"))
