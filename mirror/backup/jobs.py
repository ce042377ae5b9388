"""Run the S3 sink or source connector in this process until its work is done or it is told to stop.

The same connectors run under the REST API's workers; here one job owns them: it starts the
connector, runs one runner thread per task config, restarts the tasks when the connector asks
(new topics), and stops everything cleanly on a stop request, which stores buffered records
(backup) or delivers and records in-flight ones (restore). A task failure ends the job: an
operator's command reports it and exits, and a rerun resumes from what S3 or the target holds.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.s3_sink import S3SinkConnector, S3SinkTask
from connectors.s3_source import RestoreReport, S3SourceConnector, S3SourceTask, read_manifests
from mirror.backup.progress import ProgressDisplay
from mirror.config.backup import BackupSinkConfig, RestoreSourceConfig
from mirror.formats.backup.manifest import ObjectEntry
from mirror.runtime.offsets import OffsetStorageSettings, OffsetStore
from mirror.runtime.sink import SinkTaskRunner
from mirror.runtime.status import State, TaskStatus
from mirror.runtime.task_runner import TaskRunner
from mirror.s3 import ObjectStore

log = logging.getLogger("mirror.backup")

_WATCH_S = 0.2
_NO_RESTART = (1e9, 1e9)
"""A job reports a failed task rather than retrying it: the operator reruns, and the rerun resumes."""
_STOP_TIMEOUT_S = 30.0
RESTORE_CLUSTER_ALIAS = "s3"
"""The "source cluster" restore progress is recorded under in the offsets topic."""


class JobFailedError(Exception):
    """A task of the job failed; the message is the task's error."""


class _JobContext:
    def __init__(self) -> None:
        self.reconfigure = threading.Event()
        self.error: BaseException | None = None

    def request_task_reconfiguration(self) -> None:
        self.reconfigure.set()

    def raise_error(self, error: BaseException) -> None:
        self.error = error


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _failure(statuses: Sequence[TaskStatus]) -> str | None:
    for status in statuses:
        if status.state == State.FAILED:
            lines = [line for line in (status.trace or "").strip().splitlines() if line.strip()]
            if not lines:
                return f"task {status.id} failed"
            # "package.module.SomeError: what happened" -> "what happened"
            kind, colon, message = lines[-1].partition(": ")
            return message if colon and re.fullmatch(r"[\w.]+", kind) else lines[-1]
    return None


# ---- backup ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupSummary:
    url: str
    mode: str
    topics: int
    partitions: int
    objects: int
    records: int
    bytes: int
    seconds: float
    stopped: bool
    """True when a stop request ended the job before it was done."""

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "mode": self.mode,
            "topics": self.topics,
            "partitions": self.partitions,
            "objects": self.objects,
            "records": self.records,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds) if self.seconds > 0 else 0,
            "stopped": self.stopped,
        }


def run_backup(
    config: Mapping[str, str],
    *,
    stop: threading.Event,
    progress_factory: Callable[[int | None], ProgressDisplay],
) -> BackupSummary:
    """Back up until ``stop`` (continuous) or until the cut is stored (``backup.mode=once``)."""
    parsed = BackupSinkConfig.parse(config)
    connector = S3SinkConnector()
    context = _JobContext()
    connector.start(config, context)
    objects = [0]
    lock = threading.Lock()
    runners: list[SinkTaskRunner] = []
    try:
        total = _backup_total(parsed, connector.end_offsets) if parsed.mode == "once" else None
        partitions = connector.task_configs(1)
        partition_count = sum(len(c["task.assigned.partitions"].split(",")) for c in partitions)
        topic_count = len(
            {p.rpartition("-")[0] for c in partitions for p in c["task.assigned.partitions"].split(",")}
        )
        with progress_factory(total) as progress:

            def on_stored(_topic: str, entry: ObjectEntry) -> None:
                with lock:
                    objects[0] += 1
                progress.advance(entry.records, entry.size)

            runners = _start_sink_runners(connector, parsed, on_stored)
            while not stop.wait(_WATCH_S):
                failure = _failure([runner.status() for runner in runners])
                if failure is not None:
                    raise JobFailedError(failure)
                if context.error is not None:
                    raise JobFailedError(str(context.error))
                if parsed.mode == "once" and all(runner.finished for runner in runners):
                    break
                if context.reconfigure.is_set():
                    context.reconfigure.clear()
                    _stop_runners(runners)
                    runners = _start_sink_runners(connector, parsed, on_stored)
            _stop_runners(runners)
            failure = _failure([runner.status() for runner in runners])
            if failure is not None:
                raise JobFailedError(failure)
            return BackupSummary(
                url=parsed.s3.url,
                mode=parsed.mode,
                topics=topic_count,
                partitions=partition_count,
                objects=objects[0],
                records=progress.records,
                bytes=progress.bytes,
                seconds=progress.elapsed_s,
                stopped=stop.is_set(),
            )
    finally:
        _stop_runners(runners)
        connector.stop()


def _backup_total(config: BackupSinkConfig, ends: Mapping[tuple[str, int], int]) -> int:
    store = ObjectStore(config.s3)
    manifests = read_manifests(store, lambda topic: topic in {t for t, _ in ends})
    starts = {(t, p): o for t, m in manifests.items() for p, o in m.next_offsets.items()}
    return sum(max(0, end - starts.get(key, 0)) for key, end in ends.items())


