"""S3SourceConnector: restore topics backed up by S3SinkConnector, record for record.

The connector reads the backup's manifests, keeps the topics ``topics``/``topics.exclude``
accept, maps names through ``topics.rename`` (``OLD=NEW, ...``), creates missing target topics
with the backed-up partition count and configs, and deals partitions to tasks. Each task replays
its partitions' objects in offset order through the worker's producer: same partition number,
exact key, value, headers and timestamp, plus the original offset in the ``offset.header``
header (``mirror.backup.offset`` by default). ``restore.from.time``/``restore.until.time`` keep
the records whose timestamp falls in the window (point-in-time restore).

Resuming without duplicates: the worker records the last restored original offset per
partition in its offsets topic, and a starting task also reads the tail of each target partition
and resumes after the highest original offset found there, which covers records the producer
delivered after the last progress commit (a SIGKILL in between).

Integrity: every object's size and sha256 must match the manifest, and its records the entry
(partition, first and last offset, count); a mismatch fails the task naming the object, or with
``corrupt.object.policy=skip`` skips it with a warning naming it.

Whoever can write the bucket can write a manifest, so restore bounds what one may make it do:
manifests are checked as they decode (``mirror.formats.backup.manifest``: ranges, object names
that the layout gives), no object larger than ``restore.object.max.bytes`` is downloaded or
decoded (decompression stops at that bound), a download never reads past the manifest's size,
and only the topic configs in :data:`RESTORABLE_TOPIC_CONFIGS` are applied to created topics.

Groups: when a task has restored all its partitions, it commits the backed-up group offsets
(latest snapshot at or before ``restore.until.time``) translated to the target: a group at
original offset C resumes at the first restored record whose original offset is at least C,
found by binary search over the target partition's offset headers. Only groups with no active
member are committed, and never backwards.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Message, TopicPartition

from mirror.config.backup import RestoreSourceConfig
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.formats.backup.codec import DecodedSizeError, decode
from mirror.formats.backup.layout import manifest_key, topics_dir
from mirror.formats.backup.manifest import GroupOffset as BackupGroupOffset
from mirror.formats.backup.manifest import ManifestError, ObjectEntry, TopicManifest, decode_manifest
from mirror.formats.backup.records import TIMESTAMP_NOT_AVAILABLE, RecordColumns
from mirror.kafka import ClusterAdmin, GroupOffset, KafkaClientError, TopicSpec, make_consumer, watermarks
from mirror.runtime.contracts import (
    Connector,
    ConnectorContext,
    DeliveredRun,
    SourceBatch,
    SourcePartition,
    SourceTask,
    SourceTaskContext,
    TaskConfig,
)
from mirror.s3 import ObjectStore, S3StorageError
from mirror.topic_sync import (
    TopicPartitionPair,
    format_assigned_partitions,
    parse_assigned_partitions,
    split_round_robin,
)

log = logging.getLogger("connectors.s3_source")

_PREFETCH = 2
"""Objects downloaded, checked and decoded ahead of the producer (on pool threads)."""
_TAIL_WINDOW = 100
_PROBE_TIMEOUT_S = 15.0
_IDLE_POLL_S = 0.5
_GROUP_STATES_WRITABLE = frozenset({"EMPTY", "DEAD", "UNKNOWN"})
_LIMIT_HINT = "restore.object.max.bytes (%d; raise it if the backup is genuine)"


class CorruptObjectError(Exception):
    """An object whose bytes do not match its manifest entry."""


class RestoreTargetError(Exception):
    """The target cannot take the restore as configured (e.g. too few partitions)."""


def read_manifests(store: ObjectStore, accepts: Callable[[str], bool]) -> dict[str, TopicManifest]:
    """The manifests of every backed-up topic ``accepts`` keeps."""
    manifests: dict[str, TopicManifest] = {}
    for topic in store.list_dirs(topics_dir("")):
        if not accepts(topic):
            continue
        data = store.get_if_exists(manifest_key("", topic))
        if data is not None:
            manifests[topic] = load_manifest(store, topic, data)
    return manifests


def load_manifest(store: ObjectStore, topic: str, data: bytes) -> TopicManifest:
    """``topic``'s manifest; a ManifestError names where it is and the field at fault."""
    where = store.url(manifest_key("", topic))
    try:
        manifest = decode_manifest(data)
    except ManifestError as exc:
        raise ManifestError(f"{where}: {exc}") from exc
    if manifest.topic != topic:
        raise ManifestError(f"{where}: manifest.topic: {manifest.topic!r} is not the topic its key names")
    return manifest


