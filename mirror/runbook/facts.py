"""What the failover and failback plans need to know, read from both clusters.

Everything here only reads; the decisions are in ``mirror.runbook.plan``. All Kafka access goes
through ``mirror.kafka`` (and the offsets store of ``mirror.runtime``, which uses it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from confluent_kafka import TopicPartition

from mirror.config.connectors import MirrorCheckpointConfig, MirrorHeartbeatConfig, MirrorSourceConfig
from mirror.config.mm2 import FlowConfig, MirrorMakerConfig
from mirror.formats.mm2_records import Checkpoint
from mirror.kafka import ClusterAdmin, GroupOffset, KafkaClientError, make_consumer
from mirror.kafka.mm2_topics import latest_checkpoints, newest_heartbeat_ms, read_offset_maps
from mirror.runbook.plan import (
    Direction,
    Facts,
    GroupFacts,
    PartitionFacts,
    Preflight,
    Resolved,
    from_translation,
    reverse_translate,
)

log = logging.getLogger("mirror.runbook")

REACHABILITY_TIMEOUT_S = 5.0
"""A cluster that does not list its topics this fast is treated as down: the operator is waiting."""
OBSERVATION_WINDOW_S = 2.0
"""How long to watch the flow's progress on the destination to tell whether it still runs."""
TAIL_READ_TIMEOUT_S = 5.0
"""Budget for counting unreplicated records; a longer tail is reported as an offset range."""


@dataclass(frozen=True)
class Request:
    config: MirrorMakerConfig
    direction: Direction
    from_cluster: str
    to_cluster: str
    groups: re.Pattern[str] | None
    """Only groups whose whole name matches (in addition to the flow's groups filter)."""
    observation_window_s: float = OBSERVATION_WINDOW_S


@dataclass(frozen=True)
class Clients:
    """Admin clients of the two ends, made by :func:`gather`; the runner writes through them."""

    from_admin: ClusterAdmin
    to_admin: ClusterAdmin

    def close(self) -> None:
        self.from_admin.close()
        self.to_admin.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _age_s(timestamp_ms: int | None, now_ms: int) -> float | None:
    return None if timestamp_ms is None else max(0.0, (now_ms - timestamp_ms) / 1000)


def answers(settings: Mapping[str, str], name: str) -> bool:
    probe = ClusterAdmin(settings, name, REACHABILITY_TIMEOUT_S)
    try:
        probe.cluster_id()
    except KafkaClientError as exc:
        log.warning("cluster does not answer", extra={"client": name, "error": str(exc)})
        return False
    finally:
        probe.close()
    return True


def _latest_checkpoints(
    checkpoint: MirrorCheckpointConfig, name: str, timeout_s: float
) -> tuple[dict[tuple[str, str, int], Checkpoint], dict[str, int]]:
    """Latest checkpoint per (group, remote topic, partition), and each group's newest record time."""
    latest = latest_checkpoints(
        checkpoint.target_consumer.librdkafka, checkpoint.checkpoints_topic, name, timeout_s, missing_ok=True
    )
    written_ms: dict[str, int] = {}
    for (group, _, _), point in latest.items():
        written_ms[group] = max(written_ms.get(group, point.written_ms), point.written_ms)
    return {key: point.checkpoint for key, point in latest.items()}, written_ms


def _flow_progress(flow: FlowConfig, source: MirrorSourceConfig) -> dict[tuple[str, int], int]:
    """The flow's last replicated source offset per partition, as stored on its target."""
    # Imported here: mirror.lag_probe pulls in mirror.standalone and the connectors, which only this needs.
    from mirror.lag_probe import flow_progress  # noqa: PLC0415

    return flow_progress(flow, source.name)


@dataclass(frozen=True)
class _Tail:
    """What the origin holds after the last replicated record of one partition."""

    records: int | None
    """Committed records counted to the end offset; None if the end was not reached in time."""
    oldest_ms: int | None