def _start_sink_runners(
    connector: S3SinkConnector, config: BackupSinkConfig, on_stored: Callable[[str, ObjectEntry], None]
) -> list[SinkTaskRunner]:
    runners = [
        SinkTaskRunner(
            connector=config.name,
            task_id=index,
            worker_id=_worker_id(),
            task_factory=lambda: S3SinkTask(on_stored=on_stored),
            config=task_config,
            flush_interval_s=1.0,
            poll_timeout_s=min(config.poll_timeout_ms / 1000, 0.2),
            restart_backoff_s=_NO_RESTART,
        )
        for index, task_config in enumerate(connector.task_configs(config.tasks_max))
    ]
    for runner in runners:
        runner.start()
    return runners


def _stop_runners(runners: Sequence[SinkTaskRunner | TaskRunner]) -> None:
    for runner in runners:
        runner.request_stop()
    for runner in runners:
        if not runner.join(_STOP_TIMEOUT_S):
            log.error("task did not stop in time", extra={"task": runner.task_id})


# ---- restore --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreSummary:
    url: str
    topics: dict[str, str]
    records: int
    bytes: int
    objects: int
    skipped_objects: tuple[str, ...]
    groups_restored: dict[str, dict[str, int]]
    groups_skipped: dict[str, str]
    seconds: float
    stopped: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "topics": self.topics,
            "records": self.records,
            "bytes": self.bytes,
            "objects": self.objects,
            "skipped_objects": list(self.skipped_objects),
            "groups_restored": self.groups_restored,
            "groups_skipped": self.groups_skipped,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds) if self.seconds > 0 else 0,
            "stopped": self.stopped,
        }


@dataclass
class _RestoreTasks:
    """The live task instance of each runner (a runner builds a new one on restart)."""

    latest: dict[int, S3SourceTask] = field(default_factory=dict)

    def factory(self, task_id: int, on_progress: Callable[[int, int], None]) -> Callable[[], S3SourceTask]:
        def build() -> S3SourceTask:
            task = S3SourceTask(on_progress=on_progress)
            self.latest[task_id] = task
            return task

        return build


def run_restore(
    config: Mapping[str, str],
    *,
    offsets_topic: str,
    stop: threading.Event,
    progress_factory: Callable[[int | None], ProgressDisplay],
) -> RestoreSummary:
    """Restore until every partition is restored and its groups committed, or until ``stop``."""
    parsed = RestoreSourceConfig.parse(config)
    connector = S3SourceConnector()
    connector.start(config, _JobContext())
    offsets = OffsetStore(restore_offset_storage(parsed, offsets_topic), parsed.name, RESTORE_CLUSTER_ALIAS)
    offsets.ensure_topic()
    task_configs = connector.task_configs(parsed.tasks_max)
    tasks = _RestoreTasks()
    runners: list[TaskRunner] = []
    try:
        with progress_factory(_restore_total(parsed, connector)) as progress:
            runners = [
                TaskRunner(
                    connector=parsed.name,
                    task_id=index,
                    worker_id=_worker_id(),
                    task_factory=tasks.factory(index, progress.advance),
                    config=task_config,
                    offsets=offsets,
                    flush_interval_s=0.5,
                    connector_class=type(connector).__name__,
                    restart_backoff_s=_NO_RESTART,
                )
                for index, task_config in enumerate(task_configs)
            ]
            for runner in runners:
                runner.start()
            while not stop.wait(_WATCH_S):
                failure = _failure([runner.status() for runner in runners])
                if failure is not None:
                    raise JobFailedError(failure)
                if len(tasks.latest) == len(runners) and all(task.finished for task in tasks.latest.values()):
                    break
            _stop_runners(runners)
            failure = _failure([runner.status() for runner in runners])
            if failure is not None:
                raise JobFailedError(failure)
            reports = [task.report for task in tasks.latest.values()]
            return RestoreSummary(
                url=parsed.s3.url,
                topics={
                    topic: parsed.target_topic(topic)
                    for topic in sorted({t for t, _ in connector.partitions})
                },
                records=sum(report.records for report in reports),
                bytes=sum(report.bytes for report in reports),
                objects=sum(report.objects for report in reports),
                skipped_objects=tuple(name for report in reports for name in report.skipped_objects),
                groups_restored=_merged_groups(reports),
                groups_skipped={
                    group: why for report in reports for group, why in report.groups_skipped.items()
                },
                seconds=progress.elapsed_s,
                stopped=stop.is_set(),
            )
    finally:
        _stop_runners(runners)
        connector.stop()


def restore_offset_storage(config: RestoreSourceConfig, topic: str) -> OffsetStorageSettings:
    """A restore's progress: on its target cluster, in ``topic``, under :data:`RESTORE_CLUSTER_ALIAS`."""
    return OffsetStorageSettings(
        topic=topic,
        partitions=1,
        replication_factor=config.replication_factor,
        consumer=config.consumer,
        admin=config.admin,
        timeout_s=config.admin_timeout_ms / 1000,
    )


def _merged_groups(reports: Sequence[RestoreReport]) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for report in reports:
        for group, positions in report.groups_restored.items():
            for (topic, partition), offset in positions.items():
                merged.setdefault(group, {})[f"{topic}-{partition}"] = offset
    return {group: dict(sorted(positions.items())) for group, positions in sorted(merged.items())}


def _restore_total(config: RestoreSourceConfig, connector: S3SourceConnector) -> int:
    """Records in the objects the time window selects (before resuming: an upper bound)."""
    manifests = read_manifests(ObjectStore(config.s3), {t for t, _ in connector.partitions}.__contains__)
    return sum(
        entry.records
        for manifest in manifests.values()
        for entry in manifest.objects
        if entry.overlaps_time(config.from_ms, config.until_ms)
    )
