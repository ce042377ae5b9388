"""Measures one flow's lag against its two clusters: the I/O behind ``mirror.lag``'s arithmetic.

A sample costs a fixed number of round trips, whatever the partition count:

* source: one metadata request, one ListOffsets for log-start and one for log-end offsets of
  every replicated partition, the committed offsets of each consumer group the flow checkpoints
  (one request per group, as the admin API allows, all in flight at once);
* target: the flow's progress (its source offsets, read from the offsets topic), one ListOffsets
  for the remote partitions that have checkpoints, the checkpoints topic, the newest heartbeat;
* only for partitions with records waiting: one consumer fetching the first waiting record of
  each, whose timestamp gives the lag in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from mirror.config.connectors import MirrorCheckpointConfig, MirrorSourceConfig
from mirror.config.mm2 import FlowConfig
from mirror.kafka import ClusterAdmin, KafkaClientError, first_records_at
from mirror.kafka.mm2_topics import latest_checkpoints, newest_heartbeat_ms
from mirror.lag import FlowLag, GroupLag, PartitionLag, group_lag, partition_lag
from mirror.runtime.contracts import SourcePartition
from mirror.runtime.offsets import OffsetStore
from mirror.standalone import offset_storage

DEFAULT_TIMEOUT_S = 10.0
_OLDEST_RECORD_WAIT_S = 5.0


@dataclass(frozen=True)
class FlowEnds:
    """What the probe needs to know of a flow: its MirrorSource and, if any, MirrorCheckpoint
    configs, and its committed progress (last replicated source offset per partition)."""

    name: str
    source: MirrorSourceConfig
    checkpoint: MirrorCheckpointConfig | None
    committed: Mapping[SourcePartition, int]


def measure(ends: FlowEnds, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> FlowLag:
    """One lag sample of the flow. Raises ``KafkaClientError`` when a cluster does not answer."""
    source = ends.source
    at_s = time.time()
    source_admin = ClusterAdmin(source.source_admin.librdkafka, f"{source.name}|lag-source-admin", timeout_s)
    target_admin = ClusterAdmin(source.target_admin.librdkafka, f"{source.name}|lag-target-admin", timeout_s)
    try:
        topics = {
            topic: count
            for topic, count in source_admin.topic_partitions().items()
            if source.should_replicate_topic(topic)
        }
        replicated = [(topic, p) for topic, count in sorted(topics.items()) for p in range(count)]
        starts = source_admin.start_offsets(replicated)
        ends_now = source_admin.end_offsets(replicated)
        partitions = _partition_lags(ends, replicated, starts, ends_now, timeout_s)
        groups: tuple[GroupLag, ...] = ()
        if ends.checkpoint is not None and ends.checkpoint.enabled:
            groups = _group_lags(
                ends.checkpoint,
                source,
                source_admin=source_admin,
                target_admin=target_admin,
                source_ends=ends_now,
                timeout_s=timeout_s,
            )
        heartbeat_ms = _newest_heartbeat_ms(source, timeout_s)
    finally:
        source_admin.close()
        target_admin.close()
    return FlowLag(ends.name, at_s, partitions, groups, heartbeat_ms)


def measure_mm2_flow(flow: FlowConfig, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> FlowLag:
    """One sample of an mm2.properties flow, as ``mirror run`` runs it (offsets where it keeps them)."""
    source = flow.source_config()
    committed = flow_progress(flow, source.name)
    checkpoint = MirrorCheckpointConfig.parse(flow.checkpoint_connector)
    return measure(FlowEnds(flow.name, source, checkpoint, committed), timeout_s=timeout_s)


def flow_progress(flow: FlowConfig, connector: str) -> dict[SourcePartition, int]:
    """The flow's last replicated source offset per partition, from the offsets topic where
    ``mirror run`` keeps it on the target; empty before the flow has replicated anything."""
    store = OffsetStore(offset_storage(flow.worker, flow.source), connector, flow.source)
    try:
        return store.read()
    except KafkaClientError as exc:
        if exc.code != "UNKNOWN_TOPIC":
            raise
        return {}


def _partition_lags(
    ends: FlowEnds,
    replicated: list[SourcePartition],
    starts: Mapping[SourcePartition, int],
    ends_now: Mapping[SourcePartition, int],
    timeout_s: float,
) -> tuple[PartitionLag, ...]:
    def next_offset(partition: SourcePartition) -> int | None:
        last = ends.committed.get(partition)
        return None if last is None else last + 1

    waiting = {
        partition: max(next_offset(partition) or 0, starts[partition])
        for partition in replicated
        if ends_now[partition] > max(next_offset(partition) or 0, starts[partition])
    }
    oldest, only_markers = first_records_at(
        ends.source.source_consumer.librdkafka,
        waiting,
        ends_now,
        f"{ends.source.name}|lag-oldest-records",
        min(timeout_s, _OLDEST_RECORD_WAIT_S),
    )
    now_ms = int(time.time() * 1000)
    lags = []
    for partition in replicated:
        record = oldest.get(partition)
        lags.append(
            partition_lag(
                partition[0],
                partition[1],
                source_start_offset=starts[partition],
                source_end_offset=ends_now[partition],
                next_offset=next_offset(partition),
                oldest_waiting_timestamp_ms=None if record is None else record.timestamp()[1],
                now_ms=now_ms,
                only_markers_waiting=partition in only_markers,
            )
        )
    return tuple(lags)


def _group_lags(
    checkpoint: MirrorCheckpointConfig,
    source: MirrorSourceConfig,
    *,
    source_admin: ClusterAdmin,
    target_admin: ClusterAdmin,
    source_ends: Mapping[SourcePartition, int],
    timeout_s: float,
) -> tuple[GroupLag, ...]:
    committed: dict[tuple[str, str, int], int] = {}
    for group, offsets in source_admin.offsets_of_listed_groups(checkpoint.group_filter.accepts).items():
        for (topic, partition), position in offsets.items():
            if (topic, partition) in source_ends:
                committed[(group, topic, partition)] = position.offset
    if not committed:
        return ()
    topics = {topic for topic, _ in source_ends}
    checkpoints = _newest_checkpoints(checkpoint, source, topics, timeout_s)
    remote = {
        (source.remote_topic(topic), partition)
        for (group, topic, partition) in committed
        if (group, topic, partition) in checkpoints
    }
    target_ends = target_admin.end_offsets(remote)
    now_ms = int(time.time() * 1000)
    return tuple(
        group_lag(
            group,
            topic,
            partition,
            committed_offset=offset,
            source_end_offset=source_ends[(topic, partition)],
            checkpoint=checkpoints.get((group, topic, partition)),
            target_end_offset=target_ends.get((source.remote_topic(topic), partition)),
            now_ms=now_ms,
        )
        for (group, topic, partition), offset in sorted(committed.items())
    )


def _newest_checkpoints(
    checkpoint: MirrorCheckpointConfig, source: MirrorSourceConfig, topics: set[str], timeout_s: float
) -> dict[tuple[str, str, int], tuple[int, int, int]]:
    """Per (group, source topic, partition): (upstream, downstream, written at ms) of the newest."""
    upstream_topic = {source.remote_topic(topic): topic for topic in topics}
    latest = latest_checkpoints(
        checkpoint.target_consumer.librdkafka,
        checkpoint.checkpoints_topic,
        f"{checkpoint.name}|lag-checkpoints",
        timeout_s,
        missing_ok=True,  # no checkpoint written yet
    )
    return {
        (group, upstream_topic.get(remote, remote), partition): (
            point.checkpoint.upstream_offset,
            point.checkpoint.downstream_offset,
            point.written_ms,
        )
        for (group, remote, partition), point in latest.items()
    }


def _newest_heartbeat_ms(source: MirrorSourceConfig, timeout_s: float) -> int | None:
    """Emit time of the newest heartbeat in the target's copy of the source's heartbeats topic."""
    return newest_heartbeat_ms(
        source.target_admin.librdkafka,
        source.remote_topic(source.policy.heartbeats_topic()),
        f"{source.name}|lag-heartbeats",
        timeout_s,
    )
