"""Stopping a Worker, or every flow of ``mirror run``, takes one deadline in all, however many
connectors and flows are slow to stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from mirror.runtime.contracts import ConnectorContext, TaskConfig
from mirror.runtime.sink import SinkConnector, SinkTask
from mirror.runtime.status import State
from mirror.runtime.worker import Worker, WorkerSettings
from mirror.standalone import RunningFlow, stop_flows

TASK_STOP_TIMEOUT_S = 3.0
STUCK = 25
SLOW = 25


class _SlowConnector(SinkConnector):
    """In memory: ``start`` may hang as on an unreachable cluster; ``stop`` takes ``stop_s``."""

    def __init__(self, unblock: threading.Event | None, stop_s: float) -> None:
        self._unblock = unblock
        self._stop_s = stop_s
        self.started = threading.Event()
        self.stopped = threading.Event()

    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None:
        self.started.set()
        if self._unblock is not None:
            self._unblock.wait(60)

    def task_class(self) -> type[SinkTask]:
        return SinkTask

    def task_configs(self, max_tasks: int) -> list[TaskConfig]:
        return []

    def stop(self) -> None:
        time.sleep(self._stop_s)
        self.stopped.set()


def test_stop_waits_for_all_connectors_together() -> None:
    unblock = threading.Event()
    stuck = [_SlowConnector(unblock, stop_s=0.0) for _ in range(STUCK)]
    slow = [_SlowConnector(None, stop_s=1.0) for _ in range(SLOW)]
    worker = Worker(WorkerSettings("w1", task_stop_timeout_s=TASK_STOP_TIMEOUT_S))
    try:
        for index, connector in enumerate(stuck + slow):
            worker.add_connector(f"c{index}", connector, {}, cluster_alias="A")
        worker.start()
        for connector in stuck + slow:
            assert connector.started.wait(10)

        began = time.monotonic()
        worker.stop()
        took = time.monotonic() - began

        # One deadline (the task stop timeout, plus a second for the connectors themselves), not
        # one per connector: before, each stuck connector was waited for 5 s in turn.
        assert took < TASK_STOP_TIMEOUT_S + 2, f"stopping {STUCK + SLOW} connectors took {took:.1f} s"
        assert all(connector.stopped.is_set() for connector in slow), "a slow connector was not stopped"
        assert {worker.status(f"c{index}").state for index in range(STUCK + SLOW)} == {State.STOPPED}
    finally:
        unblock.set()


def test_mirror_run_stops_its_flows_side_by_side() -> None:
    unblock = threading.Event()
    flows = []
    try:
        for index in range(4):  # A->B, B->A and their heartbeat-only herders, each stuck starting
            worker = Worker(WorkerSettings(f"w{index}", task_stop_timeout_s=TASK_STOP_TIMEOUT_S))
            connector = _SlowConnector(unblock, stop_s=0.0)
            worker.add_connector("c", connector, {}, cluster_alias="A")
            worker.start()
            assert connector.started.wait(10)
            flows.append(RunningFlow(f"S{index}", "T", worker))

        began = time.monotonic()
        stop_flows(flows)
        took = time.monotonic() - began

        # Before, each flow's Worker waited out its own deadline in turn: four deadlines.
        assert took < TASK_STOP_TIMEOUT_S + 3, f"stopping {len(flows)} flows took {took:.1f} s"
        assert {flow.worker.status("c").state for flow in flows} == {State.STOPPED}
    finally:
        unblock.set()
