"""Which topic configs to copy to a remote topic, and how tasks split partitions. Pure.

MirrorMaker 2 rules (KIP-894, ``use.defaults.from=target``): a property set on the source
topic is set on the remote topic; a property left at its default on the source has any
override on the remote removed. Excluded, read-only, sensitive and static-broker properties
are never touched. Only differences are emitted, so a periodic sync of an already-synced
topic sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

TopicPartitionPair = tuple[str, int]


@dataclass(frozen=True)
class ConfigEntryInfo:
    """One topic config property as ``describe_configs`` reports it."""

    value: str | None
    is_default: bool
    is_dynamic_topic_config: bool
    read_only: bool
    sensitive: bool
    from_static_broker_config: bool


def syncable(name: str, entry: ConfigEntryInfo, excluded: Callable[[str], bool]) -> bool:
    return not (excluded(name) or entry.read_only or entry.sensitive or entry.from_static_broker_config)


def configs_for_new_topic(
    source: Mapping[str, ConfigEntryInfo], excluded: Callable[[str], bool]
) -> dict[str, str]:
    """Non-default source properties to set when the remote topic is created."""
    return {
        name: entry.value
        for name, entry in source.items()
        if entry.value is not None and not entry.is_default and syncable(name, entry, excluded)
    }


def config_changes(
    source: Mapping[str, ConfigEntryInfo],
    target: Mapping[str, ConfigEntryInfo],
    excluded: Callable[[str], bool],
    use_defaults_from: str = "target",
) -> dict[str, str | None]:
    """Incremental changes that make ``target`` follow ``source``; None means delete the override."""
    changes: dict[str, str | None] = {}
    for name, entry in source.items():
        if not syncable(name, entry, excluded):
            continue
        current = target.get(name)
        if entry.is_default and use_defaults_from == "target":
            if current is not None and current.is_dynamic_topic_config:
                changes[name] = None
            continue
        if entry.value is not None and (current is None or current.value != entry.value):
            changes[name] = entry.value
    return changes


def split_round_robin(
    partitions: Sequence[TopicPartitionPair], max_tasks: int
) -> list[list[TopicPartitionPair]]:
    """Deal partitions to ``min(max_tasks, len(partitions))`` tasks in order, as MM2 does."""
    count = min(max_tasks, len(partitions))
    buckets: list[list[TopicPartitionPair]] = [[] for _ in range(count)]
    for index, partition in enumerate(partitions):
        buckets[index % count].append(partition)
    return buckets


def format_assigned_partitions(partitions: Sequence[TopicPartitionPair]) -> str:
    """MM2's ``task.assigned.partitions`` value: ``topic-partition`` joined with commas."""
    return ",".join(f"{topic}-{partition}" for topic, partition in partitions)


def parse_assigned_partitions(value: str) -> list[TopicPartitionPair]:
    """Inverse of :func:`format_assigned_partitions`; the partition follows the *last* dash."""
    parsed: list[TopicPartitionPair] = []
    for raw_item in value.split(","):
        item = raw_item.strip()
        if not item:
            continue
        topic, dash, number = item.rpartition("-")
        if not dash or not topic or not number.isdigit():
            raise ValueError(f"task.assigned.partitions: {item!r} is not topic-partition")
        parsed.append((topic, int(number)))
    return parsed
