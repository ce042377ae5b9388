"""Offset syncs for one MirrorSource task: which records to sync, and writing them durably.

Syncs are emitted at every break in the source->target offset relation (see
``mirror.translation.SyncEmitter``), in MM2's record format, so both Apache MM2's translator
and our exact one can read them. A lost sync would make translation silently wrong, so the
producer is idempotent and gapless and every commit waits until its syncs are acknowledged
before the worker records progress (``SourceTask.delivered``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from confluent_kafka import Producer

from mirror.formats.mm2_records import OffsetSync, encode_key, encode_value
from mirror.kafka import KafkaClientError, make_producer
from mirror.kafka.clients import ErrorWatch
from mirror.runtime.contracts import DeliveredRun, SourcePartition
from mirror.runtime.task_runner import PRODUCER_INVARIANTS
from mirror.translation import SyncEmitter, SyncPair

log = logging.getLogger("connectors.offset_syncs")

_ACK_TIMEOUT_S = 30.0


class OffsetSyncWriter:
    def __init__(
        self, topic: str, producer_config: Mapping[str, str], name: str, offset_lag_max: int
    ) -> None:
        self.topic = topic
        self._offset_lag_max = offset_lag_max
        self._emitters: dict[SourcePartition, SyncEmitter] = {}
        config = {**producer_config, **PRODUCER_INVARIANTS, "message.timeout.ms": "0", "linger.ms": "5"}
        self._producer: Producer
        self._watch: ErrorWatch
        self._producer, self._watch = make_producer(config, name)

    def write(self, runs: Sequence[DeliveredRun]) -> int:
        """Produce the syncs these runs call for and wait for them; returns how many were written."""
        touched: dict[SourcePartition, None] = {}
        written = 0
        for run in runs:
            emitter = self._emitters.get(run.partition)
            if emitter is None:
                emitter = self._emitters[run.partition] = SyncEmitter(self._offset_lag_max)
            if run.source_offsets is None:
                pairs = emitter.observe_run(
                    run.first_source_offset,
                    run.first_target_offset,
                    run.last_source_offset,
                    run.last_target_offset,
                    run.count,
                )
            else:
                pairs = emitter.observe_each(
                    zip(
                        run.source_offsets,
                        range(run.first_target_offset, run.last_target_offset + 1),
                        strict=True,
                    )
                )
            written += self._produce(run.partition, pairs)
            touched[run.partition] = None
        # MM2 (KAFKA-15906) also syncs the latest record on every commit, so a quiet partition's
        # tail becomes translatable; only partitions that moved can have an unsynced tail.
        for partition in touched:
            written += self._produce(partition, self._emitters[partition].flush())
        if written:
            remaining = self._producer.flush(_ACK_TIMEOUT_S)
            self._watch.raise_if_fatal()
            if remaining:
                raise KafkaClientError(
                    f"writing offset syncs to {self.topic}",
                    "TIMED_OUT",
                    f"{remaining} not acknowledged",
                    True,
                    False,
                )
        return written

    def _produce(self, partition: SourcePartition, pairs: Iterable[SyncPair]) -> int:
        topic, number = partition
        count = 0
        for upstream, downstream in pairs:
            sync = OffsetSync(topic, number, upstream, downstream)
            # Partition 0 explicitly, as MM2 does: the topic has one partition and readers read only it.
            self._producer.produce(self.topic, encode_value(sync), encode_key(sync), 0)
            count += 1
        return count

    def close(self) -> None:
        self._producer.flush(5.0)
