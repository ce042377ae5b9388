"""Sink tasks: the contract (shaped after Kafka Connect's SinkTask) and the runner that drives one.

A :class:`SinkTask` receives the raw ``confluent_kafka.Message`` batches a consumer returns and
writes them somewhere outside Kafka. The :class:`SinkTaskRunner` owns that consumer: it reads
with ``isolation.level=read_committed`` (records of aborted transactions never reach the task),
starts each partition where the task says (its own durable state) or at the group's committed
offset, and commits the group's offsets only up to what the task reports durably stored.
The group's offsets are therefore a lag gauge that never runs ahead of the data.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from mirror.kafka import failure_from, make_consumer, watermarks
from mirror.kafka.clients import ErrorWatch, KafkaClientError, retrying
from mirror.runtime.contracts import ConnectorContext, SourcePartition, TaskConfig
from mirror.runtime.lifecycle import TaskLifecycle
from mirror.runtime.status import State

log = logging.getLogger("mirror.runtime.sink")

CONSUMER_INVARIANTS: Mapping[str, str] = {
    "isolation.level": "read_committed",
    "enable.auto.commit": "false",
    "enable.auto.offset.store": "false",
}
DEFAULT_BATCH_RECORDS = 5000
FROM_START = -2
"""An assignment offset meaning "the partition's first record" (Kafka's OFFSET_BEGINNING)."""
_STOP_COMMIT_ATTEMPTS = 3
_COORDINATOR_WAIT_S = 60.0
_CAUGHT_UP_COMMIT_S = 0.2


class SinkTaskContext(Protocol):
    def report(self, detail: str | None) -> None:
        """Set (or, with None, clear) a short note shown with the task's status."""


class SinkTask(abc.ABC):
    """Writes consumed records to an external system."""

    @abc.abstractmethod
    def start(self, config: TaskConfig, context: SinkTaskContext) -> None: ...

    @abc.abstractmethod
    def consumer_config(self) -> Mapping[str, str]:
        """librdkafka settings of the task's consumer, ``group.id`` included."""

    @abc.abstractmethod
    def assignment(self) -> Mapping[SourcePartition, int | None]:
        """The partitions to read and the offset each starts at.

        An offset is the task's own durable progress; :data:`FROM_START` the partition's first
        record; None "the group's committed offset, or ``auto.offset.reset`` when it has none".
        """

    @abc.abstractmethod
    def put(self, messages: Sequence[Message]) -> None:
        """Records of one poll, in consumption order; called with none when a poll found nothing,
        so time-based work still happens. Raising fails the task."""

    @abc.abstractmethod
    def pre_commit(
        self, positions: Mapping[SourcePartition, int], *, final: bool
    ) -> Mapping[SourcePartition, int]:
        """Offsets safe to commit: per partition, the next offset not yet durably stored.

        ``positions`` is the consumer's position (the next offset it reads, past transaction
        markers) of each partition. ``final``: the task is stopping cleanly; store what is
        buffered first. Called every ``flush_interval_s`` and at a clean stop.
        """

    def finished(self) -> bool:
        """True when the task has done all it was asked (a one-off backup); the runner then stops."""
        return False

    @abc.abstractmethod
    def stop(self) -> None: ...


class SinkConnector(abc.ABC):
    """Plans sink tasks, as :class:`mirror.runtime.contracts.Connector` does for source tasks."""

    @abc.abstractmethod
    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None: ...

    @abc.abstractmethod
    def task_class(self) -> type[SinkTask]: ...

    @abc.abstractmethod
    def task_configs(self, max_tasks: int) -> list[TaskConfig]: ...

    @abc.abstractmethod
    def stop(self) -> None: ...


class PartitionRecreatedError(Exception):
    """A task resumes past the partition's end: the topic was probably deleted and recreated."""


class SinkTaskRunner(TaskLifecycle):
    """A thread that starts a sink task, feeds it batches, commits what it stored, and restarts it."""

    def __init__(
        self,
        *,
        connector: str,
        task_id: int,
        worker_id: str,
        task_factory: Callable[[], SinkTask],
        config: TaskConfig,
        flush_interval_s: float,
        batch_records: int = DEFAULT_BATCH_RECORDS,
        poll_timeout_s: float = 0.5,
        restart_backoff_s: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        super().__init__(
            connector=connector,
            task_id=task_id,
            worker_id=worker_id,
            config=config,
            restart_backoff_s=restart_backoff_s,
        )
        self._task_factory = task_factory
        self._flush_interval_s = flush_interval_s
        self._batch_records = batch_records
        self._poll_timeout_s = poll_timeout_s
        self._finished = False
        self._positions: dict[SourcePartition, int] = {}
        self._committed: dict[SourcePartition, int] = {}

    @property
    def finished(self) -> bool:
        """The task reported all its work done and the runner stopped after committing it."""
        with self._lock:
            return self._finished

    def _run_once(self) -> None:
        task = self._task_factory()
        task.start(self.config, _SinkContext(self._report))
        consumer: Consumer | None = None
        try:
            consumer_config = {**task.consumer_config(), **CONSUMER_INVARIANTS}
            consumer, watch = make_consumer(consumer_config, f"{self.connector}-{self.task_id}|consumer")
            reset = consumer_config.get("auto.offset.reset", "earliest")
            self._positions = self._resolve(consumer, task.assignment(), reset)
            self._committed = {}
            consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in self._positions.items()])
            self._set_state(State.PAUSED if self._paused.is_set() else State.RUNNING)
            log.info(
                "sink task started",
                extra={"connector": self.connector, "task": self.task_id, "partitions": len(self._positions)},
            )
            self._loop(task, consumer, watch)
            self._final_commit(task, consumer)
        finally:
            try:
                task.stop()
            finally:
                if consumer is not None:
                    consumer.close()

    def _resolve(
        self, consumer: Consumer, assignment: Mapping[SourcePartition, int | None], reset: str
    ) -> dict[SourcePartition, int]:
        """A concrete start offset for every partition, so positions are known before any record."""
        unknown = [TopicPartition(t, p) for (t, p), offset in assignment.items() if offset is None]
        committed: dict[SourcePartition, int] = {}
        if unknown:
            for tp in self._committed_offsets(consumer, unknown):
                if tp.offset >= 0:
                    committed[(tp.topic, tp.partition)] = tp.offset
        resolved: dict[SourcePartition, int] = {}
        for (topic, partition), wanted in assignment.items():
            low, high = watermarks(consumer, topic, partition, 30)
            offset = wanted if wanted is not None else committed.get((topic, partition))
            if offset == FROM_START:
                offset = low
            elif offset is None:
                offset = high if reset == "latest" else low
            elif offset > high:
                raise PartitionRecreatedError(
                    f"{topic}-{partition}: progress is at offset {offset} but the partition ends at {high}; "
                    "was the topic deleted and recreated? Refusing to overwrite what is stored."
                )
            elif offset < low:
                log.warning(
                    "records deleted by retention before they were read; continuing at the log start",
                    extra={
                        "connector": self.connector,
                        "partition": f"{topic}-{partition}",
                        "lost": f"{offset}..{low - 1}",
                    },
                )
                offset = low
            resolved[(topic, partition)] = offset
        return resolved

    def _committed_offsets(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        """The group's commits, riding out a coordinator that is still being elected or loaded."""
        return retrying(
            lambda seconds_left: list(consumer.committed(partitions, timeout=min(30.0, seconds_left))),
            f"{self.connector}: reading committed offsets",
            _COORDINATOR_WAIT_S,
            pause_s=0.5,
        )

    def _loop(self, task: SinkTask, consumer: Consumer, watch: ErrorWatch) -> None:
        next_commit = time.monotonic() + self._flush_interval_s
        assigned = [TopicPartition(t, p) for t, p in self._positions]
        paused = False
        while not self._stop.is_set():
            if self._paused.is_set() != paused:
                paused = self._paused.is_set()
                (consumer.pause if paused else consumer.resume)(assigned)
                self._set_state(State.PAUSED if paused else State.RUNNING)
            messages = consumer.consume(self._batch_records, self._poll_timeout_s)
            if messages and any(message.error() is not None for message in messages):
                messages = self._without_errors(messages)
            task.put(messages)
            watch.raise_if_fatal()
            now = time.monotonic()
            # Caught up (a short batch): commit soon, so a one-off job notices it is done quickly.
            since_commit = now - (next_commit - self._flush_interval_s)
            caught_up = len(messages) < self._batch_records and since_commit >= _CAUGHT_UP_COMMIT_S
            if now >= next_commit or caught_up:
                self._commit(task, consumer, final=False)
                next_commit = now + self._flush_interval_s
                if task.finished():
                    self._finish()
                    return

    def _finish(self) -> None:
        with self._lock:
            self._finished = True
            self._detail = "finished: every partition is stored up to its end offset"
        self._stop.set()
        log.info("sink task finished its work", extra={"connector": self.connector, "task": self.task_id})

    def _final_commit(self, task: SinkTask, consumer: Consumer) -> None:
        if self.finished:
            return
        for attempt in range(_STOP_COMMIT_ATTEMPTS):
            try:
                self._commit(task, consumer, final=True)
                return
            except KafkaClientError as exc:
                if not exc.retriable or attempt == _STOP_COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(0.5)

    def _without_errors(self, messages: Sequence[Message]) -> list[Message]:
        clean = []
        for message in messages:
            error = message.error()
            if error is None:
                clean.append(message)
                continue
            failure = failure_from(error, f"{self.connector}-{self.task_id} consuming {message.topic()}")
            if failure.fatal or (not failure.retriable and error.code() != KafkaError._PARTITION_EOF):
                raise failure
            log.warning("consume error", extra={"connector": self.connector, "error": str(failure)})
        return clean

    def _commit(self, task: SinkTask, consumer: Consumer, *, final: bool) -> None:
        assigned = [TopicPartition(t, p) for t, p in self._positions]
        try:
            for tp in consumer.position(assigned):
                if tp.offset >= 0:
                    self._positions[(tp.topic, tp.partition)] = tp.offset
        except KafkaException as exc:
            raise failure_from(exc, f"{self.connector}: reading positions") from exc
        safe = task.pre_commit(dict(self._positions), final=final)
        moved = [
            TopicPartition(topic, partition, offset)
            for (topic, partition), offset in safe.items()
            if offset > self._committed.get((topic, partition), -1)
        ]
        if not moved:
            return
        try:
            consumer.commit(offsets=moved, asynchronous=False)
        except KafkaException as exc:
            failure = failure_from(exc, f"{self.connector}: committing group offsets")
            if failure.fatal:
                raise failure from exc
            # The data is stored and the task resumes from its own progress: a group commit the
            # broker refused (coordinator moving, another member in the group) only delays the gauge.
            log.warning(
                "group offsets not committed", extra={"connector": self.connector, "error": str(failure)}
            )
            return
        for tp in moved:
            self._committed[(tp.topic, tp.partition)] = tp.offset


class _SinkContext:
    def __init__(self, report: Callable[[str | None], None]) -> None:
        self.report = report
