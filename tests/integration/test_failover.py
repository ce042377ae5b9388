"""`mirror failover` / `mirror failback` as an operator runs them, against the real clusters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from mirror.formats.mm2_records import decode_checkpoint
from mirror.kafka import ClusterAdmin
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import (
    Record,
    consume_and_commit,
    create_topic,
    group_flow_properties,
    mm2_properties,
    produce,
    produce_transactions,
    read_all,
    replicated,
    running,
    topic_partitions,
    wait_until,
)

MIRROR = [sys.executable, "-m", "mirror.cli"]


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = ClusterAdmin({"bootstrap.servers": bootstrap}, "failover-test", 30)
    try:
        return {tp: position.offset for tp, position in admin.group_offsets(group).items()}
    finally:
        admin.close()


def mirror(*args: str) -> tuple[int, Any]:
    result = subprocess.run(
        [*MIRROR, *args, "--json"], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def setup_flow(
    kafka_clusters: KafkaClusters, name: str, tmp_path: Path, *extra: str
) -> tuple[str, str, str, Path, list[bytes]]:
    """A topic of 70 committed records, replicated to backup by a flow that has stopped again."""
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, name)
    values = produce_transactions(primary, name, [7] * 10)
    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {name}",
        f"primary->backup.groups = {name}-.*",
        *extra,
    )
    config = tmp_path / "mm2.properties"
    config.write_text(properties)
    with running(properties):
        wait_until(replicated(backup, f"primary.{name}", len(values)), what="replication")
    return primary, backup, f"primary.{name}", config, values


def failover_args(config: Path, group_regex: str, *extra: str) -> list[str]:
    return [
        "failover",
        "--config",
        str(config),
        "--from",
        "primary",
        "--to",
        "backup",
        "--groups",
        group_regex,
        *extra,
    ]


def test_failover_commits_exact_offsets_and_is_idempotent(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup, remote, config, values = setup_flow(kafka_clusters, unique_name, tmp_path)
    group = f"{unique_name}-group"
    assert consume_and_commit(primary, unique_name, group, 33) == values[:33]
    # Written after the flow stopped: what the failover loses (the RPO).
    produce(primary, unique_name, [Record(0, None, f"late-{i}".encode(), (), 0) for i in range(5)])

    code, plan = mirror(*failover_args(config, group, "--dry-run"))
    assert code == 0, plan
    assert plan["dry_run"] is True and plan["refusals"] == []
    (planned,) = plan["groups"]
    assert planned["group"] == group and planned["action"] == "commit"
    (row,) = planned["partitions"]
    assert row["to_topic"] == remote and row["offset_on_to"] == 33 and row["exactness"] == "exact"
    assert row["offset_on_from"] > 33  # transaction markers
    # Records, not offsets: the marker of the last replicated transaction is not counted.
    assert row["unreplicated_records"] == 5 and row["rpo_seconds"] is not None
    assert committed(backup, group) == {}  # the dry run changed nothing

    code, plan = mirror(*failover_args(config, group))
    assert code == 0, plan
    assert plan["groups"][0]["action"] == "commit"
    assert committed(backup, group) == {(remote, 0): 33}
    assert consume_and_commit(backup, remote, group, len(values) - 33, to_end=True) == values[33:]

    code, plan = mirror(*failover_args(config, group))
    assert code == 0, plan
    assert plan["groups"][0]["action"] == "already-done"
    assert committed(backup, group) == {(remote, 0): len(values)}


def test_group_active_on_backup_is_skipped(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup, remote, config, _values = setup_flow(kafka_clusters, unique_name, tmp_path)
    idle, active = f"{unique_name}-idle", f"{unique_name}-active"
    consume_and_commit(primary, unique_name, idle, 10)
    consume_and_commit(primary, unique_name, active, 20)
    member = Consumer({"bootstrap.servers": backup, "group.id": active, "auto.offset.reset": "latest"})
    member.subscribe([remote])
    try:
        wait_until(lambda: member.poll(0.5) is None and bool(member.assignment()), what="group membership")
        code, plan = mirror(*failover_args(config, f"{unique_name}-.*"))
        assert code == 3, plan
        actions = {group["group"]: group["action"] for group in plan["groups"]}
        assert actions == {idle: "commit", active: "skip-active"}
        assert committed(backup, idle) == {(remote, 0): 10}
    finally:
        member.close()


def test_failover_refuses_while_the_flow_runs(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    values = produce_transactions(primary, unique_name, [7] * 2)
    group = f"{unique_name}-group"
    consume_and_commit(primary, unique_name, group, 5)
    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {unique_name}",
        "primary->backup.emit.heartbeats.enabled = true",
        "emit.heartbeats.interval.seconds = 1",
    )
    config = tmp_path / "mm2.properties"
    config.write_text(properties)
    with running(properties):
        wait_until(replicated(backup, f"primary.{unique_name}", len(values)), what="replication")
        code, plan = mirror(*failover_args(config, group))
    assert code == 4, plan
    assert plan["preflight"]["flow_replicating"] is True
    assert any("still replicating" in reason for reason in plan["refusals"])
    assert committed(backup, group) == {}


def test_failback_brings_the_group_home_exactly(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup, remote, config, values = setup_flow(kafka_clusters, unique_name, tmp_path)
    group = f"{unique_name}-group"
    consume_and_commit(primary, unique_name, group, 33)
    code, plan = mirror(*failover_args(config, group))
    assert code == 0, plan
    assert consume_and_commit(backup, remote, group, 10) == values[33:43]

    failback = ["failback", "--config", str(config), "--from", "backup", "--to", "primary", "--groups", group]
    code, plan = mirror(*failback)
    assert code == 0, plan
    (row,) = plan["groups"][0]["partitions"]
    assert (row["from_topic"], row["to_topic"], row["offset_on_from"]) == (remote, unique_name, 43)
    home = committed(primary, group)[(unique_name, 0)]
    assert home == row["offset_on_to"] == 43 + 6  # one marker after each of the 6 whole transactions
    assert consume_and_commit(primary, unique_name, group, len(values) - 43, to_end=True) == values[43:]

    code, plan = mirror(*failback)
    assert code == 0 and plan["groups"][0]["action"] == "already-done", plan


def test_failback_moves_groups_on_backup_topics_to_their_copies(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(backup, unique_name)  # produced on backup while primary was away
    values = produce_transactions(backup, unique_name, [7] * 10)
    group = f"{unique_name}-group"
    assert consume_and_commit(backup, unique_name, group, 33) == values[:33]
    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {unique_name}-nothing",
        "backup->primary.enabled = true",
        f"backup->primary.topics = {unique_name}",
    )
    config = tmp_path / "mm2.properties"
    config.write_text(properties)
    copy = f"backup.{unique_name}"
    with running(properties):
        wait_until(replicated(primary, copy, len(values)), what="replication back to primary")

    failback = ["failback", "--config", str(config), "--from", "backup", "--to", "primary", "--groups", group]
    code, plan = mirror(*failback)
    assert code == 0, plan
    (row,) = plan["groups"][0]["partitions"]
    assert (row["to_topic"], row["offset_on_to"], row["exactness"]) == (copy, 33, "exact")
    assert row["unreplicated_records"] == 0
    assert consume_and_commit(primary, copy, group, len(values) - 33, to_end=True) == values[33:]


def test_failover_without_primary_uses_the_latest_checkpoints(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    values = produce_transactions(primary, unique_name, [7] * 10)
    group = f"{unique_name}-group"
    consume_and_commit(primary, unique_name, group, 33)
    properties = group_flow_properties(primary, backup, unique_name, group)
    remote = f"primary.{unique_name}"
    with running(properties):
        wait_until(replicated(backup, remote, len(values)), what="replication")
        wait_until(lambda: has_checkpoint(backup, group), what="a checkpoint for the group")
    # The same file, but primary is gone: nothing listens on port 1.
    config = write(
        tmp_path,
        properties.replace(
            f"primary.bootstrap.servers = {primary}", "primary.bootstrap.servers = 127.0.0.1:1"
        ),
    )
    code, plan = mirror(*failover_args(config, group))
    assert code == 0, plan
    assert plan["preflight"]["from_reachable"] is False
    (row,) = plan["groups"][0]["partitions"]
    assert (row["offset_on_to"], row["exactness"]) == (33, "from-checkpoint")
    assert consume_and_commit(backup, remote, group, len(values) - 33, to_end=True) == values[33:]


def has_checkpoint(bootstrap: str, group: str) -> bool:
    if "primary.checkpoints.internal" not in topic_partitions(bootstrap):
        return False
    records = read_all(bootstrap, "primary.checkpoints.internal")
    return any(decode_checkpoint(r.key, r.value).group == group for r in records)


def write(tmp_path: Path, properties: str) -> Path:
    config = tmp_path / "mm2.properties"
    config.write_text(properties)
    return config