_NOTHING_READ = _Tail(None, None)


def _unreplicated_tails(
    source: MirrorSourceConfig,
    first_unreplicated: Mapping[tuple[str, int], int],
    end_offsets: Mapping[tuple[str, int], int],
    name: str,
) -> dict[tuple[str, int], _Tail]:
    """Counts the committed records the destination lacks (markers are not records), within a budget."""
    if not first_unreplicated:
        return {}
    consumer, watch = make_consumer(source.source_consumer.librdkafka, name)
    counts = dict.fromkeys(first_unreplicated, 0)
    oldest: dict[tuple[str, int], int] = {}
    pending = set(first_unreplicated)
    try:
        consumer.assign(
            [TopicPartition(topic, p, offset) for (topic, p), offset in first_unreplicated.items()]
        )
        deadline = time.monotonic() + TAIL_READ_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            watch.raise_if_fatal()
            for message in consumer.consume(10_000, 0.5):
                topic, partition = message.topic(), message.partition()
                if message.error() is not None or topic is None or partition is None:
                    continue
                counts[(topic, partition)] += 1
                oldest.setdefault((topic, partition), int(message.timestamp()[1]))
            # By position, as read_to_end does: a trailing transaction marker is never delivered.
            for tp in consumer.position([TopicPartition(topic, p) for topic, p in pending]):
                if tp.offset >= end_offsets[(tp.topic, tp.partition)]:
                    pending.discard((tp.topic, tp.partition))
    finally:
        consumer.close()
    return {tp: _Tail(None if tp in pending else count, oldest.get(tp)) for tp, count in counts.items()}


def _selected(group: str, request: Request, group_filter: Callable[[str], bool]) -> bool:
    return group_filter(group) and (request.groups is None or request.groups.fullmatch(group) is not None)


def _selected_groups_offsets(
    request: Request, clients: Clients, checkpoint: MirrorCheckpointConfig, keep_topic: Callable[[str], bool]
) -> dict[str, dict[tuple[str, int], GroupOffset]]:
    """Committed offsets on the from-cluster of each selected group, on the topics ``keep_topic``
    admits; groups with none of those are left out."""
    committed = {}
    listed = clients.from_admin.offsets_of_listed_groups(
        lambda group: _selected(group, request, checkpoint.group_filter.accepts)
    )
    for group, offsets in listed.items():
        kept = {tp: position for tp, position in offsets.items() if keep_topic(tp[0])}
        if kept:
            committed[group] = kept
    return committed


def gather(request: Request) -> tuple[Facts, Clients | None]:
    if request.direction == "failover":
        return _gather_failover(request)
    return _gather_failback(request)


def _unreachable_destination(request: Request, from_reachable: bool) -> Facts:
    preflight = Preflight(from_reachable, False, None, None, None, to_reachable=False)
    return Facts(request.direction, request.from_cluster, request.to_cluster, _now_ms(), preflight, ())


@dataclass(frozen=True)
class _FlowObservation:
    replicating: bool
    progress: Mapping[tuple[str, int], int]
    herder_heartbeat_ms: int | None
    replicated_heartbeat_ms: int | None


def _observe_flow(
    flow: FlowConfig, source: MirrorSourceConfig, checkpoint: MirrorCheckpointConfig, window_s: float
) -> _FlowObservation:
    """Is the flow still running? Its progress records or its herder's heartbeats move on B."""
    heartbeat = MirrorHeartbeatConfig.parse(flow.heartbeat_connector)
    settings = checkpoint.target_consumer.librdkafka
    timeout_s = checkpoint.admin_timeout_ms / 1000
    name = f"{flow.name}|failover|heartbeats"
    herder = (flow.source, flow.target)
    herder_before = newest_heartbeat_ms(settings, heartbeat.heartbeats_topic, name, timeout_s, herder)
    progress_before = _flow_progress(flow, source)
    if heartbeat.emit_heartbeats_enabled:
        # One heartbeat interval must fit in the window, or a running herder could look idle.
        window_s = max(window_s, heartbeat.emit_heartbeats_interval_s + 1.0)
    time.sleep(window_s)
    progress = _flow_progress(flow, source)
    herder_after = newest_heartbeat_ms(settings, heartbeat.heartbeats_topic, name, timeout_s, herder)
    replicated = newest_heartbeat_ms(
        settings, source.remote_topic(heartbeat.heartbeats_topic), name, timeout_s
    )
    return _FlowObservation(
        progress != progress_before or herder_after != herder_before, progress, herder_after, replicated
    )


