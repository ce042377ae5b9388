"""The local real-Kafka harness itself: two distinct clusters that work, and clean stops."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # confluent_kafka.admin does not re-export it for mypy

from tests.kafka_harness import (
    KafkaClusters,
    LocalCluster,
    kafka_local,
    start_cluster,
    stop_clusters,
    wait_for_metadata,
)

CLUSTER_NAMES = ["primary", "backup"]


def _cluster(clusters: KafkaClusters, name: str) -> LocalCluster:
    cluster = clusters.primary if name == "primary" else clusters.backup
    assert cluster.name == name
    return cluster


def test_both_clusters_answer_metadata(kafka_clusters: KafkaClusters) -> None:
    for cluster in (kafka_clusters.primary, kafka_clusters.backup):
        metadata = AdminClient({"bootstrap.servers": cluster.bootstrap_servers}).list_topics(timeout=10)
        assert len(metadata.brokers) == 1
        broker = next(iter(metadata.brokers.values()))
        assert f"{broker.host}:{broker.port}" == cluster.bootstrap_servers
        assert metadata.cluster_id


def test_clusters_are_distinct(kafka_clusters: KafkaClusters) -> None:
    primary, backup = kafka_clusters.primary, kafka_clusters.backup
    assert primary.bootstrap_servers != backup.bootstrap_servers
    assert wait_for_metadata(primary.bootstrap_servers) != wait_for_metadata(backup.bootstrap_servers)


@pytest.mark.parametrize("which", CLUSTER_NAMES)
def test_produce_consume_round_trip(kafka_clusters: KafkaClusters, unique_name: str, which: str) -> None:
    bootstrap = _cluster(kafka_clusters, which).bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = unique_name
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    try:
        sent: list[tuple[bytes, bytes, list[tuple[str, str | bytes | None]]]] = [
            (f"key-{i}".encode(), f"value-{i}".encode(), [("h", str(i).encode())]) for i in range(20)
        ]
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        for key, value, headers in sent:
            producer.produce(topic, value=value, key=key, headers=headers)
        assert producer.flush(30) == 0

        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": unique_name,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        received: list[Message] = []
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + 60
            while len(received) < len(sent) and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    continue
                received.append(message)
            assert received, "nothing consumed"
            consumer.commit(message=received[-1], asynchronous=False)
        finally:
            consumer.close()

        assert [(m.key(), m.value(), m.headers()) for m in received] == sent
        assert [m.offset() for m in received] == list(range(len(sent)))
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)


def test_brokers_run_in_their_own_process_groups(kafka_clusters: KafkaClusters) -> None:
    if not kafka_clusters.processes:
        pytest.skip("clusters reused from MIRROR_TEST_PRIMARY/MIRROR_TEST_BACKUP")
    pgids = set()
    for name, process in kafka_clusters.processes.items():
        proc = psutil.Process(process.pid)
        assert proc.is_running()
        assert "kafka.Kafka" in proc.cmdline(), name
        assert os.getpgid(process.pid) == process.pgid == process.pid  # group leader
        assert os.getsid(process.pid) == process.pid  # and session leader: no controlling terminal
        assert process.pgid != os.getpgid(0)
        pgids.add(process.pgid)
    assert len(pgids) == len(kafka_clusters.processes)


def _group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


@pytest.mark.integration
def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    state_dir = tmp_path / "kafka-state"
    process = start_cluster("throwaway", state_dir)
    try:
        assert psutil.pid_exists(process.pid)
        wait_for_metadata(process.cluster.bootstrap_servers)
        status = kafka_local("status", "--state-dir", str(state_dir))
        assert [(s["name"], s["alive"]) for s in status] == [("throwaway", True)]

        result = kafka_local("stop", "--name", "throwaway", "--state-dir", str(state_dir), timeout=60)
        assert result == [{"name": "throwaway", "was_running": True, "stopped": True, "forced": False}]

        deadline = time.monotonic() + 30  # the exited JVM is reaped by init (slowly here), not by us
        while psutil.pid_exists(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not psutil.pid_exists(process.pid)
        assert _group_members(process.pgid) == []
        assert not (state_dir / "throwaway" / "kafka.pid").exists()

        status = kafka_local("status", "--state-dir", str(state_dir))
        assert [(s["name"], s["alive"]) for s in status] == [("throwaway", False)]
        again = kafka_local("stop", "--name", "throwaway", "--state-dir", str(state_dir), timeout=60)
        assert again == [{"name": "throwaway", "was_running": False, "stopped": True, "forced": False}]
    finally:
        stop_clusters([process])  # no-op when the test got this far; kills the group otherwise
