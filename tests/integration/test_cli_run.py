"""`mirror run` as an operator drives it: a real process, real signals, real clusters."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from tests.kafka_harness import KafkaClusters
from tests.kafka_io import (
    Record,
    consume_and_commit,
    create_topic,
    end_offsets_total,
    group_flow_properties,
    mm2_properties,
    produce,
    read_all,
    replicated,
    wait_until,
)

MIRROR = [sys.executable, "-m", "mirror.cli"]


@contextmanager
def mirror_run(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [*MIRROR, "run", str(config)], stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def produce_slowly(bootstrap: str, topic: str, sequence: range, partitions: int, pause_every: int) -> None:
    """Sequence numbers as values, round-robin over partitions, pausing 0.4 s every ``pause_every``."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for seq in sequence:
        producer.produce(topic, str(seq).encode(), partition=seq % partitions)
        if seq % pause_every == pause_every - 1:
            producer.poll(0)
            time.sleep(0.4)
    assert producer.flush(60) == 0


def test_help_explains_itself() -> None:
    top = subprocess.run([*MIRROR, "--help"], capture_output=True, text=True, check=True)
    assert "run" in top.stdout
    run = subprocess.run([*MIRROR, "run", "--help"], capture_output=True, text=True, check=True)
    assert "mm2.properties" in run.stdout and "--clusters" in run.stdout


