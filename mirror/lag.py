"""Replication lag and its history, computed from offsets and timestamps. Pure: no I/O, no clocks.

Lag of a flow's partition, as an operator asks it ("how far behind is the other cluster?"):

* records: source log-end offset minus the next source offset the flow will replicate. Records
  below the source's log-start offset are gone and no longer count. Transaction markers take
  offsets too, so on transactional topics this is an upper bound by the number of markers.
* seconds: age of the oldest record not yet replicated (0 when nothing is waiting).

History keeps every sample per partition for a short while, then per-topic roll-ups (records
summed over partitions, seconds the maximum) at coarser steps, so a month for 10,000
partitions stays a few million rows (see :data:`TIERS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    source_end_offset: int
    next_offset: int | None
    """The next source offset to replicate; None if the flow has replicated nothing here yet."""
    records: int
    seconds: float | None
    """None when records wait but their age is unknown (the oldest could not be read)."""


def partition_lag(
    topic: str,
    partition: int,
    *,
    source_start_offset: int,
    source_end_offset: int,
    next_offset: int | None,
    oldest_waiting_timestamp_ms: int | None,
    now_ms: int,
) -> PartitionLag:
    if source_start_offset < 0 or source_end_offset < source_start_offset:
        raise ValueError(
            f"bad watermarks [{source_start_offset}, {source_end_offset}) for {topic}-{partition}"
        )
    first_waiting = source_start_offset if next_offset is None else max(next_offset, source_start_offset)
    records = max(0, source_end_offset - first_waiting)
    if records == 0:
        seconds: float | None = 0.0
    elif oldest_waiting_timestamp_ms is None:
        seconds = None
    else:
        seconds = max(0.0, (now_ms - oldest_waiting_timestamp_ms) / 1000)
    return PartitionLag(topic, partition, source_end_offset, next_offset, records, seconds)


@dataclass(frozen=True)
class Tier:
    name: str
    step_s: int
    """Width of one stored bucket; 0 keeps every sample."""
    keep_s: int
    per_partition: bool


TIERS: tuple[Tier, ...] = (
    Tier("raw", 0, 15 * 60, per_partition=True),
    Tier("minute", 60, 24 * 3600, per_partition=False),
    Tier("quarter-hour", 15 * 60, 31 * 24 * 3600, per_partition=False),
)


@dataclass(frozen=True)
class LagPoint:
    """One stored value: a sample (``raw``) or a roll-up over ``[at_s, at_s + step)``."""

    flow: str
    topic: str
    partition: int | None
    """None for a per-topic roll-up."""
    at_s: int
    records: int
    seconds: float | None


def bucket_start(at_s: int, step_s: int) -> int:
    return at_s - at_s % step_s if step_s else at_s


def roll_up(points: Iterable[LagPoint], step_s: int) -> list[LagPoint]:
    """Per-topic roll-ups of samples: for each bucket, each partition's largest lag in it, summed
    over partitions for records; the largest age for seconds (unknown if any age was unknown)."""
    per_partition: dict[tuple[str, str, int, int | None], tuple[int, float | None, bool]] = {}
    for point in points:
        key = (point.flow, point.topic, bucket_start(point.at_s, step_s), point.partition)
        records, seconds, unknown = per_partition.get(key, (0, 0.0, False))
        unknown = unknown or point.seconds is None
        seconds = None if unknown else max(seconds or 0.0, point.seconds or 0.0)
        per_partition[key] = (max(records, point.records), seconds, unknown)
    per_topic: dict[tuple[str, str, int], tuple[int, float | None]] = {}
    for (flow, topic, at_s, _partition), (records, seconds, unknown) in per_partition.items():
        total, worst = per_topic.get((flow, topic, at_s), (0, 0.0))
        worst = None if unknown or worst is None else max(worst, seconds or 0.0)
        per_topic[(flow, topic, at_s)] = (total + records, worst)
    return [
        LagPoint(flow, topic, None, at_s, records, seconds)
        for (flow, topic, at_s), (records, seconds) in sorted(per_topic.items())
    ]


def expired_before(tier: Tier, now_s: int) -> int:
    """Points of ``tier`` older than this (seconds since the epoch) are deleted."""
    return now_s - tier.keep_s