RESTORABLE_TOPIC_CONFIGS = frozenset(
    {
        "cleanup.policy",
        "compression.type",
        "max.message.bytes",
        "message.timestamp.type",
        "min.compaction.lag.ms",
        "max.compaction.lag.ms",
        "delete.retention.ms",
        "min.cleanable.dirty.ratio",
        "retention.ms",
        "retention.bytes",
    }
)
"""Topic configs restore sets on the topics it creates: what the records need to mean the same
(compaction, compression, record size, timestamps). Left to the target's own defaults: configs
about where the topic lived (``min.insync.replicas``, replica placement and throttles, segment and
flush tuning, tiered storage, timestamp skew limits that would refuse old records)."""
_KAFKA_DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


def restore_configs(configs: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The backed-up topic configs to create the topic with, and the keys left out.

    Retention is kept only where it keeps records at least as long as Kafka's defaults (forever
    for ``retention.bytes``), since restored records keep their original timestamps: a short
    retention, honest or written into the manifest (``retention.ms=1``), would delete them.
    LogAppendTime would replace the exact timestamps, so CreateTime is set instead.
    """
    restored = {key: value for key, value in configs.items() if _restorable(key, value)}
    if restored.get("message.timestamp.type") == "LogAppendTime":
        restored["message.timestamp.type"] = "CreateTime"
    return restored, sorted(key for key in configs if key not in restored)


def _restorable(key: str, value: str) -> bool:
    if key == "retention.ms":
        return value.strip() == "-1" or (
            value.strip().isdigit() and int(value) >= _KAFKA_DEFAULT_RETENTION_MS
        )
    if key == "retention.bytes":
        return value.strip() == "-1"
    return key in RESTORABLE_TOPIC_CONFIGS


class S3SourceConnector(Connector):
    def __init__(self) -> None:
        self._raw: dict[str, str] = {}
        self._config: RestoreSourceConfig | None = None
        self._partitions: list[TopicPartitionPair] = []

    @property
    def config(self) -> RestoreSourceConfig:
        assert self._config is not None, "connector not started"
        return self._config

    @property
    def partitions(self) -> Sequence[TopicPartitionPair]:
        """Backed-up partitions this restore covers (original topic names)."""
        return self._partitions

    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None:
        self._raw = dict(config)
        self._config = parsed = RestoreSourceConfig.parse(config)
        store = ObjectStore(parsed.s3)
        store.check_bucket()
        manifests = read_manifests(store, parsed.topics.accepts)
        if not manifests:
            raise RestoreTargetError(
                f"no backed-up topic that topics/topics.exclude accept under {parsed.s3.url}"
            )
        targets: dict[str, str] = {}
        for topic in manifests:
            target = parsed.target_topic(topic)
            if target in targets:
                raise ConfigErrors(
                    [
                        ConfigError(
                            f"{targets[target]!r} and {topic!r} would both restore into {target!r}",
                            key="topics.rename",
                        )
                    ]
                )
            targets[target] = topic
        admin = ClusterAdmin(parsed.admin, f"{parsed.name}|restore-admin", parsed.admin_timeout_ms / 1000)
        try:
            self._prepare_targets(admin, manifests)
        finally:
            admin.close()
        self._partitions = sorted(
            (topic, p) for topic, manifest in manifests.items() for p in range(manifest.partitions)
        )
        log.info(
            "restore connector started",
            extra={
                "connector": parsed.name,
                "url": parsed.s3.url,
                "topics": len(manifests),
                "partitions": len(self._partitions),
            },
        )

    def _prepare_targets(self, admin: ClusterAdmin, manifests: Mapping[str, TopicManifest]) -> None:
        config = self.config
        existing = admin.topic_partitions()
        missing = []
        for topic, manifest in manifests.items():
            target = config.target_topic(topic)
            if target not in existing:
                configs, left_out = restore_configs(manifest.configs)
                for key in left_out:
                    log.warning(
                        "backed-up topic config not applied: restore does not set it",
                        extra={"connector": config.name, "topic": target, "config": key},
                    )
                missing.append(
                    TopicSpec(target, max(1, manifest.partitions), config.replication_factor, configs)
                )
            elif existing[target] < manifest.partitions:
                raise RestoreTargetError(
                    f"target topic {target} has {existing[target]} partitions but the backup of {topic} has "
                    f"{manifest.partitions}; add partitions or restore into a new topic (topics.rename)"
                )
        for name in admin.create_topics(missing):
            log.info("created target topic", extra={"connector": config.name, "topic": name})

    def task_class(self) -> type[SourceTask]:
        return S3SourceTask

    def task_configs(self, max_tasks: int) -> list[TaskConfig]:
        if not self._partitions:
            return []
        return [
            {
                **self._raw,
                "task.assigned.partitions": format_assigned_partitions(bucket),
                "task.index": str(index),
            }
            for index, bucket in enumerate(split_round_robin(self._partitions, max_tasks))
        ]

    def stop(self) -> None:
        pass


@dataclass(frozen=True)
class _Fetched:
    topic: str
    entry: ObjectEntry
    columns: RecordColumns | None
    problem: str | None


@dataclass
class RestoreReport:
    """What a task did, for summaries; updated on the task's thread."""

    records: int = 0
    bytes: int = 0
    objects: int = 0
    skipped_objects: list[str] = field(default_factory=list)
    groups_restored: dict[str, dict[SourcePartition, int]] = field(default_factory=dict)
    groups_skipped: dict[str, str] = field(default_factory=dict)


