"""MirrorHeartbeatConnector: prove a flow's path works, in MirrorMaker 2's record format.

Each herder S->T writes ``Heartbeat(S, T, now)`` into T's ``heartbeats`` topic every
``emit.heartbeats.interval.seconds``. Flows replicate ``heartbeats`` like any topic (as
``T.heartbeats`` downstream), so fresh records in ``X.heartbeats`` on a cluster show that
data from X reaches it, and how long it takes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

from mirror.config.connectors import MirrorHeartbeatConfig
from mirror.formats.mm2_records import Heartbeat, encode_key, encode_value
from mirror.kafka import ClusterAdmin, TopicSpec
from mirror.runtime.contracts import (
    Connector,
    ConnectorContext,
    SourceBatch,
    SourceTask,
    SourceTaskContext,
    TaskConfig,
)

log = logging.getLogger("connectors.mirror_heartbeat")


class MirrorHeartbeatConnector(Connector):
    def __init__(self) -> None:
        self._raw: Mapping[str, str] = {}
        self._config: MirrorHeartbeatConfig | None = None

    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None:
        self._raw = dict(config)
        parsed = MirrorHeartbeatConfig.parse(config)
        self._config = parsed
        admin = ClusterAdmin(
            parsed.target_admin.librdkafka,
            f"{parsed.source_alias}->{parsed.target_alias}|{parsed.name}|heartbeats-target-admin",
            parsed.admin_timeout_ms / 1000,
        )
        try:
            created = admin.create_topics(
                [
                    TopicSpec(
                        parsed.heartbeats_topic,
                        1,
                        parsed.heartbeats_topic_replication_factor,
                        {"cleanup.policy": "compact"},
                    )
                ]
            )
        finally:
            admin.close()
        if created:
            log.info("created heartbeats topic", extra={"topic": parsed.heartbeats_topic})

    def task_class(self) -> type[SourceTask]:
        return MirrorHeartbeatTask

    def task_configs(self, max_tasks: int) -> list[TaskConfig]:
        assert self._config is not None
        # Zero tasks when disabled, exactly as MM2: the connector still creates the topic.
        return [dict(self._raw)] if self._config.emit_heartbeats_enabled and max_tasks > 0 else []

    def stop(self) -> None:
        pass


class MirrorHeartbeatTask(SourceTask):
    stores_source_offsets = False  # MM2 stores a constant {"offset":0}; there is nothing to resume

    def __init__(self) -> None:
        self._config: MirrorHeartbeatConfig | None = None
        self._next_ms = 0
        self._stop = threading.Event()

    def start(self, config: TaskConfig, context: SourceTaskContext) -> None:
        self._config = MirrorHeartbeatConfig.parse(config)
        self._next_ms = 0

    def poll(self) -> SourceBatch | None:
        assert self._config is not None
        now_ms = int(time.time() * 1000)
        if now_ms < self._next_ms:
            # Sleep in short steps so stop() is prompt; the worker calls poll() again.
            self._stop.wait(min(0.5, (self._next_ms - now_ms) / 1000))
            return None
        self._next_ms = now_ms + self._config.emit_heartbeats_interval_s * 1000
        heartbeat = Heartbeat(self._config.source_alias, self._config.target_alias, now_ms)
        topic = self._config.heartbeats_topic
        record = Message(
            topic=topic,
            partition=0,
            offset=0,
            key=encode_key(heartbeat),
            value=encode_value(heartbeat),
            timestamp=(TIMESTAMP_CREATE_TIME, now_ms),
        )
        return SourceBatch([record], {topic: topic})

    def producer_config(self) -> Mapping[str, str]:
        assert self._config is not None
        return self._config.target_producer.librdkafka

    def stop(self) -> None:
        self._stop.set()
