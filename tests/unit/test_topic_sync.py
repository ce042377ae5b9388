"""Topic-config sync decisions and MM2's task partition layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.topic_sync import (
    ConfigEntryInfo,
    config_changes,
    configs_for_new_topic,
    format_assigned_partitions,
    parse_assigned_partitions,
    split_round_robin,
)


def entry(
    value: str | None, *, default: bool = False, dynamic: bool = False, **flags: bool
) -> ConfigEntryInfo:
    return ConfigEntryInfo(
        value=value,
        is_default=default,
        is_dynamic_topic_config=dynamic,
        read_only=flags.get("read_only", False),
        sensitive=flags.get("sensitive", False),
        from_static_broker_config=flags.get("static", False),
    )


def never(_: str) -> bool:
    return False


def excluded(name: str) -> bool:
    return name == "min.insync.replicas"


def test_new_topic_gets_only_non_default_syncable_configs() -> None:
    source = {
        "cleanup.policy": entry("compact", dynamic=True),
        "retention.ms": entry("604800000", default=True),
        "min.insync.replicas": entry("2", dynamic=True),
        "message.format.version": entry("3.0", read_only=True),
        "secret.thing": entry("x", dynamic=True, sensitive=True),
        "log.dir.ish": entry("y", static=True),
    }
    assert configs_for_new_topic(source, excluded) == {"cleanup.policy": "compact"}


def test_changes_set_differences_and_delete_overrides_of_source_defaults() -> None:
    source = {
        "cleanup.policy": entry("compact", dynamic=True),
        "retention.ms": entry("604800000", default=True),
        "segment.bytes": entry("1000", dynamic=True),
    }
    target = {
        "cleanup.policy": entry("compact", dynamic=True),
        "retention.ms": entry("1000", dynamic=True),
        "segment.bytes": entry("2000", dynamic=True),
    }
    assert config_changes(source, target, never) == {"retention.ms": None, "segment.bytes": "1000"}


def test_use_defaults_from_source_copies_default_values() -> None:
    source = {"retention.ms": entry("604800000", default=True)}
    target = {"retention.ms": entry("1000", dynamic=True)}
    assert config_changes(source, target, never, "source") == {"retention.ms": "604800000"}


def test_synced_topic_needs_no_change() -> None:
    source = {"cleanup.policy": entry("compact", dynamic=True), "retention.ms": entry("1", default=True)}
    target = {"cleanup.policy": entry("compact", dynamic=True), "retention.ms": entry("1", default=True)}
    assert config_changes(source, target, never) == {}


def test_round_robin_matches_mm2() -> None:
    partitions = [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)]
    assert split_round_robin(partitions, 2) == [[("a", 0), ("a", 2), ("b", 1)], [("a", 1), ("b", 0)]]
    assert split_round_robin(partitions, 9) == [[p] for p in partitions]
    assert split_round_robin([], 3) == []


def test_assigned_partitions_split_on_last_dash() -> None:
    assert parse_assigned_partitions("my-topic-12,x-0") == [("my-topic", 12), ("x", 0)]
    with pytest.raises(ValueError, match=r"task\.assigned\.partitions"):
        parse_assigned_partitions("nodash")


@given(
    st.lists(
        st.tuples(st.from_regex(r"[a-zA-Z0-9._-]{1,40}", fullmatch=True), st.integers(0, 10_000)),
        max_size=50,
    ),
    st.integers(1, 20),
)
def test_layout_round_trips_and_covers_every_partition(
    partitions: list[tuple[str, int]], max_tasks: int
) -> None:
    buckets = split_round_robin(partitions, max_tasks)
    assert len(buckets) == min(max_tasks, len(partitions))
    assert sorted(p for bucket in buckets for p in bucket) == sorted(partitions)
    for bucket in buckets:
        assert parse_assigned_partitions(format_assigned_partitions(bucket)) == bucket
