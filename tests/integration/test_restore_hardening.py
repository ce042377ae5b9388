"""A restore reads manifests that whoever can write the bucket wrote: it must stay within bounds.

Backups here are written straight to a real S3 server with the backup's own encoders, then
altered the way an attacker with write access to the bucket could; restores run the real
``mirror restore`` against a real Kafka cluster.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from backports import zstd

from connectors.s3_source import read_manifests
from mirror.config.backup import S3Settings
from mirror.formats.backup.codec import encode, extension
from mirror.formats.backup.layout import manifest_key, object_name
from mirror.formats.backup.manifest import ManifestError, ObjectEntry, TopicManifest, encode_manifest
from mirror.formats.backup.records import RecordColumns
from mirror.kafka import ClusterAdmin
from mirror.s3 import ObjectStore, S3StorageError
from tests.integration.s3_backup_io import cli_env, json_summary, mirror_cli, read_topic
from tests.kafka_harness import KafkaClusters, unique_topic_name
from tests.s3_harness import S3Endpoint

MIB = 1024 * 1024
PREFIX = "b"


def _columns(partition: int, count: int) -> RecordColumns:
    return RecordColumns(
        partition,
        list(range(count)),
        [1] * count,
        [1_700_000_000_000 + i for i in range(count)],
        [b"k%d" % i for i in range(count)],
        [b"v%d" % i for i in range(count)],
        [[] for _ in range(count)],
    )


def _entry(partition: int, data: bytes, records: int, compression: str = "zstd") -> ObjectEntry:
    return ObjectEntry(
        name=object_name("orders", partition, 0, extension("jsonl", compression)),
        partition=partition,
        first_offset=0,
        last_offset=records - 1,
        records=records,
        min_timestamp=1_700_000_000_000,
        max_timestamp=1_700_000_000_000 + records - 1,
        gaps=(),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        format="jsonl",
        compression=compression,
    )


def _put_backup(
    s3: S3Endpoint,
    objects: list[tuple[ObjectEntry, bytes]],
    *,
    configs: dict[str, str] | None = None,
    manifest_json: Callable[[dict[str, Any]], None] | None = None,
) -> str:
    """A one-topic backup ("orders", 2 partitions) in a new bucket; ``manifest_json`` edits the JSON."""
    bucket = s3.new_bucket(unique_topic_name("harden"))
    client = s3.client()
    for entry, data in objects:
        client.put_object(Bucket=bucket, Key=f"{PREFIX}/{entry.name}", Body=data)
    manifest = TopicManifest(
        "orders",
        2,
        configs or {},
        {e.partition: e.last_offset + 1 for e, _ in objects},
        tuple(e for e, _ in objects),
    )
    document = json.loads(encode_manifest(manifest))
    if manifest_json is not None:
        manifest_json(document)
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{manifest_key('', 'orders')}", Body=json.dumps(document))
    return bucket


def _restore(
    s3: S3Endpoint, bucket: str, target: str, topic: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return mirror_cli(
        s3,
        "restore",
        "--from",
        f"s3://{bucket}/{PREFIX}",
        "--bootstrap-servers",
        target,
        "--rename",
        f"orders={topic}",
        "--no-groups",
        "--json",
        *extra,
    )


def _recording_store(s3: S3Endpoint, bucket: str) -> tuple[ObjectStore, list[tuple[str, str | None]]]:
    """An ObjectStore whose client notes the key and range of every GetObject it sends."""
    settings = S3Settings(
        bucket=bucket, prefix=f"{PREFIX}/", endpoint=s3.url, region=s3.region, part_size=5 * MIB
    )
    client = s3.client()
    sent: list[tuple[str, str | None]] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        sent.append((params["Key"], params.get("Range")))

    client.meta.events.register("provide-client-params.s3.GetObject", note)
    return ObjectStore(settings, client=client), sent


def test_an_object_name_outside_the_layout_is_refused_before_any_get(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint
) -> None:
    data = encode(_columns(0, 3), "jsonl", "zstd")
    honest = _entry(0, data, 3)
    secret = s3_endpoint.new_bucket(unique_topic_name("other-bucket"))
    s3_endpoint.client().put_object(Bucket=secret, Key="secret.jsonl", Body=data)
    escape = f"../../{secret}/secret.jsonl"

    def point_outside(document: dict[str, Any]) -> None:
        document["objects"][0]["name"] = escape

    bucket = _put_backup(s3_endpoint, [(honest, data)], manifest_json=point_outside)

    store, sent = _recording_store(s3_endpoint, bucket)
    with pytest.raises(ManifestError, match=r"orders/manifest.json: objects\[0\].name: '\.\./\.\./"):
        read_manifests(store, lambda _topic: True)
    assert sent == [(f"{PREFIX}/topics/orders/manifest.json", None)]  # the manifest, and nothing else

    topic = unique_topic_name("escape")
    refused = _restore(s3_endpoint, bucket, kafka_clusters.backup.bootstrap_servers, topic)
    assert refused.returncode == 1, refused.stderr
    assert "objects[0].name" in refused.stderr and escape in refused.stderr
    assert "Traceback" not in refused.stderr
    admin = ClusterAdmin({"bootstrap.servers": kafka_clusters.backup.bootstrap_servers}, "hardening", 30)
    try:
        assert topic not in admin.topic_partitions()  # refused before anything was created
    finally:
        admin.close()


def test_a_download_reads_exactly_the_manifests_size_and_refuses_any_other(s3_endpoint: S3Endpoint) -> None:
    bucket = s3_endpoint.new_bucket(unique_topic_name("sizes"))
    store, sent = _recording_store(s3_endpoint, bucket)
    body = bytes(range(256)) * (12 * MIB // 256)  # 12 MiB: three 5 MiB ranged parts
    store.put("topics/orders/0000000000/00000000000000000000.jsonl", body)
    name = "topics/orders/0000000000/00000000000000000000.jsonl"

    assert store.get(name, len(body)) == body
    assert sorted(str(r) for _, r in sent) == [
        "bytes=0-5242879",
        "bytes=10485760-12582911",
        "bytes=5242880-10485759",
    ]

    sent.clear()
    with pytest.raises(
        S3StorageError, match=f"the object is {len(body)} bytes, the manifest says 100"
    ) as refused:
        store.get(name, 100)
    assert refused.value.code == "SizeMismatch"
    assert sent == [(f"{PREFIX}/{name}", "bytes=0-99")]  # nothing past the 100 bytes was asked for


_PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=sys.stdout, stderr=sys.stderr, check=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def test_a_decompression_bomb_is_refused_by_restore_within_a_memory_bound(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint
) -> None:
    compressor = zstd.ZstdCompressor()
    zeros = bytes(MIB)
    bomb = b"".join(compressor.compress(zeros) for _ in range(1536)) + compressor.flush()  # 1.5 GiB of zeros
    entry = _entry(0, bomb, 1)
    bucket = _put_backup(s3_endpoint, [(entry, bomb)])
    topic = unique_topic_name("bomb")
    args = [
        "restore",
        "--from",
        f"s3://{bucket}/{PREFIX}",
        "--bootstrap-servers",
        kafka_clusters.backup.bootstrap_servers,
        "--rename",
        f"orders={topic}",
        "--no-groups",
        "--set",
        f"restore.object.max.bytes={32 * MIB}",
    ]
    # The restore runs as the only child of a small parent, whose children's peak RSS is then its own.
    measured = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, sys.executable, "-m", "mirror.cli", *args],
        env=cli_env(s3_endpoint),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    peak = int(measured.stdout.strip().splitlines()[-1])
    assert len(bomb) < 64 * 1024
    assert entry.name in measured.stderr and "decodes to more than" in measured.stderr, measured.stderr[
        -3000:
    ]
    assert "restore.object.max.bytes" in measured.stderr
    # The interpreter with Kafka, boto3 and pyarrow loaded, plus the bound; unbounded it was > 3 GiB.
    assert peak < 512 * MIB, f"peak RSS {peak >> 20} MiB"
    assert read_topic(kafka_clusters.backup.bootstrap_servers, topic) == []


HONEST = encode(_columns(0, 3), "jsonl", "zstd")
OF_PARTITION_1 = encode(_columns(1, 3), "jsonl", "zstd")


@pytest.mark.parametrize(
    ("entry", "stored", "problem"),
    [
        pytest.param(
            _entry(0, HONEST, 3),
            HONEST + b"\0" * 10,
            f"the object is {len(HONEST) + 10} bytes, the manifest says {len(HONEST)}",
            id="object-larger-than-its-size",
        ),
        pytest.param(
            # Records of partition 1 filed under partition 0 (checksum and size made to match, as a
            # manifest writer can): they would go to partition 1 while progress is keyed by 0.
            _entry(0, OF_PARTITION_1, 3),
            OF_PARTITION_1,
            "holds records of partition 1, the manifest says 0",
            id="records-of-another-partition",
        ),
    ],
)
def test_an_object_that_is_not_what_its_entry_says_is_refused_by_name(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, entry: ObjectEntry, stored: bytes, problem: str
) -> None:
    bucket = _put_backup(s3_endpoint, [(entry, stored)])
    topic = unique_topic_name("alter")
    refused = _restore(s3_endpoint, bucket, kafka_clusters.backup.bootstrap_servers, topic)
    assert refused.returncode == 1
    assert entry.name in refused.stderr and problem in refused.stderr, refused.stderr[-3000:]
    assert read_topic(kafka_clusters.backup.bootstrap_servers, topic) == []


def test_topic_configs_outside_the_restore_list_are_dropped_with_a_warning(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint
) -> None:
    data = encode(_columns(0, 3), "jsonl", "zstd")
    bucket = _put_backup(
        s3_endpoint,
        [(_entry(0, data, 3), data)],
        configs={"retention.ms": "1", "cleanup.policy": "compact", "max.message.bytes": "2000000"},
    )
    topic = unique_topic_name("configs")
    target = kafka_clusters.backup.bootstrap_servers
    result = _restore(s3_endpoint, bucket, target, topic)
    summary = json_summary(result)
    assert summary["records"] == 3
    assert "retention.ms" in result.stderr and "not applied" in result.stderr
    admin = ClusterAdmin({"bootstrap.servers": target}, "hardening", 30)
    try:
        described = admin.describe_topic_configs([topic])[topic]
    finally:
        admin.close()
    assert described["cleanup.policy"].value == "compact"
    assert described["max.message.bytes"].value == "2000000"
    assert described["retention.ms"].is_default and described["retention.ms"].value != "1"
    assert [r.value for r in read_topic(target, topic)] == [b"v0", b"v1", b"v2"]


def test_a_deeply_nested_manifest_is_a_clear_error(
    kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint
) -> None:
    bucket = s3_endpoint.new_bucket(unique_topic_name("nested"))
    s3_endpoint.client().put_object(
        Bucket=bucket, Key=f"{PREFIX}/{manifest_key('', 'orders')}", Body=b"[" * 100_000 + b"]" * 100_000
    )
    refused = _restore(
        s3_endpoint, bucket, kafka_clusters.backup.bootstrap_servers, unique_topic_name("nested")
    )
    assert refused.returncode == 1
    assert "orders/manifest.json" in refused.stderr and "nested too deeply" in refused.stderr
    assert "Traceback" not in refused.stderr and "RecursionError" not in refused.stderr
