"""A worker runs connectors and their tasks in one process (Connect's standalone mode).

Tasks run on threads: librdkafka does the network I/O, batching and compression on its own
threads outside the GIL, so one Python thread per task keeps a core busy only with the thin
loop in ``task_runner``. ``docs/architecture.md`` records the measurement behind that choice.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mirror.runtime.contracts import Connector, TaskConfig
from mirror.runtime.offsets import OffsetStorageSettings, OffsetStore
from mirror.runtime.status import ConnectorStatus, State, TaskStatus
from mirror.runtime.task_runner import TaskRunner

log = logging.getLogger("mirror.runtime.worker")

_SUPERVISE_EVERY_S = 0.2
_CONNECTOR_RETRY_S = (1.0, 60.0)


@dataclass(frozen=True)
class WorkerSettings:
    worker_id: str
    offsets: OffsetStorageSettings
    offset_flush_interval_s: float = 1.0
    task_stop_timeout_s: float = 9.0


@dataclass
class _ConnectorSlot:
    name: str
    connector: Connector
    config: Mapping[str, str]
    offsets: OffsetStore
    state: State = State.UNASSIGNED
    trace: str | None = None
    started: bool = False
    next_start_attempt: float = 0.0
    start_delay_s: float = _CONNECTOR_RETRY_S[0]
    reconfigure: threading.Event = field(default_factory=threading.Event)
    task_configs: list[TaskConfig] = field(default_factory=list)
    runners: list[TaskRunner] = field(default_factory=list)
    paused: bool = False


class _Context:
    def __init__(self, slot: _ConnectorSlot) -> None:
        self._slot = slot

    def request_task_reconfiguration(self) -> None:
        self._slot.reconfigure.set()

    def raise_error(self, error: BaseException) -> None:
        self._slot.state = State.FAILED
        self._slot.trace = "".join(traceback.format_exception(error))


class Worker:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._slots: dict[str, _ConnectorSlot] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._offsets_topic_ready = False
        self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._supervisor.start()

    def add_connector(
        self,
        name: str,
        connector: Connector,
        config: Mapping[str, str],
        *,
        cluster_alias: str,
    ) -> None:
        """Register a connector; the supervisor starts it (and retries if its cluster is down)."""
        with self._lock:
            if name in self._slots:
                raise ValueError(f"connector {name!r} already exists")
            offsets = OffsetStore(self.settings.offsets, name, cluster_alias)
            self._slots[name] = _ConnectorSlot(name, connector, dict(config), offsets)

    def status(self, name: str) -> ConnectorStatus:
        with self._lock:
            slot = self._slots[name]
            tasks = tuple(runner.status() for runner in slot.runners)
            return ConnectorStatus(slot.name, slot.state, self.settings.worker_id, tasks, slot.trace)

    def statuses(self) -> list[ConnectorStatus]:
        with self._lock:
            names = list(self._slots)
        return [self.status(name) for name in names]

    def task_statuses(self, name: str) -> tuple[TaskStatus, ...]:
        return self.status(name).tasks

    def pause(self, name: str) -> None:
        with self._lock:
            slot = self._slots[name]
            slot.paused = True
            slot.state = State.PAUSED
            for runner in slot.runners:
                runner.pause()

    def resume(self, name: str) -> None:
        with self._lock:
            slot = self._slots[name]
            slot.paused = False
            if slot.started:
                slot.state = State.RUNNING
            for runner in slot.runners:
                runner.resume()

    def stop(self) -> None:
        """Stop every task (in-flight records delivered, offsets committed) and every connector."""
        self._stop.set()
        self._supervisor.join(5.0)
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            self._stop_tasks(slot)
            if slot.started:
                try:
                    slot.connector.stop()
                except Exception:
                    log.exception("connector stop failed", extra={"connector": slot.name})
            slot.state = State.STOPPED

    # ---- supervision --------------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.wait(_SUPERVISE_EVERY_S):
            with self._lock:
                slots = list(self._slots.values())
            for slot in slots:
                try:
                    if not slot.started:
                        self._try_start(slot)
                    elif slot.reconfigure.is_set():
                        slot.reconfigure.clear()
                        self._reconfigure(slot)
                except Exception as exc:
                    slot.state = State.FAILED
                    slot.trace = traceback.format_exc()
                    log.error("connector failed", extra={"connector": slot.name, "error": str(exc)})

    def _try_start(self, slot: _ConnectorSlot) -> None:
        now = time.monotonic()
        if now < slot.next_start_attempt:
            return
        try:
            if not self._offsets_topic_ready:
                slot.offsets.ensure_topic()
                self._offsets_topic_ready = True
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
        slot.started = True
        slot.state = State.PAUSED if slot.paused else State.RUNNING
        slot.trace = None
        log.info("connector started", extra={"connector": slot.name})
        self._reconfigure(slot)

    def _reconfigure(self, slot: _ConnectorSlot) -> None:
        max_tasks = int(slot.config.get("tasks.max", "1"))
        configs: list[TaskConfig] = [dict(config) for config in slot.connector.task_configs(max_tasks)]
        if configs == slot.task_configs and slot.runners:
            return
        log.info(
            "task configuration changed; restarting tasks",
            extra={"connector": slot.name, "tasks": len(configs)},
        )
        self._stop_tasks(slot)
        task_class = slot.connector.task_class()
        runners = [self._runner(slot, task_id, config, task_class) for task_id, config in enumerate(configs)]
        with self._lock:
            slot.task_configs = configs
            slot.runners = runners
        for runner in runners:
            if slot.paused:
                runner.pause()
            runner.start()

    def _runner(
        self, slot: _ConnectorSlot, task_id: int, config: TaskConfig, factory: Callable[[], object]
    ) -> TaskRunner:
        return TaskRunner(
            connector=slot.name,
            task_id=task_id,
            worker_id=self.settings.worker_id,
            task_factory=factory,  # type: ignore[arg-type]
            config=config,
            offsets=slot.offsets,
            flush_interval_s=self.settings.offset_flush_interval_s,
        )

    def _stop_tasks(self, slot: _ConnectorSlot) -> None:
        runners = slot.runners
        for runner in runners:
            runner.request_stop()
        for runner in runners:
            if not runner.join(self.settings.task_stop_timeout_s):
                log.error("task did not stop in time", extra={"connector": slot.name, "task": runner.task_id})
