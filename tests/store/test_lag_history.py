"""Lag samples in the store (SQLite and PostgreSQL): the newest per flow, the raw history, and
its roll-ups and expiry per tier."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirror.lag import TIERS, FlowLag, GroupLag, LagPoint, PartitionLag
from mirror.store.records import TargetState
from mirror.store.store import Store

DAY = 24 * 3600
T0 = 1_800_000_000 - 1_800_000_000 % 900  # a quarter-hour boundary


def lag(topic: str, partition: int, records: int, seconds: float | None = 1.0) -> PartitionLag:
    return PartitionLag(topic, partition, 1000, 1000 - records, records, seconds)


def sample(at_s: float, *partitions: PartitionLag, flow: str = "f") -> FlowLag:
    return FlowLag(flow, at_s, tuple(partitions))


@pytest.fixture
def flows(store: Store) -> Store:
    for name in ("a", "b"):
        store.put_cluster(name, f"{name}:9092", {}, {}, actor="test")
    for flow in ("f", "g"):
        store.create_flow(flow, "a", "b", {}, connectors={}, target_state=TargetState.RUNNING, actor="test")
    return store


def test_the_newest_sample_is_kept_whole_and_replaced(flows: Store) -> None:
    first = FlowLag(
        "f",
        T0 + 0.25,
        (lag("t", 0, 5, None), lag("t", 1, 0, 0.0)),
        (GroupLag("grp", "t", 0, 10, 990, 8, 3, 12.5),),
        last_heartbeat_ms=T0 * 1000,
    )
    flows.record_lag(first)
    assert flows.latest_lag("f") == first
    second = sample(T0 + 10, lag("t", 0, 1))
    flows.record_lag(second)
    assert flows.latest_lag("f") == second
    assert flows.latest_lag("g") is None
    assert flows.latest_lags() == [second]


def test_raw_history_sums_partitions_per_sample(flows: Store) -> None:
    flows.record_lag(sample(T0, lag("t", 0, 3, 1.0), lag("t", 1, 4, 2.0), lag("u", 0, 7, None)))
    flows.record_lag(sample(T0 + 10, lag("t", 0, 0, 0.0), lag("t", 1, 1, 5.0), lag("u", 0, 0, 0.0)))
    history = flows.lag_history(since_s=T0 - 60, until_s=T0 + 60, now_s=T0 + 60)
    assert (history.tier, history.step_s) == ("raw", 0)
    assert history.points == (
        LagPoint("f", "t", None, T0, 7, 2.0),
        LagPoint("f", "t", None, T0 + 10, 1, 5.0),
        LagPoint("f", "u", None, T0, 7, None),
        LagPoint("f", "u", None, T0 + 10, 0, 0.0),
    )
    only_u = flows.lag_history(since_s=T0, until_s=T0, topic="u", flow="f", now_s=T0 + 60)
    assert only_u.points == (LagPoint("f", "u", None, T0, 7, None),)
    with pytest.raises(ValueError, match="until must not be before since"):
        flows.lag_history(since_s=T0, until_s=T0 - 1)


def test_completed_minutes_and_quarter_hours_roll_up_exactly(flows: Store) -> None:
    # Minute 0: two partitions, largest per partition 5 and 2 -> 7 records; ages max 4.0.
    flows.record_lag(sample(T0, lag("t", 0, 5, 4.0), lag("t", 1, 1, 1.0)))
    flows.record_lag(sample(T0 + 30, lag("t", 0, 3, 3.0), lag("t", 1, 2, 1.0)))
    # Minute 1: one sample.
    flows.record_lag(sample(T0 + 60, lag("t", 0, 9, 2.0), lag("t", 1, 0, 0.0)))
    flows.compact_lag(T0 + 90)  # minute 1 is still open
    minute = flows.lag_history(since_s=T0, until_s=T0 + 900, now_s=T0 + 16 * 60)
    assert (minute.tier, minute.step_s) == ("minute", 60)
    assert minute.points == (LagPoint("f", "t", None, T0, 7, 4.0),)
    flows.compact_lag(T0 + 120)
    flows.compact_lag(T0 + 120)  # idempotent
    minute = flows.lag_history(since_s=T0, until_s=T0 + 900, now_s=T0 + 16 * 60)
    assert minute.points == (LagPoint("f", "t", None, T0, 7, 4.0), LagPoint("f", "t", None, T0 + 60, 9, 2.0))
    flows.compact_lag(T0 + 900)  # the first quarter-hour is complete
    quarter = flows.lag_history(since_s=T0, until_s=T0 + 900, now_s=T0 + 2 * DAY)
    assert (quarter.tier, quarter.step_s) == ("quarter-hour", 900)
    assert quarter.points == (LagPoint("f", "t", None, T0, 9, 4.0),)


def test_each_tier_expires_after_its_retention(flows: Store) -> None:
    flows.record_lag(sample(T0, lag("t", 0, 5)))
    flows.compact_lag(T0 + 900)
    raw, minute, quarter = TIERS
    assert flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + 60).points  # raw, still there
    flows.compact_lag(T0 + raw.keep_s + 1)
    assert not flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + 60).points
    assert flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + raw.keep_s + 1).points  # minute
    flows.compact_lag(T0 + minute.keep_s + 1)
    assert not flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + raw.keep_s + 1).points
    assert flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + minute.keep_s + 1).points  # quarter
    flows.compact_lag(T0 + quarter.keep_s + 1)
    assert not flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + minute.keep_s + 1).points


def test_deleting_a_flow_deletes_its_lag(flows: Store) -> None:
    flows.record_lag(sample(T0, lag("t", 0, 5)))
    flows.record_lag(sample(T0, lag("t", 0, 6), flow="g"))
    flows.delete_flow("f", actor="test")
    assert flows.latest_lag("f") is None
    assert [s.flow for s in flows.latest_lags()] == ["g"]
    history = flows.lag_history(since_s=T0, until_s=T0, now_s=T0)
    assert {point.flow for point in history.points} == {"g"}


def rows(store: Store) -> list[tuple[str, tuple[LagPoint, ...]]]:
    return [
        (tier, store.lag_history(since_s=T0 - DAY, until_s=T0 + DAY, now_s=now).points)
        for tier, now in (("raw", T0 + 1000), ("minute", T0 + 3600), ("quarter-hour", T0 + 2 * DAY))
    ]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(st.integers(0, 1000), min_size=1, max_size=40),
    compact_after=st.sets(st.integers(0, 39)),
)
def test_compacting_at_any_moments_gives_what_compacting_once_gives(
    store_url: str, records: Sequence[int], compact_after: set[int]
) -> None:
    results = []
    for compact_often in (False, True):
        with Store.open(store_url) as store:
            _reset(store)
            for index, value in enumerate(records):
                at = T0 + index * 45  # samples every 45 s over up to half an hour
                store.record_lag(sample(at, lag("t", 0, value), lag("t", 1, value // 2)))
                if compact_often and index in compact_after:
                    store.compact_lag(at)
            store.compact_lag(T0 + 40 * 45 + 900)
            results.append(rows(store))
    assert results[0] == results[1]


def _reset(store: Store) -> None:
    for flow in store.list_flows():
        store.delete_flow(flow.name, actor="test")
    if store.get_cluster("a") is None:
        for name in ("a", "b"):
            store.put_cluster(name, f"{name}:9092", {}, {}, actor="test")
    store.create_flow("f", "a", "b", {}, connectors={}, target_state=TargetState.RUNNING, actor="test")
