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
from typing import ClassVar, Protocol

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
class DeliveredRun:
    """The records of one source partition in one batch, all acknowledged by the target.

    Downstream they occupy ``last_target_offset - count + 1 .. last_target_offset``: one
    idempotent producer appends them in order. Upstream they are consecutive when
    ``last_source_offset - first_source_offset == count - 1``; otherwise (compaction,
    transaction markers) ``source_offsets`` lists each record's offset, in order.
    """

    partition: SourcePartition
    first_source_offset: int
    last_source_offset: int
    count: int
    target_topic: str
    last_target_offset: int
    last_timestamp_ms: int
    source_offsets: tuple[int, ...] | None = None

    @property
    def first_target_offset(self) -> int:
        return self.last_target_offset - self.count + 1


class ConnectorContext(Protocol):
    def request_task_reconfiguration(self) -> None:
        """Ask the worker to call ``task_configs`` again and restart tasks whose config changed."""

    def raise_error(self, error: BaseException) -> None:
        """Fail the connector; the worker reports it FAILED with this trace."""


class SourceTaskContext(Protocol):
    def last_committed_offsets(self, partitions: Sequence[SourcePartition]) -> Mapping[SourcePartition, int]:
        """The last source offset whose record the target acknowledged, per partition that has one."""

    def report(self, detail: str | None) -> None:
        """Set (or, with None, clear) a short note shown with the task's status."""


class SourceTask(abc.ABC):
    """Moves records from a source into the worker's target producer."""

    stores_source_offsets: ClassVar[bool] = True
    """False for tasks with nothing to resume from (heartbeats): the worker records no progress."""

    @abc.abstractmethod
    def start(self, config: TaskConfig, context: SourceTaskContext) -> None: ...

    @abc.abstractmethod
    def poll(self) -> SourceBatch | None:
        """Return the next batch, or None when nothing arrived within the task's poll timeout."""

    @abc.abstractmethod
    def producer_config(self) -> Mapping[str, str]:
        """librdkafka settings of the producer that writes this task's records to the target."""

    def delivered(self, runs: Sequence[DeliveredRun]) -> None:  # noqa: B027
        """Runs acknowledged since the last call, in acknowledgement order, at every offset commit.

        Called on the task's own thread *before* the worker records progress for these runs:
        whatever a task derives from them (MirrorSource's offset syncs) must be durable when this
        returns, so that a crash never leaves progress recorded without it. Raising fails the task
        and nothing is recorded; the records are then replicated again.
        """

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
