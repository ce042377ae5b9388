"""MirrorSourceConnector: replicate topics from a source cluster to a target cluster.

The connector discovers source topics, creates and grows their remote topics, keeps topic
configs in sync and deals partitions to tasks. Each task ``assign()``s its partitions (no
consumer group on the source), resumes after the last offset the target acknowledged, and
hands raw ``confluent_kafka.Message`` batches to the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

from connectors.offset_syncs import OffsetSyncWriter
from mirror.config.connectors import MirrorSourceConfig
from mirror.kafka import ClusterAdmin, KafkaClientError, TopicSpec, make_consumer
from mirror.kafka.clients import ErrorWatch
from mirror.runtime.contracts import (
    Connector,
    ConnectorContext,
    DeliveredRun,
    SourceBatch,
    SourceTask,
    SourceTaskContext,
    TaskConfig,
)
from mirror.topic_sync import (
    TopicPartitionPair,
    config_changes,
    configs_for_new_topic,
    format_assigned_partitions,
    parse_assigned_partitions,
    split_round_robin,
)

log = logging.getLogger("connectors.mirror_source")

DEFAULT_BATCH_RECORDS = 5000
"""Records per ``consume()`` when ``max.poll.records`` is not set; one Python call per batch."""


def client_id(config: MirrorSourceConfig, role: str, task: int | None = None) -> str:
    """MM2's client id layout, so broker-side quotas and logs read the same."""
    owner = "MirrorSourceConnector" if task is None else f"MirrorSourceConnector-{task}"
    return f"{config.source_alias}->{config.target_alias}|{owner}|{role}"


