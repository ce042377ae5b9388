"""Checkpoint latency: a group commits on the source; how long until its translated offset is on the target?

Runs `mirror run` (a real process) for a flow primary->backup on two local clusters with
`emit.checkpoints.interval.seconds` and `sync.group.offsets.interval.seconds` set to the given
interval, then repeats: a consumer group reads a few records on primary and commits (t0); the
benchmark polls backup until (a) a checkpoint for that commit is in `primary.checkpoints.internal`
and (b) the group's committed offset on backup equals the exact translation; it prints p50/p99
of both. Not a test: numbers depend on the machine.

    .venv/bin/python bench/checkpoint_latency.py [--rounds 40] [--interval 1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from mirror.formats.mm2_records import decode_checkpoint
from mirror.kafka import failure_from

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".local" / "bench-checkpoints"
KAFKA_LOCAL = [sys.executable, str(REPO / "deploy" / "local" / "kafka-local")]
TOPIC, GROUP = "latency", "latency-group"


def kafka_local(*args: str) -> str:
    done = subprocess.run(
        [*KAFKA_LOCAL, *args, "--state-dir", str(STATE)], check=True, capture_output=True, text=True
    )
    return done.stdout


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--interval", type=int, default=1, help="emit/sync interval in seconds")
    args = parser.parse_args()
    primary = json.loads(kafka_local("start", "--name", "primary"))["bootstrap_servers"]
    backup = json.loads(kafka_local("start", "--name", "backup"))["bootstrap_servers"]
    mirror: subprocess.Popen[bytes] | None = None
    try:
        admin = AdminClient({"bootstrap.servers": primary})
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
        producer = Producer({"bootstrap.servers": primary, "linger.ms": 5})
        for n in range(args.rounds * 10):
            producer.produce(TOPIC, str(n).encode(), partition=0)
        producer.flush(30)
        config = STATE / "mm2.properties"
        config.write_text(
            "\n".join(
                [
                    "clusters = primary, backup",
                    f"primary.bootstrap.servers = {primary}",
                    f"backup.bootstrap.servers = {backup}",
                    "primary->backup.enabled = true",
                    f"primary->backup.topics = {TOPIC}",
                    f"primary->backup.groups = {GROUP}",
                    "emit.heartbeats.enabled = false",
                    "refresh.groups.interval.seconds = 1",
                    f"emit.checkpoints.interval.seconds = {args.interval}",
                    "sync.group.offsets.enabled = true",
                    f"sync.group.offsets.interval.seconds = {args.interval}",
                    *(
                        f"{key} = 1"
                        for key in (
                            "replication.factor",
                            "offset-syncs.topic.replication.factor",
                            "checkpoints.topic.replication.factor",
                            "heartbeats.topic.replication.factor",
                            "offset.storage.replication.factor",
                        )
                    ),
                ]
            )
        )
        source = Consumer({"bootstrap.servers": primary, "group.id": GROUP, "enable.auto.commit": False})
        source.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        first = source.consume(1, 10)  # the group must exist before mirror looks for groups
        source.commit(asynchronous=False)
        log = (STATE / "mirror.log").open("wb")
        mirror = subprocess.Popen(
            [sys.executable, "-m", "mirror.cli", "run", str(config)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        reader = Consumer(
            {"bootstrap.servers": backup, "group.id": "latency-reader", "enable.auto.commit": False}
        )
        reader.assign([TopicPartition("primary.checkpoints.internal", 0, OFFSET_BEGINNING)])
        probe = Consumer({"bootstrap.servers": backup, "group.id": GROUP})
        position = len(first)
        checkpoint_s: list[float] = []
        group_s: list[float] = []
        for round_number in range(args.rounds + 3):
            position += len(source.consume(7, 10))
            source.commit(asynchronous=False)
            committed_at = time.monotonic()
            seen_checkpoint: float | None = None
            seen_group: float | None = None
            while seen_checkpoint is None or seen_group is None:
                if time.monotonic() - committed_at > 120:
                    raise SystemExit(
                        f"round {round_number}: no translation within 120 s; see {STATE / 'mirror.log'}"
                    )
                for record in reader.consume(100, 0.05):
                    if record.error() is None:
                        checkpoint = decode_checkpoint(record.key(), record.value())
                        if checkpoint.group == GROUP and checkpoint.downstream_offset == position:
                            seen_checkpoint = seen_checkpoint or time.monotonic()
                try:
                    offset = probe.committed([TopicPartition(f"primary.{TOPIC}", 0)], timeout=5)[0].offset
                except KafkaException as exc:
                    if not failure_from(exc, "reading the group's offset on backup").retriable:
                        raise
                    continue  # the coordinator moved or is loading: ask again
                if offset == position and seen_group is None:
                    seen_group = time.monotonic()
            if round_number >= 3:  # the first rounds include start-up
                checkpoint_s.append(seen_checkpoint - committed_at)
                group_s.append(seen_group - committed_at)
        print(
            "# command: .venv/bin/python bench/checkpoint_latency.py "
            f"--rounds {args.rounds} --interval {args.interval}"
        )
        for name, values in (("checkpoint written", checkpoint_s), ("group offset on target", group_s)):
            print(
                f"{name:<24} p50 {percentile(values, 0.5):.2f} s  p99 {percentile(values, 0.99):.2f} s  "
                f"mean {statistics.mean(values):.2f} s  ({len(values)} rounds, interval {args.interval} s)"
            )
        for consumer in (source, reader, probe):
            consumer.close()  # before the clusters stop, or librdkafka reports every reconnect
        return 0
    finally:
        if mirror is not None and mirror.poll() is None:
            os.killpg(mirror.pid, signal.SIGTERM)
            try:
                mirror.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(mirror.pid, signal.SIGKILL)
        kafka_local("stop", "--all")


if __name__ == "__main__":
    sys.exit(main())
