"""``mirror run --metrics-bind``: Prometheus metrics of a standalone run, with its flows' lag.

Task metrics (``mirror.metrics``) live in this process's default registry. A thread samples every
running flow's lag every ``--lag-interval`` seconds with the probe the service uses, and keeps
the newest sample in memory; a scrape turns them into the same gauges ``mirror serve`` exports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from mirror.config.mm2 import FlowConfig
from mirror.lag import FlowLag
from mirror.lag_probe import measure_mm2_flow
from mirror.metrics import lag_metric_families

log = logging.getLogger("mirror.run_metrics")


class _LagSamples(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._newest: dict[str, FlowLag] = {}

    def keep(self, sample: FlowLag) -> None:
        with self._lock:
            self._newest[sample.flow] = sample

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            samples = list(self._newest.values())
        return lag_metric_families(samples, time.time())


class _ThisProcess(Collector):
    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class RunMetrics:
    """Serves ``/metrics`` on ``host:port`` and samples the flows' lag until :meth:`stop`."""

    def __init__(self, flows: Sequence[FlowConfig], host: str, port: int, lag_interval_s: float) -> None:
        self._flows = [flow for flow in flows if flow.enabled]  # heartbeat-only pairs replicate nothing
        self._host, self._port = host, port
        self._interval_s = lag_interval_s
        self._samples = _LagSamples()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample_forever, name="lag-sampler", daemon=True)
        self._server: WSGIServer | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._server is not None, "not started"
        return int(self._server.server_port)

    def start(self) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ThisProcess())
        registry.register(self._samples)
        self._server, _thread = start_http_server(self._port, self._host, registry)
        self._sampler.start()
        log.info(
            "serving metrics", extra={"bind": f"{self._host}:{self.port}", "lag_interval": self._interval_s}
        )

    def stop(self) -> None:
        self._stop.set()
        self._sampler.join(30)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _sample_forever(self) -> None:
        while not self._stop.is_set():
            for flow in self._flows:
                try:
                    self._samples.keep(measure_mm2_flow(flow))
                except Exception as exc:
                    log.warning("lag sample failed", extra={"flow": flow.name, "error": str(exc)})
            self._stop.wait(self._interval_s)
