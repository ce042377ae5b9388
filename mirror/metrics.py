"""Prometheus metrics: what tasks record as they move data, and the lag gauges built from samples.

Tasks count per batch and per delivered run, never per record: the hot path pays one counter
increment per target topic per batch and one histogram observation per source partition per
batch. Labels are bounded by what an operator configured: connector names, connector classes,
flows, target topics and consumer groups, never partitions.

``mirror serve`` runs tasks in its own process and serves ``/metrics`` from gunicorn workers, so
it calls :func:`use_multiprocess_dir` first: task values then live in memory-mapped files that
the API's ``MultiProcessCollector`` adds up (prometheus-client's multiprocess mode). Gauges of
lag, readiness and states are not recorded by anyone: they are built at scrape time from the
newest lag samples (:func:`lag_metric_families`; ``mirror.api.metrics`` adds the states from the
store), so every API worker reports the same values, and ``mirror run --metrics-bind`` the same
ones from the samples it keeps in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client import Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily, Metric

from mirror.lag import FlowLag

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

REPLICATION_RECORDS = Counter(
    "mirror_replication_records",
    "Records a connector's tasks wrote to the target cluster and the target acknowledged "
    "(MM2 record-count). Checkpoint and heartbeat connectors count their own records.",
    ["connector", "connector_class", "topic"],
)
REPLICATION_BYTES = Counter(
    "mirror_replication_bytes",
    "Bytes of record values a connector's tasks handed to the target producer (MM2 byte-count).",
    ["connector", "connector_class"],
)
REPLICATION_LATENCY = Histogram(
    "mirror_replication_latency_seconds",
    "From a record's timestamp to the target's acknowledgement, observed once per source "
    "partition per batch (MM2 replication-latency-ms). For a checkpoint connector this is the "
    "checkpoint latency: from reading the group's offsets to the checkpoint landing on the target.",
    ["connector", "connector_class"],
    buckets=LATENCY_BUCKETS_S,
)
RECORD_AGE = Histogram(
    "mirror_record_age_seconds",
    "Age of the newest record of a batch when the task read it from the source (MM2 record-age-ms).",
    ["connector", "connector_class"],
    buckets=LATENCY_BUCKETS_S,
)

TASK_METRIC_NAMES = frozenset(
    {
        "mirror_replication_records_total",
        "mirror_replication_bytes_total",
        "mirror_replication_latency_seconds",
        "mirror_record_age_seconds",
    }
)
"""Exported names of the metrics above (histograms add _bucket, _sum and _count)."""

STATE_METRIC_NAMES = frozenset(
    {
        "mirror_replication_lag_records",
        "mirror_replication_lag_seconds",
        "mirror_consumer_group_lag_records",
        "mirror_checkpoint_age_seconds",
        "mirror_heartbeat_age_seconds",
        "mirror_rpo_seconds",
        "mirror_lag_sample_age_seconds",
        "mirror_connector_status",
        "mirror_task_status",
        "mirror_workers_live",
        "mirror_store_up",
    }
)
"""Gauges the API computes from the store at scrape time (``mirror.api.metrics``)."""

ALL_METRIC_NAMES = TASK_METRIC_NAMES | STATE_METRIC_NAMES

METRIC_LABELS: Mapping[str, frozenset[str]] = {
    "mirror_replication_records_total": frozenset({"connector", "connector_class", "topic"}),
    "mirror_replication_bytes_total": frozenset({"connector", "connector_class"}),
    "mirror_replication_latency_seconds": frozenset({"connector", "connector_class"}),
    "mirror_record_age_seconds": frozenset({"connector", "connector_class"}),
    "mirror_replication_lag_records": frozenset({"flow", "topic"}),
    "mirror_replication_lag_seconds": frozenset({"flow", "topic"}),
    "mirror_consumer_group_lag_records": frozenset({"flow", "group", "side"}),
    "mirror_checkpoint_age_seconds": frozenset({"flow", "group"}),
    "mirror_heartbeat_age_seconds": frozenset({"flow"}),
    "mirror_rpo_seconds": frozenset({"flow"}),
    "mirror_lag_sample_age_seconds": frozenset({"flow"}),
    "mirror_connector_status": frozenset({"connector", "state"}),
    "mirror_task_status": frozenset({"connector", "task", "state"}),
    "mirror_workers_live": frozenset(),
    "mirror_store_up": frozenset(),
}
"""Each exported metric's labels: what dashboards and alert rules may select and group by."""

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def lag_metric_families(samples: Iterable[FlowLag], now_s: float) -> list[Metric]:
    """Gauges of each flow's newest lag sample, aged to ``now_s`` where age is the point."""
    records = GaugeMetricFamily(
        "mirror_replication_lag_records",
        "Records on the source not yet replicated (log-end offset minus the next offset to copy), "
        "per flow and source topic, at the last sample.",
        labels=["flow", "topic"],
    )
    seconds = GaugeMetricFamily(
        "mirror_replication_lag_seconds",
        "Age of the oldest record not yet replicated, per flow and source topic, at the last sample.",
        labels=["flow", "topic"],
    )
    groups = GaugeMetricFamily(
        "mirror_consumer_group_lag_records",
        "A consumer group's lag summed over its partitions: on the source from its commits, on the "
        "target (where it would resume after a failover now) from its translated offsets.",
        labels=["flow", "group", "side"],
    )
    checkpoint_age = GaugeMetricFamily(
        "mirror_checkpoint_age_seconds",
        "0 while a group's checkpoint covers its current commit on the source; otherwise seconds "
        "since that checkpoint was written.",
        labels=["flow", "group"],
    )
    heartbeat_age = GaugeMetricFamily(
        "mirror_heartbeat_age_seconds",
        "Now minus the emit time of the newest heartbeat that reached the target (end to end).",
        labels=["flow"],
    )
    rpo = GaugeMetricFamily(
        "mirror_rpo_seconds", "What a failover now would lose, in time, per flow.", labels=["flow"]
    )
    sample_age = GaugeMetricFamily(
        "mirror_lag_sample_age_seconds", "Seconds since the flow's lag was last sampled.", labels=["flow"]
    )
    for sample in samples:
        flow = sample.flow
        for topic, (topic_records, topic_seconds) in sorted(sample.topics().items()):
            records.add_metric([flow, topic], topic_records)
            if topic_seconds is not None:
                seconds.add_metric([flow, topic], topic_seconds)
        per_group: dict[str, tuple[int, int]] = {}
        for lag in sample.groups:
            source_lag, target_lag = per_group.get(lag.group, (0, 0))
            per_group[lag.group] = (
                source_lag + lag.source_records,
                target_lag + (lag.target_records or 0),
            )
        for group, (source_lag, target_lag) in sorted(per_group.items()):
            groups.add_metric([flow, group, "source"], source_lag)
            groups.add_metric([flow, group, "target"], target_lag)
            age = sample.checkpoint_age_s(group)
            if age is not None:
                checkpoint_age.add_metric([flow, group], age)
        heartbeat = sample.heartbeat_age_s(now_s)
        if heartbeat is not None:
            heartbeat_age.add_metric([flow], heartbeat)
        flow_rpo = sample.rpo_s(now_s)
        if flow_rpo is not None:
            rpo.add_metric([flow], flow_rpo)
        sample_age.add_metric([flow], max(0.0, now_s - sample.at_s))
    return [records, seconds, groups, checkpoint_age, heartbeat_age, rpo, sample_age]


def use_multiprocess_dir(directory: Path) -> None:
    """Record task metrics into ``directory`` for other processes to collect.

    prometheus-client picks its value class when it is imported, from this environment variable;
    ``mirror`` is imported before ``mirror serve`` knows its directory, so the class is picked
    again here. Every metric above has labels, so no value exists before the first ``labels()``
    call, which happens only once tasks run. Child processes (gunicorn) inherit the variable.
    """
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # unannotated upstream
