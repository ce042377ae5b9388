"""Topic administration with the tolerances MirrorMaker 2 applies.

Creating a topic that already exists, or growing one that already has enough partitions, is
the normal outcome of two workers racing or of a restart, so those errors count as success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from mirror.kafka.clients import KafkaClientError, failure_from, make_admin
from mirror.topic_sync import ConfigEntryInfo

log = logging.getLogger("mirror.kafka.admin")

_TOLERATED_ON_CREATE = frozenset({KafkaError.TOPIC_ALREADY_EXISTS})
_ALREADY_GROWN = frozenset({KafkaError.INVALID_PARTITIONS})
"""What create_partitions answers when a topic already has that many partitions."""
_GROUPS_IN_FLIGHT = 256


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int  # -1: the broker's default
    configs: Mapping[str, str] = field(default_factory=dict)


def _entry_info(entry: ConfigEntry) -> ConfigEntryInfo:
    # describe_configs hands back the source as a plain int, not the ConfigSource its stub promises.
    raw: object = entry.source
    source = raw if isinstance(raw, ConfigSource) else ConfigSource(raw)
    return ConfigEntryInfo(
        value=entry.value,
        is_default=source == ConfigSource.DEFAULT_CONFIG,
        is_dynamic_topic_config=source == ConfigSource.DYNAMIC_TOPIC_CONFIG,
        read_only=bool(entry.is_read_only),
        sensitive=bool(entry.is_sensitive),
        from_static_broker_config=source == ConfigSource.STATIC_BROKER_CONFIG,
    )


@dataclass(frozen=True)
class GroupOffset:
    offset: int
    metadata: str


class ClusterAdmin:
    """Admin operations on one cluster, each bounded by ``timeout_s``."""

    def __init__(self, config: Mapping[str, str], name: str, timeout_s: float) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self._admin: AdminClient = make_admin(config, name)

    def _result(self, future: Future[Any], context: str) -> Any:
        try:
            return future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            raise failure_from(exc, context) from exc
        except TimeoutError as exc:
            raise self._timed_out(context) from exc

    def _settled(self, future: Future[Any], context: str, tolerated: frozenset[int]) -> bool:
        """Like ``_result`` for an operation with no answer: False when the broker answered one of
        ``tolerated`` (the change was already made), True when it succeeded."""
        try:
            future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() in tolerated:
                return False
            raise failure_from(exc, context) from exc
        except TimeoutError as exc:
            raise self._timed_out(context) from exc
        return True

    def _timed_out(self, context: str) -> KafkaClientError:
        return KafkaClientError(context, "TIMED_OUT", f"no answer in {self.timeout_s:g}s", True, False)

    def topic_partitions(self) -> dict[str, int]:
        """Every topic on the cluster and its partition count."""
        try:
            metadata = self._admin.list_topics(timeout=self.timeout_s)
        except KafkaException as exc:
            raise failure_from(exc, f"{self.name}: listing topics") from exc
        return {
            name: len(topic.partitions)
            for name, topic in metadata.topics.items()
            if topic.error is None or topic.error.code() == KafkaError.NO_ERROR
        }

    def cluster_id(self) -> str:
        try:
            return str(self._admin.list_topics(timeout=self.timeout_s).cluster_id)
        except KafkaException as exc:
            raise failure_from(exc, f"{self.name}: describing cluster") from exc

    def create_topics(self, specs: Iterable[TopicSpec]) -> list[str]:
        """Create the topics; return the names this call created (existing ones are skipped)."""
        new_topics = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                config=dict(spec.configs),
            )
            for spec in specs
        ]
        if not new_topics:
            return []
        created: list[str] = []
        futures = self._admin.create_topics(new_topics, operation_timeout=self.timeout_s)
        for name, future in futures.items():
            if self._settled(future, f"{self.name}: creating topic {name}", _TOLERATED_ON_CREATE):
                created.append(name)
        return created

    def grow_partitions(self, wanted: Mapping[str, int]) -> list[str]:
        """Raise partition counts; a topic that already has enough partitions is left alone."""
        if not wanted:
            return []
        grown: list[str] = []
        futures = self._admin.create_partitions(
            [NewPartitions(topic, count) for topic, count in wanted.items()],
            operation_timeout=self.timeout_s,
        )
        for topic, future in futures.items():
            context = f"{self.name}: adding partitions to {topic}"
            if self._settled(future, context, _ALREADY_GROWN):
                grown.append(topic)
        return grown

    def describe_topic_configs(self, topics: Iterable[str]) -> dict[str, dict[str, ConfigEntryInfo]]:
        resources = [ConfigResource(ResourceType.TOPIC, topic) for topic in topics]
        if not resources:
            return {}
        described: dict[str, dict[str, ConfigEntryInfo]] = {}
        for resource, future in self._admin.describe_configs(
            resources, request_timeout=self.timeout_s
        ).items():
            entries: dict[str, ConfigEntry] = self._result(
                future, f"{self.name}: describing configs of {resource.name}"
            )
            described[resource.name] = {name: _entry_info(entry) for name, entry in entries.items()}
        return described

    def alter_topic_configs(self, changes: Mapping[str, Mapping[str, str | None]]) -> None:
        """Incrementally set (value) or delete (None) topic config overrides."""
        resources = []
        for topic, entries in changes.items():
            if not entries:
                continue
            incremental = [
                ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
                if value is not None
                else ConfigEntry(name, None, incremental_operation=AlterConfigOpType.DELETE)
                for name, value in entries.items()
            ]
            resources.append(ConfigResource(ResourceType.TOPIC, topic, incremental_configs=incremental))
        if not resources:
            return
        futures = self._admin.incremental_alter_configs(resources, request_timeout=self.timeout_s)
        for resource, future in futures.items():
            self._result(future, f"{self.name}: altering configs of {resource.name}")

    def end_offsets(
        self, partitions: Iterable[tuple[str, int]], *, committed: bool = False
    ) -> dict[tuple[str, int], int]:
        """Log-end offsets (the offset the next record will get) of the given partitions.

        ``committed``: the last stable offsets instead, where a read_committed consumer stops
        while a transaction is open."""
        isolation = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
        return self._list_offsets(partitions, OffsetSpec.latest(), isolation)  # type: ignore[no-untyped-call]

    def start_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Log-start offsets: the oldest offset still held (retention and deletion move it)."""
        return self._list_offsets(
            partitions,
            OffsetSpec.earliest(),  # type: ignore[no-untyped-call]
            IsolationLevel.READ_UNCOMMITTED,
        )

    def _list_offsets(
        self, partitions: Iterable[tuple[str, int]], spec: OffsetSpec, isolation: IsolationLevel
    ) -> dict[tuple[str, int], int]:
        """One ListOffsets round for every partition (librdkafka groups them per leader)."""
        request = {TopicPartition(topic, partition): spec for topic, partition in partitions}
        if not request:
            return {}
        results: dict[tuple[str, int], int] = {}
        futures = self._admin.list_offsets(request, isolation_level=isolation, request_timeout=self.timeout_s)
        for tp, future in futures.items():
            info = self._result(future, f"{self.name}: listing offsets of {tp.topic}-{tp.partition}")
            results[(tp.topic, tp.partition)] = int(info.offset)
        return results

    # ---- consumer groups ---------------------------------------------------------------------

    def consumer_groups(self) -> list[str]:
        result = self._result(
            self._admin.list_consumer_groups(request_timeout=self.timeout_s), f"{self.name}: listing groups"
        )
        return sorted(listing.group_id for listing in result.valid)

    def group_offsets(self, group: str) -> dict[tuple[str, int], GroupOffset]:
        """The group's committed offsets (partitions without a commit are left out)."""
        return self.offsets_of_groups([group])[group]

    def offsets_of_listed_groups(
        self, accepts: Callable[[str], bool]
    ) -> dict[str, dict[tuple[str, int], GroupOffset]]:
        """``offsets_of_groups`` of every group on the cluster that ``accepts`` admits."""
        return self.offsets_of_groups(group for group in self.consumer_groups() if accepts(group))

    def offsets_of_groups(
        self,
        groups: Iterable[str],
        *,
        on_error: Callable[[str, KafkaClientError], None] | None = None,
    ) -> dict[str, dict[tuple[str, int], GroupOffset]]:
        """Each group's committed offsets, as ``group_offsets`` gives them. A group that cannot be
        read raises, or with ``on_error`` is handed to it and left out.

        The admin API takes one group per request, so up to ``_GROUPS_IN_FLIGHT`` requests are sent
        before any answer is awaited: hundreds of groups cost about one round trip, not hundreds.
        The bound keeps thousands of groups from filling the coordinator's request queue (500 by
        default, ``queued.max.requests``, shared with every producer and consumer of that broker)."""
        offsets = {}
        unique = list(dict.fromkeys(groups))
        for start in range(0, len(unique), _GROUPS_IN_FLIGHT):
            futures: dict[str, Future[Any]] = {}
            for group in unique[start : start + _GROUPS_IN_FLIGHT]:
                request = [ConsumerGroupTopicPartitions(group)]
                sent = self._admin.list_consumer_group_offsets(request, request_timeout=self.timeout_s)
                futures[group] = sent[group]
            for group, future in futures.items():
                try:
                    result = self._result(future, f"{self.name}: listing offsets of group {group}")
                except KafkaClientError as exc:
                    if on_error is None:
                        raise
                    on_error(group, exc)
                    continue
                offsets[group] = {
                    (tp.topic, tp.partition): GroupOffset(tp.offset, tp.metadata or "")
                    for tp in result.topic_partitions
                    if tp.offset >= 0 and tp.error is None
                }
        return offsets

    def group_states(self, groups: Iterable[str]) -> dict[str, str]:
        """State names (``EMPTY``, ``STABLE``, ``DEAD`` for unknown groups, ...) and member counts."""
        wanted = list(groups)
        if not wanted:
            return {}
        futures = self._admin.describe_consumer_groups(wanted, request_timeout=self.timeout_s)
        states: dict[str, str] = {}
        for group, future in futures.items():
            description = self._result(future, f"{self.name}: describing group {group}")
            state = description.state
            states[group] = state.name if hasattr(state, "name") else str(state)
        return states

    def group_members(self, group: str) -> int:
        futures = self._admin.describe_consumer_groups([group], request_timeout=self.timeout_s)
        return len(self._result(futures[group], f"{self.name}: describing group {group}").members)

    def alter_group_offsets(self, group: str, offsets: Mapping[tuple[str, int], GroupOffset]) -> None:
        """Commit offsets for a group that has no active member (the broker refuses otherwise)."""
        if not offsets:
            return
        partitions = [
            # The binding refuses metadata=None; "" is what Kafka stores for "no metadata".
            TopicPartition(topic, partition, position.offset, position.metadata)
            for (topic, partition), position in offsets.items()
        ]
        request = [ConsumerGroupTopicPartitions(group, partitions)]
        futures = self._admin.alter_consumer_group_offsets(request, request_timeout=self.timeout_s)
        result = self._result(futures[group], f"{self.name}: committing offsets of group {group}")
        failed = [tp for tp in result.topic_partitions if tp.error is not None]
        if failed:
            raise failure_from(
                failed[0].error, f"{self.name}: committing {failed[0].topic}-{failed[0].partition}"
            )

    def close(self) -> None:
        # AdminClient has no close(); dropping the reference lets librdkafka tear it down.
        self._admin = None  # type: ignore[assignment]
