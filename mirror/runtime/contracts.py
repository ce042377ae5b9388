"""The small contracts connectors are written against, shaped after Kafka Connect's.

A :class:`Connector` plans (which partitions, which groups, how many tasks); a
:class:`SourceTask` moves bytes. The worker owns the target producer and the source-offset
store, so the records a task hands over are plain ``confluent_kafka.Message`` objects and
the worker never builds a per-record object of its own.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import Message

TaskConfig = Mapping[str, str]
SourcePartition = tuple[str, int]
"""A (source topic, partition) pair: the unit whose progress the worker records."""


@dataclass(frozen=True)
class SourceBatch:
    """Records read in one poll, and where each source topic's records go on the target.

    Partition numbers are kept: a record from partition ``p`` is written to partition ``p``.
    """

    messages: Sequence[Message]
    routes: Mapping[str, str]


@dataclass(frozen=True)
class Delivered:
    """The last record of one source partition that the target has acknowledged."""

    source_offset: int
    target_topic: str
    target_offset: int
    timestamp_ms: int


class ConnectorContext(Protocol):
    def request_task_reconfiguration(self) -> None:
        """Ask the worker to call ``task_configs`` again and restart tasks whose config changed."""

    def raise_error(self, error: BaseException) -> None:
        """Fail the connector; the worker reports it FAILED with this trace."""


class SourceTaskContext(Protocol):
    def last_committed_offsets(self, partitions: Sequence[SourcePartition]) -> Mapping[SourcePartition, int]:
        """The last source offset whose record the target acknowledged, per partition that has one."""


class SourceTask(abc.ABC):
    """Moves records from a source into the worker's target producer."""

    @abc.abstractmethod
    def start(self, config: TaskConfig, context: SourceTaskContext) -> None: ...

    @abc.abstractmethod
    def poll(self) -> SourceBatch | None:
        """Return the next batch, or None when nothing arrived within the task's poll timeout."""

    @abc.abstractmethod
    def producer_config(self) -> Mapping[str, str]:
        """librdkafka settings of the producer that writes this task's records to the target."""

    def delivered(self, acknowledged: Mapping[SourcePartition, Delivered]) -> None:  # noqa: B027
        """Called after the worker recorded progress for these partitions (for offset syncs)."""

    @abc.abstractmethod
    def stop(self) -> None: ...


class Connector(abc.ABC):
    """Validates its config, prepares shared resources, and splits the work into tasks."""

    @abc.abstractmethod
    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None: ...

    @abc.abstractmethod
    def task_class(self) -> type[SourceTask]: ...

    @abc.abstractmethod
    def task_configs(self, max_tasks: int) -> list[TaskConfig]: ...

    @abc.abstractmethod
    def stop(self) -> None: ...
