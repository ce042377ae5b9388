"""Samples every flow's lag into the store: what the API, ``/metrics``, ``/ui`` and ``mirror lag
--service`` show.

The scheduler's leader runs :meth:`LagSampler.sample_all` every ``--lag-interval`` seconds (10 by
default), so one process samples however many services share the store. A flow whose clusters
do not answer keeps its previous sample, whose age then grows: the dashboard and the
``mirror_lag_sample_age_seconds`` alert show it. Paused and stopped flows are sampled too:
their lag growing is the point.
"""

from __future__ import annotations

import logging
import threading
import time

from mirror.config.connectors import MirrorCheckpointConfig, MirrorSourceConfig
from mirror.lag import FlowLag
from mirror.lag_probe import FlowEnds, measure
from mirror.runtime.offsets import OffsetStore
from mirror.service.effective import resolve
from mirror.store.store import Store

log = logging.getLogger("mirror.service.lag_sampler")

DEFAULT_INTERVAL_S = 10.0
_SOURCE = ".MirrorSourceConnector"
_CHECKPOINT = ".MirrorCheckpointConnector"


def flow_ends(store: Store, flow_name: str) -> FlowEnds:
    """The flow's connector configs, completed from cluster profiles, and its committed progress.

    Raises LookupError for a missing flow or one without a MirrorSourceConnector, ConfigErrors
    for a config that cannot run, KafkaClientError when the offsets cannot be read."""
    flow = store.get_flow(flow_name)
    if flow is None:
        raise LookupError(f"flow {flow_name!r} does not exist")
    clusters = {profile.name: profile for profile in store.list_clusters()}
    source: MirrorSourceConfig | None = None
    checkpoint: MirrorCheckpointConfig | None = None
    committed: dict[tuple[str, int], int] = {}
    for name in flow.connectors:
        record = store.get_connector(name)
        if record is None:
            continue
        resolved = resolve(name, record.connector_class, record.config, clusters)
        java_class = resolved.plugin.java_class
        if java_class.endswith(_SOURCE) and resolved.offsets is not None:
            source = MirrorSourceConfig.parse(resolved.config)
            committed = OffsetStore(resolved.offsets, name, resolved.source_alias).read()
        elif java_class.endswith(_CHECKPOINT):
            checkpoint = MirrorCheckpointConfig.parse(resolved.config)
    if source is None:
        raise LookupError(f"flow {flow_name!r} has no MirrorSourceConnector")
    return FlowEnds(flow_name, source, checkpoint, committed)


def sample_flow(store: Store, flow_name: str) -> FlowLag:
    """Measure one flow and store the sample."""
    sample = measure(flow_ends(store, flow_name))
    store.record_lag(sample)
    return sample


class LagSampler:
    """The scheduler's periodic job: sample each flow, then roll up and expire history."""

    def __init__(self, store: Store, stop: threading.Event | None = None) -> None:
        """``stop``: set when the service stops; a round then ends after the flow in progress."""
        self._store = store
        self._stop = stop or threading.Event()

    def sample_all(self) -> None:
        started = time.monotonic()
        flows = [flow.name for flow in self._store.list_flows()]
        failed = 0
        for name in flows:
            if self._stop.is_set():
                return
            try:
                sample_flow(self._store, name)
            except Exception as exc:
                failed += 1
                log.warning("lag sample failed", extra={"flow": name, "error": str(exc)})
        try:
            self._store.compact_lag(int(time.time()))
        except Exception:
            log.exception("rolling up lag history failed")
        log.debug(
            "lag sampled",
            extra={"flows": len(flows), "failed": failed, "seconds": round(time.monotonic() - started, 3)},
        )
