"""A flow's source offsets in Kafka: read, altered and reset through ``KafkaOffsetsAdmin``, and its
lag sampled by the ``lag_sample`` schedule action; offsets of unreachable clusters within a deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from mirror.service.jobs import run_action
from mirror.service.kafka_offsets import (
    DEADLINE_VARIABLE,
    DEFAULT_DEADLINE_S,
    MAX_OFFSET,
    KafkaOffsetsAdmin,
    deadline_from_environment,
)
from mirror.service.offsets import ConnectorOffset, InvalidOffsetsError, OffsetsUnavailableError
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
    serving,
    wait_for_state,
)

UNREACHABLE = "127.0.0.1:1"
DEADLINE_MARGIN_S = 3.0
"""Past the deadline: closing the Kafka clients and the HTTP round trip."""


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
    for out_of_range in (-1, MAX_OFFSET + 1):
        with pytest.raises(InvalidOffsetsError, match=r"offsets\[0\]\.offset\.offset must be an integer"):
            admin.alter(
                connector, [ConnectorOffset(offset(unique_name, 1).partition, {"offset": out_of_range})]
            )
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


def test_offsets_of_unreachable_clusters_answer_503_within_the_deadline(
    store_url: str, tmp_path: Path
) -> None:
    """Before: GET took gunicorn's 60 s (workers were killed mid-request), PATCH answered 500 (a
    TimeoutError escaped), and two of them in flight held up every other request."""
    with serving(store_url, tmp_path / "serve.log", "w1") as service:
        config = {
            "connector.class": SOURCE_CONNECTOR,
            "source.cluster.alias": "A",
            "target.cluster.alias": "B",
            "source.cluster.bootstrap.servers": UNREACHABLE,
            "target.cluster.bootstrap.servers": UNREACHABLE,
            "topics": "t",
        }
        created = requests.post(
            f"{service.url}/connectors",
            json={"name": "c0", "config": config, "initial_state": "STOPPED"},
            timeout=10,
        )
        assert created.status_code == 201, service.log
        offsets_url = f"{service.url}/connectors/c0/offsets"
        body = {
            "offsets": [
                {"partition": {"cluster": "A", "topic": "t", "partition": 0}, "offset": {"offset": 5}}
            ]
        }

        def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
            began = time.monotonic()
            response = call()
            return response, time.monotonic() - began

        with ThreadPoolExecutor(3) as pool:
            reads = [pool.submit(timed, lambda: requests.get(offsets_url, timeout=90)) for _ in range(2)]
            alter = pool.submit(timed, lambda: requests.patch(offsets_url, json=body, timeout=90))
            time.sleep(1)
            health, health_s = timed(lambda: requests.get(f"{service.url}/health", timeout=90))
            assert all(not call.done() for call in (*reads, alter)), "the offsets calls did not wait on Kafka"
            assert health.status_code == 200
            assert health_s < 2, f"/health took {health_s:.1f} s while the offsets calls waited"
            answers = [call.result() for call in (*reads, alter)]
        for response, seconds in answers:
            assert response.status_code == 503, response.text
            assert seconds < DEFAULT_DEADLINE_S + DEADLINE_MARGIN_S
            message = response.json()["message"]
            assert "cluster B" in message and "connector c0" in message, message


def test_the_deadline_is_configurable(store: Store) -> None:
    assert deadline_from_environment({}) == DEFAULT_DEADLINE_S == 10.0
    assert deadline_from_environment({DEADLINE_VARIABLE: " 2.5 "}) == 2.5
    for wrong in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(RuntimeError, match=f"{DEADLINE_VARIABLE} must be a number of seconds above 0"):
            deadline_from_environment({DEADLINE_VARIABLE: wrong})
    config = {
        "source.cluster.alias": "A",
        "target.cluster.alias": "B",
        "source.cluster.bootstrap.servers": UNREACHABLE,
        "target.cluster.bootstrap.servers": UNREACHABLE,
        "topics": "t",
    }
    connector = store.create_connector(
        "c0", SOURCE_CONNECTOR, config, target_state=TargetState.STOPPED, actor=ACTOR, flow=None
    )
    deadline_s = 2.0
    admin = KafkaOffsetsAdmin(store, deadline_s=deadline_s)
    for call in (
        lambda: admin.get(connector),
        lambda: admin.alter(
            connector, [ConnectorOffset({"cluster": "A", "partition": 0, "topic": "t"}, {"offset": 5})]
        ),
    ):
        began = time.monotonic()
        with pytest.raises(OffsetsUnavailableError, match="cluster B"):
            call()
        waited = time.monotonic() - began
        # It gave up at the deadline: not at once (no answer is not a refusal), and not much later.
        assert deadline_s - 0.5 < waited < deadline_s + DEADLINE_MARGIN_S, waited
