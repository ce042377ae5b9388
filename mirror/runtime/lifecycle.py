"""What every task runner shares: its thread, control, status, and restart with backoff.

A subclass implements ``_run_once`` (start the task, move its data until asked to stop, stop the
task); this class runs it on a thread, marks the task FAILED with its trace when it raises, and
starts it again after an exponential backoff, as Connect restarts failed tasks.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from mirror.runtime.contracts import TaskConfig
from mirror.runtime.status import State, TaskStatus

log = logging.getLogger("mirror.runtime.task")


class TaskLifecycle:
    def __init__(
        self,
        *,
        connector: str,
        task_id: int,
        worker_id: str,
        config: TaskConfig,
        restart_backoff_s: tuple[float, float],
    ) -> None:
        self.connector = connector
        self.task_id = task_id
        self.worker_id = worker_id
        self.config = config
        self._backoff = restart_backoff_s
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._lock = threading.Lock()
        self._state = State.UNASSIGNED
        self._trace: str | None = None
        self._detail: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"{connector}-{task_id}", daemon=True)

    # ---- control ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def status(self) -> TaskStatus:
        with self._lock:
            return TaskStatus(self.task_id, self._state, self.worker_id, self._trace, self._detail)

    def _report(self, detail: str | None) -> None:
        with self._lock:
            self._detail = detail

    def _set_state(self, state: State, trace: str | None = None) -> None:
        with self._lock:
            self._state = state
            self._trace = trace

    # ---- lifecycle --------------------------------------------------------------------------

    def _run_once(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._run_once()
                self._set_state(State.STOPPED)
                return
            except Exception as exc:
                self._set_state(State.FAILED, traceback.format_exc())
                log.error(
                    "task failed (%s); restarting after backoff",
                    exc,
                    extra={
                        "connector": self.connector,
                        "task": self.task_id,
                        "error": str(exc),
                        "backoff_s": delay,
                    },
                )
            # A task that ran a good while before failing starts its backoff afresh.
            if time.monotonic() - started > 10 * self._backoff[1]:
                delay = self._backoff[0]
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._backoff[1])
        with self._lock:
            if self._state != State.FAILED:
                self._state = State.STOPPED
