#!/usr/bin/env python3
"""The README demo: two local Kafka clusters, sample data, `mirror run`, the replicated topic.

Run through `make demo` (which installs everything first). Leaves nothing running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from mirror.kafka import watermarks

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".local" / "demo"
KAFKA_LOCAL = [sys.executable, str(REPO / "deploy" / "local" / "kafka-local")]
CONFIG = REPO / "deploy" / "local" / "demo-mm2.properties"
PRIMARY, BACKUP = "127.0.0.1:19092", "127.0.0.1:29092"
RECORDS = 30_000


def kafka_local(*args: str) -> None:
    subprocess.run([*KAFKA_LOCAL, *args, "--state-dir", str(STATE)], check=True, stdout=subprocess.DEVNULL)


def end_offsets(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "demo"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        return [watermarks(consumer, topic, p, 10)[1] for p in sorted(meta.partitions)]
    finally:
        consumer.close()


def show(bootstrap: str, topic: str, count: int) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "demo", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    for message in consumer.consume(count, 10)[:count]:
        print(
            f"  {topic}[{message.partition()}]@{message.offset()} ts={message.timestamp()[1]} "
            f"key={message.key()!r} value={message.value()!r} headers={message.headers()}"
        )
    consumer.close()


def main() -> int:
    print("== starting two local Kafka clusters (primary 19092, backup 29092)")
    kafka_local("start", "--name", "primary", "--port", "19092")
    kafka_local("start", "--name", "backup", "--port", "29092")
    mirror: subprocess.Popen[bytes] | None = None
    try:
        admin = AdminClient({"bootstrap.servers": PRIMARY})  # must outlive its futures
        admin.create_topics([NewTopic("orders", 3, 1)])["orders"].result(30)
        print(f"== producing {RECORDS} orders with headers to primary")
        producer = Producer({"bootstrap.servers": PRIMARY, "linger.ms": 20})
        for n in range(RECORDS):
            producer.produce(
                "orders",
                json.dumps({"order": n, "amount": n % 977}).encode(),
                f"customer-{n % 100}".encode(),
                n % 3,
                headers=[("source", b"demo"), ("trace", f"{n:08x}".encode())],
            )
            if n % 10_000 == 0:
                producer.poll(0)
        producer.flush(30)

        print(f"== mirror run {CONFIG.relative_to(REPO)}")
        log = (STATE / "mirror.log").open("wb")
        mirror = subprocess.Popen(
            [sys.executable, "-m", "mirror.cli", "run", str(CONFIG)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        started = time.monotonic()
        while sum(end_offsets(BACKUP, "primary.orders")) < RECORDS:
            if mirror.poll() is not None or time.monotonic() - started > 120:
                print((STATE / "mirror.log").read_text()[-3000:])
                return 1
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        print(
            f"== replicated {RECORDS} records to backup as 'primary.orders' in {elapsed:.1f}s (incl. startup)"
        )
        source_ends, replica_ends = end_offsets(PRIMARY, "orders"), end_offsets(BACKUP, "primary.orders")
        print(f"   end offsets per partition: source {source_ends}, replica {replica_ends}")
        print("== first records of primary.orders on backup:")
        show(BACKUP, "primary.orders", 3)

        print("== creating topic 'payments.eu' while mirror runs (discovered within 10 s)")
        admin.create_topics([NewTopic("payments.eu", 1, 1)])["payments.eu"].result(30)
        producer.produce("payments.eu", b'{"payment": 1}', b"p-1")
        producer.flush(10)
        producer.close()
        deadline = time.monotonic() + 60
        while sum(end_offsets(BACKUP, "primary.payments.eu")) < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        show(BACKUP, "primary.payments.eu", 1)

        mirror.send_signal(signal.SIGTERM)
        code = mirror.wait(15)
        print(f"== mirror stopped on SIGTERM with exit code {code}; its log: {STATE / 'mirror.log'}")
        return 0 if code == 0 else 1
    finally:
        if mirror is not None and mirror.poll() is None:
            os.killpg(mirror.pid, signal.SIGKILL)
        kafka_local("stop", "--all")
        print("== clusters stopped")


if __name__ == "__main__":
    sys.exit(main())
