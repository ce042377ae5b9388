"""Schedules and their runs: each firing is claimed by exactly one process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import partial

import pytest

from mirror.store.store import AlreadyExistsError, NotFoundError, Store
from tests.store.racing import race

FIRING = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


def add_schedule(store: Store, schedule_id: str = "nightly-pause") -> None:
    store.create_schedule(schedule_id, "pause_flow", "primary->backup", "cron", "0 3 * * *", True, "cli")


def test_create_get_list_delete_schedule(store: Store) -> None:
    add_schedule(store, "b")
    store.create_schedule("a", "lag_sample", "primary->backup", "interval", "30", False, "cli")
    record = store.get_schedule("b")
    assert record is not None
    assert (record.action, record.target, record.trigger, record.spec, record.enabled) == (
        "pause_flow",
        "primary->backup",
        "cron",
        "0 3 * * *",
        True,
    )
    assert record.created_at.tzinfo is UTC
    assert [schedule.id for schedule in store.list_schedules()] == ["a", "b"]
    with pytest.raises(AlreadyExistsError):
        add_schedule(store, "b")

    store.delete_schedule("b", "cli")
    assert store.get_schedule("b") is None
    with pytest.raises(NotFoundError):
        store.delete_schedule("b", "cli")
    assert [entry.action for entry in store.audit_log()] == [
        "schedule.delete",
        "schedule.create",
        "schedule.create",
    ]


def test_a_firing_is_claimed_once(store: Store) -> None:
    add_schedule(store)
    assert store.claim_run("nightly-pause", FIRING, "worker-1")
    assert not store.claim_run("nightly-pause", FIRING, "worker-2")
    # The same instant in another zone is the same firing.
    assert not store.claim_run("nightly-pause", FIRING.astimezone(timezone(timedelta(hours=-5))), "worker-2")
    assert store.claim_run("nightly-pause", FIRING + timedelta(days=1), "worker-2")
    [later, first] = store.schedule_runs("nightly-pause")
    assert (first.worker_id, first.scheduled_for, first.finished_at, first.outcome) == (
        "worker-1",
        FIRING,
        None,
        None,
    )
    assert later.worker_id == "worker-2"


def test_claim_of_missing_schedule_is_refused(store: Store) -> None:
    assert not store.claim_run("missing", FIRING, "worker-1")
    with pytest.raises(ValueError, match="scheduled_for"):
        store.claim_run("missing", datetime(2025, 6, 1, 3, 0), "worker-1")


def test_concurrent_claims_have_one_winner(store_url: str, store: Store) -> None:
    add_schedule(store)
    claimants = [store, Store(store_url), Store(store_url)]
    try:
        for round_number in range(10):
            firing = FIRING + timedelta(minutes=round_number)
            claimed = race(
                [
                    partial(claimant.claim_run, "nightly-pause", firing, f"worker-{index}")
                    for index, claimant in enumerate(claimants)
                ]
            )
            assert claimed.count(True) == 1, claimed
    finally:
        for claimant in claimants[1:]:
            claimant.close()
    assert len(store.schedule_runs("nightly-pause")) == 10


def test_finish_run_and_history(store: Store) -> None:
    add_schedule(store)
    for day in range(5):
        store.claim_run("nightly-pause", FIRING + timedelta(days=day), "worker-1")
    store.finish_run("nightly-pause", FIRING, "ok")
    store.finish_run("nightly-pause", FIRING + timedelta(days=1), "flow primary->backup does not exist")
    store.finish_run("nightly-pause", FIRING - timedelta(days=1), "ok")  # never claimed: ignored

    runs = store.schedule_runs("nightly-pause")
    assert [run.scheduled_for for run in runs] == [FIRING + timedelta(days=day) for day in (4, 3, 2, 1, 0)]
    assert runs[-1].outcome == "ok"
    assert runs[-1].finished_at is not None
    assert runs[-1].finished_at >= runs[-1].started_at
    assert runs[-2].outcome == "flow primary->backup does not exist"
    assert runs[0].finished_at is None
    assert [run.scheduled_for for run in store.schedule_runs("nightly-pause", limit=2)] == [
        FIRING + timedelta(days=4),
        FIRING + timedelta(days=3),
    ]


def test_delete_schedule_deletes_its_runs(store: Store) -> None:
    add_schedule(store)
    store.claim_run("nightly-pause", FIRING, "worker-1")
    store.delete_schedule("nightly-pause", "cli")
    assert store.schedule_runs("nightly-pause") == []
    add_schedule(store)
    assert store.claim_run("nightly-pause", FIRING, "worker-1")
