"""``OffsetsAdmin`` against Kafka: a connector's source offsets in its offsets topic on the target.

Partitions and offsets have MM2's shapes: ``{"cluster": "A", "partition": 0, "topic": "t"}`` ->
``{"offset": 41}``, the last source offset replicated (tasks resume at the next one). Records
are written with the partitioner Java's Connect uses, so Apache MM2 reads them too.

A sink connector (the S3 backup) keeps no source offsets: its progress is what its store holds.
Its offsets are shown as Connect shows a sink's, its consumer group's commits
(``{"kafka_topic": "t", "kafka_partition": 0}`` -> ``{"kafka_offset": 42}``), and cannot be changed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace

from confluent_kafka import KafkaError, KafkaException, Message

from mirror.config.backup import BackupSinkConfig
from mirror.config.errors import ConfigErrors
from mirror.kafka import ClusterAdmin, KafkaClientError, failure_from, make_producer
from mirror.runtime.contracts import SourcePartition
from mirror.runtime.offsets import OffsetStore
from mirror.service.effective import ResolvedConnector, resolve
from mirror.service.offsets import ConnectorOffset, InvalidOffsetsError, OffsetsUnavailableError, OffsetValue
from mirror.store.records import ConnectorRecord
from mirror.store.store import Store

_PRODUCER = {"partitioner": "murmur2_random", "acks": "all", "enable.idempotence": "true"}
MAX_OFFSET = 2**63 - 1
"""Kafka offsets are Java longs."""

DEFAULT_DEADLINE_S = 10.0
"""How long one offsets request may wait for Kafka in all: well below gunicorn's 60 s worker
timeout (deploy/gunicorn.conf.py), so a cluster that does not answer costs the caller a 503, not
the API a killed worker."""
DEADLINE_VARIABLE = "MIRROR_API_OFFSETS_DEADLINE_S"
"""Environment variable that overrides :data:`DEFAULT_DEADLINE_S` (seconds, more than 0)."""


def deadline_from_environment(environment: Mapping[str, str]) -> float:
    raw = environment.get(DEADLINE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_DEADLINE_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise RuntimeError(f"{DEADLINE_VARIABLE} must be a number of seconds above 0, not {raw!r}")
    return seconds


class _Deadline:
    """One request's budget; every Kafka call gets what is left of it as its timeout."""

    def __init__(self, seconds: float, cluster: str) -> None:
        self.seconds = seconds
        self.cluster = cluster
        self._ends = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; raises TimeoutError once none are."""
        remaining = self._ends - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no time left of {self.seconds:g} s")
        return remaining

    def bounded(self, store: OffsetStore) -> OffsetStore:
        """``store`` with its Kafka calls bounded by what is left (and by its own timeout)."""
        timeout_s = min(store.settings.timeout_s, self.left())
        return OffsetStore(replace(store.settings, timeout_s=timeout_s), store.connector, store.cluster)


class KafkaOffsetsAdmin:
    """Reads and changes stored connectors' source offsets; cluster profiles come from ``store``.

    Each call waits at most ``deadline_s`` for Kafka in all (default: :data:`DEFAULT_DEADLINE_S`,
    or :data:`DEADLINE_VARIABLE` from the environment), then raises OffsetsUnavailableError."""

    def __init__(self, store: Store, deadline_s: float | None = None) -> None:
        self._store = store
        self.deadline_s = deadline_from_environment(os.environ) if deadline_s is None else deadline_s

    def get(self, connector: ConnectorRecord) -> list[ConnectorOffset]:
        resolved = self._resolve(connector)
        deadline = _Deadline(self.deadline_s, _offsets_cluster(resolved))
        with _unavailable_on_failure(connector, deadline):
            if resolved.offsets is None:
                return _sink_offsets(resolved, deadline)
            store = OffsetStore(resolved.offsets, connector.name, resolved.source_alias)
            committed = _committed(deadline.bounded(store))
        return [
            ConnectorOffset(
                {"cluster": store.cluster, "partition": partition, "topic": topic}, {"offset": offset}
            )
            for (topic, partition), offset in sorted(committed.items())
        ]

    def alter(self, connector: ConnectorRecord, offsets: Sequence[ConnectorOffset]) -> None:
        resolved = self._resolve(connector)
        store = _offset_store(connector, resolved)
        written: dict[SourcePartition, int] = {}
        forgotten: list[SourcePartition] = []
        for index, entry in enumerate(offsets):
            partition = _partition(entry.partition, store.cluster, index)
            if entry.offset is None:
                forgotten.append(partition)
            else:
                written[partition] = _offset(entry.offset, index)
        deadline = _Deadline(self.deadline_s, _offsets_cluster(resolved))
        with _unavailable_on_failure(connector, deadline):
            _write(store, written, forgotten, deadline)

    def reset(self, connector: ConnectorRecord) -> None:
        resolved = self._resolve(connector)
        store = _offset_store(connector, resolved)
        deadline = _Deadline(self.deadline_s, _offsets_cluster(resolved))
        with _unavailable_on_failure(connector, deadline):
            _write(store, {}, list(_committed(deadline.bounded(store))), deadline)

    def _resolve(self, connector: ConnectorRecord) -> ResolvedConnector:
        clusters = {profile.name: profile for profile in self._store.list_clusters()}
        try:
            return resolve(connector.name, connector.connector_class, connector.config, clusters)
        except ConfigErrors as exc:
            raise _unresolvable(connector, exc) from exc


def _unresolvable(connector: ConnectorRecord, failure: ConfigErrors) -> OffsetsUnavailableError:
    """A profile failure as the API's 503: the keys at fault, never their values."""
    keys = ", ".join(sorted({error.key for error in failure.errors if error.key}))
    return OffsetsUnavailableError(
        f"the clusters of connector {connector.name} cannot be resolved (keys: {keys or 'none'})"
    )


