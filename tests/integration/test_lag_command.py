"""Lag of an mm2.properties flow: `mirror run --metrics-bind` exports it to Prometheus while it
runs, and `mirror lag --config` measures it to the record while it is stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from confluent_kafka import OFFSET_BEGINNING
from prometheus_client.parser import text_string_to_metric_families

from tests.kafka_harness import REPO, KafkaClusters
from tests.kafka_io import (
    Record,
    assert_age_of_record,
    consume_and_commit,
    create_topic,
    group_flow_properties,
    produce,
    produce_transactions,
    wait_until,
)
from tests.service_harness import free_port

MIRROR = [sys.executable, "-m", "mirror.cli"]


def lag_once(config: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*MIRROR, "lag", "--config", str(config), "--once", "--json"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    views: list[dict[str, Any]] = json.loads(done.stdout)
    assert [view["flow"] for view in views] == ["primary->backup"]
    return views[0]


def gauge(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def test_lag_is_exported_while_running_and_exact_once_stopped(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    topic, group = unique_name, f"{unique_name}-group"
    create_topic(primary, topic, partitions=2)
    now_ms = int(time.time() * 1000)
    produce(primary, topic, [Record(i % 2, None, f"v{i}".encode(), (), now_ms) for i in range(100)])
    assert len(consume_and_commit(primary, topic, group, 20, start=OFFSET_BEGINNING)) == 20
    # Transactions end in markers the replicator never copies: caught up must still mean 0.
    transactional = f"{unique_name}-tx"
    create_topic(primary, transactional)
    produce_transactions(primary, transactional, [5] * 4, aborted=[1])
    config = tmp_path / "mm2.properties"
    config.write_text(
        group_flow_properties(
            primary,
            backup,
            topic,
            group,
            "emit.heartbeats.enabled = true",
            "emit.heartbeats.interval.seconds = 1",
            "offset.flush.interval.ms = 500",
            # The reverse pair creates the source's heartbeats topic as it starts, maybe after the
            # source connector listed topics: find it within a second, not MM2's 10 minutes.
            "refresh.topics.interval.seconds = 1",
            f"primary->backup.topics = {topic}, {transactional}",
        )
    )
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [*MIRROR, "run", str(config), "--metrics-bind", f"127.0.0.1:{port}", "--lag-interval", "1"],
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        seen = [""]

        def caught_up() -> str:
            """The metrics once the flow is caught up, else "" (falsy: keep waiting)."""
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except requests.RequestException:
                return ""
            seen[0] = text
            ready = (
                gauge(text, "mirror_replication_lag_records", flow="primary->backup", topic=topic) == 0
                and gauge(text, "mirror_heartbeat_age_seconds", flow="primary->backup") is not None
                and gauge(text, "mirror_checkpoint_age_seconds", flow="primary->backup", group=group) == 0
                and gauge(text, "mirror_replication_lag_records", flow="primary->backup", topic=transactional)
                == 0
                and gauge(text, "mirror_replication_lag_seconds", flow="primary->backup", topic=transactional)
                == 0
            )
            return text if ready else ""

        try:
            text = wait_until(caught_up, timeout=90, what="caught-up lag in /metrics")
        except AssertionError as exc:
            tail = log.read_text()[-4000:]
            mirror_lines = [line for line in seen[0].splitlines() if line.startswith("mirror_")]
            raise AssertionError(
                f"{exc}\nlast metrics:\n" + "\n".join(mirror_lines) + f"\nlog:\n{tail}"
            ) from None
        records = gauge(
            text,
            "mirror_replication_records_total",
            connector="MirrorSourceConnector",
            connector_class="MirrorSourceConnector",
            topic=f"primary.{topic}",
        )
        assert records == 100
        # The group read 20 of partition 0's 50 records, and nothing of partition 1.
        for side in ("source", "target"):
            lag = gauge(
                text, "mirror_consumer_group_lag_records", flow="primary->backup", group=group, side=side
            )
            assert lag == 30, side
        heartbeat_age = gauge(text, "mirror_heartbeat_age_seconds", flow="primary->backup")
        assert heartbeat_age is not None and heartbeat_age < 30
    finally:
        process.terminate()
        try:
            assert process.wait(30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)

    first_ms = int(time.time() * 1000)
    produce(primary, topic, [Record(i % 2, None, f"w{i}".encode(), (), first_ms + i) for i in range(1000)])
    stopped = lag_once(config)
    # The flow also replicates the heartbeats topic, where the last heartbeat emitted before the
    # stop may wait too.
    per_partition = {(p["topic"], p["partition"]): p["records"] for p in stopped["partitions"]}
    assert per_partition.pop(("heartbeats", 0)) in (0, 1)
    assert per_partition == {(topic, 0): 500, (topic, 1): 500, (transactional, 0): 0}
    assert {t["topic"]: t["records"] for t in stopped["topics"]}[topic] == 1000
    # The topic's age is its oldest waiting record's: the first produced while stopped. (The flow's
    # own may be older: the last heartbeat before the stop may wait too.)
    topic_seconds = {t["topic"]: t["seconds"] for t in stopped["topics"]}[topic]
    assert_age_of_record(topic_seconds, first_ms, stopped["sampled_at"])
    groups = {(g["group"], g["partition"]): g for g in stopped["groups"]}
    assert set(groups) == {(group, 0)}
    assert groups[(group, 0)]["source_lag"] == 550 - 20
    assert groups[(group, 0)]["target_lag"] == 50 - 20
    assert groups[(group, 0)]["checkpoint_upstream_offset"] == 20
    assert groups[(group, 0)]["checkpoint_age_seconds"] == 0  # the group did not move: still current

    # Live: the table refreshes until Ctrl-C, then the command exits 0.
    with (tmp_path / "live.out").open("w") as out:
        live = subprocess.Popen(
            [*MIRROR, "lag", "--config", str(config), "--interval", "0.5"],
            stdout=out,
            stderr=out,
            cwd=REPO,
            env={**os.environ, "COLUMNS": "200"},  # wide enough for the whole flow and topic names
        )
        try:
            time.sleep(6)
            live.send_signal(signal.SIGINT)
            assert live.wait(30) == 0
        finally:
            if live.poll() is None:
                live.kill()
                live.wait(10)
    shown = (tmp_path / "live.out").read_text()
    assert "primary->backup" in shown and "1,000" in shown, shown
