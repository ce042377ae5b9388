"""A flow's source offsets in Kafka: read, altered and reset through ``KafkaOffsetsAdmin``, and its
lag sampled by the ``lag_sample`` schedule action."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mirror.service.jobs import run_action
from mirror.service.kafka_offsets import KafkaOffsetsAdmin
from mirror.service.offsets import ConnectorOffset, InvalidOffsetsError
from mirror.service.runtime import ServiceRuntime
from mirror.store.records import ConnectorRecord, TargetState
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


def offset(topic: str, value: int | None) -> ConnectorOffset:
    return ConnectorOffset(
        {"cluster": "primary", "partition": 0, "topic": topic}, None if value is None else {"offset": value}
    )


def test_offsets_and_lag_of_a_flow(
    store: Store, clusters: KafkaClusters, start_runtime: Callable[[str], ServiceRuntime], unique_name: str
) -> None:
    primary, backup = clusters.primary.bootstrap_servers, clusters.backup.bootstrap_servers
    remote = f"primary.{unique_name}"
    create_topic(primary, unique_name)
    produce(primary, unique_name, recent_records(0, 20))
    flow, source = f"{unique_name}-flow", f"{unique_name}-flow-source"
    store.create_flow(
        flow,
        "primary",
        "backup",
        {"topics": unique_name},
        # Only this test's topic: other tests leave a heartbeats topic behind on the shared clusters.
        connectors={
            source: (
                SOURCE_CONNECTOR,
                profile_config(unique_name, **{"heartbeats.replication.enabled": "false"}),
            )
        },
        target_state=TargetState.RUNNING,
        actor=ACTOR,
    )
    start_runtime("w1")
    wait_until(arrived(backup, remote, 20), what="the flow's records")
    admin = KafkaOffsetsAdmin(store)
    connector: ConnectorRecord = store.get_connector(source)  # type: ignore[assignment]
    wait_until(
        lambda: admin.get(connector) == [offset(unique_name, 19)], timeout=10, what="committed offsets"
    )

    store.create_schedule(
        "lag", "lag_sample", flow, trigger="interval", spec="3600", enabled=True, actor=ACTOR
    )
    schedule = store.get_schedule("lag")
    assert schedule is not None

    def lag() -> object:
        outcome = run_action(store, schedule)
        assert outcome.startswith("ok "), outcome
        return json.loads(outcome.removeprefix("ok "))

    assert lag() == {"records": 0, "partitions": {f"{unique_name}-0": 0}}
    store.set_flow_state(flow, TargetState.PAUSED, actor=ACTOR)
    wait_for_state(store, source, "PAUSED", tasks=1)
    produce(primary, unique_name, recent_records(20, 7))
    assert lag() == {"records": 7, "partitions": {f"{unique_name}-0": 7}}

    store.set_flow_state(flow, TargetState.STOPPED, actor=ACTOR)
    wait_for_state(store, source, "STOPPED", tasks=0)
    admin.alter(connector, [offset(unique_name, 9)])
    assert admin.get(connector) == [offset(unique_name, 9)]
    with pytest.raises(InvalidOffsetsError, match="cluster"):
        admin.alter(
            connector, [ConnectorOffset({"cluster": "elsewhere", "partition": 0, "topic": "t"}, None)]
        )
    with pytest.raises(InvalidOffsetsError, match="offset"):
        admin.alter(connector, [ConnectorOffset(offset(unique_name, 1).partition, {"offset": -1})])
    store.set_flow_state(flow, TargetState.RUNNING, actor=ACTOR)
    # Replication resumes after offset 9: records 10..26 are copied (again).
    wait_until(arrived(backup, remote, 20 + 17), what="replication from the altered offset")
    wait_until(
        lambda: admin.get(connector) == [offset(unique_name, 26)], timeout=10, what="progress recorded"
    )
    assert end_offsets_total(backup, remote) == 37

    store.set_flow_state(flow, TargetState.STOPPED, actor=ACTOR)
    wait_for_state(store, source, "STOPPED", tasks=0)
    admin.reset(connector)
    assert admin.get(connector) == []
    admin.alter(connector, [offset(unique_name, None)])  # forgetting what is not there is harmless
    assert admin.get(connector) == []