_KafkaHeaders = list[tuple[str, str | bytes | None]]

Progress = Callable[[int, int], None]
"""Called with (records, bytes) as restored records are acknowledged by the target."""


class S3SourceTask(SourceTask):
    def __init__(self, on_progress: Progress | None = None) -> None:
        self._on_progress = on_progress
        self._config: RestoreSourceConfig | None = None
        self._store: ObjectStore | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._manifests: dict[str, TopicManifest] = {}
        self._partitions: list[SourcePartition] = []
        self._routes: dict[str, str] = {}
        self._resume: dict[SourcePartition, int] = {}
        self._plan: deque[tuple[str, ObjectEntry]] = deque()
        self._fetching: deque[Future[_Fetched]] = deque()
        self._emitted: dict[SourcePartition, int] = {}
        self._acked: dict[SourcePartition, int] = {}
        self._pending_bytes: dict[SourcePartition, deque[tuple[int, int, int]]] = {}
        self._finished = threading.Event()
        self._context: SourceTaskContext | None = None
        self.report = RestoreReport()

    @property
    def config(self) -> RestoreSourceConfig:
        assert self._config is not None, "task not started"
        return self._config

    @property
    def finished(self) -> bool:
        """Every assigned partition restored and acknowledged, and the groups committed."""
        return self._finished.is_set()

    def start(self, config: TaskConfig, context: SourceTaskContext) -> None:
        self._config = parsed = RestoreSourceConfig.parse(config)
        self._context = context
        self._partitions = parse_assigned_partitions(config.get("task.assigned.partitions", ""))
        self._store = ObjectStore(parsed.s3)
        topics = sorted({topic for topic, _ in self._partitions})
        for topic in topics:
            data = self._store.get(manifest_key("", topic))
            self._manifests[topic] = load_manifest(self._store, topic, data)
        self._routes = {topic: parsed.target_topic(topic) for topic in topics}
        committed = context.last_committed_offsets(self._partitions)
        on_target = self._restored_tails()
        for key in self._partitions:
            self._resume[key] = max(committed.get(key, -1), on_target.get(key, -1))
        for topic, partition in self._partitions:
            resume = self._resume[(topic, partition)]
            for entry in self._manifests[topic].objects_of(partition):
                if entry.last_offset > resume and entry.overlaps_time(parsed.from_ms, parsed.until_ms):
                    self._plan.append((topic, entry))
        self._pool = ThreadPoolExecutor(_PREFETCH, thread_name_prefix=f"{parsed.name}-download")
        self._top_up()
        log.info(
            "restoring partitions",
            extra={
                "connector": parsed.name,
                "partitions": len(self._partitions),
                "objects": len(self._plan) + len(self._fetching),
                "resumed": sum(1 for offset in self._resume.values() if offset >= 0),
            },
        )

    def producer_config(self) -> Mapping[str, str]:
        return self.config.producer

    # ---- replay -------------------------------------------------------------------------------

    def _top_up(self) -> None:
        assert self._pool is not None
        while self._plan and len(self._fetching) < _PREFETCH:
            topic, entry = self._plan.popleft()
            self._fetching.append(self._pool.submit(self._fetch, topic, entry))

    def _fetch(self, topic: str, entry: ObjectEntry) -> _Fetched:
        assert self._store is not None
        limit = self.config.max_object_bytes
        if entry.size > limit:
            return _Fetched(topic, entry, None, f"is {entry.size} bytes, over {_LIMIT_HINT % limit}")
        try:
            data = self._store.get(entry.name, entry.size)
        except S3StorageError as exc:
            if exc.code != "SizeMismatch":
                raise
            return _Fetched(topic, entry, None, exc.reason)
        actual = hashlib.sha256(data).hexdigest()
        if actual != entry.sha256:
            return _Fetched(
                topic, entry, None, f"sha256 {actual} does not match the manifest's {entry.sha256}"
            )
        try:
            columns = decode(data, entry.format, entry.compression, max_decoded_bytes=limit)
        except DecodedSizeError:
            return _Fetched(topic, entry, None, f"decodes to more than {_LIMIT_HINT % limit}")
        except ValueError as exc:
            return _Fetched(topic, entry, None, str(exc))
        problem = entry.mismatch(columns)
        return _Fetched(topic, entry, None if problem else columns, problem)

    def poll(self) -> SourceBatch | None:
        while self._fetching:
            fetched = self._fetching.popleft().result()
            self._top_up()
            batch = self._batch(fetched)
            if batch is not None:
                return batch
        if not self._finished.is_set() and self._all_acknowledged():
            self._complete()
        time.sleep(_IDLE_POLL_S)
        return None

    def _batch(self, fetched: _Fetched) -> SourceBatch | None:
        entry = fetched.entry
        where = (
            f"{self.config.s3.url}{entry.name} ({fetched.topic}-{entry.partition} "
            f"offsets {entry.first_offset}..{entry.last_offset})"
        )
        if fetched.columns is None:
            if self.config.corrupt_policy == "fail":
                raise CorruptObjectError(
                    f"corrupt object {where}: {fetched.problem}; "
                    "set corrupt.object.policy=skip to restore without it"
                )
            log.warning("skipping corrupt object", extra={"object": where, "problem": fetched.problem})
            self.report.skipped_objects.append(entry.name)
            return None
        key = (fetched.topic, entry.partition)
        messages = self._messages(fetched.topic, entry.partition, fetched.columns, self._resume[key])
        self.report.objects += 1
        if not messages:
            return None
        last: int = messages[-1].offset()  # type: ignore[assignment]
        self._emitted[key] = last
        self._resume[key] = last
        self._pending_bytes.setdefault(key, deque()).append((last, len(messages), entry.size))
        return SourceBatch(messages, self._routes)

    def _messages(self, topic: str, partition: int, columns: RecordColumns, after: int) -> list[Message]:
        """The records after ``after`` to produce to ``partition``: the manifest entry's, by which
        progress is keyed too (the object's own was checked to agree)."""
        config = self.config
        offsets = columns.offsets
        indexes: Sequence[int] = range(len(columns))
        if (offsets and offsets[0] <= after) or config.from_ms is not None or config.until_ms is not None:
            low = -(2**63) if config.from_ms is None else config.from_ms
            high = 2**63 if config.until_ms is None else config.until_ms
            indexes = [
                i
                for i, (offset, stamp) in enumerate(zip(offsets, columns.timestamps, strict=True))
                if offset > after and low <= stamp <= high
            ]
            columns = columns.select(indexes)
        header = config.offset_header
        stamps = [
            (kind, stamp) if kind != TIMESTAMP_NOT_AVAILABLE else (kind, 0)
            for kind, stamp in zip(columns.timestamp_types, columns.timestamps, strict=True)
        ]
        all_headers: list[_KafkaHeaders | None]
        if header is None:
            all_headers = [list(h) or None for h in columns.headers]
        else:
            all_headers = [
                [*h, (header, b"%d" % offset)]
                for h, offset in zip(columns.headers, columns.offsets, strict=True)
            ]
        return [
            Message(
                topic=topic,
                partition=partition,
                offset=offset,
                key=key,
                value=value,
                headers=headers,
                timestamp=stamp,
            )
            for offset, key, value, headers, stamp in zip(
                columns.offsets, columns.keys, columns.values, all_headers, stamps, strict=True
            )
        ]

    def delivered(self, runs: Sequence[DeliveredRun]) -> None:
        for run in runs:
            self._acked[run.partition] = run.last_source_offset
            pending = self._pending_bytes.get(run.partition)
            while pending and pending[0][0] <= run.last_source_offset:
                _last, records, size = pending.popleft()
                self.report.records += records
                self.report.bytes += size
                if self._on_progress is not None:
                    self._on_progress(records, size)
        if not self._finished.is_set() and not self._fetching and not self._plan and self._all_acknowledged():
            self._complete()

    def _all_acknowledged(self) -> bool:
        return (
            not self._fetching
            and not self._plan
            and all(self._acked.get(key, -1) >= last for key, last in self._emitted.items())
        )

    def _complete(self) -> None:
        if self.config.restore_groups:
            self._restore_groups()
        self._finished.set()
        if self._context is not None:
            self._context.report(
                f"finished: {self.report.records} records restored, "
                f"{len(self.report.groups_restored)} groups committed"
            )
        log.info(
            "restore task finished",
            extra={
                "connector": self.config.name,
                "records": self.report.records,
                "skipped_objects": len(self.report.skipped_objects),
                "groups": len(self.report.groups_restored),
            },
        )

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    # ---- the target: resume points and group offsets ------------------------------------------

    def _target_consumer(self, role: str) -> Consumer:
        consumer, _watch = make_consumer(
            {**self.config.consumer, "isolation.level": "read_committed"}, f"{self.config.name}|{role}"
        )
        return consumer

    def _original_offset(self, message: Message) -> int | None:
        header = self.config.offset_header
        headers = message.headers()
        if not isinstance(headers, list):
            return None
        for name, value in headers:
            if name == header and isinstance(value, bytes):
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    def _restored_tails(self) -> dict[SourcePartition, int]:
        """Highest original offset among the last records of each target partition."""
        if self.config.offset_header is None:
            return {}
        consumer = self._target_consumer("restore-tail-reader")
        tails: dict[SourcePartition, int] = {}
        try:
            existing = consumer.list_topics(timeout=30).topics
            for topic, partition in self._partitions:
                target = self._routes[topic]
                if target not in existing or partition not in existing[target].partitions:
                    continue
                low, high = watermarks(consumer, target, partition, 30)
                if high <= low:
                    continue
                tail = self._read_range(
                    consumer, target, partition, start=max(low, high - _TAIL_WINDOW), end=high
                )
                for message in tail:
                    original = self._original_offset(message)
                    if original is not None:
                        tails[(topic, partition)] = max(original, tails.get((topic, partition), -1))
        finally:
            consumer.close()
        return tails

    def _read_range(
        self,
        consumer: Consumer,
        topic: str,
        partition: int,
        *,
        start: int,
        end: int,
        limit: int | None = None,
    ) -> list[Message]:
        consumer.assign([TopicPartition(topic, partition, start)])
        found: list[Message] = []
        deadline = time.monotonic() + _PROBE_TIMEOUT_S
        while time.monotonic() < deadline:
            for message in consumer.consume(limit or _TAIL_WINDOW, 0.5):
                if message.error() is None and message.offset() is not None and message.offset() < end:  # type: ignore[operator]
                    found.append(message)
            if limit is not None and len(found) >= limit:
                return found[:limit]
            position = consumer.position([TopicPartition(topic, partition)])[0].offset
            if position >= end:
                return found
        raise KafkaClientError(f"reading {topic}-{partition}", "TIMED_OUT", f"not read to {end}", True, False)

    def _translate(self, consumer: Consumer, topic: str, partition: int, original: int) -> int:
        """The target offset where a consumer reads first the first restored record at/after ``original``."""
        low, high = watermarks(consumer, topic, partition, 30)
        lo, hi = low, high
        while lo < hi:
            mid = (lo + hi) // 2
            probe = self._read_range(consumer, topic, partition, start=mid, end=hi, limit=1)
            if not probe:
                hi = mid  # nothing but markers in [mid, hi): mid is as good as hi
                continue
            found = self._original_offset(probe[0])
            if found is not None and found >= original:
                hi = mid  # a consumer at mid reads this record first unless an earlier one qualifies
            else:
                lo = probe[0].offset() + 1  # type: ignore[operator]
        return lo

    def _restore_groups(self) -> None:
        config = self.config
        wanted: dict[str, dict[tuple[str, int], GroupOffset]] = {}
        consumer = self._target_consumer("restore-group-translator")
        try:
            for topic in sorted(self._manifests):
                snapshot = self._manifests[topic].snapshot_at(config.until_ms)
                if snapshot is None:
                    continue
                mine = {p for t, p in self._partitions if t == topic}
                for group, backed_up in snapshot.groups.items():
                    if not config.groups.accepts(group):
                        continue
                    for partition, position in backed_up.items():
                        if partition in mine:
                            target = self._routes[topic]
                            translated = self._translate(consumer, target, partition, position.offset)
                            wanted.setdefault(group, {})[(target, partition)] = _group_offset(
                                translated, position
                            )
        finally:
            consumer.close()
        if not wanted:
            return
        admin = ClusterAdmin(config.admin, f"{config.name}|restore-groups", config.admin_timeout_ms / 1000)
        try:
            states = admin.group_states(wanted)
            for group, offsets in sorted(wanted.items()):
                state = states.get(group, "UNKNOWN")
                if state not in _GROUP_STATES_WRITABLE:
                    self.report.groups_skipped[group] = f"group is {state} (has active members)"
                    log.warning(
                        "group not restored: it has active members", extra={"group": group, "state": state}
                    )
                    continue
                current = admin.group_offsets(group)
                forward = {
                    tp: o for tp, o in offsets.items() if tp not in current or current[tp].offset < o.offset
                }
                admin.alter_group_offsets(group, forward)
                self.report.groups_restored[group] = {tp: o.offset for tp, o in offsets.items()}
                log.info(
                    "restored group offsets",
                    extra={"group": group, "partitions": len(offsets), "moved": len(forward)},
                )
        finally:
            admin.close()


def _group_offset(offset: int, backed_up: BackupGroupOffset) -> GroupOffset:
    return GroupOffset(offset, backed_up.metadata)
