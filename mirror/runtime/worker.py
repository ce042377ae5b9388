"""A worker runs connectors and their tasks in one process.

Tasks run on threads: librdkafka does the network I/O, batching and compression on its own
threads outside the GIL, so one Python thread per task keeps a core busy only with the thin
loop in ``task_runner``. ``docs/architecture.md`` records the measurement behind that choice.

Each connector has its own supervisor thread, so a connector whose cluster is slow to answer
never holds up another. Ownership of task runners is simple: only the supervisor creates and
starts them, under the slot's lock and only while the connector is wanted; whoever takes a
runner out of ``slot.runners`` (under that lock) stops it.

Source tasks run in a ``TaskRunner`` (records into Kafka, source offsets in the offsets topic),
sink tasks in a ``SinkTaskRunner`` (records out of Kafka, progress kept by the task's own store);
the worker drives both through :class:`Runner`. A connector whose tasks keep no source offsets
(sinks, heartbeats, checkpoints) never creates an offsets topic.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mirror.runtime.contracts import Connector, SourceTask, TaskConfig
from mirror.runtime.offsets import OffsetStorageSettings, OffsetStore
from mirror.runtime.sink import SinkConnector, SinkTask, SinkTaskRunner
from mirror.runtime.status import ConnectorStatus, State, TaskStatus
from mirror.runtime.task_runner import TaskRunner

log = logging.getLogger("mirror.runtime.worker")

_SUPERVISE_EVERY_S = 0.2
_CONNECTOR_RETRY_S = (1.0, 60.0)
_SUPERVISOR_GRACE_S = 1.0
"""After the tasks' deadline, how long supervisors still get to stop their connectors."""


@dataclass(frozen=True)
class WorkerSettings:
    worker_id: str
    offsets: OffsetStorageSettings | None = None
    """Where connectors added without their own settings keep source offsets."""
    offset_flush_interval_s: float = 1.0
    task_stop_timeout_s: float = 8.0
    """With ``_SUPERVISOR_GRACE_S``, 9 s to stop: a process asked to stop exits within 10 s (the
    README's promise, and inside Kubernetes' 30 s grace), the last second for its clients to close."""


class Runner(Protocol):
    """What the worker needs of a task runner: a thread it starts, pauses, stops and asks for status."""

    @property
    def task_id(self) -> int: ...

    @property
    def config(self) -> TaskConfig: ...

    def start(self) -> None: ...

    def request_stop(self) -> None: ...

    def join(self, timeout_s: float) -> bool:
        """Whether the runner's thread ended within ``timeout_s``."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def status(self) -> TaskStatus: ...


AnyConnector = Connector | SinkConnector


def stores_source_offsets(connector: AnyConnector) -> bool:
    """Whether the connector's tasks record source offsets (so it needs an offsets topic)."""
    task_class = connector.task_class()
    return issubclass(task_class, SourceTask) and task_class.stores_source_offsets


@dataclass
class _ConnectorSlot:
    name: str
    connector: AnyConnector
    config: Mapping[str, str]
    offsets: OffsetStore | None
    """None for a sink connector: its tasks keep their progress themselves."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    wake: threading.Event = field(default_factory=threading.Event)
    state: State = State.UNASSIGNED
    trace: str | None = None
    started: bool = False
    offsets_topic_ready: bool = False
    next_start_attempt: float = 0.0
    start_delay_s: float = _CONNECTOR_RETRY_S[0]
    reconfigure: threading.Event = field(default_factory=threading.Event)
    task_configs: list[TaskConfig] = field(default_factory=list)
    runners: list[Runner] = field(default_factory=list)
    paused: bool = False
    stopped: bool = False
    """Connect's STOPPED target state: no tasks, connector stopped, resumable."""
    retired: bool = False
    """Removed, or the worker is stopping: the supervisor shuts everything down and exits."""
    restart_connector: bool = False
    restart_tasks: set[int] = field(default_factory=set)
    supervisor: threading.Thread | None = None

    @property
    def wanted(self) -> bool:
        return not (self.stopped or self.retired)

    def take_runners(self, task_ids: Iterable[int] | None = None) -> list[Runner]:
        """Remove runners (all, or those of ``task_ids``); the caller stops them. Hold ``lock``."""
        ids = None if task_ids is None else set(task_ids)
        taken = [runner for runner in self.runners if ids is None or runner.task_id in ids]
        self.runners = [runner for runner in self.runners if runner not in taken]
        return taken


