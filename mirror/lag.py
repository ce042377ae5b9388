"""Replication lag and its history, computed from offsets and timestamps. Pure: no I/O, no clocks.

Lag of a flow's partition, as an operator asks it ("how far behind is the other cluster?"):

* records: source log-end offset minus the next source offset the flow will replicate. Records
  below the source's log-start offset are gone and no longer count. Transaction markers take
  offsets too, so on transactional topics this is an upper bound by the number of markers; when
  only markers (or aborted records) wait, a read proves it and the lag is 0.
* seconds: age of the oldest record not yet replicated (0 when nothing is waiting).

Lag of a consumer group, per partition it commits on a replicated topic: on the source, the
source log-end offset minus its committed offset; on the target, the remote topic's log-end
offset minus the group's translated offset (its newest checkpoint), which is where the group
would resume after a failover now. A checkpoint is *stale* while the group's commit on the source
has moved past what the checkpoint covers; its age is then the time since that checkpoint.

History keeps every sample per partition for a short while, then per-topic roll-ups (records
summed over partitions, seconds the maximum) at coarser steps, so a month for 10,000
partitions stays a few million rows (see :data:`TIERS`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


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
    only_markers_waiting: bool = False,
) -> PartitionLag:
    """``only_markers_waiting``: a read found no record between the next offset and the end, only
    transaction markers or aborted records, which are never replicated: nothing waits."""
    if source_start_offset < 0 or source_end_offset < source_start_offset:
        raise ValueError(
            f"bad watermarks [{source_start_offset}, {source_end_offset}) for {topic}-{partition}"
        )
    first_waiting = source_start_offset if next_offset is None else max(next_offset, source_start_offset)
    records = 0 if only_markers_waiting else max(0, source_end_offset - first_waiting)
    if records == 0:
        seconds: float | None = 0.0
    elif oldest_waiting_timestamp_ms is None:
        seconds = None
    else:
        seconds = max(0.0, (now_ms - oldest_waiting_timestamp_ms) / 1000)
    return PartitionLag(topic, partition, source_end_offset, next_offset, records, seconds)


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    """The source topic."""
    partition: int
    committed_offset: int
    """The group's committed offset on the source."""
    source_records: int
    """Source log-end offset minus the committed offset (0 at least)."""
    checkpoint_upstream_offset: int | None
    """The source offset the group's newest checkpoint translates; None without a checkpoint."""
    target_records: int | None
    """Remote topic's log-end offset minus the checkpoint's downstream offset; None without one."""
    checkpoint_age_s: float | None
    """0 while the checkpoint covers the committed offset; otherwise seconds since that checkpoint
    was written (None if there is none: never checkpointed)."""


def group_lag(
    group: str,
    topic: str,
    partition: int,
    *,
    committed_offset: int,
    source_end_offset: int,
    checkpoint: tuple[int, int, int] | None,
    target_end_offset: int | None,
    now_ms: int,
) -> GroupLag:
    """``checkpoint`` is (upstream offset, downstream offset, written at ms) of the group's newest."""
    source_records = max(0, source_end_offset - committed_offset)
    if checkpoint is None:
        return GroupLag(group, topic, partition, committed_offset, source_records, None, None, None)
    upstream, downstream, written_ms = checkpoint
    target_records = None if target_end_offset is None else max(0, target_end_offset - downstream)
    age = 0.0 if upstream >= committed_offset else max(0.0, (now_ms - written_ms) / 1000)
    return GroupLag(group, topic, partition, committed_offset, source_records, upstream, target_records, age)