def _rows_from_groups(
    request: Request, clients: Clients, source: MirrorSourceConfig, checkpoint: MirrorCheckpointConfig
) -> dict[tuple[str, str, int], PartitionFacts]:
    """Each selected group's committed offsets on A, translated exactly with the flow's syncs."""
    committed = _selected_groups_offsets(request, clients, checkpoint, source.should_replicate_topic)
    if not committed:
        return {}
    syncs = read_offset_maps(
        checkpoint,
        f"{request.from_cluster}->{request.to_cluster}|failover|offset-syncs",
        checkpoint.admin_timeout_ms / 1000,
    )
    return {
        (group, topic, partition): PartitionFacts(
            topic,
            source.remote_topic(topic),
            partition,
            position.offset,
            from_translation(syncs.translate(topic, partition, position.offset)),
            None,
            position.metadata,
        )
        for group, offsets in committed.items()
        for (topic, partition), position in offsets.items()
    }


def _rows_from_checkpoints(
    request: Request,
    source: MirrorSourceConfig,
    checkpoint: MirrorCheckpointConfig,
    checkpoints: Mapping[tuple[str, str, int], Checkpoint],
) -> dict[tuple[str, str, int], PartitionFacts]:
    """A is gone: the checkpoints on B are the last word on where each group was."""
    rows = {}
    for (group, remote, partition), point in checkpoints.items():
        if not _selected(group, request, checkpoint.group_filter.accepts):
            continue
        topic = source.policy.upstream_topic(remote) or remote
        rows[(group, topic, partition)] = PartitionFacts(
            topic,
            remote,
            partition,
            point.upstream_offset,
            Resolved(point.downstream_offset, "from-checkpoint"),
            None,
            point.metadata,
        )
    return rows


def _rpo_inputs(
    clients: Clients,
    source: MirrorSourceConfig,
    partitions: list[tuple[str, int]],
    progress: Mapping[tuple[str, int], int],
    name: str,
) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], _Tail]]:
    """End offsets on the origin, and what it holds that the destination lacks."""
    end_offsets = clients.from_admin.end_offsets(partitions)
    first_unreplicated = {
        tp: progress.get(tp, -1) + 1 for tp in partitions if end_offsets.get(tp, 0) > progress.get(tp, -1) + 1
    }
    return end_offsets, _unreplicated_tails(source, first_unreplicated, end_offsets, name)


def _group_facts(
    clients: Clients,
    resolutions: Mapping[tuple[str, str, int], PartitionFacts],
    end_offsets: Mapping[tuple[str, int], int],
    progress: Mapping[tuple[str, int], int],
    tails: Mapping[tuple[str, int], _Tail],
) -> tuple[GroupFacts, ...]:
    """Completes each row with the group's state and position on the destination and the RPO inputs."""
    groups = sorted({group for group, _topic, _partition in resolutions})
    states = clients.to_admin.group_states(groups)
    positions = clients.to_admin.offsets_of_groups(groups)
    facts = []
    for group in groups:
        current = positions[group]
        rows = []
        for (owner, topic, partition), row in sorted(resolutions.items()):
            if owner != group:
                continue
            position = current.get((row.to_topic, partition))
            tail = tails.get((topic, partition), _NOTHING_READ)
            rows.append(
                replace(
                    row,
                    current_to_offset=None if position is None else position.offset,
                    source_end_offset=end_offsets.get((topic, partition)),
                    last_replicated_offset=progress.get((topic, partition)),
                    oldest_unreplicated_timestamp_ms=tail.oldest_ms,
                    unreplicated_records=tail.records,
                )
            )
        facts.append(GroupFacts(group, states.get(group, "DEAD"), tuple(rows)))
    return tuple(facts)


