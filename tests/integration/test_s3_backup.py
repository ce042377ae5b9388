"""Back topics up to a real S3 server and restore them into renamed topics, record for record."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from tests.integration.s3_backup_io import (
    json_summary,
    manifest,
    mirror_cli,
    read_topic,
)
from tests.kafka_harness import KafkaClusters, unique_topic_name
from tests.kafka_io import Record, create_topic, produce, produce_transactions, wait_until
from tests.s3_harness import S3Endpoint

BASE_TS = 1_700_000_000_000
GROUP_AT = 7
"""The backed-up group has consumed the first GROUP_AT records of the mixed topic's partition 0."""


@dataclass(frozen=True)
class SourceTopics:
    bootstrap: str
    mixed: str
    compacted: str
    transactional: str
    group: str
    committed_values: list[bytes]

    @property
    def all(self) -> tuple[str, str, str]:
        return (self.mixed, self.compacted, self.transactional)


def _mixed_records() -> list[Record]:
    records = []
    for n in range(40):
        headers: tuple[tuple[str, bytes | None], ...] = ()
        if n % 3 == 0:
            headers = (("dup", b"1"), ("dup", None), ("other", b""), ("dup", b"2"))
        key = None if n % 5 == 0 else (b"" if n % 5 == 1 else f"key-{n}".encode())
        value = None if n % 4 == 0 else (b"" if n % 4 == 1 else bytes([n % 256]) * (n + 1))
        records.append(Record(n % 2, key, value, headers, BASE_TS + n * 1000))
    return records


@pytest.fixture(scope="module")
def source(kafka_clusters: KafkaClusters) -> Iterator[SourceTopics]:
    bootstrap = kafka_clusters.primary.bootstrap_servers
    base = unique_topic_name("s3src")
    mixed, compacted, transactional = f"{base}-mixed", f"{base}-compacted", f"{base}-txn"
    create_topic(bootstrap, mixed, 2, config={"retention.ms": "864000000000"})
    produce(bootstrap, mixed, _mixed_records())
    create_topic(
        bootstrap,
        compacted,
        config={"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"},
    )
    produce(
        bootstrap,
        compacted,
        [Record(0, f"k{n % 10}".encode(), str(n).encode(), (), 0) for n in range(100)],
    )
    time.sleep(0.5)  # the active segment ages past segment.ms; new records roll it so the cleaner can run
    produce(
        bootstrap,
        compacted,
        [Record(0, f"late{n}".encode(), str(100 + n).encode(), (), 0) for n in range(10)],
    )
    wait_until(
        lambda: len(read_topic(bootstrap, compacted)) < 110,
        timeout=120,
        interval=1,
        what="compaction of the source",
    )
    create_topic(bootstrap, transactional)
    committed = produce_transactions(bootstrap, transactional, [3, 2, 4, 2], aborted=[1])
    group = f"{base}-group"
    _commit(bootstrap, group, mixed, GROUP_AT)
    yield SourceTopics(bootstrap, mixed, compacted, transactional, group, committed)


def _renames(source: SourceTopics, suffix: str) -> list[str]:
    return [arg for topic in source.all for arg in ("--rename", f"{topic}={topic}-{suffix}")]


def _commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """The group has processed partition 0 of ``topic`` up to ``offset`` (tombstones included)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        wait_until(
            lambda: _try_commit(consumer, TopicPartition(topic, 0, offset)), what="the group coordinator"
        )
    finally:
        consumer.close()


def _try_commit(consumer: Consumer, position: TopicPartition) -> bool:
    try:
        consumer.commit(offsets=[position], asynchronous=False)
    except KafkaException:
        return False  # a fresh cluster may still be electing its group coordinator
    return True


def _next_record(bootstrap: str, group: str, topic: str) -> tuple[bytes | None, bytes | None]:
    """Key and value of the record a consumer of ``group`` reads next on partition 0."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_INVALID)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                return message.key(), message.value()
        raise AssertionError(f"group {group} read nothing from {topic}")
    finally:
        consumer.close()


