"""The reconciler of one ``mirror serve`` process: it makes what runs here match what is stored.

Every tick (0.5 s) it reads the desired state, and the process holding the ``assigner`` lease
first deals connectors out to the live workers (``mirror.service.assignment``). For the
connectors assigned here it then creates, reconfigures, pauses, resumes, stops, restarts and
removes them on its ``Worker``, and writes their observed states back whenever they change (and
every ``status_refresh_s`` in any case). A heartbeat thread keeps this worker's row fresh even
while a tick waits for tasks to stop.

Nothing stored may stop the loop: a connector whose config cannot run is reported FAILED with
a trace naming the keys at fault and retried only once its config or cluster profiles change
(or on a restart request); any other exception is logged and the loop tries again, backing off
up to ``_MAX_BACKOFF_S`` while the store keeps failing (it reconnects by itself once the
database is usable again). Logs name connectors and keys, never config values, which may be
credentials.

A worker id belongs to one process at a time. The worker row's ``started_at`` is this process's
start time, its incarnation: heartbeats refresh only the row of their own incarnation, a process
starting with an id whose row another process keeps fresh is refused (``WorkerIdInUseError``),
and one that finds its id taken over (after its own heartbeat went stale) stops its connectors.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from mirror.runtime.status import ConnectorStatus, State
from mirror.runtime.worker import Worker, WorkerSettings
from mirror.service.assignment import balance, changes
from mirror.service.effective import effective_config, resolve
from mirror.store.records import (
    ClusterProfile,
    ConnectorRecord,
    ConnectorState,
    TargetState,
    TaskState,
    WorkerRecord,
)
from mirror.store.store import Store

log = logging.getLogger("mirror.service.runtime")

ASSIGNER_LEASE = "assigner"
_ERROR_LOG_EVERY_S = 10.0
_MAX_BACKOFF_S = 5.0
_HANDED_OVER_STATES = frozenset({State.UNASSIGNED, State.STOPPED})


@dataclass(frozen=True)
class RuntimeSettings:
    worker_id: str
    address: str
    """Where this process's REST API listens (host:port), shown with the worker."""
    tick_s: float = 0.5
    worker_timeout_s: float = 10.0
    """A worker whose heartbeat is older than this is dead; its connectors move."""
    assigner_lease_ttl_s: float = 10.0
    status_refresh_s: float = 10.0
    offset_flush_interval_s: float = 1.0
    task_stop_timeout_s: float = WorkerSettings.task_stop_timeout_s


def reconcile_pause_s(tick_s: float, failures: int) -> float:
    """The reconciler's pause after ``failures`` failed passes in a row: one tick while it works,
    doubling up to ``_MAX_BACKOFF_S`` while the store keeps failing, so a store that is down is not
    hammered by every worker. However long the outage, the pause never overflows."""
    doublings = min(failures, 32)
    return min(tick_s * float(2**doublings), _MAX_BACKOFF_S)


class WorkerIdInUseError(Exception):
    """Another live process holds this worker id: two would both run every connector."""

    def __init__(self, worker_id: str, holder: WorkerRecord) -> None:
        super().__init__(
            f"worker id {worker_id!r} is in use by a live process (API at {holder.address}, started "
            f"{holder.started_at.isoformat()}, last heartbeat {holder.last_heartbeat.isoformat()}): "
            "give this process another --worker-id, or stop that one first"
        )
        self.holder = holder


@dataclass(frozen=True)
class _Wanted:
    """What a connector runs as; any change but of its target state restarts it."""

    generation: int
    connector_class: str
    config: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class _Snapshot:
    connector: ConnectorState
    tasks: tuple[TaskState, ...]

    def fingerprint(self) -> tuple[object, ...]:
        return (
            self.connector.state,
            self.connector.trace,
            tuple((task.task_id, task.state, task.trace, task.detail) for task in self.tasks),
        )


