"""A topic's backup manifest: the objects that hold its records, its configuration, its groups.

One JSON document per topic (``topics/<topic>/manifest.json``), written by the one sink task
that backs the topic up, after the objects it lists are stored. It is the backup's source of
truth: a restarted backup continues at ``next_offsets``; restore and verify read only the
objects listed here (an object stored by a backup that crashed before recording it is an
orphan, ignored and later pruned).

Per object: relative key, partition, first and last offset, record count, timestamp range,
offsets missing inside the range (compaction, transaction markers, aborted records), size,
format, compression and sha256. Per topic: partition count and non-default configs at the last
write, and snapshots of consumer-group offsets on the topic (kept when they change).

Decoding trusts nothing: whoever can write the bucket can write a manifest, and restore acts on
it. Numbers must lie in Kafka's ranges, every object must be named as the layout names an object
of its topic, partition and first offset (so no ``../`` or foreign key is ever fetched), and must
hold no more records than its offset range.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from mirror.formats.backup.codec import extension
from mirror.formats.backup.layout import check_topic, object_name
from mirror.formats.backup.records import COMPRESSIONS, FORMATS, RecordColumns

MANIFEST_VERSION = 1

MAX_PARTITIONS = 100_000
"""Partitions a backed-up topic may have. Kafka sets no per-topic maximum, but a broker hosts a few
thousand partitions in practice and a KRaft cluster a few million in all; a topic of more than
100,000 is not one any cluster runs, while the number bounds what a restore plans and creates."""
MAX_OFFSET = 2**63 - 1
"""Kafka offsets are signed 64-bit; offsets in a manifest are never negative."""
_INT64 = (-(2**63), 2**63 - 1)


class ManifestError(ValueError):
    """A manifest that does not parse; names the field at fault."""


@dataclass(frozen=True)
class ObjectEntry:
    name: str
    partition: int
    first_offset: int
    last_offset: int
    records: int
    min_timestamp: int
    max_timestamp: int
    gaps: tuple[tuple[int, int], ...]
    size: int
    sha256: str
    format: str
    compression: str

    def mismatch(self, columns: RecordColumns) -> str | None:
        """How the object's records differ from this entry, or None: restore produces to the
        entry's partition and keys its progress by the entry's offsets, so they must agree."""
        offsets = columns.offsets
        if len(columns) != self.records:
            return f"holds {len(columns)} records, the manifest says {self.records}"
        if not offsets:
            return None
        if columns.partition != self.partition:
            return f"holds records of partition {columns.partition}, the manifest says {self.partition}"
        if (offsets[0], offsets[-1]) != (self.first_offset, self.last_offset):
            return (
                f"holds offsets {offsets[0]}..{offsets[-1]}, "
                f"the manifest says {self.first_offset}..{self.last_offset}"
            )
        if any(earlier >= later for earlier, later in itertools.pairwise(offsets)):
            return "holds offsets out of order"
        return None

    def overlaps_time(self, from_ms: int | None, until_ms: int | None) -> bool:
        """Whether some record may fall in the window (bounds inclusive, None = open)."""
        return (from_ms is None or self.max_timestamp >= from_ms) and (
            until_ms is None or self.min_timestamp <= until_ms
        )


@dataclass(frozen=True)
class GroupOffset:
    offset: int
    metadata: str = ""


@dataclass(frozen=True)
class GroupSnapshot:
    """Committed offsets of consumer groups on this topic at ``taken_at_ms`` (wall clock)."""

    taken_at_ms: int
    groups: Mapping[str, Mapping[int, GroupOffset]]

    def __post_init__(self) -> None:
        frozen = {group: MappingProxyType(dict(offsets)) for group, offsets in self.groups.items()}
        object.__setattr__(self, "groups", MappingProxyType(frozen))


@dataclass(frozen=True)
class TopicManifest:
    topic: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)
    next_offsets: Mapping[int, int] = field(default_factory=dict)
    """Per partition, the offset the backup continues from: every record before it is stored."""
    objects: tuple[ObjectEntry, ...] = ()
    group_snapshots: tuple[GroupSnapshot, ...] = ()
    updated_at_ms: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "configs", MappingProxyType(dict(self.configs)))
        object.__setattr__(self, "next_offsets", MappingProxyType(dict(self.next_offsets)))

    def with_objects(
        self, entries: Sequence[ObjectEntry], next_offsets: Mapping[int, int], now_ms: int
    ) -> TopicManifest:
        """Record stored objects and how far each partition is now backed up."""
        known = {entry.name for entry in entries}
        kept = tuple(entry for entry in self.objects if entry.name not in known)
        merged = {**self.next_offsets}
        for partition, offset in next_offsets.items():
            merged[partition] = max(offset, merged.get(partition, 0))
        objects = tuple(sorted((*kept, *entries), key=lambda entry: (entry.partition, entry.first_offset)))
        return replace(self, objects=objects, next_offsets=merged, updated_at_ms=now_ms)

    def with_topic(self, partitions: int, configs: Mapping[str, str]) -> TopicManifest:
        return replace(self, partitions=partitions, configs=configs)

    def with_group_snapshot(self, snapshot: GroupSnapshot, keep: int) -> TopicManifest:
        """Add ``snapshot`` unless it equals the latest one; keep the newest ``keep``."""
        if self.group_snapshots and _same_groups(self.group_snapshots[-1], snapshot):
            return self
        snapshots = (*self.group_snapshots, snapshot)[-keep:] if keep > 0 else ()
        return replace(self, group_snapshots=snapshots)

    def without_objects(self, names: Iterable[str]) -> TopicManifest:
        dropped = set(names)
        return replace(self, objects=tuple(entry for entry in self.objects if entry.name not in dropped))

    def objects_of(self, partition: int) -> list[ObjectEntry]:
        return [entry for entry in self.objects if entry.partition == partition]

    def snapshot_at(self, until_ms: int | None) -> GroupSnapshot | None:
        """The latest group snapshot taken at or before ``until_ms`` (None: the latest)."""
        eligible = [s for s in self.group_snapshots if until_ms is None or s.taken_at_ms <= until_ms]
        return eligible[-1] if eligible else None


def _same_groups(first: GroupSnapshot, second: GroupSnapshot) -> bool:
    return {g: dict(o) for g, o in first.groups.items()} == {g: dict(o) for g, o in second.groups.items()}


# ---- JSON ---------------------------------------------------------------------------------------


def encode_manifest(manifest: TopicManifest) -> bytes:
    document = {
        "version": MANIFEST_VERSION,
        "topic": manifest.topic,
        "partitions": manifest.partitions,
        "configs": dict(sorted(manifest.configs.items())),
        "next_offsets": {str(p): o for p, o in sorted(manifest.next_offsets.items())},
        "updated_at_ms": manifest.updated_at_ms,
        "objects": [
            {
                "name": e.name,
                "partition": e.partition,
                "first_offset": e.first_offset,
                "last_offset": e.last_offset,
                "records": e.records,
                "min_timestamp": e.min_timestamp,
                "max_timestamp": e.max_timestamp,
                "gaps": [list(gap) for gap in e.gaps],
                "size": e.size,
                "sha256": e.sha256,
                "format": e.format,
                "compression": e.compression,
            }
            for e in manifest.objects
        ],
        "group_snapshots": [
            {
                "taken_at_ms": s.taken_at_ms,
                "groups": {
                    group: {
                        str(partition): {"offset": position.offset, "metadata": position.metadata}
                        for partition, position in sorted(offsets.items())
                    }
                    for group, offsets in sorted(s.groups.items())
                },
            }
            for s in manifest.group_snapshots
        ],
    }
    return json.dumps(document, indent=1).encode("utf-8")


def decode_manifest(data: bytes) -> TopicManifest:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ManifestError(f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise ManifestError("not a manifest: JSON nested too deeply") from exc
    reader = _Reader(document, "manifest")
    version = reader.integer("version")
    if version != MANIFEST_VERSION:
        raise ManifestError(f"version: {version} is not supported (this mirror reads {MANIFEST_VERSION})")
    topic = reader.string("topic")
    try:
        check_topic(topic)
    except ValueError as exc:
        raise ManifestError(f"manifest.topic: {exc}") from exc
    configs = reader.mapping("configs")
    return TopicManifest(
        topic=topic,
        partitions=_bounded(reader.integer("partitions"), "manifest.partitions", 0, MAX_PARTITIONS),
        configs={str(k): _text(v, f"configs.{k}") for k, v in configs.items()},
        next_offsets={
            _partition(k, "next_offsets"): _offset(v, f"next_offsets.{k}")
            for k, v in reader.mapping("next_offsets").items()
        },
        objects=tuple(_object(item, index, topic) for index, item in enumerate(reader.sequence("objects"))),
        group_snapshots=tuple(
            _snapshot(item, index) for index, item in enumerate(reader.sequence("group_snapshots"))
        ),
        updated_at_ms=_bounded(reader.integer("updated_at_ms"), "manifest.updated_at_ms", *_INT64),
    )


class _Reader:
    def __init__(self, document: object, where: str) -> None:
        if not isinstance(document, dict):
            raise ManifestError(f"{where}: expected a JSON object")
        self.document: dict[str, Any] = document
        self.where = where

    def _get(self, name: str) -> object:
        if name not in self.document:
            raise ManifestError(f"{self.where}.{name}: missing")
        return self.document[name]

    def integer(self, name: str) -> int:
        return _count(self._get(name), f"{self.where}.{name}", allow_negative=True)

    def string(self, name: str) -> str:
        return _text(self._get(name), f"{self.where}.{name}")

    def mapping(self, name: str) -> dict[str, Any]:
        value = self._get(name)
        if not isinstance(value, dict):
            raise ManifestError(f"{self.where}.{name}: expected a JSON object")
        return value

    def sequence(self, name: str) -> list[Any]:
        value = self._get(name)
        if not isinstance(value, list):
            raise ManifestError(f"{self.where}.{name}: expected a list")
        return value


def _count(value: object, where: str, *, allow_negative: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or (value < 0 and not allow_negative):
        raise ManifestError(f"{where}: expected a {'' if allow_negative else 'non-negative '}integer")
    return value


def _bounded(value: int, where: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ManifestError(f"{where}: {value} is outside {low}..{high}")
    return value


def _offset(value: object, where: str) -> int:
    return _bounded(_count(value, where), where, 0, MAX_OFFSET)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{where}: expected a string")
    return value


def _partition(key: str, where: str) -> int:
    if not (key.isascii() and key.isdigit()) or int(key) >= MAX_PARTITIONS:
        raise ManifestError(f"{where}: {key!r} is not a partition number below {MAX_PARTITIONS}")
    return int(key)


def _object(item: object, index: int, topic: str) -> ObjectEntry:
    where = f"objects[{index}]"
    reader = _Reader(item, where)
    gaps = []
    for gap_index, gap in enumerate(reader.sequence("gaps")):
        if not isinstance(gap, list) or len(gap) != 2:
            raise ManifestError(f"{where}.gaps[{gap_index}]: expected [first, last]")
        gaps.append(
            (_offset(gap[0], f"{where}.gaps[{gap_index}]"), _offset(gap[1], f"{where}.gaps[{gap_index}]"))
        )
    entry = ObjectEntry(
        name=reader.string("name"),
        partition=_bounded(reader.integer("partition"), f"{where}.partition", 0, MAX_PARTITIONS - 1),
        first_offset=_offset(reader.integer("first_offset"), f"{where}.first_offset"),
        last_offset=_offset(reader.integer("last_offset"), f"{where}.last_offset"),
        records=_bounded(reader.integer("records"), f"{where}.records", 1, MAX_OFFSET),
        min_timestamp=_bounded(reader.integer("min_timestamp"), f"{where}.min_timestamp", *_INT64),
        max_timestamp=_bounded(reader.integer("max_timestamp"), f"{where}.max_timestamp", *_INT64),
        gaps=tuple(gaps),
        size=_bounded(reader.integer("size"), f"{where}.size", 1, MAX_OFFSET),
        sha256=reader.string("sha256"),
        format=reader.string("format"),
        compression=reader.string("compression"),
    )
    if entry.format not in FORMATS or entry.compression not in COMPRESSIONS:
        raise ManifestError(f"{where}: unknown format {entry.format!r}/{entry.compression!r}")
    if entry.last_offset < entry.first_offset:
        raise ManifestError(f"{where}: last_offset is before first_offset")
    if entry.records > entry.last_offset - entry.first_offset + 1:
        raise ManifestError(
            f"{where}.records: {entry.records} records do not fit in offsets "
            f"{entry.first_offset}..{entry.last_offset}"
        )
    if any(not entry.first_offset < first <= last < entry.last_offset for first, last in entry.gaps):
        raise ManifestError(f"{where}.gaps: a gap must lie inside {entry.first_offset}..{entry.last_offset}")
    expected = object_name(
        topic, entry.partition, entry.first_offset, extension(entry.format, entry.compression)
    )
    if entry.name != expected:
        raise ManifestError(
            f"{where}.name: {entry.name!r} is not where the layout keeps this object ({expected!r})"
        )
    return entry


def _snapshot(item: object, index: int) -> GroupSnapshot:
    reader = _Reader(item, f"group_snapshots[{index}]")
    groups: dict[str, dict[int, GroupOffset]] = {}
    for group, offsets in reader.mapping("groups").items():
        where = f"group_snapshots[{index}].groups.{group}"
        if not isinstance(offsets, dict):
            raise ManifestError(f"{where}: expected a JSON object")
        parsed: dict[int, GroupOffset] = {}
        for partition, position in offsets.items():
            entry = _Reader(position, f"{where}.{partition}")
            parsed[_partition(partition, where)] = GroupOffset(
                _offset(entry.integer("offset"), f"{where}.{partition}.offset"), entry.string("metadata")
            )
        groups[group] = parsed
    taken_at_ms = _bounded(reader.integer("taken_at_ms"), f"group_snapshots[{index}].taken_at_ms", *_INT64)
    return GroupSnapshot(taken_at_ms, groups)