def _group_position(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return int(consumer.committed([TopicPartition(topic, 0)], timeout=30)[0].offset)
    finally:
        consumer.close()


@pytest.mark.parametrize(
    ("format_name", "compression"), [("jsonl", "gzip"), ("avro", "snappy"), ("parquet", "zstd")]
)
def test_round_trip_restores_every_record_and_the_group(
    kafka_clusters: KafkaClusters,
    s3_endpoint: S3Endpoint,
    source: SourceTopics,
    format_name: str,
    compression: str,
) -> None:
    bucket = s3_endpoint.new_bucket(unique_topic_name(f"rt-{format_name}"))
    target = kafka_clusters.backup.bootstrap_servers
    backup = json_summary(
        mirror_cli(
            s3_endpoint,
            "backup",
            "--bootstrap-servers",
            source.bootstrap,
            "--topics",
            ",".join(source.all),
            "--to",
            f"s3://{bucket}/nightly",
            "--format",
            format_name,
            "--compression",
            compression,
            "--rotate-records",
            "7",
            "--once",
            "--json",
        )
    )
    originals = {topic: read_topic(source.bootstrap, topic) for topic in source.all}
    assert backup["records"] == sum(len(records) for records in originals.values())
    verified = mirror_cli(s3_endpoint, "backup", "verify", f"s3://{bucket}/nightly", "--json")
    assert json_summary(verified)["ok"] is True

    restored_summary = json_summary(
        mirror_cli(
            s3_endpoint,
            "restore",
            "--from",
            f"s3://{bucket}/nightly",
            "--bootstrap-servers",
            target,
            *_renames(source, format_name),
            "--json",
        )
    )
    assert restored_summary["records"] == backup["records"]
    for topic, records in originals.items():
        restored = read_topic(target, f"{topic}-{format_name}")
        assert [r.without_offset_header() for r in restored] == [r.without_offset_header() for r in records]
        assert [r.original_offset for r in restored] == [r.offset for r in records]

    # Aborted records were never backed up; compaction gaps and markers left offsets unused.
    assert [r.value for r in originals[source.transactional]] == source.committed_values
    assert len(originals[source.compacted]) < 110
    stored = manifest(s3_endpoint, bucket, "nightly", source.transactional)
    assert stored is not None and any(entry.gaps for entry in stored.objects)

    # The group resumes on the restored topic at the record it had not consumed yet.
    mixed_target = f"{source.mixed}-{format_name}"
    partition0 = [r for r in originals[source.mixed] if r.partition == 0]
    assert restored_summary["groups_restored"][source.group][f"{mixed_target}-0"] == GROUP_AT
    assert _group_position(target, source.group, mixed_target) == GROUP_AT
    assert _next_record(target, source.group, mixed_target) == (
        partition0[GROUP_AT].key,
        partition0[GROUP_AT].value,
    )

    # Topic configs and partition counts came along.
    stored_mixed = manifest(s3_endpoint, bucket, "nightly", source.mixed)
    assert stored_mixed is not None and stored_mixed.partitions == 2
    assert stored_mixed.configs.get("retention.ms") == "864000000000"


def test_point_in_time_restore_keeps_only_records_up_to_the_time(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, source: SourceTopics
) -> None:
    bucket = s3_endpoint.new_bucket(unique_topic_name("pit"))
    json_summary(
        mirror_cli(
            s3_endpoint,
            "backup",
            "--bootstrap-servers",
            source.bootstrap,
            "--topics",
            source.mixed,
            "--to",
            f"s3://{bucket}/b",
            "--format",
            "parquet",
            "--rotate-records",
            "5",
            "--once",
            "--json",
        )
    )
    until = BASE_TS + 19_000  # records 0..19 by timestamp
    target_topic = f"{source.mixed}-pit"
    summary = json_summary(
        mirror_cli(
            s3_endpoint,
            "restore",
            "--from",
            f"s3://{bucket}/b",
            "--bootstrap-servers",
            kafka_clusters.backup.bootstrap_servers,
            "--rename",
            f"{source.mixed}={target_topic}",
            "--until",
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until / 1000)) + "Z",
            "--from-time",
            str(BASE_TS + 2000),
            "--no-groups",
            "--json",
        )
    )
    restored = read_topic(kafka_clusters.backup.bootstrap_servers, target_topic)
    expected = [
        r for r in read_topic(source.bootstrap, source.mixed) if BASE_TS + 2000 <= r.timestamp <= until
    ]
    assert summary["records"] == len(expected) == 18
    assert [r.without_offset_header() for r in restored] == [r.without_offset_header() for r in expected]


def test_corrupt_object_is_named_by_verify_and_refused_by_restore_unless_skipped(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, source: SourceTopics
) -> None:
    bucket = s3_endpoint.new_bucket(unique_topic_name("corrupt"))
    url = f"s3://{bucket}/b"
    json_summary(
        mirror_cli(
            s3_endpoint,
            "backup",
            "--bootstrap-servers",
            source.bootstrap,
            "--topics",
            source.mixed,
            "--to",
            url,
            "--rotate-records",
            "10",
            "--once",
            "--json",
        )
    )
    stored = manifest(s3_endpoint, bucket, "b", source.mixed)
    assert stored is not None
    victim = stored.objects[1]
    client = s3_endpoint.client()
    body = bytearray(client.get_object(Bucket=bucket, Key=f"b/{victim.name}")["Body"].read())
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=f"b/{victim.name}", Body=bytes(body))

    verify = mirror_cli(s3_endpoint, "backup", "verify", url, "--json")
    assert verify.returncode == 1
    problems = json.loads(verify.stdout)["problems"]
    assert [p["object"] for p in problems] == [victim.name]
    assert victim.name in verify.stderr and "sha256" in verify.stderr

    target = kafka_clusters.backup.bootstrap_servers
    refused = mirror_cli(
        s3_endpoint,
        "restore",
        "--from",
        url,
        "--bootstrap-servers",
        target,
        "--rename",
        f"{source.mixed}={source.mixed}-corrupt",
        "--no-groups",
        "--json",
    )
    assert refused.returncode == 1
    assert victim.name in refused.stderr and "corrupt.object.policy=skip" in refused.stderr

    skipped = json_summary(
        mirror_cli(
            s3_endpoint,
            "restore",
            "--from",
            url,
            "--bootstrap-servers",
            target,
            "--rename",
            f"{source.mixed}={source.mixed}-skipped",
            "--no-groups",
            "--skip-corrupt",
            "--json",
        )
    )
    assert skipped["skipped_objects"] == [victim.name]
    restored = read_topic(target, f"{source.mixed}-skipped")
    assert len(restored) == 40 - victim.records
    assert victim.first_offset not in {r.original_offset for r in restored if r.partition == victim.partition}