def _offsets_cluster(resolved: ResolvedConnector) -> str:
    """The alias of the cluster that holds the connector's offsets (its target, or its one cluster)."""
    key = "target.cluster.alias" if resolved.plugin.connection == "mm2" else "kafka.cluster.alias"
    return resolved.config.get(key, "").strip() or "(no alias)"


def _offset_store(connector: ConnectorRecord, resolved: ResolvedConnector) -> OffsetStore:
    if resolved.offsets is None:
        raise InvalidOffsetsError(
            f"connector {connector.name} keeps no offsets to change: a backup resumes from what its "
            "S3 manifest holds"
        )
    return OffsetStore(resolved.offsets, connector.name, resolved.source_alias)


def _write(
    store: OffsetStore,
    written: Mapping[SourcePartition, int],
    forgotten: Sequence[SourcePartition],
    deadline: _Deadline,
) -> None:
    if not written and not forgotten:
        return
    deadline.bounded(store).ensure_topic()
    producer, watch = make_producer({**store.settings.admin, **_PRODUCER}, f"{store.connector}|offsets-admin")
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    store.write(producer, written, on_delivery)
    store.forget(producer, forgotten, on_delivery)
    remaining = producer.flush(deadline.left())
    watch.raise_if_fatal()
    if remaining or failures:
        raise KafkaClientError(
            f"writing offsets of {store.connector}",
            "TIMED_OUT" if remaining else "DELIVERY_FAILED",
            failures[0] if failures else f"{remaining} offset records not acknowledged",
            True,
            False,
        )


@contextmanager
def _unavailable_on_failure(connector: ConnectorRecord, deadline: _Deadline) -> Iterator[None]:
    """Cluster failures become the API's 503 with the reason and the cluster (never a config value)."""
    try:
        yield
    except ConfigErrors as exc:
        raise _unresolvable(connector, exc) from exc
    except TimeoutError as exc:  # concurrent.futures.TimeoutError is the same class since Python 3.11
        raise OffsetsUnavailableError(
            f"cluster {deadline.cluster}, which holds the offsets of connector {connector.name}, did not "
            f"answer within {deadline.seconds:g} s"
        ) from exc
    except KafkaClientError as exc:
        raise OffsetsUnavailableError(
            f"the offsets of connector {connector.name} are not available from cluster "
            f"{deadline.cluster}: {exc}"
        ) from exc


def _sink_offsets(resolved: ResolvedConnector, deadline: _Deadline) -> list[ConnectorOffset]:
    config = BackupSinkConfig.parse(resolved.config)
    timeout_s = min(config.admin_timeout_ms / 1000, deadline.left())
    admin = ClusterAdmin(config.admin, f"{config.name}|offsets-admin", timeout_s)
    try:
        committed = admin.group_offsets(config.group_id)
    finally:
        admin.close()
    return [
        ConnectorOffset(
            {"kafka_topic": topic, "kafka_partition": partition}, {"kafka_offset": position.offset}
        )
        for (topic, partition), position in sorted(committed.items())
    ]


def _committed(store: OffsetStore) -> dict[SourcePartition, int]:
    try:
        return store.read()
    except KafkaClientError as exc:
        if exc.code == "UNKNOWN_TOPIC":  # the connector never ran: nothing committed
            return {}
        raise
    except KafkaException as exc:
        raise failure_from(exc, f"reading the offsets of {store.connector}") from exc


def _partition(raw: Mapping[str, OffsetValue], cluster: str, index: int) -> SourcePartition:
    where = f"offsets[{index}].partition"
    if set(raw) != {"cluster", "partition", "topic"}:
        raise InvalidOffsetsError(f"{where} must have exactly the keys cluster, partition and topic")
    topic, partition = raw["topic"], raw["partition"]
    if raw["cluster"] != cluster:
        raise InvalidOffsetsError(f"{where}.cluster must be {cluster!r}, the connector's source cluster")
    if not isinstance(topic, str) or not topic:
        raise InvalidOffsetsError(f"{where}.topic must be a topic name")
    if isinstance(partition, bool) or not isinstance(partition, int) or partition < 0:
        raise InvalidOffsetsError(f"{where}.partition must be a partition number (an integer, at least 0)")
    return topic, partition


def _offset(raw: Mapping[str, OffsetValue], index: int) -> int:
    where = f"offsets[{index}].offset"
    if set(raw) != {"offset"}:
        raise InvalidOffsetsError(f"{where} must have exactly the key offset")
    offset = raw["offset"]
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidOffsetsError(f"{where}.offset must be an integer from 0 to {MAX_OFFSET}")
    return offset