def _partitions(resolutions: Mapping[tuple[str, str, int], PartitionFacts]) -> list[tuple[str, int]]:
    return sorted({(topic, partition) for _group, topic, partition in resolutions})


@dataclass(frozen=True)
class _Flow:
    """The A->B flow a runbook works through, with its parsed connector configs."""

    flow: FlowConfig
    source: MirrorSourceConfig
    checkpoint: MirrorCheckpointConfig
    timeout_s: float
    client_prefix: str


def _flow(request: Request, source: str, target: str) -> _Flow:
    flow = request.config.flow(source, target)
    checkpoint = MirrorCheckpointConfig.parse(flow.checkpoint_connector)
    prefix = f"{request.from_cluster}->{request.to_cluster}|{request.direction}"
    return _Flow(flow, flow.source_config(), checkpoint, checkpoint.admin_timeout_ms / 1000, prefix)


def _newest_checkpoint_ms(groups: Sequence[GroupFacts], written_ms: Mapping[str, int]) -> int | None:
    return max((written_ms[g.group] for g in groups if g.group in written_ms), default=None)


def _gather_failover(request: Request) -> tuple[Facts, Clients | None]:
    a, b = request.from_cluster, request.to_cluster
    context = _flow(request, a, b)
    flow, source, checkpoint = context.flow, context.source, context.checkpoint
    timeout_s, prefix = context.timeout_s, context.client_prefix
    from_reachable = answers(checkpoint.source_admin.librdkafka, f"{prefix}|probe-{a}")
    if not answers(checkpoint.target_admin.librdkafka, f"{prefix}|probe-{b}"):
        return _unreachable_destination(request, from_reachable), None
    clients = Clients(
        ClusterAdmin(checkpoint.source_admin.librdkafka, f"{prefix}|{a}-admin", timeout_s),
        ClusterAdmin(checkpoint.target_admin.librdkafka, f"{prefix}|{b}-admin", timeout_s),
    )
    observed = _observe_flow(flow, source, checkpoint, request.observation_window_s)
    checkpoints, checkpoint_written_ms = _latest_checkpoints(checkpoint, f"{prefix}|checkpoints", timeout_s)
    end_offsets: dict[tuple[str, int], int] = {}
    tails: dict[tuple[str, int], _Tail] = {}
    if from_reachable:
        resolutions = _rows_from_groups(request, clients, source, checkpoint)
        end_offsets, tails = _rpo_inputs(
            clients, source, _partitions(resolutions), observed.progress, f"{prefix}|oldest-unreplicated"
        )
    else:
        resolutions = _rows_from_checkpoints(request, source, checkpoint, checkpoints)
    groups = _group_facts(clients, resolutions, end_offsets, observed.progress, tails)

    now_ms = _now_ms()
    newest_checkpoint = _newest_checkpoint_ms(groups, checkpoint_written_ms)
    preflight = Preflight(
        from_reachable=from_reachable,
        flow_replicating=observed.replicating,
        heartbeat_age_s=_age_s(observed.herder_heartbeat_ms, now_ms),
        replicated_heartbeat_age_s=_age_s(observed.replicated_heartbeat_ms, now_ms),
        checkpoint_age_s=_age_s(newest_checkpoint, now_ms),
    )
    return Facts("failover", a, b, now_ms, preflight, groups), clients


