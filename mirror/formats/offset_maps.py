"""Records of the offset-maps topic: each upstream partition's offset map, persisted. Pure.

MM2's offset-syncs topic is compacted to the latest sync per partition, which is not enough
to translate exactly; the checkpoint task therefore keeps its maps (``mirror.translation``) in a
compacted topic of its own, ``mirror-offset-maps.<source>.<target>.internal`` on the target (internal by
MM2's naming rule, so nobody replicates it).

Layout, big-endian, strings as in MM2's formats (INT16 length + UTF-8):

* a partition's map: key ``STRING topic, INT32 partition``; value ``INT16 version (0), INT64
  offset-syncs position, BYTES the map`` (:meth:`OffsetMap.snapshot`, to the end of the value);
* a commit: key ``STRING "" , INT32 -1`` (no topic is named ""); value ``INT16 version (0), INT64
  offset-syncs position``: every map written before it is complete up to that position, so a
  reader resumes the offset syncs right after it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mirror.formats.mm2_records import RecordFormatError, decode_partition_key, encode_partition_key

VERSION = 0
_HEADER = struct.Struct(">hq")
_COMMIT_KEY = encode_partition_key("", -1)


@dataclass(frozen=True)
class PartitionMap:
    topic: str
    partition: int
    syncs_position: int
    snapshot: bytes


@dataclass(frozen=True)
class MapsCommitted:
    syncs_position: int


def encode_partition_map(record: PartitionMap) -> tuple[bytes, bytes]:
    """(key, value); raises RecordFormatError if a field cannot be represented."""
    if not record.topic:
        raise RecordFormatError("a partition map needs a topic name")
    return encode_partition_key(record.topic, record.partition), _header(
        record.syncs_position
    ) + record.snapshot


def encode_commit(record: MapsCommitted) -> tuple[bytes, bytes]:
    return _COMMIT_KEY, _header(record.syncs_position)


def _header(position: int) -> bytes:
    if position < 0:
        raise RecordFormatError(f"offset-syncs position is never negative, got {position}")
    try:
        return _HEADER.pack(VERSION, position)
    except struct.error as exc:
        raise RecordFormatError(f"offset-syncs position {position} does not fit an INT64") from exc


def decode(key: bytes | None, value: bytes | None) -> PartitionMap | MapsCommitted | None:
    """The record, or None for a tombstone; raises RecordFormatError for anything else."""
    topic, partition = decode_partition_key(key)
    if value is None:
        return None
    if len(value) < _HEADER.size:
        raise RecordFormatError(f"offset map value is {len(value)} bytes, shorter than its header")
    version, position = _HEADER.unpack_from(value, 0)
    if version != VERSION:
        raise RecordFormatError(f"unsupported offset map record version {version}")
    if position < 0:
        raise RecordFormatError(f"negative offset-syncs position {position}")
    if topic == "" and partition == -1:
        if len(value) != _HEADER.size:
            raise RecordFormatError("a commit record carries nothing after the position")
        return MapsCommitted(position)
    if not topic or partition < 0:
        raise RecordFormatError(f"offset map key names no partition ({topic!r}, {partition})")
    return PartitionMap(topic, partition, position, bytes(value[_HEADER.size :]))
