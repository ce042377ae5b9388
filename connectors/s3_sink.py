"""S3SinkConnector: back Kafka topics up to S3, restorable record for record.

The connector picks topics with ``topics``/``topics.exclude`` (as MirrorSourceConnector does)
and deals whole topics to tasks, so each topic's manifest has exactly one writer. A task buffers
each partition's messages and cuts an object when it holds ``rotate.records`` records or
``rotate.bytes`` value bytes, when its first record waited ``rotate.interval.ms`` (also with no
new data), or when all buffers together pass ``buffer.max.bytes``. Objects are encoded and
uploaded on a small thread pool (multipart above ``s3.part.size.bytes``); once they are stored,
the topic's manifest records them, and only then may the runner commit the consumer group.

Resuming: a task starts each partition at the manifest's ``next_offsets`` (what S3 holds), so a
crash never duplicates a stored object's records. An object uploaded by a backup that crashed
before its manifest write is not in the manifest; the retry writes the same key (the name
depends only on topic, partition and first offset) or leaves an orphan that restore ignores and
``mirror backup prune`` removes.

Group offsets (``groups``/``groups.exclude``) and each topic's partition count and non-default
configs are recorded in the manifest every ``group.offsets.interval.ms`` and at the end of a
one-off backup (``backup.mode=once``, which stops when the end offsets seen at its start are
stored).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from confluent_kafka import Message

from mirror.config.backup import BackupSinkConfig, format_end_offsets
from mirror.formats.backup.codec import encode, extension
from mirror.formats.backup.layout import manifest_key, object_name
from mirror.formats.backup.manifest import (
    GroupOffset,
    GroupSnapshot,
    ObjectEntry,
    TopicManifest,
    decode_manifest,
    encode_manifest,
)
from mirror.formats.backup.records import RecordColumns, offset_gaps
from mirror.kafka import ClusterAdmin, KafkaClientError
from mirror.runtime.contracts import ConnectorContext, SourcePartition, TaskConfig
from mirror.runtime.sink import FROM_START, SinkConnector, SinkTask, SinkTaskContext
from mirror.s3 import ObjectStore
from mirror.topic_sync import (
    TopicPartitionPair,
    configs_for_new_topic,
    format_assigned_partitions,
    parse_assigned_partitions,
)

log = logging.getLogger("connectors.s3_sink")

_CONTENT_TYPES = {
    "jsonl": "application/x-ndjson",
    "avro": "application/avro",
    "parquet": "application/vnd.apache.parquet",
}

ObjectStored = Callable[[str, ObjectEntry], None]
"""Called with (topic, entry) for each object once its manifest is written (progress bars)."""


def split_topics(partitions: Sequence[TopicPartitionPair], max_tasks: int) -> list[list[TopicPartitionPair]]:
    """Deal whole topics to at most ``max_tasks`` tasks, round robin in name order."""
    topics = sorted({topic for topic, _ in partitions})
    count = min(max_tasks, len(topics))
    buckets: list[list[TopicPartitionPair]] = [[] for _ in range(count)]
    for index, topic in enumerate(topics):
        buckets[index % count].extend(sorted(p for p in partitions if p[0] == topic))
    return buckets


class S3SinkConnector(SinkConnector):
    def __init__(self) -> None:
        self._raw: dict[str, str] = {}
        self._config: BackupSinkConfig | None = None
        self._context: ConnectorContext | None = None
        self._admin: ClusterAdmin | None = None
        self._partitions: list[TopicPartitionPair] = []
        self._ends: dict[SourcePartition, int] = {}
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    @property
    def config(self) -> BackupSinkConfig:
        assert self._config is not None, "connector not started"
        return self._config

    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None:
        self._raw = dict(config)
        self._config = BackupSinkConfig.parse(config)
        self._context = context
        ObjectStore(self.config.s3).check_bucket()
        self._admin = ClusterAdmin(
            self.config.admin, f"{self.config.name}|backup-admin", self.config.admin_timeout_ms / 1000
        )
        self._partitions = self._topic_partitions()
        if self.config.mode == "once":
            # The cut: a one-off backup stores at least every record committed before it started.
            self._ends = self._admin.end_offsets(self._partitions, committed=True)
        else:
            self._stop.clear()
            self._refresher = threading.Thread(
                target=self._refresh_loop, name=f"{self.config.name}-refresh-topics", daemon=True
            )
            self._refresher.start()
        log.info(
            "backup connector started",
            extra={
                "connector": self.config.name,
                "url": self.config.s3.url,
                "topics": len({t for t, _ in self._partitions}),
                "mode": self.config.mode,
            },
        )

    @property
    def end_offsets(self) -> Mapping[SourcePartition, int]:
        """The cut of a one-off backup (empty for a continuous one)."""
        return self._ends

    def task_class(self) -> type[SinkTask]:
        return S3SinkTask

    def task_configs(self, max_tasks: int) -> list[TaskConfig]:
        if not self._partitions:
            return []
        configs: list[TaskConfig] = []
        for index, bucket in enumerate(split_topics(self._partitions, max_tasks)):
            task = {
                **self._raw,
                "task.assigned.partitions": format_assigned_partitions(bucket),
                "task.index": str(index),
            }
            if self.config.mode == "once":
                task["task.end.offsets"] = format_end_offsets({p: self._ends.get(p, 0) for p in bucket})
            configs.append(task)
        return configs

    def stop(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(5.0)
        if self._admin is not None:
            self._admin.close()

    def _topic_partitions(self) -> list[TopicPartitionPair]:
        assert self._admin is not None
        return sorted(
            (topic, partition)
            for topic, count in self._admin.topic_partitions().items()
            if self.config.topics.accepts(topic)
            for partition in range(count)
        )

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.config.refresh_topics_interval_s):
            try:
                partitions = self._topic_partitions()
            except KafkaClientError as exc:
                log.warning("listing topics failed", extra={"connector": self.config.name, "error": str(exc)})
                continue
            if partitions != self._partitions:
                log.info(
                    "backed-up partitions changed; reconfiguring tasks",
                    extra={"connector": self.config.name, "partitions": len(partitions)},
                )
                self._partitions = partitions
                assert self._context is not None
                self._context.request_task_reconfiguration()


@dataclass
class _Buffer:
    """One partition's records waiting for their object; one per partition, not per record."""

    messages: list[Message]
    value_bytes: int
    opened_at: float