class _Context:
    def __init__(self, slot: _ConnectorSlot) -> None:
        self._slot = slot

    def request_task_reconfiguration(self) -> None:
        self._slot.reconfigure.set()
        self._slot.wake.set()

    def raise_error(self, error: BaseException) -> None:
        self._slot.state = State.FAILED
        self._slot.trace = "".join(traceback.format_exception(error))


class Worker:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._slots: dict[str, _ConnectorSlot] = {}
        self._lock = threading.Lock()
        self._running = False

    def start(self) -> None:
        with self._lock:
            self._running = True
            slots = list(self._slots.values())
        for slot in slots:
            self._start_supervisor(slot)

    def add_connector(
        self,
        name: str,
        connector: AnyConnector,
        config: Mapping[str, str],
        *,
        cluster_alias: str,
        offsets: OffsetStorageSettings | None = None,
        target_state: State = State.RUNNING,
    ) -> None:
        """Register a connector; its supervisor starts it (and retries if its cluster is down).

        ``offsets`` says where a source connector's offsets live (default: the worker's settings;
        a sink connector needs none); ``target_state`` is RUNNING, PAUSED or STOPPED."""
        store: OffsetStore | None = None
        if not isinstance(connector, SinkConnector):
            storage = offsets or self.settings.offsets
            if storage is None:
                raise ValueError(f"connector {name!r} needs offset storage settings: the worker has none")
            store = OffsetStore(storage, name, cluster_alias)
        if target_state not in (State.RUNNING, State.PAUSED, State.STOPPED):
            raise ValueError(f"target state must be RUNNING, PAUSED or STOPPED, not {target_state}")
        slot = _ConnectorSlot(name, connector, dict(config), store)
        slot.offsets_topic_ready = store is None or not stores_source_offsets(connector)
        slot.paused = target_state == State.PAUSED
        slot.stopped = target_state == State.STOPPED
        if target_state != State.RUNNING:
            slot.state = target_state
        with self._lock:
            if name in self._slots:
                raise ValueError(f"connector {name!r} already exists")
            self._slots[name] = slot
            running = self._running
        if running:
            self._start_supervisor(slot)

    def connectors(self) -> list[str]:
        with self._lock:
            return list(self._slots)

    def status(self, name: str) -> ConnectorStatus:
        slot = self._slot(name)
        with slot.lock:
            tasks = tuple(runner.status() for runner in sorted(slot.runners, key=lambda r: r.task_id))
            return ConnectorStatus(slot.name, slot.state, self.settings.worker_id, tasks, slot.trace)

    def statuses(self) -> list[ConnectorStatus]:
        return [self.status(name) for name in self.connectors()]

    def task_statuses(self, name: str) -> tuple[TaskStatus, ...]:
        return self.status(name).tasks

    def pause(self, name: str) -> None:
        slot = self._slot(name)
        with slot.lock:
            slot.paused = True
            self._resume_if_stopped(slot)
            slot.state = State.PAUSED
            for runner in slot.runners:
                runner.pause()

    def resume(self, name: str) -> None:
        slot = self._slot(name)
        with slot.lock:
            slot.paused = False
            self._resume_if_stopped(slot)
            if slot.started:
                slot.state = State.RUNNING
            for runner in slot.runners:
                runner.resume()

    def _resume_if_stopped(self, slot: _ConnectorSlot) -> None:
        if slot.stopped:
            slot.stopped = False
            slot.state = State.UNASSIGNED
            slot.next_start_attempt = 0.0
            slot.start_delay_s = _CONNECTOR_RETRY_S[0]
            slot.wake.set()

    def stop_connector(self, name: str) -> None:
        """Connect's STOPPED: tasks shut down (offsets recorded), connector stopped; ``resume`` or
        ``pause`` brings it back."""
        slot = self._slot(name)
        with slot.lock:
            slot.stopped = True
            slot.state = State.STOPPED
            slot.trace = None
            runners = slot.take_runners()
            slot.wake.set()
        self._stop_runners(slot.name, runners)

    def remove_connector(self, name: str) -> None:
        """Stop its tasks (offsets recorded) and the connector, and forget it."""
        with self._lock:
            slot = self._slots.pop(name, None)
        if slot is None:
            raise KeyError(name)
        self._retire([slot])

    def restart_connector(self, name: str, *, include_tasks: bool = False, only_failed: bool = False) -> None:
        """Connect's restart: the connector instance (unless ``only_failed`` and it has not failed),
        and with ``include_tasks`` its tasks (all, or only the failed ones)."""
        slot = self._slot(name)
        with slot.lock:
            if not only_failed or slot.state == State.FAILED:
                slot.restart_connector = True
            if include_tasks:
                slot.restart_tasks.update(
                    runner.task_id
                    for runner in slot.runners
                    if not only_failed or runner.status().state == State.FAILED
                )
            slot.wake.set()

    def restart_task(self, name: str, task_id: int) -> None:
        """Restart one task; raises KeyError if the connector has no such task."""
        slot = self._slot(name)
        with slot.lock:
            if task_id not in {runner.task_id for runner in slot.runners}:
                raise KeyError(f"{name} has no task {task_id}")
            slot.restart_tasks.add(task_id)
            slot.wake.set()

    def stop(self) -> None:
        """Stop every task (in-flight records delivered, offsets committed) and every connector."""
        with self._lock:
            self._running = False
            slots = list(self._slots.values())
        self._retire(slots)
        for slot in slots:
            slot.state = State.STOPPED

    def _slot(self, name: str) -> _ConnectorSlot:
        with self._lock:
            return self._slots[name]

    def _retire(self, slots: list[_ConnectorSlot]) -> None:
        """Stop them all at once and wait for them against one deadline, so stopping takes at most
        ``task_stop_timeout_s`` + ``_SUPERVISOR_GRACE_S`` however many there are (a connector stuck
        on an unreachable cluster is left to its daemon thread)."""
        deadline = time.monotonic() + self.settings.task_stop_timeout_s
        runners: list[tuple[str, Runner]] = []
        for slot in slots:
            with slot.lock:
                slot.retired = True
                runners.extend((slot.name, runner) for runner in slot.take_runners())
                slot.wake.set()
        for _name, runner in runners:
            runner.request_stop()
        for name, runner in runners:
            self._join_runner(name, runner, deadline)
        supervisors_deadline = max(deadline, time.monotonic() + _SUPERVISOR_GRACE_S)
        for slot in slots:
            if slot.supervisor is None:
                self._stop_connector_instance(slot)
                continue
            slot.supervisor.join(max(0.0, supervisors_deadline - time.monotonic()))
            if slot.supervisor.is_alive():
                log.warning("connector did not stop in time", extra={"connector": slot.name})

    # ---- supervision --------------------------------------------------------------------------

    def _start_supervisor(self, slot: _ConnectorSlot) -> None:
        thread = threading.Thread(
            target=self._supervise, args=(slot,), name=f"{slot.name}-supervisor", daemon=True
        )
        slot.supervisor = thread
        thread.start()

    def _supervise(self, slot: _ConnectorSlot) -> None:
        while True:
            with slot.lock:
                wanted, retired = slot.wanted, slot.retired
                restart_connector, slot.restart_connector = slot.restart_connector, False
                restart_tasks, slot.restart_tasks = slot.restart_tasks, set()
            try:
                if not wanted:
                    self._shut_down(slot)
                    if retired:
                        return
                else:
                    if restart_connector:
                        self._restart_instance(slot)
                    if not slot.started:
                        self._try_start(slot)
                    elif slot.reconfigure.is_set():
                        slot.reconfigure.clear()
                        self._reconfigure(slot)
                    if restart_tasks and slot.started:
                        self._restart_tasks(slot, restart_tasks)
            except Exception as exc:
                slot.state = State.FAILED
                slot.trace = traceback.format_exc()
                log.error("connector failed", extra={"connector": slot.name, "error": str(exc)})
            slot.wake.wait(_SUPERVISE_EVERY_S)
            slot.wake.clear()

    def _shut_down(self, slot: _ConnectorSlot) -> None:
        with slot.lock:
            runners = slot.take_runners()
        self._stop_runners(slot.name, runners)
        self._stop_connector_instance(slot)
        if slot.stopped and not slot.retired:
            slot.state = State.STOPPED

    def _stop_connector_instance(self, slot: _ConnectorSlot) -> None:
        if not slot.started:
            return
        slot.started = False
        slot.task_configs = []
        try:
            slot.connector.stop()
        except Exception:
            log.exception("connector stop failed", extra={"connector": slot.name})

    def _restart_instance(self, slot: _ConnectorSlot) -> None:
        log.info("restarting connector", extra={"connector": slot.name})
        if slot.started:
            slot.started = False
            try:
                slot.connector.stop()
            except Exception:
                log.exception("connector stop failed", extra={"connector": slot.name})
        slot.state = State.RESTARTING
        slot.next_start_attempt = 0.0
        slot.start_delay_s = _CONNECTOR_RETRY_S[0]

    def _try_start(self, slot: _ConnectorSlot) -> None:
        now = time.monotonic()
        if now < slot.next_start_attempt:
            return
        try:
            if not slot.offsets_topic_ready and slot.offsets is not None:
                slot.offsets.ensure_topic()
                slot.offsets_topic_ready = True
            slot.connector.start(slot.config, _Context(slot))
        except Exception as exc:
            slot.state = State.FAILED
            slot.trace = traceback.format_exc()
            slot.next_start_attempt = now + slot.start_delay_s
            log.error(
                "connector could not start; retrying",
                extra={"connector": slot.name, "error": str(exc), "backoff_s": slot.start_delay_s},
            )
            slot.start_delay_s = min(slot.start_delay_s * 2, _CONNECTOR_RETRY_S[1])
            return
        with slot.lock:
            slot.started = True
            if slot.wanted:
                slot.state = State.PAUSED if slot.paused else State.RUNNING
                slot.trace = None
        log.info("connector started", extra={"connector": slot.name})
        self._reconfigure(slot)

    def _reconfigure(self, slot: _ConnectorSlot) -> None:
        max_tasks = int(slot.config.get("tasks.max", "1"))
        configs: list[TaskConfig] = [dict(config) for config in slot.connector.task_configs(max_tasks)]
        with slot.lock:
            if configs == slot.task_configs and slot.runners:
                return
            old = slot.take_runners()
        log.info(
            "task configuration changed; restarting tasks",
            extra={"connector": slot.name, "tasks": len(configs)},
        )
        self._stop_runners(slot.name, old)
        task_class = slot.connector.task_class()
        with slot.lock:
            if not slot.wanted:
                return
            slot.task_configs = configs
            slot.runners = [
                self._runner(slot, task_id, config, task_class) for task_id, config in enumerate(configs)
            ]
            for runner in slot.runners:
                if slot.paused:
                    runner.pause()
                runner.start()

    def _restart_tasks(self, slot: _ConnectorSlot, task_ids: set[int]) -> None:
        with slot.lock:
            old = slot.take_runners(task_ids)
        log.info("restarting tasks", extra={"connector": slot.name, "tasks": sorted(task_ids)})
        self._stop_runners(slot.name, old)
        task_class = slot.connector.task_class()
        with slot.lock:
            if not slot.wanted:
                return
            fresh = [self._runner(slot, runner.task_id, runner.config, task_class) for runner in old]
            slot.runners = sorted([*slot.runners, *fresh], key=lambda runner: runner.task_id)
            for runner in fresh:
                if slot.paused:
                    runner.pause()
                runner.start()

    def _runner(
        self,
        slot: _ConnectorSlot,
        task_id: int,
        config: TaskConfig,
        task_class: type[SourceTask] | type[SinkTask],
    ) -> Runner:
        if issubclass(task_class, SinkTask):
            return SinkTaskRunner(
                connector=slot.name,
                task_id=task_id,
                worker_id=self.settings.worker_id,
                task_factory=task_class,
                config=config,
                flush_interval_s=self.settings.offset_flush_interval_s,
            )
        if slot.offsets is None:
            raise TypeError(f"connector {slot.name!r} runs source tasks but has no offset storage")
        return TaskRunner(
            connector=slot.name,
            task_id=task_id,
            worker_id=self.settings.worker_id,
            task_factory=task_class,
            config=config,
            offsets=slot.offsets,
            flush_interval_s=self.settings.offset_flush_interval_s,
            connector_class=type(slot.connector).__name__,
        )

    def _stop_runners(self, connector: str, runners: list[Runner]) -> None:
        deadline = time.monotonic() + self.settings.task_stop_timeout_s
        for runner in runners:
            runner.request_stop()
        for runner in runners:
            self._join_runner(connector, runner, deadline)

    def _join_runner(self, connector: str, runner: Runner, deadline: float) -> None:
        if not runner.join(max(0.0, deadline - time.monotonic())):
            log.error("task did not stop in time", extra={"connector": connector, "task": runner.task_id})
