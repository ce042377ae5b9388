"""Scheduled backups: a ``backup`` schedule's firing runs one backup of a stored S3SinkConnector.

The firing backs up to the end offsets seen at its start (``backup.mode=once``) with the
connector's own config, on the scheduler's job thread, and stops cleanly (buffered records
stored) when the service stops. A continuous backup is simply that connector RUNNING; a firing
therefore refuses a connector that is not STOPPED, and stops early if the connector is resumed
meanwhile, so that one backup prefix never has two writers. The lease ``backup:<connector>``
keeps two schedules of one connector from running at once, across processes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mirror.backup.jobs import BackupSummary, run_backup
from mirror.backup.progress import ProgressDisplay
from mirror.service.effective import resolve
from mirror.service.plugins import S3_SINK_CLASS, find_plugin
from mirror.store.records import ConnectorRecord, TargetState
from mirror.store.store import Store

log = logging.getLogger("mirror.service.backups")

LEASE_TTL_S = 30.0
_WATCH_EVERY_S = 2.0
_STOP_CHECK_S = 0.2


class BackupRefusedError(Exception):
    """The firing cannot run now; the message says why (it becomes the run's outcome)."""


def backup_target_problem(name: str, record: ConnectorRecord | None) -> str | None:
    """Why connector ``name`` cannot be a backup schedule's target, or None if it can."""
    if record is None:
        return f"connector {name} does not exist"
    plugin = find_plugin(record.connector_class)
    if plugin is None or plugin.java_class != S3_SINK_CLASS:
        return f"connector {name} is a {record.connector_class}, not an S3SinkConnector"
    return None


def run_scheduled_backup(store: Store, connector: str, *, holder: str, stop: threading.Event) -> str:
    """One backup of ``connector`` to the end offsets seen now; the run's outcome.

    ``holder`` names this firing (two firings never share it); ``stop`` is set when the service stops.
    """
    record = store.get_connector(connector)
    problem = backup_target_problem(connector, record)
    if problem is not None or record is None:
        raise BackupRefusedError(problem)
    _check_stopped(store, record)
    clusters = {profile.name: profile for profile in store.list_clusters()}
    resolved = resolve(record.name, record.connector_class, record.config, clusters)
    firing = _Firing(store, connector, holder)
    if not firing.renew():
        raise BackupRefusedError(f"another backup of connector {connector} is running")
    try:
        with firing.watched(stop) as interrupted:
            summary = run_backup(
                {**resolved.config, "backup.mode": "once"}, stop=interrupted, progress_factory=_quiet
            )
    finally:
        store.release_lease(firing.lease, holder)
    return "ok " + _outcome(summary)


def _check_stopped(store: Store, record: ConnectorRecord) -> None:
    if record.target_state != TargetState.STOPPED or store.task_states(record.name):
        raise BackupRefusedError(
            f"connector {record.name} is {record.target_state}: a scheduled backup runs only while it is "
            "STOPPED (a RUNNING S3SinkConnector already backs up continuously)"
        )


@dataclass(frozen=True)
class _Firing:
    store: Store
    connector: str
    holder: str

    @property
    def lease(self) -> str:
        return f"backup:{self.connector}"

    def renew(self) -> bool:
        return self.store.acquire_lease(self.lease, self.holder, LEASE_TTL_S)

    @contextmanager
    def watched(self, stop: threading.Event) -> Iterator[threading.Event]:
        """An event set when the backup must stop early: the service stops, the lease is lost, or
        the connector leaves STOPPED (it would write the same prefix). Renews the lease meanwhile."""
        interrupted = threading.Event()
        finished = threading.Event()

        def watch() -> None:
            next_check = time.monotonic() + _WATCH_EVERY_S
            while not finished.wait(_STOP_CHECK_S):
                if stop.is_set():
                    reason: str | None = "the service is stopping"
                elif time.monotonic() >= next_check:
                    next_check = time.monotonic() + _WATCH_EVERY_S
                    reason = self._interruption()
                else:
                    continue
                if reason is not None:
                    log.warning(
                        "scheduled backup stopping", extra={"connector": self.connector, "reason": reason}
                    )
                    interrupted.set()
                    return

        thread = threading.Thread(target=watch, name=f"{self.connector}-backup-watch", daemon=True)
        thread.start()
        try:
            yield interrupted
        finally:
            finished.set()
            thread.join(LEASE_TTL_S)

    def _interruption(self) -> str | None:
        try:
            if not self.renew():
                return "its lease was taken over"
            record = self.store.get_connector(self.connector)
        except Exception:
            log.exception(
                "scheduled backup: store unreachable; carrying on", extra={"connector": self.connector}
            )
            return None
        if record is None:
            return "the connector was deleted"
        if record.target_state != TargetState.STOPPED:
            return f"the connector was set {record.target_state}"
        return None


def _quiet(total: int | None) -> ProgressDisplay:
    return ProgressDisplay("backup", total_records=total, enabled=False)


def _outcome(summary: BackupSummary) -> str:
    return json.dumps(
        {
            "records": summary.records,
            "bytes": summary.bytes,
            "objects": summary.objects,
            "topics": summary.topics,
            "partitions": summary.partitions,
            "seconds": round(summary.seconds, 3),
            "stopped": summary.stopped,
        },
        sort_keys=True,
    )
