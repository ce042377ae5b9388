"""MirrorCheckpointConnector: consumer-group offsets translated exactly, as MM2 checkpoints.

The connector finds the source groups worth following; each task reads the flow's offset
syncs into an exact offset map (``mirror.translation``); task 0 persists the maps to
``mirror-offset-maps.<source>.<target>.internal`` on the target, so a restarted task resumes where it
stopped instead of replaying an offset-syncs topic that compaction has thinned. Every
``emit.checkpoints.interval.seconds`` writes, for each group and partition whose translated
position moved, a checkpoint in MM2's byte format to ``<source>.checkpoints.internal`` on the
target. With ``sync.group.offsets.enabled`` it also commits the translated offsets to the
target's groups, forward only, and only for groups with no active member there (the broker
would refuse the others; each skipped group is logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, Message, TopicPartition

from mirror.config.connectors import MirrorCheckpointConfig
from mirror.formats.mm2_records import (
    Checkpoint,
    encode_key,
    encode_value,
)
from mirror.formats.offset_maps import MapsCommitted, PartitionMap, encode_commit, encode_partition_map
from mirror.kafka import ClusterAdmin, GroupOffset, KafkaClientError, TopicSpec, make_consumer
from mirror.kafka.clients import ErrorWatch, watermarks
from mirror.kafka.mm2_topics import (
    apply_offset_syncs,
    latest_checkpoints,
    load_saved_offset_maps,
    resume_offset_maps,
)
from mirror.runtime.contracts import (
    Connector,
    ConnectorContext,
    SourceBatch,
    SourceTask,
    SourceTaskContext,
    TaskConfig,
)
from mirror.translation import BeyondReplicated, Exact, OffsetMapStore

log = logging.getLogger("connectors.mirror_checkpoint")

GROUPS_KEY = "task.assigned.groups"
_IDLE_GROUP_STATES = frozenset({"EMPTY", "DEAD", "UNKNOWN"})


def _admin(config: MirrorCheckpointConfig, side: str) -> ClusterAdmin:
    settings = config.source_admin if side == "source" else config.target_admin
    name = f"{config.source_alias}->{config.target_alias}|{config.name}|checkpoint-{side}-admin"
    return ClusterAdmin(settings.librdkafka, name, config.admin_timeout_ms / 1000)


class MirrorCheckpointConnector(Connector):
    def __init__(self) -> None:
        self._raw: Mapping[str, str] = {}
        self._config: MirrorCheckpointConfig | None = None
        self._context: ConnectorContext | None = None
        self._source_admin: ClusterAdmin | None = None
        self._groups: list[str] = []
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    @property
    def config(self) -> MirrorCheckpointConfig:
        assert self._config is not None, "connector not started"
        return self._config

    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None:
        self._raw = dict(config)
        self._config = MirrorCheckpointConfig.parse(config)
        self._context = context
        if not self.config.enabled or not self.config.emit_checkpoints_enabled:
            return
        target_admin = _admin(self.config, "target")
        try:
            specs = [
                TopicSpec(
                    topic,
                    1,
                    self.config.checkpoints_topic_replication_factor,
                    {"cleanup.policy": "compact"},
                )
                for topic in (self.config.checkpoints_topic, self.config.offset_maps_topic)
            ]
            for topic in target_admin.create_topics(specs):
                log.info("created internal topic", extra={"topic": topic})
        finally:
            target_admin.close()
        self._source_admin = _admin(self.config, "source")
        self._groups = self.find_groups()
        if self.config.refresh_groups_enabled:
            self._stop.clear()
            self._refresher = threading.Thread(
                target=self._refresh_loop, name="checkpoint-groups", daemon=True
            )
            self._refresher.start()

    def find_groups(self) -> list[str]:
        """Source groups the filter accepts that committed offsets on a replicated topic."""
        assert self._source_admin is not None
        config = self.config
        return [
            group
            for group, offsets in self._source_admin.offsets_of_listed_groups(
                config.group_filter.accepts
            ).items()
            if any(config.topic_filter.accepts(topic) for topic, _ in offsets)
        ]

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.config.refresh_groups_interval_s):
            try:
                groups = self.find_groups()
            except KafkaClientError as exc:
                log.warning("group refresh failed", extra={"error": str(exc)})
                continue
            if groups != self._groups:
                log.info("consumer groups changed; reconfiguring tasks", extra={"groups": len(groups)})
                self._groups = groups
                assert self._context is not None
                self._context.request_task_reconfiguration()

    def task_class(self) -> type[SourceTask]:
        return MirrorCheckpointTask

    def task_configs(self, max_tasks: int) -> list[TaskConfig]:
        if not (self.config.enabled and self.config.emit_checkpoints_enabled):
            return []
        # One task even without groups: it keeps the offset maps current, so a group that shows
        # up later is translated from history the offset-syncs topic may no longer hold.
        count = max(1, min(max_tasks, len(self._groups)))
        # Contiguous chunks, as Connect's ConnectorUtils.groupPartitions deals them.
        size, extra = divmod(len(self._groups), count)
        configs: list[TaskConfig] = []
        start = 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            configs.append(
                {**self._raw, GROUPS_KEY: ",".join(self._groups[start:end]), "task.index": str(index)}
            )
            start = end
        return configs

    def stop(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(5.0)


@dataclass(frozen=True)
class _Emitted:
    upstream: int
    downstream: int
    metadata: str


class MirrorCheckpointTask(SourceTask):
    stores_source_offsets = False  # checkpoints are recomputed from the source groups every interval

    def __init__(self) -> None:
        self._config: MirrorCheckpointConfig | None = None
        self._groups: list[str] = []
        self._store = OffsetMapStore()
        self._syncs: Consumer | None = None
        self._syncs_watch: ErrorWatch | None = None
        self._syncs_end = 0
        self._syncs_ready = False
        self._writes_maps = False
        self._last: dict[tuple[str, str, int], _Emitted] = {}
        self._source_admin: ClusterAdmin | None = None
        self._target_admin: ClusterAdmin | None = None
        self._next_emit = 0.0
        self._next_sync = 0.0
        self._stop = threading.Event()
        self._context: SourceTaskContext | None = None

    @property
    def config(self) -> MirrorCheckpointConfig:
        assert self._config is not None
        return self._config

    def start(self, config: TaskConfig, context: SourceTaskContext) -> None:
        parsed = MirrorCheckpointConfig.parse(config)
        self._config = parsed
        self._context = context
        self._groups = [group for group in config.get(GROUPS_KEY, "").split(",") if group]
        # One writer per flow: maps from tasks at different positions must not interleave.
        self._writes_maps = config.get("task.index", "0") == "0"
        self._source_admin = _admin(parsed, "source")
        self._target_admin = _admin(parsed, "target")
        self._load_checkpoints()
        timeout_s = parsed.admin_timeout_ms / 1000
        name = f"{parsed.source_alias}->{parsed.target_alias}|{parsed.name}|offset-maps-consumer"
        self._store = load_saved_offset_maps(parsed, name, timeout_s)
        if self._store.position is not None:
            log.info(
                "offset maps restored",
                extra={"partitions": len(self._store.partitions()), "syncs_position": self._store.position},
            )
        name = f"{parsed.source_alias}->{parsed.target_alias}|{parsed.name}|offset-syncs-consumer"
        self._syncs, self._syncs_watch = make_consumer(parsed.offset_syncs_consumer.librdkafka, name)
        topic = parsed.offset_syncs_topic
        low, self._syncs_end = watermarks(self._syncs, topic, 0, timeout_s)
        self._store, start = resume_offset_maps(self._store, low, self._syncs_end, topic)
        self._syncs.assign([TopicPartition(topic, 0, start)])
        self._syncs_ready = start >= self._syncs_end
        now = time.monotonic()
        self._next_emit = now
        self._next_sync = now + parsed.sync_group_offsets_interval_s

    def _load_checkpoints(self) -> None:
        """Previous checkpoints, so a restarted task never emits one that moves a group backwards."""
        config = self.config
        name = f"{config.source_alias}->{config.target_alias}|{config.name}|checkpoints-target-consumer"
        groups = set(self._groups)
        timeout_s = config.admin_timeout_ms / 1000
        latest = latest_checkpoints(
            config.target_consumer.librdkafka, config.checkpoints_topic, name, timeout_s, missing_ok=False
        )
        for key, point in latest.items():
            if key[0] in groups:
                emitted = point.checkpoint
                self._last[key] = _Emitted(
                    emitted.upstream_offset, emitted.downstream_offset, emitted.metadata
                )

    def _read_syncs(self) -> None:
        assert self._syncs is not None and self._syncs_watch is not None
        apply_offset_syncs(self._store, self._syncs.consume(10_000, 0))
        self._syncs_watch.raise_if_fatal()
        if not self._syncs_ready:
            position = self._syncs.position([TopicPartition(self.config.offset_syncs_topic, 0)])[0].offset
            self._syncs_ready = position >= self._syncs_end

    def poll(self) -> SourceBatch | None:
        self._read_syncs()
        now = time.monotonic()
        config = self.config
        if config.sync_group_offsets_enabled and now >= self._next_sync and self._syncs_ready:
            self._next_sync = now + config.sync_group_offsets_interval_s
            self.sync_group_offsets()
        if now < self._next_emit or not self._syncs_ready:
            # Like MM2, nothing is translated before the syncs were read to their end.
            self._stop.wait(0.2)
            return None
        self._next_emit = now + config.emit_checkpoints_interval_s
        records = self._checkpoint_records() + self._map_records()
        if not records:
            return None
        topics = (config.checkpoints_topic, config.offset_maps_topic)
        return SourceBatch(records, {topic: topic for topic in topics})

    def _map_records(self) -> list[Message]:
        """Maps changed since the last save, then a commit naming the position they cover.

        They share one partition and the producer is gapless, so a commit that landed proves
        every map record before it landed too.
        """
        position = self._store.position
        changed = self._store.changed()
        if not self._writes_maps or position is None or not changed:
            return []
        topic = self.config.offset_maps_topic
        now_ms = int(time.time() * 1000)
        encoded = [
            encode_partition_map(PartitionMap(topic_name, partition, position, offset_map.snapshot()))
            for topic_name, partition, offset_map in changed
        ]
        encoded.append(encode_commit(MapsCommitted(position)))
        self._store.mark_saved()
        return [
            Message(
                topic=topic,
                partition=0,
                offset=0,
                key=key,
                value=value,
                timestamp=(TIMESTAMP_CREATE_TIME, now_ms),
            )
            for key, value in encoded
        ]

    def _checkpoint_records(self) -> list[Message]:
        assert self._source_admin is not None
        config = self.config
        records: list[Message] = []
        listed = self._source_admin.offsets_of_groups(self._groups, on_error=_skip_unreadable_group)
        listed_ms = int(time.time() * 1000)
        for group, offsets in listed.items():
            for (topic, partition), committed in sorted(offsets.items()):
                checkpoint = self._checkpoint(group, topic, partition, committed)
                if checkpoint is None:
                    continue
                key = (group, checkpoint.topic, partition)
                last = self._last.get(key)
                if last is not None and not (
                    checkpoint.upstream_offset < last.upstream
                    or checkpoint.downstream_offset > last.downstream
                ):
                    continue  # unchanged, or a move backwards downstream: never emitted (as MM2)
                self._last[key] = _Emitted(
                    checkpoint.upstream_offset, checkpoint.downstream_offset, checkpoint.metadata
                )
                records.append(
                    Message(
                        topic=config.checkpoints_topic,
                        partition=0,
                        offset=0,
                        key=encode_key(checkpoint),
                        value=encode_value(checkpoint),
                        timestamp=(TIMESTAMP_CREATE_TIME, listed_ms),
                    )
                )
        return records

    def _checkpoint(
        self, group: str, topic: str, partition: int, committed: GroupOffset
    ) -> Checkpoint | None:
        config = self.config
        if not config.topic_filter.accepts(topic) or config.policy.topic_source(topic) == config.target_alias:
            return None  # topics that came from the target are not replicated back, so never synced
        translation = self._store.translate(topic, partition, committed.offset)
        if isinstance(translation, Exact):
            downstream = translation.downstream_offset
        elif isinstance(translation, BeyondReplicated):
            # The group is ahead of replication: the position after the last replicated record
            # never skips data; the group re-reads what it processed but the target lacked.
            downstream = translation.safe_downstream_offset
        else:
            log.debug(
                "offset not translatable", extra={"group": group, "topic": topic, "partition": partition}
            )
            return None
        return Checkpoint(
            group,
            config.policy.format_remote_topic(config.source_alias, topic),
            partition,
            committed.offset,
            downstream,
            committed.metadata,
        )

    def sync_group_offsets(self) -> None:
        """Commit the latest checkpoints to target groups with no active member; forward only."""
        assert self._target_admin is not None
        wanted: dict[str, dict[tuple[str, int], GroupOffset]] = {}
        for (group, topic, partition), emitted in self._last.items():
            wanted.setdefault(group, {})[(topic, partition)] = GroupOffset(
                emitted.downstream, emitted.metadata
            )
        if not wanted:
            return
        try:
            states = self._target_admin.group_states(wanted)
        except KafkaClientError as exc:
            log.warning("cannot describe target groups", extra={"error": str(exc)})
            return
        active: list[str] = []
        for group, offsets in wanted.items():
            state = states.get(group, "DEAD")
            if state not in _IDLE_GROUP_STATES:
                log.warning(
                    "group offsets not synced: the group has active members on the target",
                    extra={"group": group, "state": state, "cluster": self.config.target_alias},
                )
                active.append(f"{group} ({state})")
                continue
            try:
                current = self._target_admin.group_offsets(group)
                forward = {
                    tp: position
                    for tp, position in offsets.items()
                    if tp not in current or position.offset > current[tp].offset
                }
                self._target_admin.alter_group_offsets(group, forward)
            except KafkaClientError as exc:
                log.warning("group offsets not synced", extra={"group": group, "error": str(exc)})
                continue
            if forward:
                log.info("synced group offsets", extra={"group": group, "partitions": len(forward)})
        if self._context is not None:
            # The task's status says which groups wait, so an operator sees it without the logs.
            note = f"group offsets not synced, active on {self.config.target_alias}: {', '.join(active)}"
            self._context.report(note if active else None)

    def producer_config(self) -> Mapping[str, str]:
        return self.config.target_producer.librdkafka

    def stop(self) -> None:
        self._stop.set()
        if self._syncs is not None:
            self._syncs.close()
            self._syncs = None


def _skip_unreadable_group(group: str, exc: KafkaClientError) -> None:
    log.warning("cannot list group offsets", extra={"group": group, "error": str(exc)})
