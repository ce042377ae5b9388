"""``mirror run``: every enabled flow of an mm2.properties file, in this process.

Like ``connect-mirror-maker.sh``, each flow S->T gets a worker whose offsets live on T; only
flows whose target is among ``--clusters`` run here, so several processes can split a file.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from connectors.mirror_checkpoint import MirrorCheckpointConnector
from connectors.mirror_heartbeat import MirrorHeartbeatConnector
from connectors.mirror_source import MirrorSourceConnector
from mirror.config.connectors import parse_integer
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.config.librdkafka import Role, to_librdkafka
from mirror.config.mm2 import FlowConfig, MirrorMakerConfig
from mirror.runtime.contracts import Connector
from mirror.runtime.offsets import OffsetStorageSettings
from mirror.runtime.status import ConnectorStatus
from mirror.runtime.worker import Worker, WorkerSettings

log = logging.getLogger("mirror.standalone")

OFFSET_FLUSH_INTERVAL_MS_DEFAULT = 1000
"""Connect's default is 60 s; progress is cheap to record and a short interval bounds how
much a crashed worker replicates twice."""

_CLIENT_KEY_PREFIXES = ("security.", "ssl.", "sasl.")


def _prefixed(config: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def _connection_keys(config: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in config.items()
        if key in ("bootstrap.servers", "client.dns.lookup") or key.startswith(_CLIENT_KEY_PREFIXES)
    }


def offset_storage(worker: Mapping[str, str], source_alias: str) -> OffsetStorageSettings:
    """Where a Connect worker config (the target's connection keys, ``offset.storage.*``,
    ``consumer.*`` and ``admin.*``) keeps the source offsets of cluster ``source_alias``.

    Raises ConfigErrors naming the worker key at fault."""
    connection = _connection_keys(worker)
    errors: list[ConfigError] = []

    def integer(key: str, default: str) -> int:
        try:
            return parse_integer(key, worker.get(key, default), "int")
        except ConfigError as error:
            errors.append(error)
            return 0

    def client(role: Role) -> dict[str, str]:
        try:
            return dict(to_librdkafka({**connection, **_prefixed(worker, f"{role}.")}, role).librdkafka)
        except ConfigErrors as failure:
            errors.extend(failure.errors)
            return {}

    settings = OffsetStorageSettings(
        topic=worker.get("offset.storage.topic", f"mm2-offsets.{source_alias}.internal"),
        partitions=integer("offset.storage.partitions", "25"),
        replication_factor=integer("offset.storage.replication.factor", "3"),
        consumer=client("consumer"),
        admin=client("admin"),
    )
    if errors:
        raise ConfigErrors(errors)
    return settings


def worker_settings(flow: FlowConfig) -> WorkerSettings:
    """The worker of flow S->T: connection to T, and where on T the source offsets live."""
    worker = flow.worker
    return WorkerSettings(
        worker_id=f"{socket.gethostname()}:{os.getpid()}:{flow.source}->{flow.target}",
        offsets=offset_storage(worker, flow.source),
        offset_flush_interval_s=int(worker.get("offset.flush.interval.ms", OFFSET_FLUSH_INTERVAL_MS_DEFAULT))
        / 1000,
    )


@dataclass(frozen=True)
class RunningFlow:
    source: str
    target: str
    worker: Worker

    def statuses(self) -> list[ConnectorStatus]:
        return self.worker.statuses()


def selected_flows(config: MirrorMakerConfig, clusters: Iterable[str] | None) -> list[FlowConfig]:
    """Herder pairs to run here: enabled flows, and pairs that only emit heartbeats (as MM2)."""
    targets = set(clusters) if clusters else set(config.clusters)
    unknown = targets - set(config.clusters)
    if unknown:
        raise ValueError(f"--clusters names unknown cluster(s): {', '.join(sorted(unknown))}")
    return [
        flow
        for flow in config.flows
        if flow.target in targets and (flow.enabled or (flow.heartbeats_enabled and _has_both_ends(flow)))
    ]


def _has_both_ends(flow: FlowConfig) -> bool:
    return all(
        key in flow.heartbeat_connector
        for key in ("source.cluster.bootstrap.servers", "target.cluster.bootstrap.servers")
    )


def _connectors(flow: FlowConfig) -> list[tuple[Mapping[str, str], type[Connector]]]:
    """The connectors MM2 runs for a herder pair: all three for an enabled flow, else heartbeats."""
    connectors: list[tuple[Mapping[str, str], type[Connector]]] = []
    if flow.enabled:
        connectors.append((flow.source_connector, MirrorSourceConnector))
        connectors.append((flow.checkpoint_connector, MirrorCheckpointConnector))
    if flow.heartbeats_enabled:
        connectors.append((flow.heartbeat_connector, MirrorHeartbeatConnector))
    return connectors


def start_flows(flows: Iterable[FlowConfig]) -> list[RunningFlow]:
    running: list[RunningFlow] = []
    for flow in flows:
        worker = Worker(worker_settings(flow))
        for config, connector_class in _connectors(flow):
            # MM2's dedicated mode names each connector after its class; Connect keys offsets by it.
            name = config.get("name", connector_class.__name__)
            worker.add_connector(name, connector_class(), config, cluster_alias=flow.source)
        worker.start()
        running.append(RunningFlow(flow.source, flow.target, worker))
        log.info("flow started", extra={"flow": f"{flow.source}->{flow.target}"})
    return running


def stop_flows(running: Iterable[RunningFlow]) -> None:
    """Stop every flow side by side: each Worker waits out one stop deadline of its own, so the
    whole stop takes one deadline however many flows (and heartbeat-only herders) run."""
    flows = list(running)
    if not flows:
        return
    with ThreadPoolExecutor(max_workers=len(flows), thread_name_prefix="stop-flow") as pool:
        for flow, _stopped in zip(flows, pool.map(lambda flow: flow.worker.stop(), flows), strict=True):
            log.info("flow stopped", extra={"flow": f"{flow.source}->{flow.target}"})
