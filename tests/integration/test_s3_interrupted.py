"""A backup and a restore killed with SIGKILL and run again: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from tests.integration.s3_backup_io import MIRROR, cli_env, json_summary, manifest, mirror_cli, read_topic
from tests.kafka_harness import KafkaClusters, unique_topic_name
from tests.kafka_io import Record, create_topic, end_offsets_total, produce, wait_until
from tests.s3_harness import S3Endpoint


def _start(s3: S3Endpoint, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [*MIRROR, *args],
            env=cli_env(s3),
            stdout=sink,
            stderr=sink,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


def _committed(bootstrap: str, group: str, topic: str, partition: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return int(consumer.committed([TopicPartition(topic, partition)], timeout=30)[0].offset)
    finally:
        consumer.close()


def test_killed_backup_resumes_after_the_last_stored_offset(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, tmp_path: Path
) -> None:
    bootstrap = kafka_clusters.primary.bootstrap_servers
    topic = unique_topic_name("killed-backup")
    bucket = s3_endpoint.new_bucket(topic)
    create_topic(bootstrap, topic)
    produce(
        bootstrap,
        topic,
        [Record(0, f"k{n}".encode(), f"first-{n}".encode(), (), 0) for n in range(2500)],
    )
    url = f"s3://{bucket}/b"
    args = ["backup", "--bootstrap-servers", bootstrap, "--topics", topic, "--to", url, "--name", topic]
    # Objects of 1000 records are stored as soon as they fill; the last 500 wait for the hour-long
    # interval and are still buffered when the process dies.
    process = _start(
        s3_endpoint,
        tmp_path / "backup.log",
        *args,
        "--rotate-records",
        "1000",
        "--rotate-interval-ms",
        "3600000",
    )
    try:
        wait_until(
            lambda: (
                (m := manifest(s3_endpoint, bucket, "b", topic)) is not None and m.next_offsets.get(0) == 2000
            ),
            timeout=60,
            what="two stored objects",
        )
    finally:
        _kill(process)
    # The group never runs ahead of what S3 holds.
    assert _committed(bootstrap, f"connect-{topic}", topic, 0) <= 2000

    produce(bootstrap, topic, [Record(0, None, f"second-{n}".encode(), (), 0) for n in range(700)])
    summary = json_summary(mirror_cli(s3_endpoint, *args, "--rotate-records", "1000", "--once", "--json"))
    assert summary["records"] == 1200  # 500 buffered at the kill + 700 new, nothing twice
    stored = manifest(s3_endpoint, bucket, "b", topic)
    assert stored is not None
    assert [(e.first_offset, e.last_offset) for e in stored.objects] == [
        (0, 999),
        (1000, 1999),
        (2000, 2999),
        (3000, 3199),
    ]
    assert _committed(bootstrap, f"connect-{topic}", topic, 0) == 3200


def test_killed_restore_resumes_without_duplicates(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, tmp_path: Path
) -> None:
    source, target_cluster = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    topic = unique_topic_name("killed-restore")
    bucket = s3_endpoint.new_bucket(topic)
    create_topic(source, topic, 2)
    total = 200_000
    for start in range(0, total, 50_000):
        produce(source, topic, [Record(n % 2, None, b"v" * 100, (), 0) for n in range(start, start + 50_000)])
    url = f"s3://{bucket}/b"
    backup = ["backup", "--bootstrap-servers", source, "--topics", topic, "--to", url, "--format", "parquet"]
    json_summary(mirror_cli(s3_endpoint, *backup, "--rotate-records", "5000", "--once", "--json"))

    target = f"{topic}-restored"
    restore = [
        "restore",
        "--from",
        url,
        "--bootstrap-servers",
        target_cluster,
        "--rename",
        f"{topic}={target}",
    ]
    process = _start(s3_endpoint, tmp_path / "restore.log", *restore)
    try:
        at_kill = wait_until(
            lambda: end_offsets_total(target_cluster, target), timeout=60, interval=0.02, what="restore"
        )
    finally:
        _kill(process)
    assert at_kill < total, "the restore finished before it could be interrupted"

    summary = json_summary(mirror_cli(s3_endpoint, *restore, "--json"))
    restored = read_topic(target_cluster, target)
    originals = Counter((r.partition, r.original_offset) for r in restored)
    assert len(restored) == total
    assert max(originals.values()) == 1
    assert summary["records"] <= total
