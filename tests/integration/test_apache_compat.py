"""Compatibility with Apache Kafka itself: its client reads our records, and we read its MM2's.

Apache's side runs from the official jars (``deploy/local/kafka-local``): ``RemoteClusterUtils``
through ``tests/java/TranslateOffsets.java``, and MirrorMaker 2 as a real dedicated-mode process
whose clusters are aliased ``apa``/``apb`` so nothing it writes is mistaken for ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from mirror.formats.mm2_records import (
    Checkpoint,
    Heartbeat,
    OffsetSync,
    decode_checkpoint,
    decode_heartbeat,
    decode_offset_sync,
)
from tests.java_tools import translate_offsets
from tests.kafka_harness import KAFKA_LOCAL, KafkaClusters
from tests.kafka_io import (
    SINGLE_BROKER_REPLICATION,
    consume_and_commit,
    create_topic,
    group_flow_properties,
    produce_transactions,
    read_all,
    replicated,
    running,
    topic_partitions,
    wait_until,
)

APACHE_MM2_TIMEOUT_SECONDS = 120.0
T = TypeVar("T")


def records_of(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    if topic not in topic_partitions(bootstrap):
        return []
    return [(r.key, r.value) for r in read_all(bootstrap, topic)]


def data_offsets(bootstrap: str, topic: str) -> list[int]:
    """Upstream offsets of partition 0's committed records, in order (markers leave gaps)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "tests", "isolation.level": "read_committed"}
    )
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        offsets: list[int] = []
        while batch := consumer.consume(1000, 2.0):
            offsets.extend(m.offset() for m in batch if m.error() is None)  # type: ignore[misc]
        return offsets
    finally:
        consumer.close()


