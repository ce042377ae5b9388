"""Backup manifests and object keys: JSON round trip, merging, snapshots, refusals that name the field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.s3_source import restore_configs
from mirror.formats.backup.layout import (
    manifest_key,
    normalise_prefix,
    object_name,
    parse_object_name,
)
from mirror.formats.backup.manifest import (
    GroupOffset,
    GroupSnapshot,
    ManifestError,
    ObjectEntry,
    TopicManifest,
    decode_manifest,
    encode_manifest,
)
from mirror.formats.backup.records import RecordColumns


def entry(partition: int, first: int, last: int, *, min_ts: int = 0, max_ts: int = 0) -> ObjectEntry:
    return ObjectEntry(
        name=object_name("orders", partition, first, "jsonl.zst"),
        partition=partition,
        first_offset=first,
        last_offset=last,
        records=last - first + 1,
        min_timestamp=min_ts,
        max_timestamp=max_ts,
        gaps=(),
        size=10,
        sha256="ab" * 32,
        format="jsonl",
        compression="zstd",
    )


entries = st.builds(
    # Offset f, then a gap of g offsets (compaction, markers), then n more records, as the sink writes.
    lambda p, f, g, n: ObjectEntry(
        object_name("t.x-1", p, f, "parquet"),
        p,
        f,
        f + g + n,
        n + 1,
        -1,
        2**50,
        ((f + 1, f + g),) if g else (),
        n * 3 + 1,
        "0" * 64,
        "parquet",
        "gzip",
    ),
    st.integers(0, 100),
    st.integers(0, 2**62),
    st.integers(0, 5),
    st.integers(1, 1000),
)
snapshots = st.builds(
    GroupSnapshot,
    st.integers(0, 2**45),
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.dictionaries(
            st.integers(0, 50), st.builds(GroupOffset, st.integers(0, 2**40), st.text(max_size=5))
        ),
        max_size=3,
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    objects=st.lists(entries, max_size=5),
    configs=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=3),
    next_offsets=st.dictionaries(st.integers(0, 100), st.integers(0, 2**62), max_size=3),
    group_snapshots=st.lists(snapshots, max_size=3),
)
def test_json_round_trip(
    objects: list[ObjectEntry],
    configs: dict[str, str],
    next_offsets: dict[int, int],
    group_snapshots: list[GroupSnapshot],
) -> None:
    manifest = TopicManifest("t.x-1", 7, configs, next_offsets, tuple(objects), tuple(group_snapshots), 12345)
    decoded = decode_manifest(encode_manifest(manifest))
    assert decoded.objects == manifest.objects
    assert dict(decoded.configs) == configs
    assert dict(decoded.next_offsets) == next_offsets
    assert [(s.taken_at_ms, {g: dict(o) for g, o in s.groups.items()}) for s in decoded.group_snapshots] == [
        (s.taken_at_ms, {g: dict(o) for g, o in s.groups.items()}) for s in group_snapshots
    ]
    assert (decoded.topic, decoded.partitions, decoded.updated_at_ms) == ("t.x-1", 7, 12345)


def test_with_objects_sorts_replaces_retried_keys_and_never_moves_back() -> None:
    manifest = TopicManifest("orders", 2).with_objects([entry(1, 0, 9), entry(0, 5, 9)], {0: 10, 1: 10}, 1)
    retried = entry(0, 5, 7)  # a retried upload of the same first offset replaces the entry
    manifest = manifest.with_objects([retried, entry(0, 0, 4)], {0: 8}, 2)
    assert [(e.partition, e.first_offset, e.last_offset) for e in manifest.objects] == [
        (0, 0, 4),
        (0, 5, 7),
        (1, 0, 9),
    ]
    assert dict(manifest.next_offsets) == {0: 10, 1: 10}
    assert manifest.updated_at_ms == 2


def test_group_snapshots_skip_unchanged_keep_newest_and_answer_point_in_time() -> None:
    first = GroupSnapshot(100, {"g": {0: GroupOffset(5)}})
    same = GroupSnapshot(200, {"g": {0: GroupOffset(5)}})
    moved = GroupSnapshot(300, {"g": {0: GroupOffset(9)}})
    manifest = TopicManifest("orders", 1)
    for snapshot in (first, same, moved):
        manifest = manifest.with_group_snapshot(snapshot, keep=10)
    assert [s.taken_at_ms for s in manifest.group_snapshots] == [100, 300]
    assert manifest.snapshot_at(None) == moved
    assert manifest.snapshot_at(299) == first
    assert manifest.snapshot_at(99) is None
    assert [
        s.taken_at_ms for s in manifest.with_group_snapshot(GroupSnapshot(400, {}), keep=2).group_snapshots
    ] == [
        300,
        400,
    ]


def test_time_window_overlap() -> None:
    window = entry(0, 0, 1, min_ts=100, max_ts=200)
    assert window.overlaps_time(None, None)
    assert window.overlaps_time(200, None) and not window.overlaps_time(201, None)
    assert window.overlaps_time(None, 100) and not window.overlaps_time(None, 99)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("topic"), "manifest.topic: missing"),
        (lambda d: d.update(version=99), "version: 99 is not supported"),
        (lambda d: d["objects"][0].update(records="many"), r"objects\[0\].records"),
        (lambda d: d["objects"][0].update(format="csv"), "unknown format"),
        (lambda d: d["objects"][0].update(last_offset=0, first_offset=5), "last_offset is before"),
        (lambda d: d.update(next_offsets={"x": 1}), "not a partition number"),
        # Nothing a restore acts on is unbounded (it reads manifests anyone who can write the bucket wrote).
        (lambda d: d.update(partitions=-1), r"manifest.partitions: -1 is outside 0..100000"),
        (lambda d: d.update(partitions=10**9), r"manifest.partitions: 1000000000 is outside"),
        (lambda d: d.update(topic=".."), "manifest.topic: '..' is not a legal Kafka topic"),
        (lambda d: d.update(next_offsets={"0": 2**63}), r"next_offsets.0: 9223372036854775808 is outside"),
        (lambda d: d.update(next_offsets={"100000": 1}), "not a partition number below 100000"),
        (lambda d: d["objects"][0].update(last_offset=2**63), r"objects\[0\].last_offset: .* is outside"),
        (
            lambda d: d["objects"][0].update(records=5),
            r"objects\[0\].records: 5 records do not fit in offsets 0..3",
        ),
        (lambda d: d["objects"][0].update(records=0), r"objects\[0\].records: 0 is outside 1.."),
        (lambda d: d["objects"][0].update(size=0), r"objects\[0\].size: 0 is outside 1.."),
        (lambda d: d["objects"][0].update(size=2**64), r"objects\[0\].size: .* is outside"),
        (lambda d: d["objects"][0].update(gaps=[[0, 1]]), r"objects\[0\].gaps: a gap must lie inside 0..3"),
        (lambda d: d["objects"][0].update(min_timestamp=-(2**64)), r"objects\[0\].min_timestamp"),
        (
            lambda d: d["group_snapshots"].append(
                {"taken_at_ms": 1, "groups": {"g": {"0": {"offset": -5, "metadata": ""}}}}
            ),
            r"group_snapshots\[0\].groups.g.0.offset: expected a non-negative integer",
        ),
        (
            lambda d: d["group_snapshots"].append(
                {"taken_at_ms": 1, "groups": {"g": {"0": {"offset": 2**63, "metadata": ""}}}}
            ),
            r"group_snapshots\[0\].groups.g.0.offset: 9223372036854775808 is outside",
        ),
        # Object names must be the layout's key for the entry: nothing else is ever fetched.
        (
            lambda d: d["objects"][0].update(name="../../other-bucket/secret.jsonl"),
            r"objects\[0\].name: '../../other-bucket/secret.jsonl' is not where the layout keeps",
        ),
        (
            lambda d: d["objects"][0].update(name=object_name("payments", 0, 0, "jsonl.zst")),
            "is not where the layout",
        ),
        (
            lambda d: d["objects"][0].update(name=object_name("orders", 1, 0, "jsonl.zst")),
            "is not where the layout",
        ),
        (
            lambda d: d["objects"][0].update(name=object_name("orders", 0, 1, "jsonl.zst")),
            "is not where the layout",
        ),
        (
            lambda d: d["objects"][0].update(name=object_name("orders", 0, 0, "jsonl.gz")),
            "is not where the layout",
        ),
        (lambda d: d["objects"][0].update(partition=1), "is not where the layout"),
    ],
)
def test_bad_manifests_name_the_field(mutate: object, message: str) -> None:
    document = json.loads(
        encode_manifest(TopicManifest("orders", 1).with_objects([entry(0, 0, 3)], {0: 4}, 1))
    )
    assert callable(mutate)
    mutate(document)
    with pytest.raises(ManifestError, match=message):
        decode_manifest(json.dumps(document).encode())


def test_not_json_is_refused() -> None:
    with pytest.raises(ManifestError, match="not JSON"):
        decode_manifest(b"{")


def test_keys_sort_in_offset_order_and_parse_back() -> None:
    names = [object_name("orders", p, o, "parquet") for p, o in [(0, 10), (0, 9), (1, 0), (0, 100)]]
    assert sorted(names) == [
        object_name("orders", 0, 9, "parquet"),
        object_name("orders", 0, 10, "parquet"),
        object_name("orders", 0, 100, "parquet"),
        object_name("orders", 1, 0, "parquet"),
    ]
    parsed = parse_object_name(object_name("a.b_c-d", 12, 2**62, "jsonl.gz"))
    assert parsed is not None
    assert (parsed.topic, parsed.partition, parsed.first_offset, parsed.extension) == (
        "a.b_c-d",
        12,
        2**62,
        "jsonl.gz",
    )
    assert parse_object_name("topics/orders/manifest.json") is None
    assert manifest_key("backups/x/", "orders") == "backups/x/topics/orders/manifest.json"
    assert normalise_prefix("/a/b/") == "a/b/" and normalise_prefix("") == ""
    with pytest.raises(ValueError, match="legal Kafka topic"):
        object_name("bad/topic", 0, 0, "jsonl")


def test_a_deeply_nested_manifest_is_a_manifest_error_not_a_recursion_error() -> None:
    with pytest.raises(ManifestError, match="nested too deeply"):
        decode_manifest(b"[" * 200_000 + b"]" * 200_000)


def columns_of(partition: int, offsets: list[int]) -> RecordColumns:
    count = len(offsets)
    return RecordColumns(
        partition, offsets, [1] * count, [0] * count, [None] * count, [None] * count, [[]] * count
    )


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        (columns_of(0, [0, 1, 2, 3]), None),
        (columns_of(0, [0, 1, 3]), "holds 3 records, the manifest says 4"),
        (columns_of(1, [0, 1, 2, 3]), "holds records of partition 1, the manifest says 0"),
        (columns_of(0, [1, 2, 3, 4]), "holds offsets 1..4, the manifest says 0..3"),
        (columns_of(0, [0, 2, 1, 3]), "holds offsets out of order"),
        (columns_of(0, [0, 1, 1, 3]), "holds offsets out of order"),
    ],
)
def test_an_object_must_hold_what_its_entry_says(columns: RecordColumns, problem: str | None) -> None:
    assert entry(0, 0, 3).mismatch(columns) == problem


def test_restore_applies_only_configs_on_its_list_and_never_a_shorter_retention() -> None:
    configs = {
        "cleanup.policy": "compact",
        "compression.type": "zstd",
        "max.message.bytes": "2097152",
        "message.timestamp.type": "LogAppendTime",
        "min.compaction.lag.ms": "10",
        "retention.ms": "1",
        "retention.bytes": "1",
        "segment.ms": "100",
        "min.insync.replicas": "3",
        "follower.replication.throttled.replicas": "*",
        "message.timestamp.before.max.ms": "1000",
    }
    applied, left_out = restore_configs(configs)
    assert applied == {
        "cleanup.policy": "compact",
        "compression.type": "zstd",
        "max.message.bytes": "2097152",
        "message.timestamp.type": "CreateTime",
        "min.compaction.lag.ms": "10",
    }
    assert left_out == [
        "follower.replication.throttled.replicas",
        "message.timestamp.before.max.ms",
        "min.insync.replicas",
        "retention.bytes",
        "retention.ms",
        "segment.ms",
    ]
    longer = {"retention.ms": "864000000000", "retention.bytes": "-1"}
    assert restore_configs(longer) == (longer, [])
    assert restore_configs({"retention.ms": "-1"}) == ({"retention.ms": "-1"}, [])
    assert restore_configs({"retention.ms": "86400000"}) == ({}, ["retention.ms"])
