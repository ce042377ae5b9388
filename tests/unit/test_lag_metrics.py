"""Prometheus gauges built from lag samples: values, labels, and what an unknown leaves out."""

from __future__ import annotations

from mirror.lag import FlowLag, GroupLag, PartitionLag
from mirror.metrics import METRIC_LABELS, lag_metric_families


def values(samples: list[FlowLag], now_s: float) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in lag_metric_families(samples, now_s)
        for sample in family.samples
    }


def test_gauges_per_topic_and_group_with_ages_at_scrape_time() -> None:
    sample = FlowLag(
        "a->b",
        100.0,
        (
            PartitionLag("t", 0, 10, 4, 6, 3.0),
            PartitionLag("t", 1, 10, 9, 1, 8.0),
            PartitionLag("u", 0, 5, 5, 0, 0.0),
        ),
        (GroupLag("g", "t", 0, 2, 8, 2, 3, 0.0), GroupLag("g", "t", 1, 5, 5, 4, None, 12.0)),
        last_heartbeat_ms=95_000,
    )
    got = values([sample], now_s=110.0)
    assert got[("mirror_replication_lag_records", (("flow", "a->b"), ("topic", "t")))] == 7
    assert got[("mirror_replication_lag_seconds", (("flow", "a->b"), ("topic", "t")))] == 8.0
    assert got[("mirror_replication_lag_records", (("flow", "a->b"), ("topic", "u")))] == 0
    assert (
        got[("mirror_consumer_group_lag_records", (("flow", "a->b"), ("group", "g"), ("side", "source")))]
        == 13
    )
    assert (
        got[("mirror_consumer_group_lag_records", (("flow", "a->b"), ("group", "g"), ("side", "target")))]
        == 3
    )
    assert got[("mirror_checkpoint_age_seconds", (("flow", "a->b"), ("group", "g")))] == 12.0
    assert got[("mirror_heartbeat_age_seconds", (("flow", "a->b"),))] == 15.0
    assert got[("mirror_rpo_seconds", (("flow", "a->b"),))] == 18.0
    assert got[("mirror_lag_sample_age_seconds", (("flow", "a->b"),))] == 10.0
    for name, labels in got:
        assert {label for label, _ in labels} == METRIC_LABELS[name]


def test_an_unknown_age_leaves_its_series_out_rather_than_reporting_zero() -> None:
    sample = FlowLag("f", 100.0, (PartitionLag("t", 0, 10, 4, 6, None),))
    got = values([sample], now_s=100.0)
    assert ("mirror_replication_lag_records", (("flow", "f"), ("topic", "t"))) in got
    assert not any(name in {"mirror_replication_lag_seconds", "mirror_rpo_seconds"} for name, _ in got)
    assert not any(name == "mirror_heartbeat_age_seconds" for name, _ in got)