def committed_offset(bootstrap: str, topic: str, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offset: int = consumer.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
        return offset
    finally:
        consumer.close()


def test_apache_remote_cluster_utils_reads_our_checkpoints(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    values = produce_transactions(primary, unique_name, [7] * 6)  # commit markers: offset gaps
    group = f"{unique_name}-group"
    assert consume_and_commit(primary, unique_name, group, 17, start=OFFSET_BEGINNING) == values[:17]
    upstream = committed_offset(primary, unique_name, group)
    assert upstream == 19  # 17 records and 2 markers consumed: upstream and downstream differ

    remote = f"primary.{unique_name}"

    def our_checkpoints() -> list[Checkpoint]:
        decoded = (decode_checkpoint(k, v) for k, v in records_of(backup, "primary.checkpoints.internal"))
        return [c for c in decoded if c.group == group]

    properties = group_flow_properties(primary, backup, unique_name, group)
    with running(properties):
        wait_until(replicated(backup, remote, len(values)), what="replication")
        ours = wait_until(our_checkpoints, what="our checkpoint for the group")[-1]
    assert (ours.topic, ours.partition, ours.upstream_offset) == (remote, 0, upstream)
    assert ours.downstream_offset == 17  # the exact position: the group consumed 17 records

    # Apache Kafka's own RemoteClusterUtils, run on the JVM, reads the same answer from our records.
    assert translate_offsets(backup, "primary", group) == {(remote, 0): ours.downstream_offset}


@contextmanager
def apache_mirror_maker(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Apache's MirrorMaker 2 (dedicated mode, herders for target ``apb`` only), stopped on exit."""
    command = [sys.executable, str(KAFKA_LOCAL), "mm2", "--config", str(config), "--log", str(log)]
    with (log.parent / "mm2.out").open("ab") as sink:
        process = subprocess.Popen(
            [*command, "--clusters", "apb"],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # a clean leave spares the next run a rebalance wait
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def test_we_decode_what_apache_mirror_maker_writes(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    values = produce_transactions(primary, unique_name, [5] * 6)
    offsets = data_offsets(primary, unique_name)
    assert len(offsets) == len(values) == 30 and offsets[-1] == 34  # a marker after every 5 records
    group = f"{unique_name}-group"
    assert consume_and_commit(primary, unique_name, group, 12, start=OFFSET_BEGINNING) == values[:12]
    upstream = committed_offset(primary, unique_name, group)
    assert upstream == offsets[12] == 14

    config = tmp_path / "mm2.properties"
    config.write_text(
        "\n".join(
            [
                "clusters = apa, apb",
                f"apa.bootstrap.servers = {primary}",
                f"apb.bootstrap.servers = {backup}",
                "apa->apb.enabled = true",
                f"apa->apb.topics = {unique_name}",
                f"apa->apb.groups = {group}",
                "apb->apa.enabled = false",
                *SINGLE_BROKER_REPLICATION,
                "emit.checkpoints.interval.seconds = 1",
                "emit.heartbeats.interval.seconds = 1",
                "sync.group.offsets.enabled = false",
                "refresh.groups.interval.seconds = 1",
                "refresh.topics.interval.seconds = 1",
                "offset.lag.max = 0",
                "apb.offset.flush.interval.ms = 1000",  # worker configs come from the target cluster's keys
                "",
            ]
        )
    )
    remote = f"apa.{unique_name}"
    started_ms = int(time.time() * 1000)

    def heartbeats() -> list[Heartbeat]:
        raw = records_of(backup, "heartbeats")  # our own connectors' beats may share the topic
        decoded = [decode_heartbeat(k, v) for k, v in raw if k is not None and b"apa" in k]
        return [h for h in decoded if h.timestamp_ms >= started_ms]  # earlier runs beat too

    def syncs() -> list[OffsetSync]:
        decoded = (decode_offset_sync(k, v) for k, v in records_of(primary, "mm2-offset-syncs.apb.internal"))
        return [s for s in decoded if s.topic == unique_name]

    def checkpoints() -> list[Checkpoint]:
        decoded = (decode_checkpoint(k, v) for k, v in records_of(backup, "apa.checkpoints.internal"))
        return [c for c in decoded if c.group == group]

    log = tmp_path / "mm2.log"
    with apache_mirror_maker(config, log) as mm2:

        def alive(check: Callable[[], T]) -> Callable[[], T]:
            def checked() -> T:
                assert mm2.poll() is None, f"Apache MM2 exited with {mm2.returncode}"
                return check()

            return checked

        try:
            wait_until(
                alive(replicated(backup, remote, len(values))),
                timeout=APACHE_MM2_TIMEOUT_SECONDS,
                what="Apache MM2 replication",
            )
            checkpoint = wait_until(alive(checkpoints), timeout=60, what="Apache MM2's checkpoint")[-1]
            wait_until(alive(heartbeats), timeout=30, what="Apache MM2's heartbeats")
            wait_until(  # MM2 writes syncs it held back (in-flight limit) at its next offset commit
                alive(lambda: any(s.upstream_offset == offsets[-1] for s in syncs())),
                timeout=30,
                what="Apache MM2's offset sync for the last record",
            )
        except AssertionError as failure:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
            raise AssertionError(f"{failure}\n--- Apache MM2 log tail ---\n{tail}") from failure

    # Heartbeats: key (source alias, target alias), value (version, timestamp in ms).
    beats = heartbeats()
    assert {(h.source_alias, h.target_alias) for h in beats} == {("apa", "apb")}
    assert all(h.timestamp_ms <= time.time() * 1000 for h in beats)

    # Offset syncs (on the source cluster): the SOURCE topic's upstream offset and where that very
    # record sits downstream. Data offsets upstream skip the markers; downstream they are dense.
    replica = [r.value for r in read_all(backup, remote)]
    assert replica == values
    found = syncs()
    assert found and {s.partition for s in found} == {0}
    for sync in found:
        assert sync.downstream_offset == offsets.index(sync.upstream_offset), sync
    assert any(s.upstream_offset > s.downstream_offset for s in found)  # fields not swapped

    # Checkpoint: group, the REMOTE topic, the group's committed upstream offset, and the downstream
    # offset MM2 translates it to from one of its syncs: that sync's downstream offset if the sync is
    # for exactly this upstream offset, else one past it. Never beyond the 12 records consumed.
    assert (checkpoint.group, checkpoint.topic, checkpoint.partition) == (group, remote, 0)
    assert checkpoint.upstream_offset == upstream and checkpoint.metadata == ""
    translations = {
        s.downstream_offset + (s.upstream_offset != upstream) for s in found if s.upstream_offset <= upstream
    }
    assert checkpoint.downstream_offset in translations, (checkpoint, found)
    assert checkpoint.downstream_offset <= 12