@dataclass(frozen=True)
class _Upload:
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    value_bytes: int
    future: Future[ObjectEntry]


def columns_of(partition: int, messages: Sequence[Message]) -> RecordColumns:
    """The records of ``messages`` (one partition), column by column, with no object per record."""
    stamps = [message.timestamp() for message in messages]
    return RecordColumns(
        partition=partition,
        offsets=[message.offset() for message in messages],  # type: ignore[misc]  # never None once consumed
        timestamp_types=[kind for kind, _ in stamps],
        timestamps=[stamp for _, stamp in stamps],
        keys=[message.key() for message in messages],
        values=[message.value() for message in messages],
        headers=[message.headers() or () for message in messages],  # type: ignore[misc]
    )


class S3SinkTask(SinkTask):
    def __init__(self, on_stored: ObjectStored | None = None) -> None:
        self._on_stored = on_stored
        self._config: BackupSinkConfig | None = None
        self._store: ObjectStore | None = None
        self._admin: ClusterAdmin | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._context: SinkTaskContext | None = None
        self._partitions: list[SourcePartition] = []
        self._manifests: dict[str, TopicManifest] = {}
        self._dirty: set[str] = set()
        self._buffers: dict[SourcePartition, _Buffer] = {}
        self._uploads: deque[_Upload] = deque()
        self._buffered_bytes = 0
        self._last_snapshot_ms = 0
        self._ends: dict[SourcePartition, int] = {}
        self._done = False
        self._extension = ""

    @property
    def config(self) -> BackupSinkConfig:
        assert self._config is not None, "task not started"
        return self._config

    def start(self, config: TaskConfig, context: SinkTaskContext) -> None:
        parsed = BackupSinkConfig.parse(config)
        self._config = parsed
        self._context = context
        self._partitions = parse_assigned_partitions(config.get("task.assigned.partitions", ""))
        self._ends = {p: offset for p, offset in parsed.end_offsets.items() if p in set(self._partitions)}
        self._extension = extension(parsed.format, parsed.compression)
        self._store = ObjectStore(parsed.s3)
        self._admin = ClusterAdmin(
            parsed.admin, f"{parsed.name}|backup-task-admin", parsed.admin_timeout_ms / 1000
        )
        self._pool = ThreadPoolExecutor(
            parsed.s3.upload_concurrency, thread_name_prefix=f"{parsed.name}-upload"
        )
        counts: dict[str, int] = {}
        for topic, partition in self._partitions:
            counts[topic] = max(counts.get(topic, 0), partition + 1)
        for topic, count in counts.items():
            stored = self._store.get_if_exists(manifest_key("", topic))
            self._manifests[topic] = (
                decode_manifest(stored) if stored is not None else TopicManifest(topic, count)
            )

    def consumer_config(self) -> Mapping[str, str]:
        return self.config.consumer

    def assignment(self) -> Mapping[SourcePartition, int | None]:
        # What S3 holds decides, never the group: a partition the manifest does not know yet
        # (a new backup, or one whose manifest was removed) is backed up from its first record.
        return {(t, p): self._manifests[t].next_offsets.get(p, FROM_START) for t, p in self._partitions}

    # ---- hot path ---------------------------------------------------------------------------

    def put(self, messages: Sequence[Message]) -> None:
        now = time.monotonic()
        buffers = self._buffers
        added = 0
        for message in messages:
            key: SourcePartition = (message.topic(), message.partition())  # type: ignore[assignment]
            buffer = buffers.get(key)
            if buffer is None:
                buffer = buffers[key] = _Buffer([], 0, now)
            buffer.messages.append(message)
            size = len(message)
            buffer.value_bytes += size
            added += size
        self._buffered_bytes += added
        config = self.config
        interval_s = config.rotate_interval_ms / 1000
        for key in list(buffers):
            while key in buffers and len(buffers[key].messages) >= config.rotate_records:
                self._cut(key, config.rotate_records)
            buffer_left = buffers.get(key)
            if buffer_left is not None and (
                buffer_left.value_bytes >= config.rotate_bytes or now - buffer_left.opened_at >= interval_s
            ):
                self._cut(key, len(buffer_left.messages))
        while self._buffered_bytes > config.buffer_max_bytes and buffers:
            largest = max(buffers, key=lambda k: buffers[k].value_bytes)
            self._cut(largest, len(buffers[largest].messages))
        self._settle(block=False)

    def _cut(self, key: SourcePartition, count: int) -> None:
        buffer = self._buffers[key]
        taken, rest = buffer.messages[:count], buffer.messages[count:]
        if not taken:
            return
        taken_bytes = sum(len(message) for message in taken) if rest else buffer.value_bytes
        if rest:
            buffer.messages = rest
            buffer.value_bytes -= taken_bytes
        else:
            del self._buffers[key]
        self._buffered_bytes -= taken_bytes
        topic, partition = key
        assert self._pool is not None
        future = self._pool.submit(self._store_object, topic, partition, taken)
        first: int = taken[0].offset()  # type: ignore[assignment]
        last: int = taken[-1].offset()  # type: ignore[assignment]
        self._uploads.append(_Upload(topic, partition, first, last, taken_bytes, future))
        # Bound memory: objects waiting for the pool hold their records.
        while len(self._uploads) > 2 * self.config.s3.upload_concurrency:
            self._settle(block=True, at_most=1)

    def _store_object(self, topic: str, partition: int, messages: Sequence[Message]) -> ObjectEntry:
        """Encode and upload one object (on a pool thread: pyarrow and boto3 release the GIL)."""
        config = self.config
        columns = columns_of(partition, messages)
        data = encode(columns, config.format, config.compression)
        name = object_name(topic, partition, columns.offsets[0], self._extension)
        assert self._store is not None
        self._store.put(name, data, _CONTENT_TYPES[config.format])
        return ObjectEntry(
            name=name,
            partition=partition,
            first_offset=columns.offsets[0],
            last_offset=columns.offsets[-1],
            records=len(columns),
            min_timestamp=min(columns.timestamps),
            max_timestamp=max(columns.timestamps),
            gaps=tuple(offset_gaps(columns.offsets)),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            format=config.format,
            compression=config.compression,
        )

    def _settle(self, *, block: bool, at_most: int | None = None) -> None:
        """Record finished uploads in their manifests, in upload order; write the manifests."""
        stored: dict[str, list[ObjectEntry]] = {}
        settled = 0
        while self._uploads and (block or self._uploads[0].future.done()):
            if at_most is not None and settled >= at_most:
                break
            upload = self._uploads.popleft()
            entry = upload.future.result()  # an upload that failed fails the task here
            stored.setdefault(upload.topic, []).append(entry)
            settled += 1
        if not stored:
            return
        now_ms = int(time.time() * 1000)
        for topic, entries in stored.items():
            next_offsets = {entry.partition: entry.last_offset + 1 for entry in entries}
            self._manifests[topic] = self._manifests[topic].with_objects(entries, next_offsets, now_ms)
            self._dirty.add(topic)
        self._write_manifests()
        if self._on_stored is not None:
            for topic, entries in stored.items():
                for entry in entries:
                    self._on_stored(topic, entry)

    def _write_manifests(self) -> None:
        assert self._store is not None
        for topic in sorted(self._dirty):
            self._store.put(
                manifest_key("", topic), encode_manifest(self._manifests[topic]), "application/json"
            )
        self._dirty.clear()

    # ---- commits ----------------------------------------------------------------------------

    def pre_commit(
        self, positions: Mapping[SourcePartition, int], *, final: bool
    ) -> Mapping[SourcePartition, int]:
        completing = False
        if self._ends and not self._done:
            completing = all(positions.get(p, -1) >= end for p, end in self._ends.items())
            final = final or completing
        if final:
            for key in list(self._buffers):
                self._cut(key, len(self._buffers[key].messages))
        self._settle(block=final)
        now_ms = int(time.time() * 1000)
        if final or now_ms - self._last_snapshot_ms >= self.config.group_offsets_interval_ms:
            self._record_topics_and_groups(now_ms)
        waiting: dict[SourcePartition, int] = {}
        for upload in self._uploads:
            waiting.setdefault((upload.topic, upload.partition), upload.first_offset)
        for key, buffer in self._buffers.items():
            waiting.setdefault(key, buffer.messages[0].offset())  # type: ignore[arg-type]
        safe: dict[SourcePartition, int] = {}
        for key in self._partitions:
            stored = self._manifests[key[0]].next_offsets.get(key[1], 0)
            safe[key] = waiting[key] if key in waiting else max(stored, positions.get(key, stored))
        if final:
            # Past trailing transaction markers too, so a later run does not read them again.
            self._advance(safe, now_ms)
        self._write_manifests()
        if completing:
            self._done = True
        return safe

    def _advance(self, safe: Mapping[SourcePartition, int], now_ms: int) -> None:
        for topic, manifest in self._manifests.items():
            moved = {
                p: offset
                for (t, p), offset in safe.items()
                if t == topic and offset > manifest.next_offsets.get(p, 0)
            }
            if moved:
                self._manifests[topic] = manifest.with_objects([], moved, now_ms)
                self._dirty.add(topic)

    def _record_topics_and_groups(self, now_ms: int) -> None:
        """Partition counts, configs and group offsets of this task's topics, into their manifests."""
        assert self._admin is not None
        config = self.config
        topics = sorted(self._manifests)
        try:
            counts = self._admin.topic_partitions()
            described = self._admin.describe_topic_configs([t for t in topics if t in counts])
            snapshot = self._group_offsets(set(topics))
        except KafkaClientError as exc:
            log.warning(
                "topic configs and group offsets not recorded this time",
                extra={"connector": config.name, "error": str(exc)},
            )
            return
        self._last_snapshot_ms = now_ms

        def excluded(name: str) -> bool:
            return not config.config_properties.accepts(name)

        for topic in topics:
            before = self._manifests[topic]
            manifest = before
            if topic in counts:
                manifest = manifest.with_topic(
                    counts[topic], configs_for_new_topic(described.get(topic, {}), excluded)
                )
            manifest = manifest.with_group_snapshot(
                GroupSnapshot(now_ms, snapshot.get(topic, {})), config.group_snapshots_max
            )
            if manifest != before:
                self._manifests[topic] = manifest
                self._dirty.add(topic)

    def _group_offsets(self, topics: set[str]) -> dict[str, dict[str, dict[int, GroupOffset]]]:
        assert self._admin is not None
        config = self.config
        per_topic: dict[str, dict[str, dict[int, GroupOffset]]] = {}
        backed_up = self._admin.offsets_of_listed_groups(
            lambda group: group != config.group_id and config.groups.accepts(group)
        )
        for group, offsets in backed_up.items():
            for (topic, partition), position in offsets.items():
                if topic in topics:
                    per_topic.setdefault(topic, {}).setdefault(group, {})[partition] = GroupOffset(
                        position.offset, position.metadata
                    )
        return per_topic

    def finished(self) -> bool:
        return self._done

    def stop(self) -> None:
        if self._pool is not None:
            # Uploads still running finish (or fail) before the task is gone; their manifest entry
            # is never written, so a restart stores those records again under the same keys.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
