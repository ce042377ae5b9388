"""Prometheus metrics that tasks record as they move data (prometheus-client).

Counted per batch and per delivered run, never per record: the hot path pays one counter
increment per target topic per batch and one histogram observation per source partition per
batch. Labels are bounded by what an operator configured: connector names, connector classes and
target topics, never partitions or consumer groups.

``mirror serve`` runs tasks in its own process and serves ``/metrics`` from gunicorn workers, so
it calls :func:`use_multiprocess_dir` first: values then live in memory-mapped files that the
API's ``MultiProcessCollector`` adds up (prometheus-client's multiprocess mode). Gauges that
describe lag, states and readiness are not recorded here: the API computes them at scrape time
from the store (``mirror.api.metrics``), so every API worker reports the same values.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Histogram, values

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

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess_dir(directory: Path) -> None:
    """Record task metrics into ``directory`` for other processes to collect.

    prometheus-client picks its value class when it is imported, from this environment variable;
    ``mirror`` is imported before ``mirror serve`` knows its directory, so the class is picked
    again here. Every metric above has labels, so no value exists before the first ``labels()``
    call, which happens only once tasks run. Child processes (gunicorn) inherit the variable.
    """
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # unannotated upstream