class ServiceRuntime:
    def __init__(self, store: Store, settings: RuntimeSettings) -> None:
        self._store = store
        self.settings = settings
        self.worker = Worker(
            WorkerSettings(
                settings.worker_id,
                offset_flush_interval_s=settings.offset_flush_interval_s,
                task_stop_timeout_s=settings.task_stop_timeout_s,
            )
        )
        self._running: dict[str, tuple[_Wanted, TargetState]] = {}
        self._failed: dict[str, tuple[_Wanted, str]] = {}
        self._handover_since: dict[str, float] = {}
        self._reported: dict[str, tuple[object, ...]] = {}
        self._last_full_report = 0.0
        self._last_error_log: dict[str, float] = {}
        self._failing: set[str] = set()
        """The loops (``heartbeat``, ``reconcile``) failing now: their recovery is logged."""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.incarnation = datetime.now(UTC)
        """Kept as the worker row's ``started_at``: tells this process from others with its id."""
        self._claimed = False
        self.displaced_by: WorkerRecord | None = None
        """The process that took this worker id over, once one has; this one then runs nothing."""
        self._heartbeat_written_at = time.monotonic()

    # ---- lifecycle ------------------------------------------------------------------------------

    def claim(self) -> None:
        """Take this worker id for this process.

        A previous holder that stopped heartbeating (killed) is waited out until its heartbeat is
        ``worker_timeout_s`` old; one whose heartbeat still advances is alive, and this raises
        WorkerIdInUseError."""
        first_seen: WorkerRecord | None = None
        while (holder := self._hold()) is not None:
            if first_seen is None or holder.started_at != first_seen.started_at:
                first_seen = holder
            elif holder.last_heartbeat != first_seen.last_heartbeat:
                raise WorkerIdInUseError(self.settings.worker_id, holder)
            time.sleep(self.settings.tick_s)
        self._claimed = True
        self._heartbeat_written_at = time.monotonic()

    def heartbeat_age_s(self) -> float:
        """Seconds since this worker's heartbeat was last written: its liveness as others see it."""
        return time.monotonic() - self._heartbeat_written_at

    def start(self) -> None:
        """Join the cluster of workers and start reconciling on background threads."""
        if not self._claimed:
            self.claim()
        self.worker.start()
        for target, name in ((self._heartbeat_loop, "heartbeat"), (self._reconcile_loop, "reconciler")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker joined", extra={"worker": self.settings.worker_id})

    def stop(self) -> None:
        """Stop every task cleanly (offsets recorded) and leave: connectors move to other workers."""
        if self._stop.is_set():
            return
        self._stop.set()
        for thread in self._threads:
            thread.join(self.settings.task_stop_timeout_s + 5)
        self.worker.stop()
        names = list(self._running)
        self._running.clear()
        if self.displaced_by is not None or not self._claimed:
            # The id (its row, its statuses, its leases) is another process's, or never was ours.
            log.info("worker stopped", extra={"worker": self.settings.worker_id})
            return
        try:
            self._report_unassigned(names)
            self._store.release_lease(ASSIGNER_LEASE, self.settings.worker_id)
            self._store.remove_worker(self.settings.worker_id, self.incarnation)
        except Exception:
            log.exception("could not record leaving", extra={"worker": self.settings.worker_id})
        log.info("worker left", extra={"worker": self.settings.worker_id})

    def _hold(self) -> WorkerRecord | None:
        return self._store.hold_worker(
            self.settings.worker_id, self.settings.address, self.incarnation, self.settings.worker_timeout_s
        )

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.settings.tick_s):
            try:
                holder = self._hold()
            except Exception:
                self._failing.add("heartbeat")
                self._log_error("heartbeat")
                continue
            if holder is not None:
                self.displaced_by = holder
                log.error(
                    "another process took this worker id over while its heartbeat was stale; "
                    "stopping every connector here",
                    extra={"worker": self.settings.worker_id, "holder_address": holder.address},
                )
                return
            self._heartbeat_written_at = time.monotonic()
            self._log_recovered("heartbeat")

    def _reconcile_loop(self) -> None:
        failures = 0
        while not self._stop.is_set() and self.displaced_by is None:
            started = time.monotonic()
            try:
                self.reconcile_once()
            except Exception:
                self._failing.add("reconcile")
                self._log_error("reconcile")
                failures += 1
            else:
                self._log_recovered("reconcile")
                failures = 0
            pause = reconcile_pause_s(self.settings.tick_s, failures)
            self._stop.wait(max(0.0, pause - (time.monotonic() - started)))
        if self.displaced_by is not None:
            self._running.clear()
            self.worker.stop()

    def _log_recovered(self, what: str) -> None:
        if what in self._failing:
            self._failing.discard(what)
            self._last_error_log.pop(what, None)
            log.info("%s works again", what, extra={"worker": self.settings.worker_id})

    def _log_error(self, what: str) -> None:
        now = time.monotonic()
        if now - self._last_error_log.get(what, -_ERROR_LOG_EVERY_S) >= _ERROR_LOG_EVERY_S:
            self._last_error_log[what] = now
            log.exception("%s failed; retrying", what, extra={"worker": self.settings.worker_id})

    # ---- one pass -------------------------------------------------------------------------------

    def reconcile_once(self) -> None:
        if self.displaced_by is not None:
            return
        connectors = self._store.list_connectors()
        worker_id = self.settings.worker_id
        if self._store.acquire_lease(ASSIGNER_LEASE, worker_id, self.settings.assigner_lease_ttl_s):
            connectors = self._assign(connectors)
        mine = {record.name: record for record in connectors if record.assigned_worker == worker_id}
        for name in [name for name in self._running if name not in mine]:
            self._remove(name)
            self._report_unassigned([name])
        for gone in [name for name in (*self._failed, *self._reported) if name not in mine]:
            self._failed.pop(gone, None)
            self._reported.pop(gone, None)
        clusters = {profile.name: profile for profile in self._store.list_clusters()} if mine else {}
        for record in mine.values():
            try:
                self._apply(record, clusters)
            except Exception:
                self._log_error(f"applying connector {record.name}")
        self._handle_restarts(sorted(mine))
        self._report()

    def _assign(self, connectors: list[ConnectorRecord]) -> list[ConnectorRecord]:
        live = [worker.worker_id for worker in self._store.live_workers(self.settings.worker_timeout_s)]
        current = {record.name: record.assigned_worker for record in connectors}
        wanted = balance(current, live)
        moves = changes(current, wanted)
        if moves:
            self._store.assign(moves)
            log.info("connectors assigned", extra={"moves": len(moves), "workers": len(live)})
        return [replace(record, assigned_worker=wanted[record.name]) for record in connectors]

    def _apply(self, record: ConnectorRecord, clusters: Mapping[str, ClusterProfile]) -> None:
        name = record.name
        wanted = _Wanted(record.generation, record.connector_class, effective_config(record.config, clusters))
        running = self._running.get(name)
        if running is not None and running[0] != wanted:
            log.info("connector config changed; restarting it", extra={"connector": name})
            self._remove(name)
            running = None
        if running is None:
            self._create(record, wanted, clusters)
            return
        if running[1] != record.target_state:
            self._set_target_state(name, record.target_state)
            self._running[name] = (wanted, record.target_state)

    def _create(
        self, record: ConnectorRecord, wanted: _Wanted, clusters: Mapping[str, ClusterProfile]
    ) -> None:
        name = record.name
        failed = self._failed.get(name)
        if failed is not None and failed[0] == wanted:
            return
        try:
            resolved = resolve(name, record.connector_class, record.config, clusters)
        except Exception as exc:
            trace = "".join(traceback.format_exception_only(exc)).strip()
            self._failed[name] = (wanted, trace)
            keys = sorted({key for error in getattr(exc, "errors", ()) if (key := error.key)})
            log.error("connector config refused", extra={"connector": name, "keys": ",".join(keys)})
            return
        self._failed.pop(name, None)
        if self._previous_owner_active(name):
            return
        self.worker.add_connector(
            name,
            resolved.plugin.factory(),
            resolved.config,
            cluster_alias=resolved.source_alias,
            offsets=resolved.offsets,
            target_state=State(record.target_state),
        )
        self._running[name] = (wanted, record.target_state)
        log.info(
            "connector added",
            extra={"connector": name, "generation": record.generation, "target_state": record.target_state},
        )

    def _previous_owner_active(self, name: str) -> bool:
        """Whether another live worker still runs it: two workers must never write its partitions
        at once. Waits at most ``worker_timeout_s`` for that worker to let go."""
        state = self._store.connector_state(name)
        if state is None or state.worker_id == self.settings.worker_id or state.state in _HANDED_OVER_STATES:
            self._handover_since.pop(name, None)
            return False
        live = {worker.worker_id for worker in self._store.live_workers(self.settings.worker_timeout_s)}
        waiting_since = self._handover_since.setdefault(name, time.monotonic())
        if state.worker_id in live and time.monotonic() - waiting_since < self.settings.worker_timeout_s:
            return True
        self._handover_since.pop(name, None)
        return False

    def _set_target_state(self, name: str, state: TargetState) -> None:
        log.info("connector target state", extra={"connector": name, "target_state": state})
        if state == TargetState.PAUSED:
            self.worker.pause(name)
        elif state == TargetState.STOPPED:
            self.worker.stop_connector(name)
        else:
            self.worker.resume(name)

    def _remove(self, name: str) -> None:
        self._running.pop(name, None)
        self._reported.pop(name, None)
        try:
            self.worker.remove_connector(name)
        except KeyError:
            return
        log.info("connector removed from this worker", extra={"connector": name})

    def _handle_restarts(self, names: Sequence[str]) -> None:
        for request in self._store.pending_restarts(names):
            name = request.connector
            if name in self._failed:
                del self._failed[name]  # resolved afresh on the next pass
            elif name in self._running:
                try:
                    if request.task_id is None:
                        self.worker.restart_connector(
                            name, include_tasks=request.include_tasks, only_failed=request.only_failed
                        )
                    else:
                        self.worker.restart_task(name, request.task_id)
                except KeyError:
                    log.warning(
                        "restart of an unknown task ignored",
                        extra={"connector": name, "task": request.task_id},
                    )
            self._store.finish_restart(request.id)
            log.info("restart handled", extra={"connector": name, "task": request.task_id})

    # ---- status ---------------------------------------------------------------------------------

    def _report(self) -> None:
        now = datetime.now(UTC)
        snapshots = [self._snapshot(self.worker.status(name), now) for name in self._running]
        worker_id = self.settings.worker_id
        snapshots.extend(
            _Snapshot(ConnectorState(name, State.FAILED.value, worker_id, trace, now), ())
            for name, (_wanted, trace) in self._failed.items()
        )
        full = time.monotonic() - self._last_full_report >= self.settings.status_refresh_s
        changed = [
            snapshot
            for snapshot in snapshots
            if full or self._reported.get(snapshot.connector.name) != snapshot.fingerprint()
        ]
        if not changed:
            return
        self._store.report_status(
            worker_id,
            [snapshot.connector for snapshot in changed],
            [task for snapshot in changed for task in snapshot.tasks],
        )
        for snapshot in changed:
            self._reported[snapshot.connector.name] = snapshot.fingerprint()
        if full:
            self._last_full_report = time.monotonic()

    def _snapshot(self, status: ConnectorStatus, now: datetime) -> _Snapshot:
        worker_id = self.settings.worker_id
        return _Snapshot(
            ConnectorState(status.name, status.state.value, worker_id, status.trace, now),
            tuple(
                TaskState(status.name, task.id, task.state.value, worker_id, task.trace, task.detail, now)
                for task in status.tasks
            ),
        )

    def _report_unassigned(self, names: Sequence[str]) -> None:
        if names:
            now = datetime.now(UTC)
            states = [
                ConnectorState(name, State.UNASSIGNED.value, self.settings.worker_id, None, now)
                for name in names
            ]
            self._store.report_status(self.settings.worker_id, states, [])
