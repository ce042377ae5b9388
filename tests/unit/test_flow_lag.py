"""A flow's lag sample: consumer-group lag on both clusters, readiness figures, and its JSON form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.lag import (
    FlowLag,
    GroupLag,
    PartitionLag,
    Readiness,
    ReadinessRules,
    failover_readiness,
    group_lag,
    partition_lag,
)
from mirror.lag_view import lag_view


def waiting(topic: str, partition: int, records: int, seconds: float | None) -> PartitionLag:
    return PartitionLag(topic, partition, 100 + records, 100, records, seconds)


def test_group_lag_on_both_sides_from_the_checkpoint() -> None:
    lag = group_lag(
        "g",
        "t",
        0,
        committed_offset=40,
        source_end_offset=50,
        checkpoint=(40, 38, 1_000),
        target_end_offset=47,
        now_ms=9_000,
    )
    assert (lag.source_records, lag.target_records) == (10, 9)
    assert lag.checkpoint_age_s == 0.0  # the checkpoint covers the commit: current, however old


def test_a_checkpoint_behind_the_commit_is_stale_since_it_was_written() -> None:
    lag = group_lag(
        "g",
        "t",
        0,
        committed_offset=45,
        source_end_offset=50,
        checkpoint=(40, 38, 1_000),
        target_end_offset=47,
        now_ms=9_500,
    )
    assert lag.checkpoint_age_s == 8.5


def test_a_group_never_checkpointed_has_no_target_lag_and_an_unknown_age() -> None:
    lag = group_lag(
        "g",
        "t",
        0,
        committed_offset=5,
        source_end_offset=5,
        checkpoint=None,
        target_end_offset=None,
        now_ms=1,
    )
    assert (lag.source_records, lag.target_records, lag.checkpoint_age_s) == (0, None, None)
    assert FlowLag("f", 0.0, (), (lag,)).checkpoint_age_s() is None


def test_flow_totals_take_the_sum_of_records_and_the_oldest_age() -> None:
    sample = FlowLag("f", 100.0, (waiting("a", 0, 5, 2.0), waiting("a", 1, 7, 9.5), waiting("b", 0, 0, 0.0)))
    assert sample.records == 12
    assert sample.seconds == 9.5
    assert sample.topics() == {"a": (12, 9.5), "b": (0, 0.0)}
    # A failover 3 s after the sample would lose records 3 s older still.
    assert sample.rpo_s(now_s=103.0) == 12.5


def test_an_unknown_age_makes_the_flow_age_and_rpo_unknown() -> None:
    sample = FlowLag("f", 100.0, (waiting("a", 0, 5, None), waiting("b", 0, 1, 1.0)))
    assert sample.seconds is None
    assert sample.rpo_s(101.0) is None
    assert sample.topics() == {"a": (5, None), "b": (1, 1.0)}


def test_nothing_waiting_means_no_data_loss_whenever_asked() -> None:
    sample = FlowLag("f", 100.0, (waiting("a", 0, 0, 0.0),), last_heartbeat_ms=99_000)
    assert sample.rpo_s(now_s=500.0) == 0.0
    assert sample.heartbeat_age_s(now_s=101.0) == 2.0


def test_partition_lag_below_the_log_start_counts_only_what_is_still_there() -> None:
    lag = partition_lag(
        "t",
        0,
        source_start_offset=80,
        source_end_offset=100,
        next_offset=10,
        oldest_waiting_timestamp_ms=1_000,
        now_ms=3_000,
    )
    assert (lag.records, lag.seconds) == (20, 2.0)


ages = st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False))
offsets = st.integers(min_value=0, max_value=2**62)
partitions = st.builds(
    PartitionLag,
    st.text(min_size=1, max_size=20),
    st.integers(0, 10_000),
    offsets,
    st.one_of(st.none(), offsets),
    offsets,
    ages,
)
groups = st.builds(
    GroupLag,
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=20),
    st.integers(0, 10_000),
    offsets,
    offsets,
    st.one_of(st.none(), offsets),
    st.one_of(st.none(), offsets),
    ages,
)
samples = st.builds(
    FlowLag,
    st.text(min_size=1, max_size=20),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.lists(partitions, max_size=5).map(tuple),
    st.lists(groups, max_size=5).map(tuple),
    st.one_of(st.none(), st.integers(0, 2**50)),
)


@given(samples)
def test_the_stored_json_gives_back_the_same_sample(sample: FlowLag) -> None:
    assert FlowLag.from_json(json.loads(json.dumps(sample.to_json()))) == sample


@given(samples)
def test_the_api_view_agrees_with_the_sample(sample: FlowLag) -> None:
    view = lag_view(sample.flow, sample, sample.at_s)
    assert view["records"] == sample.records
    assert sum(topic["records"] for topic in view["topics"]) == sample.records
    assert len(view["partitions"]) == len(sample.partitions)
    assert len(view["groups"]) == len(sample.groups)


@pytest.mark.parametrize(
    "broken",
    [{}, {"flow": "f", "at_s": "x"}, {"flow": "f", "at_s": 1, "partitions": [[1]], "groups": []}],
)
def test_a_malformed_stored_sample_is_refused_by_name(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="lag sample"):
        FlowLag.from_json(broken)


def test_only_transaction_markers_waiting_is_no_lag() -> None:
    # The replicator copied offsets 0..8; offset 9 is the commit marker, the log ends at 10.
    lag = partition_lag(
        "t",
        0,
        source_start_offset=0,
        source_end_offset=10,
        next_offset=9,
        oldest_waiting_timestamp_ms=None,
        now_ms=5_000,
        only_markers_waiting=True,
    )
    assert (lag.records, lag.seconds) == (0, 0.0)


def test_a_caught_up_flow_with_fresh_heartbeats_and_checkpoints_is_ready() -> None:
    sample = FlowLag(
        "f",
        100.0,
        (waiting("t", 0, 0, 0.0),),
        (GroupLag("g", "t", 0, 5, 0, 5, 0, 0.0),),
        last_heartbeat_ms=99_000,
    )
    assert failover_readiness(sample, now_s=101.0) == Readiness(True, ())


def test_readiness_names_every_reason_to_wait() -> None:
    sample = FlowLag(
        "f",
        100.0,
        (waiting("t", 0, 10, 70.0),),
        (GroupLag("g", "t", 0, 5, 10, 3, 7, 400.0), GroupLag("new", "t", 0, 5, 10, None, None, None)),
        last_heartbeat_ms=-100_000,
    )
    verdict = failover_readiness(sample, now_s=101.0)
    assert not verdict.ready
    assert verdict.reasons == (
        "RPO 71 s",
        "heartbeat stale 201 s",
        "never checkpointed: new",
        "checkpoint stale: g",
    )


def test_readiness_without_a_sample_or_with_an_old_one() -> None:
    assert failover_readiness(None, 0.0) == Readiness(False, ("not sampled yet",))
    old = FlowLag("f", 0.0, (waiting("t", 0, 0, 0.0),))
    verdict = failover_readiness(old, now_s=61.0, rules=ReadinessRules(max_sample_age_s=60))
    assert verdict == Readiness(False, ("lag last sampled 61 s ago", "no heartbeats reach the target"))
