"""Runs one source task: the replication hot path.

The loop is consume a batch -> produce every record -> serve delivery reports -> record
progress. Only the last record of each source partition in a batch carries a delivery
callback: the producer is idempotent with ``enable.gapless.guarantee``, so within a
partition acknowledgements arrive in order and a failure that would leave a gap is fatal to
the producer. An acknowledged tail therefore proves every earlier record of that partition
in the batch landed, and progress is committed only up to acknowledged tails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from confluent_kafka import KafkaError, Message, Producer
from prometheus_client import Counter

from mirror import metrics
from mirror.kafka import failure_from, make_producer
from mirror.kafka.clients import ErrorWatch
from mirror.runtime.contracts import DeliveredRun, SourceBatch, SourcePartition, SourceTask, TaskConfig
from mirror.runtime.lifecycle import TaskLifecycle
from mirror.runtime.offsets import OffsetStore
from mirror.runtime.status import State

log = logging.getLogger("mirror.runtime.task")

# Settings the correctness argument above rests on; a user override would silently break it.
PRODUCER_INVARIANTS: Mapping[str, str] = {
    "enable.idempotence": "true",
    "enable.gapless.guarantee": "true",
    "acks": "all",
    # Progress records are keyed; murmur2 puts each key on the partition Java's Connect uses.
    "partitioner": "murmur2_random",
}
PRODUCER_DEFAULTS: Mapping[str, str] = {
    "linger.ms": "20",
    "batch.size": "1000000",
    "queue.buffering.max.messages": "500000",
    "queue.buffering.max.kbytes": "1048576",
    # 0 = never expire: a record that can't be delivered must stop the task, not vanish.
    "message.timeout.ms": "0",
}
_STOP_FLUSH_TIMEOUT_S = 8.0


class DeliveryFailedError(Exception):
    """A record the target refused; the task restarts from its last committed offsets."""


class TaskRunner(TaskLifecycle):
    """A thread that starts a task, moves its batches, restarts it after failures, and stops it."""

    def __init__(
        self,
        *,
        connector: str,
        task_id: int,
        worker_id: str,
        task_factory: Callable[[], SourceTask],
        config: TaskConfig,
        offsets: OffsetStore,
        flush_interval_s: float,
        connector_class: str = "",
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
        self._offsets = offsets
        self._flush_interval_s = flush_interval_s
        self._metrics = _TaskMetrics(connector, connector_class or "unknown")
        # Per-run state, reset by _run_once.
        self._acked: list[DeliveredRun] = []
        self._delivery_error: KafkaError | None = None

    def _run_once(self) -> None:
        task = self._task_factory()
        self._acked = []
        self._delivery_error = None
        task.start(self.config, _TaskContext(self._offsets, self._report))
        producer: Producer | None = None
        try:
            producer_config = {**PRODUCER_DEFAULTS, **task.producer_config(), **PRODUCER_INVARIANTS}
            producer, watch = make_producer(producer_config, f"{self.connector}-{self.task_id}|producer")
            self._set_state(State.PAUSED if self._paused.is_set() else State.RUNNING)
            log.info("task started", extra={"connector": self.connector, "task": self.task_id})
            self._loop(task, producer, watch)
            self._drain(task, producer, watch)
        finally:
            try:
                task.stop()
            finally:
                if producer is not None:
                    producer.flush(0)

    def _loop(self, task: SourceTask, producer: Producer, watch: ErrorWatch) -> None:
        next_commit = time.monotonic() + self._flush_interval_s
        while not self._stop.is_set():
            if self._paused.is_set():
                self._set_state(State.PAUSED)
                producer.poll(0.2)
                self._commit(task, producer)
                continue
            if self.status().state == State.PAUSED:
                self._set_state(State.RUNNING)
            batch = task.poll()
            if batch is not None and batch.messages:
                self._send(batch, producer)
            producer.poll(0)
            self._check(watch)
            now = time.monotonic()
            if now >= next_commit:
                self._commit(task, producer)
                next_commit = now + self._flush_interval_s

    def _drain(self, task: SourceTask, producer: Producer, watch: ErrorWatch) -> None:
        """Deliver what is in flight and commit it, so a clean stop loses and repeats nothing."""
        deadline = time.monotonic() + _STOP_FLUSH_TIMEOUT_S
        remaining = producer.flush(_STOP_FLUSH_TIMEOUT_S)
        self._check(watch)
        self._commit(task, producer)
        producer.flush(max(0.5, deadline - time.monotonic()))
        if remaining:
            log.warning(
                "stopped with records still in flight; they will be replicated again on restart",
                extra={"connector": self.connector, "task": self.task_id, "records": remaining},
            )

    def _check(self, watch: ErrorWatch) -> None:
        watch.raise_if_fatal()
        if self._delivery_error is not None:
            raise DeliveryFailedError(
                failure_from(self._delivery_error, f"{self.connector}-{self.task_id} delivery")
            )

    def _commit(self, task: SourceTask, producer: Producer) -> None:
        if not self._acked:
            return
        acked, self._acked = self._acked, []
        task.delivered(acked)
        if task.stores_source_offsets:
            # Later runs of a partition overwrite earlier ones: the last acknowledged record wins.
            self._offsets.write(producer, {run.partition: run.last_source_offset for run in acked})

    # ---- hot path -----------------------------------------------------------------------------

    def _send(self, batch: SourceBatch, producer: Producer) -> None:
        messages = batch.messages
        spans = self._spans(messages)
        if spans is None:
            # Consume errors ride in the batch as messages; drop them (rare) and index again.
            messages = [message for message in messages if message.error() is None]
            spans = self._spans(messages) or {}
        routes = batch.routes
        self._metrics.batch_read(messages)
        produce = producer.produce
        start = 0
        for partition, span in sorted(spans.items(), key=lambda item: item[1][1]):
            first_index, last_index, count = span
            for message in messages[start:last_index]:
                try:
                    produce(
                        routes[message.topic()],  # type: ignore[index]
                        message.value(),
                        message.key(),
                        message.partition(),  # type: ignore[arg-type]
                        timestamp=message.timestamp()[1],
                        headers=message.headers(),
                    )
                except BufferError:
                    self._produce_when_room(producer, routes, message, None)
            callback = self._tail_callback(partition, messages, first_index, last_index, count)
            self._produce_when_room(producer, routes, messages[last_index], callback)
            start = last_index + 1

    def _spans(self, messages: Sequence[Message]) -> dict[SourcePartition, list[int]] | None:
        """Per source partition in the batch: [first index, last index, record count].

        The one per-record pass besides produce() itself. None if the batch carries consume
        errors (each is raised, or logged and left for the caller to drop).
        """
        spans: dict[SourcePartition, list[int]] = {}
        clean = True
        for index, message in enumerate(messages):
            if message.error() is not None:
                self._consume_error(message)
                clean = False
                continue
            partition = (message.topic(), message.partition())
            span = spans.get(partition)  # type: ignore[arg-type]
            if span is None:
                spans[partition] = [index, index, 1]  # type: ignore[index]
            else:
                span[1] = index
                span[2] += 1
        return spans if clean else None

    def _consume_error(self, message: Message) -> None:
        error = message.error()
        assert error is not None
        failure = failure_from(error, f"{self.connector}-{self.task_id} consuming {message.topic()}")
        if failure.fatal or (not failure.retriable and error.code() != KafkaError._PARTITION_EOF):
            raise failure
        log.warning("consume error", extra={"connector": self.connector, "error": str(failure)})

    def _produce_when_room(
        self,
        producer: Producer,
        routes: Mapping[str, str],
        message: Message,
        callback: Callable[[KafkaError | None, Message], None] | None,
    ) -> None:
        while True:
            try:
                producer.produce(
                    routes[message.topic()],  # type: ignore[index]
                    message.value(),
                    message.key(),
                    message.partition(),  # type: ignore[arg-type]
                    on_delivery=callback,
                    timestamp=message.timestamp()[1],
                    headers=message.headers(),
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                producer.poll(0.05)
                if self._stop.is_set() and self._delivery_error is not None:
                    raise DeliveryFailedError("stopping with a failed delivery") from None

    def _tail_callback(
        self,
        partition: SourcePartition,
        messages: Sequence[Message],
        first_index: int,
        last_index: int,
        count: int,
    ) -> Callable[[KafkaError | None, Message], None]:
        first_offset: int = messages[first_index].offset()  # type: ignore[assignment]
        last_offset: int = messages[last_index].offset()  # type: ignore[assignment]
        source_offsets: tuple[int, ...] | None = None
        if last_offset - first_offset != count - 1:
            # A gap inside the batch (compaction, transaction markers): keep every offset, which
            # exact offset translation needs; rare enough not to matter on the hot path.
            source_offsets = tuple(
                m.offset()  # type: ignore[misc]
                for m in messages[first_index : last_index + 1]
                if m.error() is None and (m.topic(), m.partition()) == partition
            )

        def on_tail_delivered(error: KafkaError | None, delivered: Message) -> None:
            if error is not None:
                self._delivery_error = error
                return
            timestamp_ms: int = delivered.timestamp()[1]
            self._metrics.run_delivered(delivered.topic(), count, timestamp_ms)  # type: ignore[arg-type]
            # self._acked is looked up at call time: _commit swaps the list between batches.
            self._acked.append(
                DeliveredRun(
                    partition,
                    first_offset,
                    last_offset,
                    count,
                    delivered.topic(),  # type: ignore[arg-type]
                    delivered.offset(),  # type: ignore[arg-type]
                    timestamp_ms,
                    source_offsets,
                )
            )

        return on_tail_delivered


class _TaskMetrics:
    """The task's Prometheus children, bound to its labels once (``labels()`` costs a lock and a
    dict lookup); one call per batch and one per delivered run, never per record."""

    def __init__(self, connector: str, connector_class: str) -> None:
        self._labels = (connector, connector_class)
        self._bytes = metrics.REPLICATION_BYTES.labels(*self._labels)
        self._latency = metrics.REPLICATION_LATENCY.labels(*self._labels)
        self._age = metrics.RECORD_AGE.labels(*self._labels)
        self._records: dict[str, Counter] = {}

    def batch_read(self, messages: Sequence[Message]) -> None:
        # len() of a Message is its value's size: one C-level pass over the batch.
        self._bytes.inc(sum(map(len, messages)))
        newest_ms: int = messages[-1].timestamp()[1]
        if newest_ms > 0:
            self._age.observe(max(0.0, time.time() - newest_ms / 1000))

    def run_delivered(self, topic: str, count: int, timestamp_ms: int) -> None:
        records = self._records.get(topic)
        if records is None:
            records = self._records[topic] = metrics.REPLICATION_RECORDS.labels(*self._labels, topic)
        records.inc(count)
        if timestamp_ms > 0:
            self._latency.observe(max(0.0, time.time() - timestamp_ms / 1000))


class _TaskContext:
    def __init__(self, offsets: OffsetStore, report: Callable[[str | None], None]) -> None:
        self._offsets = offsets
        self.report = report

    def last_committed_offsets(self, partitions: Sequence[SourcePartition]) -> Mapping[SourcePartition, int]:
        stored = self._offsets.read()
        return {partition: stored[partition] for partition in partitions if partition in stored}
