"""Lag samples in the store (SQLite and PostgreSQL): the newest per flow, the raw history, and
its roll-ups and expiry per tier."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from mirror.lag import TIERS, FlowLag, GroupLag, LagPoint, PartitionLag, bucket_start
from mirror.store.models import LagPointRow
from mirror.store.records import TargetState
from mirror.store.store import Store

DAY = 24 * 3600
T0 = 1_800_000_000 - 1_800_000_000 % 900  # a quarter-hour boundary
RAW, MINUTE, QUARTER = TIERS

StoredRow = tuple[str, str, str, int, int, int, float | None]


def lag(topic: str, partition: int, records: int, seconds: float | None = 1.0) -> PartitionLag:
    return PartitionLag(topic, partition, 1000, 1000 - records, records, seconds)


def sample(at_s: float, *partitions: PartitionLag, flow: str = "f") -> FlowLag:
    return FlowLag(flow, at_s, tuple(partitions))


def create_flows(store: Store, *names: str) -> None:
    for cluster in ("a", "b"):
        if store.get_cluster(cluster) is None:
            store.put_cluster(cluster, f"{cluster}:9092", {}, {}, actor="test")
    for name in names:
        store.create_flow(name, "a", "b", {}, connectors={}, target_state=TargetState.RUNNING, actor="test")


@pytest.fixture
def flows(store: Store) -> Store:
    create_flows(store, "f", "g")
    return store


def stored_rows(store: Store) -> list[StoredRow]:
    """Every row of ``lag_points``, as stored: what "the same rows" means."""
    table = LagPointRow.__table__
    with store.engine.connect() as connection:
        result = connection.execute(select(table).order_by(*table.primary_key))
        return [
            (tier, flow, topic, part, at_s, records, seconds)
            for tier, flow, topic, part, at_s, records, seconds in result
        ]


def rows_per_tier(store: Store) -> Counter[str]:
    return Counter(row[0] for row in stored_rows(store))


def test_the_newest_sample_is_kept_whole_and_replaced(flows: Store) -> None:
    first = FlowLag(
        "f",
        T0 + 0.25,
        (lag("t", 0, 5, None), lag("t", 1, 0, 0.0)),
        (GroupLag("grp", "t", 0, 10, 990, 8, 3, 12.5), GroupLag("new", "t", 1, 4, 996, None, None, None)),
        last_heartbeat_ms=T0 * 1000,
    )
    flows.record_lag(first)
    assert flows.latest_lag("f") == first
    second = sample(T0 + 10, lag("t", 0, 1))
    flows.record_lag(second)
    assert flows.latest_lag("f") == second
    assert flows.latest_lag("g") is None
    third = sample(T0 + 5, lag("u", 0, 2), flow="g")
    flows.record_lag(third)
    assert flows.latest_lags() == [second, third]


def test_a_second_sample_in_the_same_second_replaces_the_first_points(flows: Store) -> None:
    flows.record_lag(sample(T0 + 0.1, lag("t", 0, 5, 2.0), lag("t", 1, 3, 1.0)))
    flows.record_lag(sample(T0 + 0.9, lag("t", 0, 6, 2.5), lag("t", 1, 0, 0.0)))
    assert stored_rows(flows) == [
        ("raw", "f", "t", 0, T0, 6, 2.5),
        ("raw", "f", "t", 1, T0, 0, 0.0),
    ]
    assert flows.latest_lag("f") == sample(T0 + 0.9, lag("t", 0, 6, 2.5), lag("t", 1, 0, 0.0))


def test_a_sample_of_a_flow_that_does_not_exist_is_dropped(flows: Store) -> None:
    flows.record_lag(sample(T0, lag("t", 0, 5), flow="deleted-meanwhile"))
    assert flows.latest_lag("deleted-meanwhile") is None
    assert flows.latest_lags() == []
    assert stored_rows(flows) == []


def test_long_flow_and_topic_names_fit(flows: Store) -> None:
    # 249: create_flow audits "flows/<name>" in a 255-character column, so no longer flow exists.
    flow, topic = "f" * 249, "t" * 249
    create_flows(flows, flow)
    flows.record_lag(sample(T0, lag(topic, 0, 5, 2.0), flow=flow))
    flows.compact_lag(T0 + 60)
    assert flows.latest_lag(flow) == sample(T0, lag(topic, 0, 5, 2.0), flow=flow)
    minute = flows.lag_history(since_s=T0, until_s=T0, flow=flow, now_s=T0 + RAW.keep_s + 1)
    assert minute.points == (LagPoint(flow, topic, None, T0, 5, 2.0),)


def test_raw_history_sums_partitions_per_sample(flows: Store) -> None:
    flows.record_lag(sample(T0, lag("t", 0, 3, 1.0), lag("t", 1, 4, 2.0), lag("u", 0, 7, None)))
    flows.record_lag(sample(T0 + 10, lag("t", 0, 0, 0.0), lag("t", 1, 1, 5.0), lag("u", 0, 0, 0.0)))
    flows.record_lag(sample(T0 + 10, lag("t", 0, 9, 9.0), flow="g"))
    history = flows.lag_history(since_s=T0 - 60, until_s=T0 + 60, flow="f", now_s=T0 + 60)
    assert (history.tier, history.step_s) == ("raw", 0)
    assert history.points == (
        LagPoint("f", "t", None, T0, 7, 2.0),
        LagPoint("f", "t", None, T0 + 10, 1, 5.0),
        LagPoint("f", "u", None, T0, 7, None),
        LagPoint("f", "u", None, T0 + 10, 0, 0.0),
    )
    every_flow = flows.lag_history(since_s=T0 + 10, until_s=T0 + 10, topic="t", now_s=T0 + 60)
    assert every_flow.points == (
        LagPoint("f", "t", None, T0 + 10, 1, 5.0),
        LagPoint("g", "t", None, T0 + 10, 9, 9.0),
    )
    only_u = flows.lag_history(since_s=T0, until_s=T0, topic="u", flow="f", now_s=T0 + 60)
    assert only_u.points == (LagPoint("f", "u", None, T0, 7, None),)
    with pytest.raises(ValueError, match="until must not be before since"):
        flows.lag_history(since_s=T0, until_s=T0 - 1)


def test_completed_minutes_and_quarter_hours_roll_up_exactly(flows: Store) -> None:
    # Minute 0 of t: per partition the largest records are 5 and 2 -> 7; the largest age 4.0.
    flows.record_lag(sample(T0, lag("t", 0, 5, 4.0), lag("t", 1, 1, 1.0), lag("u", 0, 1, 1.0)))
    flows.record_lag(sample(T0 + 30, lag("t", 0, 3, 3.0), lag("t", 1, 2, 1.0), lag("u", 0, 1, None)))
    # Minute 1: one sample; u's age is known again but minute 0 of u stays unknown.
    flows.record_lag(sample(T0 + 60, lag("t", 0, 9, 2.0), lag("t", 1, 0, 0.0), lag("u", 0, 4, 8.0)))
    # Minute 14, the last of the first quarter-hour.
    flows.record_lag(sample(T0 + 14 * 60 + 50, lag("t", 0, 1, 6.5), lag("t", 1, 1, 6.0), lag("u", 0, 0, 0.0)))
    # The next quarter-hour, still open when it is compacted below.
    flows.record_lag(sample(T0 + 900, lag("t", 0, 50, 50.0), lag("t", 1, 50, 50.0), lag("u", 0, 50, 50.0)))
    flows.compact_lag(T0 + 90)  # minute 1 is still open
    minute = flows.lag_history(since_s=T0, until_s=T0 + 900, now_s=T0 + 16 * 60)
    assert (minute.tier, minute.step_s) == ("minute", 60)
    assert minute.points == (LagPoint("f", "t", None, T0, 7, 4.0), LagPoint("f", "u", None, T0, 1, None))
    flows.compact_lag(T0 + 120)
    flows.compact_lag(T0 + 120)  # idempotent
    minute = flows.lag_history(since_s=T0, until_s=T0 + 119, now_s=T0 + 16 * 60)
    assert minute.points == (
        LagPoint("f", "t", None, T0, 7, 4.0),
        LagPoint("f", "t", None, T0 + 60, 9, 2.0),
        LagPoint("f", "u", None, T0, 1, None),
        LagPoint("f", "u", None, T0 + 60, 4, 8.0),
    )
    flows.compact_lag(T0 + 899)
    assert not flows.lag_history(since_s=T0, until_s=T0 + 900, now_s=T0 + 2 * DAY).points
    flows.compact_lag(T0 + 900)  # the first quarter-hour is complete, the second is not
    quarter = flows.lag_history(since_s=T0, until_s=T0 + 1800, now_s=T0 + 2 * DAY)
    assert (quarter.tier, quarter.step_s) == ("quarter-hour", 900)
    # Largest records and largest age of the quarter-hour's minutes; u had an unknown minute.
    assert quarter.points == (LagPoint("f", "t", None, T0, 9, 6.5), LagPoint("f", "u", None, T0, 4, None))
    flows.compact_lag(T0 + 900)
    assert flows.lag_history(since_s=T0, until_s=T0 + 1800, now_s=T0 + 2 * DAY) == quarter


def test_history_comes_from_the_finest_tier_that_still_covers_since(flows: Store) -> None:
    now = T0 + 40 * DAY
    for since, tier in (
        (now, "raw"),
        (now - RAW.keep_s, "raw"),
        (now - RAW.keep_s - 1, "minute"),
        (now - MINUTE.keep_s, "minute"),
        (now - MINUTE.keep_s - 1, "quarter-hour"),
        (now - QUARTER.keep_s, "quarter-hour"),
        (now - QUARTER.keep_s - DAY, "quarter-hour"),  # nothing keeps that long: the coarsest
    ):
        history = flows.lag_history(since_s=since, until_s=now, now_s=now)
        assert (now - since, history.tier) == (now - since, tier)
        assert history.step_s == next(t.step_s for t in TIERS if t.name == tier)


def test_each_tier_expires_after_its_retention(flows: Store) -> None:
    flows.record_lag(sample(T0, lag("t", 0, 5)))
    flows.compact_lag(T0 + 900)
    assert rows_per_tier(flows) == {"raw": 1, "minute": 1, "quarter-hour": 1}
    flows.compact_lag(T0 + RAW.keep_s)  # at_s == now - keep_s is still kept
    assert rows_per_tier(flows) == {"raw": 1, "minute": 1, "quarter-hour": 1}
    flows.compact_lag(T0 + RAW.keep_s + 1)
    assert rows_per_tier(flows) == {"minute": 1, "quarter-hour": 1}
    assert flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + RAW.keep_s + 1).points  # minute
    flows.compact_lag(T0 + MINUTE.keep_s + 1)
    assert rows_per_tier(flows) == {"quarter-hour": 1}
    assert flows.lag_history(since_s=T0, until_s=T0, now_s=T0 + MINUTE.keep_s + 1).points  # quarter
    flows.compact_lag(T0 + QUARTER.keep_s + 1)
    assert rows_per_tier(flows) == {}


def test_a_compaction_that_fails_half_way_changes_nothing(flows: Store) -> None:
    for at in range(T0, T0 + 1000, 10):
        flows.record_lag(sample(at, lag("t", 0, at % 97, 1.0), lag("u", 0, at % 13, None)))
    before = stored_rows(flows)
    with (
        failing_statement(flows, "DELETE FROM lag_points"),
        pytest.raises(RuntimeError, match="injected failure"),
    ):
        flows.compact_lag(T0 + 2000)
    assert stored_rows(flows) == before
    flows.compact_lag(T0 + 2000)
    after_retry = stored_rows(flows)
    flows.compact_lag(T0 + 2000)
    assert stored_rows(flows) == after_retry
    # Raw points up to T0 + 990 expired (older than 2000 - 900) once rolled into minutes 0 to 16,
    # and those into both quarter-hours, each for topics t and u.
    assert rows_per_tier(flows) == {"minute": 2 * 17, "quarter-hour": 2 * 2}


@contextmanager
def failing_statement(store: Store, prefix: str) -> Iterator[None]:
    """Make every statement starting with ``prefix`` fail, as a crash there would."""

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith(prefix):
            raise RuntimeError("injected failure")

    event.listen(store.engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(store.engine, "before_cursor_execute", fail)


def test_deleting_a_flow_deletes_its_lag(flows: Store) -> None:
    for flow in ("f", "g"):
        flows.record_lag(sample(T0, lag("t", 0, 5), flow=flow))
    flows.compact_lag(T0 + 900)
    assert {row[1] for row in stored_rows(flows)} == {"f", "g"}
    flows.delete_flow("f", actor="test")
    assert flows.latest_lag("f") is None
    assert [s.flow for s in flows.latest_lags()] == ["g"]
    assert {row[1] for row in stored_rows(flows)} == {"g"}
    assert rows_per_tier(flows) == {"raw": 1, "minute": 1, "quarter-hour": 1}


# Gaps between samples: the sampler's 10 s, odd ones, and outages longer than each tier keeps.
GAPS = st.sampled_from([1, 10, 10, 10, 45, 60, 599, 901, 3600, DAY + 7])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            GAPS,
            st.integers(0, 1000),
            st.one_of(st.none(), st.floats(0, 1000)),
            st.one_of(st.none(), st.integers(0, 1000)),  # compact this long after the sample, or not
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_compacting_at_any_moments_gives_what_compacting_once_gives(
    store_url: str, steps: Sequence[tuple[int, int, float | None, int | None]]
) -> None:
    results = []
    for compact_often in (False, True):
        with Store.open(store_url) as store:
            _reset(store)
            times = list(itertools.accumulate((gap for gap, *_ in steps), initial=T0))
            for (_gap, records, seconds, compact_after), at, next_at in zip(
                steps, times[1:], [*times[2:], times[-1] + 900], strict=True
            ):
                store.record_lag(
                    sample(at, lag("t", 0, records, seconds), lag("t", 1, records // 2), lag("u", 0, 1))
                )
                if compact_often and compact_after is not None:
                    # Never past the next sample: the sampler compacts after it writes, not before.
                    store.compact_lag(min(at + compact_after, next_at))
            store.compact_lag(times[-1] + 900)
            results.append(stored_rows(store))
    assert results[0] == results[1]
    assert {row[0] for row in results[0]} >= {"raw", "minute"}


def _reset(store: Store) -> None:
    for flow in store.list_flows():
        store.delete_flow(flow.name, actor="test")
    create_flows(store, "f")


def steady_state_rows(*, partitions: int, topics: int, sample_interval_s: int) -> dict[str, int]:
    """Rows each tier holds once history is full with a sample every ``sample_interval_s``: raw
    points are one per partition per sample, roll-ups one per topic per bucket."""
    return {
        tier.name: partitions * (tier.keep_s // sample_interval_s + 1)
        if tier.per_partition
        else topics * (tier.keep_s // tier.step_s)
        for tier in TIERS
    }


def test_a_month_for_ten_thousand_partitions_is_a_few_million_rows() -> None:
    """Arithmetic, not a run: a month of 10-second samples of 200 partitions is 53 million points,
    too many to push through the store in a test. The store test below checks, over a month of
    sparser samples, that the store keeps one row per sample or bucket within each tier's retention,
    which is what this arithmetic assumes."""
    assert steady_state_rows(partitions=200, topics=50, sample_interval_s=10) == {
        "raw": 200 * 91,
        "minute": 50 * 1440,
        "quarter-hour": 50 * 2976,
    }
    rows = steady_state_rows(partitions=10_000, topics=1_000, sample_interval_s=10)
    assert rows == {"raw": 910_000, "minute": 1_440_000, "quarter-hour": 2_976_000}
    assert sum(rows.values()) < 6_000_000


def test_a_month_of_history_keeps_one_row_per_bucket_within_retention(store: Store) -> None:
    """A month, time-compressed: a sample every 6 hours for 31 days, every 10 minutes for the last
    day, every 10 s for the last 15 minutes; compacted every 6 hours and at the end."""
    create_flows(store, "f")
    topics, partitions_per_topic = ("t", "u"), 2
    end = T0 + 40 * DAY
    times = [
        *range(end - QUARTER.keep_s - DAY, end - MINUTE.keep_s, 6 * 3600),
        *range(end - MINUTE.keep_s, end - RAW.keep_s, 10 * 60),
        *range(end - RAW.keep_s, end + 1, 10),
    ]
    for at in times:
        partitions = (lag(topic, p, at % 50, 1.0) for topic in topics for p in range(partitions_per_topic))
        store.record_lag(sample(at, *partitions))
        if at % (6 * 3600) == 0:
            store.compact_lag(at)
    store.compact_lag(end)
    kept = {
        tier.name: {
            bucket_start(at, tier.step_s)
            for at in times
            if bucket_start(at, tier.step_s) >= end - tier.keep_s
            and bucket_start(at, tier.step_s) + tier.step_s <= end
        }
        for tier in TIERS
    }
    # The last 15 minutes' 91 samples; 143 ten-minute samples plus the last 15 minutes; 30 days of
    # 6-hourly samples plus the last day's 96 quarter-hours.
    assert [len(kept[tier.name]) for tier in TIERS] == [91, 143 + 15, 30 * 4 + 96]
    assert rows_per_tier(store) == {
        "raw": len(kept["raw"]) * len(topics) * partitions_per_topic,
        "minute": len(kept["minute"]) * len(topics),
        "quarter-hour": len(kept["quarter-hour"]) * len(topics),
    }
