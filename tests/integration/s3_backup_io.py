"""Helpers for the S3 backup/restore tests: run the CLI, read topics with offsets, inspect S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from mirror.formats.backup.manifest import TopicManifest, decode_manifest
from mirror.kafka import watermarks
from tests.s3_harness import S3Endpoint

MIRROR = [sys.executable, "-m", "mirror.cli"]
OFFSET_HEADER = "mirror.backup.offset"
CLI_TIMEOUT_S = 120


@dataclass(frozen=True)
class Stored:
    """A record as a topic holds it, offset included."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int

    def without_offset_header(self) -> tuple[object, ...]:
        kept = tuple(h for h in self.headers if h[0] != OFFSET_HEADER)
        return (self.partition, self.key, self.value, kept, self.timestamp)

    @property
    def original_offset(self) -> int:
        values = [value for name, value in self.headers if name == OFFSET_HEADER]
        assert len(values) == 1 and values[0] is not None, self.headers
        return int(values[0])


def read_topic(bootstrap: str, topic: str, timeout: float = 30) -> list[Stored]:
    """Every committed record of ``topic``, partition by partition, in offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "mirror-tests-s3-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=timeout).topics[topic].partitions)
        ends = {p: watermarks(consumer, topic, p, timeout)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: list[Stored] = []
        pending = {p for p in partitions if ends[p] > 0}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(10_000, 0.5):
                if message.error() is not None:
                    raise KafkaException(message.error())
                raw_headers = message.headers() or []
                assert isinstance(raw_headers, list)
                found.append(
                    Stored(
                        message.partition(),  # type: ignore[arg-type]
                        message.offset(),  # type: ignore[arg-type]
                        message.key(),
                        message.value(),
                        tuple(
                            (str(k), v if v is None or isinstance(v, bytes) else v.encode())
                            for k, v in raw_headers
                        ),
                        message.timestamp()[1],
                    )
                )
            for tp in consumer.position([TopicPartition(topic, p) for p in list(pending)]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
        assert not pending, f"could not read {topic} to its end in {timeout}s"
        return sorted(found, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def cli_env(s3: S3Endpoint) -> dict[str, str]:
    return {**os.environ, **s3.env()}


def mirror_cli(
    s3: S3Endpoint, *args: str, timeout: float = CLI_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run ``mirror ARGS`` to completion with the S3 server's AWS_* variables."""
    return subprocess.run(
        [*MIRROR, *args],
        env=cli_env(s3),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def json_summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-6000:]}"
    summary = json.loads(result.stdout)
    assert isinstance(summary, dict)
    return summary


def manifest(s3: S3Endpoint, bucket: str, prefix: str, topic: str) -> TopicManifest | None:
    client = s3.client()
    try:
        body = client.get_object(Bucket=bucket, Key=f"{prefix}/topics/{topic}/manifest.json")["Body"]
    except client.exceptions.NoSuchKey:
        return None
    return decode_manifest(body.read())
