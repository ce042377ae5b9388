"""A task that the target refuses fails visibly, is restarted with backoff, and loses nothing."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from mirror.runtime.status import State
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import (
    Record,
    create_topic,
    mm2_properties,
    produce,
    read_all,
    replicated,
    running,
    wait_until,
)


def test_failed_task_is_reported_restarted_and_resumes(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    remote = f"primary.{unique_name}"
    create_topic(primary, unique_name)
    # The remote topic exists already and refuses records over 200 bytes: every delivery fails.
    create_topic(backup, remote, config={"max.message.bytes": "200"})
    records = [Record(0, None, bytes([i]) * 1000, (), 1_700_000_000_000 + i) for i in range(50)]
    produce(primary, unique_name, records)
    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {unique_name}",
        "sync.topic.configs.enabled = false",  # or the sync would lift the limit by itself
    )
    with running(properties) as flows:
        worker = flows[0].worker

        def failed_task() -> str | None:
            tasks = worker.status("MirrorSourceConnector").tasks
            return tasks[0].trace if tasks and tasks[0].state == State.FAILED else None

        trace = wait_until(failed_task, timeout=60, what="the task to be reported FAILED")
        assert trace is not None
        assert "MSG_SIZE_TOO_LARGE" in trace or "too large" in trace.lower()
        assert read_all(backup, remote) == []

        admin = AdminClient({"bootstrap.servers": backup})
        lift = ConfigResource(
            ResourceType.TOPIC,
            remote,
            incremental_configs=[
                ConfigEntry("max.message.bytes", "1048588", incremental_operation=AlterConfigOpType.SET)
            ],
        )
        admin.incremental_alter_configs([lift])[lift].result(30)

        wait_until(replicated(backup, remote, len(records)), timeout=90, what="replication after the restart")
        wait_until(
            lambda: worker.status("MirrorSourceConnector").tasks[0].state == State.RUNNING,
            what="the task to run again",
        )
    assert read_all(backup, remote) == records