def _rows_going_home(
    request: Request, clients: Clients, source: MirrorSourceConfig, checkpoint: MirrorCheckpointConfig
) -> dict[tuple[str, str, int], PartitionFacts]:
    """Groups on B consuming A's remote topics, mapped back with the A->B flow's syncs."""
    b, a = request.from_cluster, request.to_cluster
    policy = source.policy
    committed = _selected_groups_offsets(
        request,
        clients,
        checkpoint,
        lambda topic: policy.topic_source(topic) == a and bool(policy.upstream_topic(topic)),
    )
    if not committed:
        return {}
    syncs = read_offset_maps(
        checkpoint, f"{b}->{a}|failback|offset-syncs", checkpoint.admin_timeout_ms / 1000
    )
    rows = {}
    for group, offsets in committed.items():
        for (remote, partition), position in offsets.items():
            home = policy.upstream_topic(remote) or remote
            rows[(group, remote, partition)] = PartitionFacts(
                remote,
                home,
                partition,
                position.offset,
                reverse_translate(syncs.partition_map(home, partition), position.offset),
                None,
                position.metadata,
            )
    return rows


def _gather_failback(request: Request) -> tuple[Facts, Clients | None]:
    """Groups on B go home to A.

    Groups consuming A's remote topics on B (``A.orders``) resume on A's ``orders`` through the
    A->B flow's syncs read backwards. Groups consuming B's own topics resume on A's copies of
    them (``B.payments``) exactly as in a failover, through the B->A flow, when the file enables
    one; that flow is expected to be caught up, and a group ahead of it is marked
    beyond-replicated.
    """
    b, a = request.from_cluster, request.to_cluster
    context = _flow(request, a, b)
    source, checkpoint = context.source, context.checkpoint
    timeout_s, prefix = context.timeout_s, context.client_prefix
    from_reachable = answers(checkpoint.target_admin.librdkafka, f"{prefix}|probe-{b}")
    if not answers(checkpoint.source_admin.librdkafka, f"{prefix}|probe-{a}"):
        return _unreachable_destination(request, from_reachable), None
    if not from_reachable:
        preflight = Preflight(False, False, None, None, None, from_required=True)
        return Facts("failback", b, a, _now_ms(), preflight, ()), None
    clients = Clients(
        ClusterAdmin(checkpoint.target_admin.librdkafka, f"{prefix}|{b}-admin", timeout_s),
        ClusterAdmin(checkpoint.source_admin.librdkafka, f"{prefix}|{a}-admin", timeout_s),
    )
    back = next((f for f in request.config.flows if (f.source, f.target) == (b, a) and f.enabled), None)
    back_checkpoint = None if back is None else MirrorCheckpointConfig.parse(back.checkpoint_connector)
    resolutions = _rows_going_home(
        request, clients, source, checkpoint if back_checkpoint is None else back_checkpoint
    )
    end_offsets: dict[tuple[str, int], int] = {}
    tails: dict[tuple[str, int], _Tail] = {}
    progress: dict[tuple[str, int], int] = {}
    if back is not None and back_checkpoint is not None:
        back_source = back.source_config()
        own = _rows_from_groups(request, clients, back_source, back_checkpoint)
        progress = _flow_progress(back, back_source)
        end_offsets, tails = _rpo_inputs(
            clients, back_source, _partitions(own), progress, f"{prefix}|oldest-unreplicated"
        )
        resolutions.update(own)
    groups = _group_facts(clients, resolutions, end_offsets, progress, tails)
    _, checkpoint_written_ms = _latest_checkpoints(checkpoint, f"{prefix}|checkpoints", timeout_s)
    now_ms = _now_ms()
    newest_checkpoint = _newest_checkpoint_ms(groups, checkpoint_written_ms)
    preflight = Preflight(
        from_reachable=True,
        flow_replicating=False,
        heartbeat_age_s=None,
        replicated_heartbeat_age_s=None,
        checkpoint_age_s=_age_s(newest_checkpoint, now_ms),
        from_required=True,
    )
    return Facts("failback", b, a, now_ms, preflight, groups), clients
