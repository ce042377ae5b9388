"""The reconciler against a real SQLite store and the real clusters: what is stored is what runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from mirror.runtime.status import State
from mirror.service.runtime import ServiceRuntime, reconcile_pause_s
from mirror.store.records import TargetState
from mirror.store.store import Store
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import create_topic, end_offsets_total, produce, wait_until
from tests.service_harness import (
    ACTOR,
    SOURCE_CONNECTOR,
    arrived,
    profile_config,
    recent_records,
    wait_for_state,
)

STATE_DEADLINE_S = 2.0


def test_stored_desired_state_reaches_the_tasks(
    store: Store, clusters: KafkaClusters, start_runtime: Callable[[str], ServiceRuntime], unique_name: str
) -> None:
    primary, backup = clusters.primary.bootstrap_servers, clusters.backup.bootstrap_servers
    remote = f"primary.{unique_name}"
    create_topic(primary, unique_name)
    produce(primary, unique_name, recent_records(0, 20))
    runtime = start_runtime("w1")
    name = f"{unique_name}-source"
    store.create_connector(
        name, SOURCE_CONNECTOR, profile_config(unique_name), TargetState.RUNNING, actor=ACTOR
    )
    wait_until(arrived(backup, remote, 20), what="the first records on the target")
    wait_for_state(store, name, "RUNNING", tasks=1)
    assert store.get_connector(name).assigned_worker == "w1"  # type: ignore[union-attr]

    store.set_target_state(name, TargetState.PAUSED, actor=ACTOR)
    assert wait_for_state(store, name, "PAUSED", tasks=1, timeout=STATE_DEADLINE_S) < STATE_DEADLINE_S
    produce(primary, unique_name, recent_records(20, 10))
    time.sleep(3)
    assert end_offsets_total(backup, remote) == 20, "a paused connector replicated"

    store.set_target_state(name, TargetState.RUNNING, actor=ACTOR)
    assert wait_for_state(store, name, "RUNNING", tasks=1, timeout=STATE_DEADLINE_S) < STATE_DEADLINE_S
    wait_until(arrived(backup, remote, 30), what="replication after resume")

    store.request_restart(name, None, include_tasks=True, only_failed=False, actor=ACTOR)
    store.request_restart(name, 0, include_tasks=False, only_failed=False, actor=ACTOR)
    wait_until(lambda: not store.pending_restarts([name]), timeout=5, what="the restarts to be handled")
    wait_for_state(store, name, "RUNNING", tasks=1)
    produce(primary, unique_name, recent_records(30, 5))
    wait_until(arrived(backup, remote, 35), what="replication after the restart")

    second = f"{unique_name}-2"
    create_topic(primary, second)
    produce(primary, second, recent_records(0, 3))
    updated, _created = store.put_connector_config(
        name, SOURCE_CONNECTOR, profile_config(f"{unique_name},{second}"), actor=ACTOR
    )
    assert updated.generation == 2
    wait_until(arrived(backup, f"primary.{second}", 3), what="the reconfigured connector's new topic")

    store.set_target_state(name, TargetState.STOPPED, actor=ACTOR)
    wait_for_state(store, name, "STOPPED", tasks=0, timeout=STATE_DEADLINE_S)
    assert runtime.worker.status(name).tasks == ()

    store.delete_connector(name, actor=ACTOR)
    wait_until(lambda: name not in runtime.worker.connectors(), timeout=STATE_DEADLINE_S, what="removal")
    assert store.connector_state(name) is None
    assert end_offsets_total(backup, remote) == 35, "nothing replicated twice after clean stops"


def test_a_config_that_cannot_run_fails_naming_the_key_until_fixed(
    store: Store, clusters: KafkaClusters, start_runtime: Callable[[str], ServiceRuntime], unique_name: str
) -> None:
    create_topic(clusters.primary.bootstrap_servers, unique_name)
    start_runtime("w1")
    bad_type = f"{unique_name}-typed"
    store.create_connector(
        bad_type,
        SOURCE_CONNECTOR,
        profile_config(unique_name, **{"tasks.max": "many"}),
        TargetState.RUNNING,
        actor=ACTOR,
    )
    no_profile = f"{unique_name}-profile"
    store.create_connector(
        no_profile,
        SOURCE_CONNECTOR,
        profile_config(unique_name, **{"target.cluster.alias": "elsewhere"}),
        TargetState.RUNNING,
        actor=ACTOR,
    )
    wait_for_state(store, bad_type, "FAILED")
    wait_for_state(store, no_profile, "FAILED")
    assert "tasks.max" in (store.connector_state(bad_type).trace or "")  # type: ignore[union-attr]
    trace = store.connector_state(no_profile).trace or ""  # type: ignore[union-attr]
    assert "target.cluster.bootstrap.servers" in trace and "elsewhere" in trace

    store.put_connector_config(bad_type, SOURCE_CONNECTOR, profile_config(unique_name), actor=ACTOR)
    store.put_cluster("elsewhere", clusters.backup.bootstrap_servers, {}, {}, actor=ACTOR)
    wait_for_state(store, bad_type, "RUNNING", tasks=1)
    wait_for_state(store, no_profile, "RUNNING", tasks=1)


def test_connectors_are_shared_between_workers_and_move_when_one_leaves(
    store: Store, clusters: KafkaClusters, start_runtime: Callable[[str], ServiceRuntime], unique_name: str
) -> None:
    create_topic(clusters.primary.bootstrap_servers, unique_name)
    first = start_runtime("w1")
    second = start_runtime("w2")
    names = [f"{unique_name}-{index}" for index in range(4)]
    for name in names:
        store.create_connector(
            name, SOURCE_CONNECTOR, profile_config(unique_name), TargetState.PAUSED, actor=ACTOR
        )
    for name in names:
        wait_for_state(store, name, "PAUSED")

    def owners() -> dict[str, str]:
        return {name: record.assigned_worker or "" for name in names if (record := store.get_connector(name))}

    assert sorted(owners().values()) == ["w1", "w1", "w2", "w2"]
    assert sorted(first.worker.connectors() + second.worker.connectors()) == sorted(names)
    first.stop()
    wait_until(lambda: set(owners().values()) == {"w2"}, timeout=15, what="w1's connectors to move to w2")
    wait_until(lambda: sorted(second.worker.connectors()) == sorted(names), timeout=15, what="w2 running all")
    for name in names:
        wait_for_state(store, name, "PAUSED")
        assert store.connector_state(name).worker_id == "w2"  # type: ignore[union-attr]


def test_a_runtime_whose_worker_id_was_taken_over_stops_its_connectors_and_leaves_the_row(
    store: Store, start_runtime: Callable[[str], ServiceRuntime]
) -> None:
    unreachable = {
        "source.cluster.alias": "A",
        "target.cluster.alias": "B",
        "source.cluster.bootstrap.servers": "127.0.0.1:1",
        "target.cluster.bootstrap.servers": "127.0.0.1:1",
        "topics": "t",
    }
    store.create_connector("c1", SOURCE_CONNECTOR, unreachable, TargetState.RUNNING, actor=ACTOR)
    runtime = start_runtime("w1")
    wait_until(lambda: "c1" in runtime.worker.connectors(), timeout=10, what="c1 added")

    # What another process with the same id does once this one's heartbeat has gone stale (here
    # the row is simply dropped): it takes the id with its own incarnation.
    other = datetime.now(UTC)
    store.remove_worker("w1")
    assert store.hold_worker("w1", "elsewhere:8083", other, 60) is None

    wait_until(lambda: runtime.displaced_by is not None, timeout=5, what="the takeover noticed")
    assert runtime.displaced_by is not None and runtime.displaced_by.started_at == other
    wait_until(lambda: runtime.worker.status("c1").state == State.STOPPED, timeout=15, what="c1 stopped here")
    heartbeat = store.live_workers(60)[0].last_heartbeat
    time.sleep(1.5)
    runtime.stop()
    [worker] = store.live_workers(60)
    assert (worker.address, worker.started_at, worker.last_heartbeat) == ("elsewhere:8083", other, heartbeat)


def test_the_reconciler_backs_off_to_a_bound_however_long_the_store_fails() -> None:
    assert reconcile_pause_s(0.5, 0) == 0.5
    assert reconcile_pause_s(0.5, 1) == 1.0
    assert reconcile_pause_s(0.5, 3) == 4.0
    # An outage of hours is thousands of failed passes: 0.5 * 2**1100 overflowed a float and
    # would have ended the reconciler's thread for good.
    assert reconcile_pause_s(0.5, 1100) == 5.0
