"""Backup manifests and object keys: JSON round trip, merging, snapshots, refusals that name the field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    lambda p, f, n, gaps: ObjectEntry(
        object_name("t.x-1", p, f, "parquet"),
        p,
        f,
        f + n,
        n,
        -1,
        2**50,
        gaps,
        n * 3,
        "0" * 64,
        "parquet",
        "gzip",
    ),
    st.integers(0, 100),
    st.integers(0, 2**62),
    st.integers(0, 1000),
    st.lists(st.tuples(st.integers(0, 9), st.integers(10, 20)), max_size=3).map(tuple),
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
