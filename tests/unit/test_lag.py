"""Replication lag arithmetic and its roll-ups."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.lag import TIERS, LagPoint, bucket_start, expired_before, partition_lag, roll_up


def test_lag_counts_records_waiting_and_the_age_of_the_oldest() -> None:
    lag = partition_lag(
        "t",
        0,
        source_start_offset=0,
        source_end_offset=1000,
        next_offset=400,
        oldest_waiting_timestamp_ms=10_000,
        now_ms=12_500,
    )
    assert (lag.records, lag.seconds) == (600, 2.5)


def test_nothing_waiting_is_zero_seconds_whatever_the_timestamp() -> None:
    lag = partition_lag(
        "t",
        0,
        source_start_offset=0,
        source_end_offset=5,
        next_offset=5,
        oldest_waiting_timestamp_ms=None,
        now_ms=0,
    )
    assert (lag.records, lag.seconds) == (0, 0.0)


def test_records_lost_to_retention_no_longer_count() -> None:
    lag = partition_lag(
        "t",
        0,
        source_start_offset=900,
        source_end_offset=1000,
        next_offset=100,
        oldest_waiting_timestamp_ms=None,
        now_ms=0,
    )
    assert (lag.records, lag.seconds) == (100, None)
    never = partition_lag(
        "t",
        0,
        source_start_offset=10,
        source_end_offset=30,
        next_offset=None,
        oldest_waiting_timestamp_ms=0,
        now_ms=1000,
    )
    assert never.records == 20


def test_bad_watermarks_are_refused() -> None:
    with pytest.raises(ValueError, match="t-3"):
        partition_lag(
            "t",
            3,
            source_start_offset=5,
            source_end_offset=4,
            next_offset=None,
            oldest_waiting_timestamp_ms=None,
            now_ms=0,
        )


def test_roll_up_sums_partitions_and_keeps_the_worst_age() -> None:
    points = [
        LagPoint("f", "t", 0, 60, 10, 1.0),
        LagPoint("f", "t", 0, 70, 30, 3.0),  # same bucket, same partition: the larger counts
        LagPoint("f", "t", 1, 65, 5, 9.0),
        LagPoint("f", "t", 1, 130, 7, None),  # next bucket, age unknown
        LagPoint("f", "u", 0, 61, 1, 0.5),
    ]
    assert roll_up(points, 60) == [
        LagPoint("f", "t", None, 60, 35, 9.0),
        LagPoint("f", "t", None, 120, 7, None),
        LagPoint("f", "u", None, 60, 1, 0.5),
    ]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 10**6)), max_size=60))
def test_roll_up_never_exceeds_the_sum_of_partition_maxima(samples: list[tuple[int, int, int]]) -> None:
    points = [LagPoint("f", "t", partition, at, records, 0.0) for partition, at, records in samples]
    rolled = roll_up(points, 600)
    assert sum(point.records for point in rolled) <= sum(records for *_, records in samples)
    for point in rolled:
        assert point.at_s % 600 == 0
        in_bucket = [p for p in points if bucket_start(p.at_s, 600) == point.at_s]
        assert point.records == sum(
            max(p.records for p in in_bucket if p.partition == partition)
            for partition in {p.partition for p in in_bucket}
        )


def test_tiers_get_coarser_and_keep_longer() -> None:
    assert [tier.keep_s for tier in TIERS] == sorted(tier.keep_s for tier in TIERS)
    assert expired_before(TIERS[0], 10_000) == 10_000 - 15 * 60
