"""Kafka Connect source offsets as MirrorMaker 2 stores them (``mm2-offsets.<source>.internal``).

Keeping Connect's layout byte for byte lets an operator move a flow between Apache Kafka's
MirrorMaker 2 and mirror in either direction without re-replicating: both resume from the
same records. Key: ``["<connector>",{"cluster":"<S>","partition":<p>,"topic":"<t>"}]``;
value: ``{"offset":<last replicated source offset>}``; a null value forgets the partition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


class OffsetRecordError(ValueError):
    """A record on the offsets topic that is not a source offset this module understands."""


@dataclass(frozen=True)
class SourceOffsetKey:
    connector: str
    cluster: str
    topic: str
    partition: int


def encode_key(key: SourceOffsetKey) -> bytes:
    # Field order is the iteration order Java's HashMap gives these three names, which is
    # what Connect's JsonConverter writes; identical bytes keep compaction working across
    # implementations.
    body = {"cluster": key.cluster, "partition": key.partition, "topic": key.topic}
    return json.dumps([key.connector, body], separators=(",", ":"), ensure_ascii=False).encode()


def encode_value(offset: int) -> bytes:
    if offset < 0:
        raise ValueError(f"a source offset is never negative, got {offset}")
    return b'{"offset":%d}' % offset


def decode_key(raw: bytes | None) -> SourceOffsetKey:
    if raw is None:
        raise OffsetRecordError("offset record without a key")
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OffsetRecordError(f"offset key is not JSON: {exc}") from exc
    if not (isinstance(parsed, list) and len(parsed) == 2 and isinstance(parsed[0], str)):
        raise OffsetRecordError("offset key is not [connector, partition]")
    body = parsed[1]
    if not isinstance(body, dict):
        raise OffsetRecordError("offset key's partition is not an object")
    cluster, topic, partition = body.get("cluster"), body.get("topic"), body.get("partition")
    if not (isinstance(cluster, str) and isinstance(topic, str)):
        raise OffsetRecordError("offset key lacks cluster or topic")
    if not isinstance(partition, int) or isinstance(partition, bool) or partition < 0:
        raise OffsetRecordError("offset key lacks a partition number")
    return SourceOffsetKey(parsed[0], cluster, topic, partition)


def decode_value(raw: bytes | None) -> int | None:
    """The stored offset, or None for a tombstone."""
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OffsetRecordError(f"offset value is not JSON: {exc}") from exc
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise OffsetRecordError("offset value lacks a non-negative 'offset'")
    return offset
