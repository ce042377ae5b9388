"""S3 backup and restore throughput beside the ceiling: boto3 moving the same bytes in the same objects.

One run starts a single-node Kafka cluster (``deploy/local/kafka-local``, state in
``.local/bench-s3``) and a local S3 server (S3Proxy, on-disk blob store), loads ``--records``
records of ``--value-bytes`` random bytes (default 1,000,000 x 1 KiB = 1 GB) into ``--partitions``
partitions, then measures, in this process:

* ``backup``: the S3 sink connector's one-off backup (``backup.mode=once``), from connector start to
  the last manifest write;
* ``upload ceiling``: boto3 uploading byte strings of exactly the sizes of the objects the backup
  stored, with the same TransferConfig and the same number of concurrent uploads;
* ``restore``: the S3 source connector restoring the backup into a new topic, from connector start
  until every record is acknowledged by the broker;
* ``download ceiling``: boto3 downloading the backup's objects with the same TransferConfig and
  concurrency;
* ``bare Kafka read`` / ``bare Kafka write``: a bare confluent-kafka consume loop over the topic and a
  bare produce loop of the same records with the restore's producer settings, for context: on a
  small host the Kafka side, not S3, bounds both jobs.

MB/s is stored object bytes over wall seconds, for the jobs and their ceilings alike; ratios are
job / ceiling (target >= 0.7). Usage::

    .venv/bin/python bench/s3_backup.py                                  # 1 GB of 1 KiB records
    .venv/bin/python bench/s3_backup.py --records 100000 --format jsonl  # a quick run
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from connectors.s3_source import read_manifests
from mirror.backup.jobs import run_backup, run_restore
from mirror.backup.progress import ProgressDisplay
from mirror.config.backup import MIB, S3Settings
from mirror.s3 import ObjectStore
from mirror.s3.store import make_client

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "deploy" / "local" / "kafka-local"
S3_LOCAL = REPO / "deploy" / "local" / "s3_local.py"
STATE_DIR = REPO / ".local" / "bench-s3"
RESULTS_DIR = REPO / "bench" / "results"
TOPIC = "bench-s3"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def kafka_cluster(reuse: str | None) -> Iterator[str]:
    if reuse:
        yield reuse
        return
    state = STATE_DIR / "kafka"
    out = subprocess.run(
        [sys.executable, str(KAFKA_LOCAL), "start", "--name", "bench", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        yield str(json.loads(out.stdout)["bootstrap_servers"])
    finally:
        subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "stop", "--name", "bench", "--state-dir", str(state)],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(state, ignore_errors=True)  # gigabytes of records: never left behind


@contextmanager
def s3_server(reuse: str | None) -> Iterator[dict[str, Any]]:
    if reuse:
        yield json.loads(Path(reuse).read_text())
        return
    state = STATE_DIR / "s3"
    out = subprocess.run(
        [
            sys.executable,
            str(S3_LOCAL),
            "start",
            "--state-dir",
            str(state),
            "--blobstore",
            "filesystem",
            "--heap",
            "1g",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        yield json.loads(out.stdout)
    finally:
        subprocess.run([sys.executable, str(S3_LOCAL), "stop", "--state-dir", str(state)], check=False)
        shutil.rmtree(state, ignore_errors=True)


def load(bootstrap: str, records: int, value_bytes: int, partitions: int) -> float:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, partitions, 1)])[TOPIC].result(60)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    pool = [os.urandom(value_bytes) for _ in range(4096)]
    started = time.monotonic()
    for n in range(records):
        while True:
            try:
                producer.produce(TOPIC, pool[n % len(pool)], b"%012d" % n, n % partitions)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    return time.monotonic() - started


def kafka_read_floor(bootstrap: str, partitions: int) -> float:
    """A bare read_committed consume(5000) loop over the whole topic: the backup's Kafka side alone."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-floor", "isolation.level": "read_committed"}
    )
    try:
        assigned = [TopicPartition(TOPIC, p, 0) for p in range(partitions)]
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)[1]
            for p in range(partitions)
        }
        started = time.monotonic()
        consumer.assign(assigned)
        pending = set(range(partitions))
        while pending:
            consumer.consume(5000, 0.2)
            for tp in consumer.position([TopicPartition(TOPIC, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
        return time.monotonic() - started
    finally:
        consumer.close()


def kafka_write_floor(bootstrap: str, records: int, value_bytes: int, partitions: int) -> float:
    """A bare produce loop with the restore's producer settings: the restore's Kafka side alone."""
    topic = f"{TOPIC}-write-floor"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept referenced until the topic exists
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "queue.buffering.max.messages": 500_000,
        }
    )
    pool = [os.urandom(value_bytes) for _ in range(4096)]
    started = time.monotonic()
    for n in range(records):
        while True:
            try:
                producer.produce(topic, pool[n % len(pool)], b"%012d" % n, n % partitions, timestamp=1 + n)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    return time.monotonic() - started


def timed(run: Callable[[], object]) -> float:
    started = time.monotonic()
    run()
    return time.monotonic() - started


def ceiling_upload(settings: S3Settings, prefix: str, sizes: Sequence[int]) -> float:
    """boto3 uploading ``sizes`` bytes per object, ``upload_concurrency`` objects at a time."""
    store = ObjectStore(S3Settings(**{**settings.__dict__, "prefix": prefix}), make_client(settings))
    payloads = {size: os.urandom(size) for size in set(sizes)}

    def upload(index_size: tuple[int, int]) -> None:
        index, size = index_size
        store.put(f"ceiling/{index:08d}", payloads[size])

    def run() -> None:
        with ThreadPoolExecutor(settings.upload_concurrency) as pool:
            list(pool.map(upload, enumerate(sizes)))

    return timed(run)


def ceiling_download(settings: S3Settings, names: Sequence[str]) -> float:
    store = ObjectStore(settings, make_client(settings))

    def run() -> None:
        with ThreadPoolExecutor(2) as pool:  # the restore task prefetches two objects at a time
            for data in pool.map(store.get, names):
                io.BytesIO(data)

    return timed(run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--value-bytes", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--format", choices=("jsonl", "avro", "parquet"), default="parquet")
    parser.add_argument("--compression", choices=("none", "gzip", "zstd", "snappy"), default="none")
    parser.add_argument("--rotate-bytes", type=int, default=16 * MIB, help="object size (default 16 MiB)")
    parser.add_argument("--upload-concurrency", type=int, default=2, help="objects in flight (default 2)")
    parser.add_argument("--bootstrap", help="reuse a running Kafka cluster")
    parser.add_argument("--s3-state", help="reuse a running S3 server (its state.json)")
    args = parser.parse_args(argv)

    with kafka_cluster(args.bootstrap) as bootstrap, s3_server(args.s3_state) as s3:
        settings = S3Settings(
            bucket=f"bench-{int(time.time())}",
            prefix="backup/",
            endpoint=str(s3["endpoint"]),
            region="us-east-1",
            access_key_id=str(s3["access_key"]),
            secret_access_key=str(s3["secret_key"]),
            upload_concurrency=args.upload_concurrency,
        )
        make_client(settings).create_bucket(Bucket=settings.bucket)
        progress(f"loading {args.records:,} x {args.value_bytes} B records into {args.partitions} partitions")
        load_s = load(bootstrap, args.records, args.value_bytes, args.partitions)
        s3_keys = {
            "s3.bucket.name": settings.bucket,
            "s3.prefix": settings.prefix,
            "s3.endpoint": str(settings.endpoint),
            "s3.region": "us-east-1",
            "aws.access.key.id": str(settings.access_key_id),
            "aws.secret.access.key": str(settings.secret_access_key),
            "s3.upload.concurrency": str(args.upload_concurrency),
        }
        quiet: Callable[[int | None], ProgressDisplay] = lambda total: ProgressDisplay(  # noqa: E731
            "bench", total_records=total, enabled=False
        )
        progress(f"backup ({args.format}, {args.compression})")
        backup_config = {
            "name": "bench-backup",
            "bootstrap.servers": bootstrap,
            "topics": TOPIC,
            "format.output.type": args.format,
            "file.compression.type": args.compression,
            "rotate.bytes": str(args.rotate_bytes),
            "rotate.records": str(10 * args.records),
            "backup.mode": "once",
            **s3_keys,
        }
        backup = run_backup(backup_config, stop=threading.Event(), progress_factory=quiet)
        manifests = read_manifests(ObjectStore(settings), lambda topic: topic == TOPIC)
        entries = list(manifests[TOPIC].objects)
        stored_bytes = sum(entry.size for entry in entries)
        assert backup.records == args.records, backup
        progress(f"upload ceiling ({len(entries)} objects)")
        upload_s = ceiling_upload(settings, "ceiling/", [entry.size for entry in entries])

        progress("restore")
        restore_config = {
            "name": f"bench-restore-{int(time.time())}",
            "bootstrap.servers": bootstrap,
            "topics": TOPIC,
            "topics.rename": f"{TOPIC}={TOPIC}-restored",
            "restore.groups.enabled": "false",
            **s3_keys,
        }
        restore = run_restore(
            restore_config,
            offsets_topic="bench-restore-offsets",
            stop=threading.Event(),
            progress_factory=quiet,
        )
        assert restore.records == args.records, restore
        progress("download ceiling")
        download_s = ceiling_download(settings, [entry.name for entry in entries])
        progress("Kafka read and write floors")
        read_s = kafka_read_floor(bootstrap, args.partitions)
        write_s = kafka_write_floor(bootstrap, args.records, args.value_bytes, args.partitions)

    mb = stored_bytes / 1e6
    rows = {
        "backup": mb / backup.seconds,
        "upload_ceiling": mb / upload_s,
        "restore": mb / restore.seconds,
        "download_ceiling": mb / download_s,
        "kafka_read_floor": mb / read_s,
        "kafka_write_floor": mb / write_s,
    }
    result = {
        "records": args.records,
        "value_bytes": args.value_bytes,
        "partitions": args.partitions,
        "format": args.format,
        "compression": args.compression,
        "rotate_bytes": args.rotate_bytes,
        "upload_concurrency": args.upload_concurrency,
        "objects": len(entries),
        "stored_bytes": stored_bytes,
        "load_seconds": round(load_s, 2),
        "backup_seconds": round(backup.seconds, 2),
        "upload_ceiling_seconds": round(upload_s, 2),
        "restore_seconds": round(restore.seconds, 2),
        "download_ceiling_seconds": round(download_s, 2),
        "kafka_read_floor_seconds": round(read_s, 2),
        "kafka_write_floor_seconds": round(write_s, 2),
        "mb_per_s": {name: round(value, 1) for name, value in rows.items()},
        "backup_ratio": round(rows["backup"] / rows["upload_ceiling"], 2),
        "restore_ratio": round(rows["restore"] / rows["download_ceiling"], 2),
    }
    print(f"{'':18}{'seconds':>9}{'MB/s':>9}   (MB = stored object bytes, {mb:.0f} MB)")
    for name, seconds in (
        ("backup", backup.seconds),
        ("upload ceiling", upload_s),
        ("restore", restore.seconds),
        ("download ceiling", download_s),
        ("bare Kafka read", read_s),
        ("bare Kafka write", write_s),
    ):
        print(f"{name:18}{seconds:9.2f}{mb / seconds:9.1f}")
    print(f"backup / upload ceiling:    {result['backup_ratio']:.2f}x")
    print(f"restore / download ceiling: {result['restore_ratio']:.2f}x")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"s3-backup-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
