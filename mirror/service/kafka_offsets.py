"""``OffsetsAdmin`` against Kafka: a connector's source offsets in its offsets topic on the target.

Partitions and offsets have MM2's shapes: ``{"cluster": "A", "partition": 0, "topic": "t"}`` ->
``{"offset": 41}``, the last source offset replicated (tasks resume at the next one). Records
are written with the partitioner Java's Connect uses, so Apache MM2 reads them too.

A sink connector (the S3 backup) keeps no source offsets: its progress is what its store holds.
Its offsets are shown as Connect shows a sink's, its consumer group's commits
(``{"kafka_topic": "t", "kafka_partition": 0}`` -> ``{"kafka_offset": 42}``), and cannot be changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

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
_FLUSH_TIMEOUT_S = 30.0


class KafkaOffsetsAdmin:
    """Reads and changes stored connectors' source offsets; cluster profiles come from ``store``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, connector: ConnectorRecord) -> list[ConnectorOffset]:
        with _unavailable_on_failure(connector):
            resolved = self._resolve(connector)
            if resolved.offsets is None:
                return _sink_offsets(resolved)
            offsets = OffsetStore(resolved.offsets, connector.name, resolved.source_alias)
            committed = _committed(offsets)
        return [
            ConnectorOffset(
                {"cluster": offsets.cluster, "partition": partition, "topic": topic}, {"offset": offset}
            )
            for (topic, partition), offset in sorted(committed.items())
        ]

    def alter(self, connector: ConnectorRecord, offsets: Sequence[ConnectorOffset]) -> None:
        with _unavailable_on_failure(connector):
            store = self._offset_store(connector)
        written: dict[SourcePartition, int] = {}
        forgotten: list[SourcePartition] = []
        for index, entry in enumerate(offsets):
            partition = _partition(entry.partition, store.cluster, index)
            if entry.offset is None:
                forgotten.append(partition)
            else:
                written[partition] = _offset(entry.offset, index)
        with _unavailable_on_failure(connector):
            self._write(store, written, forgotten)

    def reset(self, connector: ConnectorRecord) -> None:
        with _unavailable_on_failure(connector):
            store = self._offset_store(connector)
            self._write(store, {}, list(_committed(store)))

    def _resolve(self, connector: ConnectorRecord) -> ResolvedConnector:
        clusters = {profile.name: profile for profile in self._store.list_clusters()}
        return resolve(connector.name, connector.connector_class, connector.config, clusters)

    def _offset_store(self, connector: ConnectorRecord) -> OffsetStore:
        resolved = self._resolve(connector)
        if resolved.offsets is None:
            raise InvalidOffsetsError(
                f"connector {connector.name} keeps no offsets to change: a backup resumes from what its "
                "S3 manifest holds"
            )
        return OffsetStore(resolved.offsets, connector.name, resolved.source_alias)

    def _write(
        self, store: OffsetStore, written: Mapping[SourcePartition, int], forgotten: Sequence[SourcePartition]
    ) -> None:
        if not written and not forgotten:
            return
        store.ensure_topic()
        producer, watch = make_producer(
            {**store.settings.admin, **_PRODUCER}, f"{store.connector}|offsets-admin"
        )
        failures: list[str] = []

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error.str())

        store.write(producer, written, on_delivery)
        store.forget(producer, forgotten, on_delivery)
        remaining = producer.flush(_FLUSH_TIMEOUT_S)
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
def _unavailable_on_failure(connector: ConnectorRecord) -> Iterator[None]:
    """Cluster and profile failures become the API's 503 with the reason (never a config value)."""
    try:
        yield
    except ConfigErrors as exc:
        keys = ", ".join(sorted({error.key for error in exc.errors if error.key}))
        raise OffsetsUnavailableError(
            f"the clusters of connector {connector.name} cannot be resolved (keys: {keys or 'none'})"
        ) from exc
    except KafkaClientError as exc:
        raise OffsetsUnavailableError(f"offsets of connector {connector.name} unavailable: {exc}") from exc


def _sink_offsets(resolved: ResolvedConnector) -> list[ConnectorOffset]:
    config = BackupSinkConfig.parse(resolved.config)
    admin = ClusterAdmin(config.admin, f"{config.name}|offsets-admin", config.admin_timeout_ms / 1000)
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
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidOffsetsError(f"{where}.offset must be an integer, at least 0")
    return offset
