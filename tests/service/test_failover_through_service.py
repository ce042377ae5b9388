"""`mirror failover --service`: the flow `mirror serve` runs is stopped through its API, then
the group moves to the backup exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from confluent_kafka import OFFSET_BEGINNING

from tests.kafka_harness import REPO, KafkaClusters
from tests.kafka_io import (
    consume_and_commit,
    create_topic,
    mm2_properties,
    produce_transactions,
    replicated,
    wait_until,
)
from tests.service_harness import SINGLE_BROKER_KEYS, serving


def failover(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_failover_stops_the_service_flow_then_moves_the_group_exactly(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    values = produce_transactions(primary, unique_name, [7] * 10, aborted=[2, 6])
    group = f"{unique_name}-group"
    assert consume_and_commit(primary, unique_name, group, 33, start=OFFSET_BEGINNING) == values[:33]
    remote = f"primary.{unique_name}"
    with serving(f"sqlite:///{tmp_path / 'mirror.db'}", tmp_path / "serve.log", "w1") as service:
        for name, bootstrap in (("primary", primary), ("backup", backup)):
            body = {"name": name, "bootstrap_servers": bootstrap}
            assert requests.post(f"{service.url}/clusters", json=body, timeout=10).status_code == 201
        flow_config = {
            "topics": unique_name,
            "groups": group,
            "emit.checkpoints.interval.seconds": "1",
            "emit.heartbeats.interval.seconds": "1",
            **SINGLE_BROKER_KEYS,
        }
        flow_body: dict[str, object] = {"source": "primary", "target": "backup", "config": flow_config}
        response = requests.post(f"{service.url}/flows", json=flow_body, timeout=10)
        assert response.status_code == 201, response.text
        wait_until(replicated(backup, remote, len(values)), what="replication by the service")

        config = tmp_path / "mm2.properties"
        config.write_text(
            mm2_properties(
                primary,
                backup,
                "primary->backup.enabled = true",
                f"primary->backup.topics = {unique_name}",
                f"primary->backup.groups = {group}",
            )
        )
        command = [sys.executable, "-m", "mirror.cli", "failover", "--config", str(config)]
        command += ["--from", "primary", "--to", "backup", "--service", service.url]
        dry = failover([*command, "--dry-run"])
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "stops flow 'primary-backup'" in dry.stdout
        flow = requests.get(f"{service.url}/flows/primary-backup", timeout=10).json()
        assert flow["target_state"] == "RUNNING"  # a dry run changes nothing

        done = failover(command)
        assert done.returncode == 0, done.stdout + done.stderr
        flow = requests.get(f"{service.url}/flows/primary-backup", timeout=10).json()
        assert flow["target_state"] == "STOPPED"
        assert {status["connector"]["state"] for status in flow["connectors"]} == {"STOPPED"}
        again = failover(command)
        assert again.returncode == 0, again.stdout + again.stderr  # idempotent
    assert consume_and_commit(backup, remote, group, len(values) - 33, to_end=True) == values[33:]
