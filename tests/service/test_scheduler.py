"""Schedules run once per firing, by whichever process holds the scheduler lease."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mirror.service.scheduler import ScheduleService
from mirror.store.records import ScheduleRun, TargetState
from mirror.store.store import Store
from tests.kafka_io import wait_until

ACTOR = "test"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'mirror.db'}") as opened:
        opened.put_cluster("A", "127.0.0.1:1", {}, {}, actor=ACTOR)
        opened.put_cluster("B", "127.0.0.1:2", {}, {}, actor=ACTOR)
        opened.create_flow("A-B", "A", "B", {}, connectors={}, target_state=TargetState.RUNNING, actor=ACTOR)
        yield opened


def finished(store: Store, schedule_id: str) -> list[ScheduleRun]:
    return [run for run in store.schedule_runs(schedule_id, limit=1000) if run.finished_at is not None]


def stored_jobs(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars())


def test_one_leader_runs_each_firing_once_and_a_follower_takes_over(store: Store) -> None:
    store.create_schedule(
        "pause", "pause_flow", "A-B", trigger="interval", spec="1", enabled=True, actor=ACTOR
    )
    services = [ScheduleService(store, worker, lease_ttl_s=3, renew_every_s=1) for worker in ("w1", "w2")]
    try:
        for service in services:
            service.start()
        wait_until(lambda: len(finished(store, "pause")) >= 3, timeout=15, what="three firings")
        leaders = [service for service in services if service.leading]
        assert len(leaders) == 1
        leader = leaders[0]
        follower = services[1 - services.index(leader)]
        runs = finished(store, "pause")
        assert {run.worker_id for run in runs} == {"w1" if leader is services[0] else "w2"}
        assert all(run.outcome == "ok" for run in runs)
        assert store.get_flow("A-B").target_state == TargetState.PAUSED  # type: ignore[union-attr]

        leader.stop()
        follower_id = "w2" if leader is services[0] else "w1"
        wait_until(
            lambda: any(run.worker_id == follower_id for run in finished(store, "pause")),
            timeout=15,
            what="the follower to run the schedule",
        )
        assert follower.leading
        times = [run.scheduled_for for run in store.schedule_runs("pause", limit=1000)]
        assert len(times) == len(set(times)), "a firing ran twice"

        store.delete_schedule("pause", actor=ACTOR)
        wait_until(lambda: not stored_jobs(store), timeout=5, what="the job to leave the job store")
    finally:
        for service in services:
            service.stop()


def test_a_bad_spec_is_refused_without_stopping_the_others(store: Store) -> None:
    store.create_schedule(
        "bad", "pause_flow", "A-B", trigger="cron", spec="not a crontab", enabled=True, actor=ACTOR
    )
    store.create_schedule(
        "unknown", "make_coffee", "A-B", trigger="interval", spec="1", enabled=True, actor=ACTOR
    )
    store.create_schedule(
        "off", "pause_flow", "A-B", trigger="interval", spec="1", enabled=False, actor=ACTOR
    )
    service = ScheduleService(store, "w1", lease_ttl_s=3, renew_every_s=1)
    try:
        service.start()
        wait_until(lambda: finished(store, "unknown"), timeout=10, what="the unknown action's run")
        assert finished(store, "unknown")[0].outcome == "error: unknown action 'make_coffee'"
        assert store.schedule_runs("bad") == []
        assert store.schedule_runs("off") == []
    finally:
        service.stop()