def test_bad_config_is_refused_naming_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "mm2.properties"
    config.write_text(
        "clusters = A, B\n"
        "A.bootstrap.servers = 127.0.0.1:1\n"
        "B.bootstrap.servers = 127.0.0.1:2\n"
        "A->B.enabled = true\n"
        "A->B.topics.exlude = x\n"
    )
    result = subprocess.run(
        [*MIRROR, "run", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "topics.exlude" in result.stderr
    assert ":5" in result.stderr


def test_sigterm_stops_cleanly_within_ten_seconds(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    produce(primary, unique_name, [Record(0, None, b"x", (), 1_700_000_000_000)] * 1000)
    config = tmp_path / "mm2.properties"
    config.write_text(
        mm2_properties(
            primary, backup, "primary->backup.enabled = true", f"primary->backup.topics = {unique_name}"
        )
    )
    with mirror_run(config, tmp_path / "mirror.log") as process:
        wait_until(replicated(backup, f"primary.{unique_name}", 1000), what="replication")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert time.monotonic() - started < 10
    log = (tmp_path / "mirror.log").read_text()
    assert "flow=primary->backup" in log


def test_sigkill_twice_loses_nothing(kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path) -> None:
    """100,000 sequence-numbered records; the worker is SIGKILLed twice mid-stream and restarted."""
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    partitions, total = 3, 100_000
    create_topic(primary, unique_name, partitions=partitions)
    config = tmp_path / "mm2.properties"
    config.write_text(
        mm2_properties(
            primary, backup, "primary->backup.enabled = true", f"primary->backup.topics = {unique_name}"
        )
    )
    log = tmp_path / "mirror.log"

    # Spread over several seconds so that both kills land while data is still arriving.
    feeder = threading.Thread(
        target=produce_slowly, args=(primary, unique_name, range(total), partitions, 5000)
    )
    feeder.start()
    remote = f"primary.{unique_name}"
    try:
        for _ in range(2):
            with mirror_run(config, log) as process:
                wait_until(lambda: end_offsets_total(backup, remote) > 0, timeout=60, what="some replication")
                time.sleep(1.5)
                process.send_signal(signal.SIGKILL)
                process.wait(10)
        feeder.join(120)
        with mirror_run(config, log) as process:
            wait_until(lambda: end_offsets_total(backup, remote) >= total, timeout=120, what="enough records")
            wait_until(
                lambda: _sequences(backup, remote) >= set(range(total)), timeout=120, interval=2, what="all"
            )
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
    finally:
        feeder.join(120)

    copied = read_all(backup, remote, timeout=60)
    per_partition: dict[int, list[int]] = {p: [] for p in range(partitions)}
    for record in copied:
        assert record.value is not None
        per_partition[record.partition].append(int(record.value))
    seen: set[int] = set()
    for partition, sequence in per_partition.items():
        first_occurrences = list(dict.fromkeys(sequence))
        assert first_occurrences == list(range(partition, total, partitions)), (
            f"partition {partition} out of order"
        )
        seen.update(sequence)
    assert seen == set(range(total))
    duplicates = len(copied) - total
    print(f"\nSIGKILL test: {total} records, {duplicates} replicated twice after two kills")


def _sequences(bootstrap: str, topic: str) -> set[int]:
    return {int(r.value) for r in read_all(bootstrap, topic, timeout=60) if r.value is not None}


def test_failover_after_a_sigkill_is_exact(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    """The replicator is SIGKILLed mid-stream and restarted, so the target holds a stretch of
    records twice. A group that committed after that stretch resumes on the target with no gap
    and no duplicate; a group that committed before it sees each record at least once and the
    physical second copies only, nothing more (no exactly-once here, so those are unavoidable)."""
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    total = 60_000
    create_topic(primary, unique_name)
    early, late = f"{unique_name}-early", f"{unique_name}-late"
    config = tmp_path / "mm2.properties"
    config.write_text(
        group_flow_properties(
            primary,
            backup,
            unique_name,
            f"{early}, {late}",
            "refresh.groups.interval.seconds = 1",
            sync_group_offsets=True,
        )
    )
    log = tmp_path / "mirror.log"
    produce(primary, unique_name, [Record(0, None, str(seq).encode(), (), 0) for seq in range(2000)])
    assert consume_and_commit(primary, unique_name, early, 1000, start=OFFSET_BEGINNING)[-1] == b"999"

    feeder = threading.Thread(target=produce_slowly, args=(primary, unique_name, range(2000, total), 1, 4000))
    feeder.start()
    remote = f"primary.{unique_name}"
    try:
        with mirror_run(config, log) as process:
            wait_until(lambda: end_offsets_total(backup, remote) > 5000, timeout=60, what="some replication")
            time.sleep(1.5)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        feeder.join(120)
        assert (
            consume_and_commit(primary, unique_name, late, total - 500, start=OFFSET_BEGINNING)[-1]
            == str(total - 501).encode()
        )
        with mirror_run(config, log) as process:
            wait_until(
                lambda: _sequences(backup, remote) >= set(range(total)), timeout=120, interval=2, what="all"
            )
            for group, position in ((early, 1000), (late, total - 500)):
                wait_until(
                    functools.partial(_committed_value_follows, backup, remote, group, position),
                    what=f"{group} synced to the backup",
                )
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
    finally:
        feeder.join(120)

    copies = [int(r.value) for r in read_all(backup, remote, timeout=60) if r.value is not None]
    physical_duplicates = len(copies) - len(set(copies))
    assert physical_duplicates > 0, "the kill left no duplicate, so this test proves nothing"
    late_seen = [int(v) for v in consume_and_commit(backup, remote, late, 500, to_end=True)]
    assert late_seen == list(range(total - 500, total))
    early_seen = [int(v) for v in _read_from_committed(backup, remote, early)]
    assert list(dict.fromkeys(early_seen)) == list(range(1000, total))
    assert len(early_seen) - len(set(early_seen)) == physical_duplicates
    print(f"\nfailover after SIGKILL: {physical_duplicates} records on the target twice")


def _committed_value_follows(bootstrap: str, topic: str, group: str, source_position: int) -> bool:
    """The group's committed offset on the target points at the record the source group would read next."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
        if committed < 0:
            return False
        consumer.assign([TopicPartition(topic, 0, committed)])
        messages = [m for m in consumer.consume(1, 5.0) if m.error() is None]
        return bool(messages) and messages[0].value() == str(source_position).encode()
    finally:
        consumer.close()


def _read_from_committed(bootstrap: str, topic: str, group: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, committed)])
        values: list[bytes] = []
        position = committed
        while position < end:
            for message in consumer.consume(10_000, 5.0):
                value = message.value()
                assert message.error() is None and value is not None, message.error()
                values.append(value)
                offset = message.offset()
                assert offset is not None
                position = offset + 1
        return values
    finally:
        consumer.close()