@dataclass(frozen=True)
class FlowLag:
    """One sample of a flow: every replicated partition and every checkpointed group partition."""

    flow: str
    at_s: float
    """When it was sampled, seconds since the epoch."""
    partitions: tuple[PartitionLag, ...]
    groups: tuple[GroupLag, ...] = ()
    last_heartbeat_ms: int | None = None
    """When the newest heartbeat that reached the target was emitted on the source."""

    @property
    def records(self) -> int:
        return sum(lag.records for lag in self.partitions)

    @property
    def seconds(self) -> float | None:
        """Age of the oldest record waiting anywhere in the flow; None if some age is unknown."""
        ages = [lag.seconds for lag in self.partitions]
        if any(age is None for age in ages):
            return None
        return max((age for age in ages if age is not None), default=0.0)

    def heartbeat_age_s(self, now_s: float) -> float | None:
        return None if self.last_heartbeat_ms is None else max(0.0, now_s - self.last_heartbeat_ms / 1000)

    def checkpoint_age_s(self, group: str | None = None) -> float | None:
        """The stalest checkpoint of the group (or of every group); None if one was never written."""
        ages = [lag.checkpoint_age_s for lag in self.groups if group is None or lag.group == group]
        if any(age is None for age in ages):
            return None
        return max((age for age in ages if age is not None), default=0.0)

    def rpo_s(self, now_s: float) -> float | None:
        """What a failover now would lose, in time: the oldest waiting record's age, grown by the
        time since the sample; None if unknown (then heartbeat age is the best hint)."""
        seconds = self.seconds
        if seconds is None:
            return None
        return seconds + max(0.0, now_s - self.at_s) if self.records else 0.0

    def topics(self) -> dict[str, tuple[int, float | None]]:
        """Per source topic: records summed over partitions, the largest age (None if unknown)."""
        per_topic: dict[str, tuple[int, float | None]] = {}
        for lag in self.partitions:
            records, seconds = per_topic.get(lag.topic, (0, 0.0))
            worst = None if seconds is None or lag.seconds is None else max(seconds, lag.seconds)
            per_topic[lag.topic] = (records + lag.records, worst)
        return per_topic

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "at_s": self.at_s,
            "last_heartbeat_ms": self.last_heartbeat_ms,
            "partitions": [
                [p.topic, p.partition, p.source_end_offset, p.next_offset, p.records, p.seconds]
                for p in self.partitions
            ],
            "groups": [
                [
                    g.group,
                    g.topic,
                    g.partition,
                    g.committed_offset,
                    g.source_records,
                    g.checkpoint_upstream_offset,
                    g.target_records,
                    g.checkpoint_age_s,
                ]
                for g in self.groups
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowLag:
        """The inverse of :meth:`to_json`; raises ValueError naming what is malformed."""
        try:
            at_s = float(data["at_s"])
            if not math.isfinite(at_s):
                raise ValueError("at_s is not finite")
            return cls(
                flow=str(data["flow"]),
                at_s=at_s,
                partitions=tuple(PartitionLag(*row) for row in data["partitions"]),
                groups=tuple(GroupLag(*row) for row in data["groups"]),
                last_heartbeat_ms=data["last_heartbeat_ms"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed lag sample: {exc!r}") from None


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


@dataclass(frozen=True)
class ReadinessRules:
    """When a flow counts as ready to fail over; defaults an operator would start from."""

    max_rpo_s: float = 60.0
    max_heartbeat_age_s: float = 120.0
    max_checkpoint_age_s: float = 300.0
    max_sample_age_s: float = 60.0


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reasons: tuple[str, ...]
    """Why not (empty when ready); then notes that do not block, such as missing heartbeats."""


def failover_readiness(
    sample: FlowLag | None, now_s: float, rules: ReadinessRules = ReadinessRules()
) -> Readiness:
    """Could this flow fail over now without losing more than the rules allow?

    A flow whose heartbeats never reach the target is not blocked for that (a one-way flow has
    none unless the reverse pair emits them); it is said, as a note, since then only the lag
    sample vouches for the flow."""
    if sample is None:
        return Readiness(False, ("not sampled yet",))
    blocking: list[str] = []
    sample_age = now_s - sample.at_s
    if sample_age > rules.max_sample_age_s:
        blocking.append(f"lag last sampled {sample_age:.0f} s ago")
    rpo = sample.rpo_s(now_s)
    if rpo is None:
        blocking.append("lag age unknown")
    elif rpo > rules.max_rpo_s:
        blocking.append(f"RPO {rpo:.0f} s")
    heartbeat = sample.heartbeat_age_s(now_s)
    if heartbeat is not None and heartbeat > rules.max_heartbeat_age_s:
        blocking.append(f"heartbeat stale {heartbeat:.0f} s")
    never = sorted({lag.group for lag in sample.groups if lag.checkpoint_age_s is None})
    if never:
        blocking.append("never checkpointed: " + ", ".join(never))
    stale = sorted(
        {
            lag.group
            for lag in sample.groups
            if lag.checkpoint_age_s is not None and lag.checkpoint_age_s > rules.max_checkpoint_age_s
        }
    )
    if stale:
        blocking.append("checkpoint stale: " + ", ".join(stale))
    notes = ("no heartbeats reach the target",) if heartbeat is None else ()
    return Readiness(not blocking, (*blocking, *notes))
