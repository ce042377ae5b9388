"""``/metrics``: Prometheus' text format.

Two sources. Task metrics (records, bytes, latency, record age) come from the processes that
run tasks, through prometheus-client's multiprocess files (``mirror.metrics``). Gauges of lag,
readiness and states are computed here, at scrape time, from the store: the same samples and
states ``/flows/{name}/lag``, ``/connectors/{name}/status`` and ``/ui`` show, whichever API worker
answers. Labels stay bounded: flows, topics, consumer groups and connectors that exist, never
partitions.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from mirror.api import views
from mirror.api.context import store
from mirror.metrics import MULTIPROC_ENV, lag_metric_families
from mirror.runtime.status import State
from mirror.store.store import Store

log = logging.getLogger("mirror.api.metrics")

blueprint = Blueprint("metrics", __name__)

WORKER_TIMEOUT_S = 10.0
"""A worker that has not reported for this long is not counted live (the reconciler's own rule)."""


@blueprint.get("/metrics")
def prometheus_metrics() -> Response:
    registry = CollectorRegistry(auto_describe=False)
    multiprocess_dir = os.environ.get(MULTIPROC_ENV)
    if multiprocess_dir:
        MultiProcessCollector(registry, multiprocess_dir)  # type: ignore[no-untyped-call]  # unannotated
    else:
        registry.register(_ThisProcess())
    registry.register(StoreCollector(store()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _ThisProcess(Collector):
    """Task metrics of this process, when tasks run in it (no multiprocess directory)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mirror_store_up", "1 when the control-plane store answered this scrape.")
        try:
            families = lag_metric_families(self._store.latest_lags(), time.time())
            families += self._state_families()
        except Exception:
            log.exception("metrics: the store did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _state_families(self) -> list[Metric]:
        connectors = GaugeMetricFamily(
            "mirror_connector_status", "1 for each connector's current state.", labels=["connector", "state"]
        )
        tasks = GaugeMetricFamily(
            "mirror_task_status", "1 for each task's current state.", labels=["connector", "task", "state"]
        )
        # Whatever the number of connectors, a scrape costs the same few queries.
        statuses = self._store.all_statuses()
        for record in self._store.list_connectors():
            state, task_states = statuses.of(record.name)
            # As the status endpoint shows it: UNASSIGNED before a report, no tasks when STOPPED.
            connectors.add_metric([record.name, State.UNASSIGNED if state is None else state.state], 1)
            for task in views.visible_tasks(state, task_states):
                tasks.add_metric([record.name, str(task.task_id), task.state], 1)
        workers = GaugeMetricFamily("mirror_workers_live", "Service workers that reported recently.")
        workers.add_metric([], len(self._store.live_workers(WORKER_TIMEOUT_S)))
        return [connectors, tasks, workers]