class MirrorSourceConnector(Connector):
    def __init__(self) -> None:
        self._raw: Mapping[str, str] = {}
        self._config: MirrorSourceConfig | None = None
        self._context: ConnectorContext | None = None
        self._partitions: list[TopicPartitionPair] = []
        self._source_admin: ClusterAdmin | None = None
        self._target_admin: ClusterAdmin | None = None
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None

    @property
    def config(self) -> MirrorSourceConfig:
        assert self._config is not None, "connector not started"
        return self._config

    def start(self, config: Mapping[str, str], context: ConnectorContext) -> None:
        self._raw = dict(config)
        self._config = MirrorSourceConfig.parse(config)
        self._context = context
        if not self.config.enabled:
            log.info("flow disabled; replicating nothing", extra={"flow": self.flow})
            return
        timeout_s = self.config.admin_timeout_ms / 1000
        self._source_admin = ClusterAdmin(
            self.config.source_admin.librdkafka, client_id(self.config, "replication-source-admin"), timeout_s
        )
        self._target_admin = ClusterAdmin(
            self.config.target_admin.librdkafka, client_id(self.config, "replication-target-admin"), timeout_s
        )
        if self.config.emit_offset_syncs_enabled:
            self._create_offset_syncs_topic()
        self._partitions = self.refresh_topics()
        if self.config.sync_topic_configs_enabled:
            try:
                self.sync_topic_configs()
            except KafkaClientError as exc:
                # Remote topics created a moment ago may not be describable yet; the periodic
                # sync catches up, and a config sync is no reason to hold replication back.
                log.warning("initial topic config sync failed", extra={"flow": self.flow, "error": str(exc)})
        self._stop.clear()
        self._scheduler = threading.Thread(
            target=self._run_scheduled, name=f"{self.flow}-source-jobs", daemon=True
        )
        self._scheduler.start()

    @property
    def flow(self) -> str:
        return f"{self.config.source_alias}->{self.config.target_alias}"

    def task_class(self) -> type[SourceTask]:
        return MirrorSourceTask

    def task_configs(self, max_tasks: int) -> list[TaskConfig]:
        if not self.config.enabled or not self._partitions:
            return []
        buckets = split_round_robin(self._partitions, max_tasks)
        return [
            {
                **self._raw,
                "task.assigned.partitions": format_assigned_partitions(bucket),
                "task.index": str(index),
            }
            for index, bucket in enumerate(buckets)
        ]

    def stop(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(5.0)
        for admin in (self._source_admin, self._target_admin):
            if admin is not None:
                admin.close()

    def _create_offset_syncs_topic(self) -> None:
        config = self.config
        admin = self._source_admin if config.offset_syncs_topic_location == "source" else self._target_admin
        assert admin is not None
        spec = TopicSpec(
            config.offset_syncs_topic,
            1,
            config.offset_syncs_topic_replication_factor,
            {"cleanup.policy": "compact"},
        )
        if admin.create_topics([spec]):
            log.info(
                "created offset-syncs topic",
                extra={"flow": self.flow, "topic": spec.name, "cluster": config.offset_syncs_topic_location},
            )

    # ---- discovery ------------------------------------------------------------------------

    def _replicated_source_topics(self) -> dict[str, int]:
        assert self._source_admin is not None
        config = self.config
        return {
            topic: partitions
            for topic, partitions in self._source_admin.topic_partitions().items()
            if config.should_replicate_topic(topic)
        }

    def refresh_topics(self) -> list[TopicPartitionPair]:
        """Create missing remote topics, grow short ones; return every source partition to copy."""
        assert self._source_admin is not None and self._target_admin is not None
        config = self.config
        source_topics = self._replicated_source_topics()
        target_topics = self._target_admin.topic_partitions()
        remote = {topic: config.remote_topic(topic) for topic in source_topics}
        missing = [topic for topic in source_topics if remote[topic] not in target_topics]
        if missing:
            described = self._source_admin.describe_topic_configs(missing)
            specs = [
                TopicSpec(
                    remote[topic],
                    source_topics[topic],
                    config.replication_factor,
                    configs_for_new_topic(described.get(topic, {}), self._excluded_property),
                )
                for topic in missing
            ]
            for name in self._target_admin.create_topics(specs):
                log.info("created remote topic", extra={"flow": self.flow, "topic": name})
        short = {
            remote[topic]: count
            for topic, count in source_topics.items()
            if remote[topic] in target_topics and target_topics[remote[topic]] < count
        }
        for name in self._target_admin.grow_partitions(short):
            log.info(
                "added partitions to remote topic",
                extra={"flow": self.flow, "topic": name, "partitions": short[name]},
            )
        return sorted(
            (topic, partition) for topic, count in source_topics.items() for partition in range(count)
        )

    def _excluded_property(self, name: str) -> bool:
        return not self.config.config_property_filter.accepts(name)

    def sync_topic_configs(self) -> None:
        assert self._source_admin is not None and self._target_admin is not None
        config = self.config
        source_topics = sorted({topic for topic, _ in self._partitions})
        if not source_topics:
            return
        remote = {topic: config.remote_topic(topic) for topic in source_topics}
        source_configs = self._source_admin.describe_topic_configs(source_topics)
        target_configs = self._target_admin.describe_topic_configs(remote.values())
        changes = {
            remote[topic]: config_changes(
                source_configs.get(topic, {}),
                target_configs.get(remote[topic], {}),
                self._excluded_property,
                config.use_defaults_from,
            )
            for topic in source_topics
        }
        changes = {topic: change for topic, change in changes.items() if change}
        if changes:
            self._target_admin.alter_topic_configs(changes)
            for topic, change in changes.items():
                log.info(
                    "synced topic configs",
                    extra={"flow": self.flow, "topic": topic, "configs": sorted(change)},
                )

    def _run_scheduled(self) -> None:
        config = self.config
        jobs: list[tuple[str, float, Callable[[], None]]] = []
        if config.refresh_topics_enabled:
            jobs.append(("refresh-topics", config.refresh_topics_interval_s, self._refresh_job))
        if config.sync_topic_configs_enabled:
            jobs.append(("sync-topic-configs", config.sync_topic_configs_interval_s, self.sync_topic_configs))
        next_run = {name: time.monotonic() + interval for name, interval, _ in jobs}
        while jobs and not self._stop.wait(min(0.5, *(interval for _, interval, _ in jobs))):
            for name, interval, job in jobs:
                if time.monotonic() < next_run[name]:
                    continue
                try:
                    job()
                except Exception as exc:
                    # MM2 logs and retries scheduled work on the next period rather than failing.
                    log.warning(
                        "scheduled job failed", extra={"flow": self.flow, "job": name, "error": str(exc)}
                    )
                next_run[name] = time.monotonic() + interval

    def _refresh_job(self) -> None:
        partitions = self.refresh_topics()
        if partitions != self._partitions:
            added = sorted(set(partitions) - set(self._partitions))
            log.info(
                "source partitions changed; reconfiguring tasks",
                extra={"flow": self.flow, "added": len(added), "total": len(partitions)},
            )
            self._partitions = partitions
            assert self._context is not None
            self._context.request_task_reconfiguration()


class MirrorSourceTask(SourceTask):
    def __init__(self) -> None:
        self._consumer: Consumer | None = None
        self._watch: ErrorWatch | None = None
        self._routes: dict[str, str] = {}
        self._batch_records = DEFAULT_BATCH_RECORDS
        self._timeout_s = 1.0
        self._config: MirrorSourceConfig | None = None
        self._syncs: OffsetSyncWriter | None = None

    def start(self, config: TaskConfig, context: SourceTaskContext) -> None:
        parsed = MirrorSourceConfig.parse(config)
        self._config = parsed
        task_index = int(config.get("task.index", "0"))
        partitions = parse_assigned_partitions(config.get("task.assigned.partitions", ""))
        self._routes = {topic: parsed.remote_topic(topic) for topic, _ in partitions}
        self._batch_records = parsed.source_consumer.max_poll_records or DEFAULT_BATCH_RECORDS
        self._timeout_s = parsed.consumer_poll_timeout_ms / 1000
        consumer_config = dict(parsed.source_consumer.librdkafka)
        consumer_config.setdefault("client.id", client_id(parsed, "replication-consumer", task_index))
        self._consumer, self._watch = make_consumer(
            consumer_config, client_id(parsed, "replication-consumer", task_index)
        )
        if parsed.emit_offset_syncs_enabled:
            self._syncs = OffsetSyncWriter(
                parsed.offset_syncs_topic,
                parsed.offset_syncs_producer.librdkafka,
                client_id(parsed, f"offset-syncs-{parsed.offset_syncs_topic_location}-producer", task_index),
                parsed.offset_lag_max,
            )
        committed = context.last_committed_offsets(partitions)
        # A partition with no stored progress is left at OFFSET_INVALID so that
        # auto.offset.reset decides where it starts, as MM2 does since 3.7.
        self._consumer.assign(
            [
                TopicPartition(topic, partition, committed[(topic, partition)] + 1)
                if (topic, partition) in committed
                else TopicPartition(topic, partition, OFFSET_INVALID)
                for topic, partition in partitions
            ]
        )
        log.info(
            "replicating partitions",
            extra={
                "flow": f"{parsed.source_alias}->{parsed.target_alias}",
                "task": task_index,
                "partitions": len(partitions),
                "resumed": len(committed),
            },
        )

    def poll(self) -> SourceBatch | None:
        consumer = self._consumer
        assert consumer is not None and self._watch is not None
        # consume(n, timeout) waits for n records or the timeout, so a trickle would wait a
        # whole poll timeout per batch. Take what is queued; block only for the first record
        # (as Java's poll does), then take whatever else arrived with it.
        messages = consumer.consume(self._batch_records, 0)
        if not messages:
            first = consumer.poll(self._timeout_s)
            if first is None:
                self._watch.raise_if_fatal()
                return None
            messages = [first, *consumer.consume(self._batch_records - 1, 0)]
        return SourceBatch(messages, self._routes)

    def producer_config(self) -> Mapping[str, str]:
        assert self._config is not None
        return self._config.target_producer.librdkafka

    def delivered(self, runs: Sequence[DeliveredRun]) -> None:
        if self._syncs is not None:
            self._syncs.write(runs)

    def stop(self) -> None:
        if self._syncs is not None:
            self._syncs.close()
            self._syncs = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
