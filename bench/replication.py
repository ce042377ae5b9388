"""Replication throughput benchmark: ``mirror run`` vs Apache MirrorMaker 2 vs a bare confluent-kafka loop.

One run starts two fresh single-node clusters (``deploy/local/kafka-local``, state dir ``.local/bench``),
loads two datasets into the source, replicates each dataset with every contender in turn and measures:

* records/s and MB/s between the first record appearing in the target topic (t0) and the moment the
  target holds all N records (t1), from the target's log-end offsets polled every 100 ms;
* wall time from the contender's process start to t1 (includes JVM / Python start-up);
* peak RSS of the contender's process tree (psutil, every 100 ms) and its CPU seconds.

Contenders (each runs alone, is stopped with SIGTERM, SIGKILL after 15 s, then the target is checked
for exactly N records carrying the loader's headers):

* ``mirror``       ``mirror run`` on an mm2.properties with source alias ``m`` (writes ``m.<topic>``);
* ``mm2``          Apache Kafka 4.3.1 MirrorMaker 2, alias ``k``, the same features as the mirror row
                   (offset syncs on; heartbeats, checkpoints, group sync off) and client settings equal to
                   mirror's defaults (writes ``k.<topic>``);
* ``mm2-defaults`` the same MirrorMaker 2 with its plain defaults, alias ``kd`` (writes ``kd.<topic>``);
* ``bare``         a bare confluent-kafka consume(5000) -> produce loop, the client's ceiling
                   (writes ``bare.<topic>``); it is this file run with ``--bare-loop``;
* ``mirror-lag``   ``mirror run --metrics-bind ... --lag-interval S`` (alias ``ml``): the same run with
                   the lag sampler measuring the flow every S seconds (``--lag-interval``, default 10,
                   the service's default) and ``/metrics`` scraped every 5 s, as Prometheus would. Its
                   ratio to ``mirror`` is the sampler's cost on throughput.

``--repeat N`` runs the chosen contenders N times in turn (aliases get the run number), and ratios
compare medians, so a slow minute of a shared host does not decide a small difference.

Usage::

    .venv/bin/python bench/replication.py                      # full run (1 M x 100 B, 200 k x 1 KiB)
    .venv/bin/python bench/replication.py --records-100b 100000 --records-1kb 20000 --contenders bare mm2
    .venv/bin/python bench/replication.py --bare-loop SRC DST TOPIC OUT_TOPIC   # one bare loop, used above
    .venv/bin/python bench/replication.py --contenders mirror mirror-lag --repeat 5 --records-1kb 0

Results: a table on stdout and ``bench/results/replication-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import confluent_kafka
import psutil
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # confluent_kafka.admin does not re-export it for mypy

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "deploy" / "local" / "kafka-local"
DEFAULT_STATE_DIR = REPO / ".local" / "bench"
RESULTS_DIR = REPO / "bench" / "results"
KAFKA_VERSION = "4.3.1"

SOURCE_NAME = "bench-src"
TARGET_NAME = "bench-dst"
SAMPLE_INTERVAL_S = 0.1
STOP_GRACE_S = 15.0
CONSUME_BATCH = 5000
HEADER_KEYS = ("bench-seq", "bench-origin")

# The producer settings mirror uses by default (mirror/runtime/task_runner.py); the bare loop and the
# tuned MirrorMaker 2 row use the same, so the comparison is about the replicator, not its knobs.
REPLICATOR_PRODUCER: Mapping[str, str] = {
    "enable.idempotence": "true",
    "acks": "all",
    "linger.ms": "20",
    "batch.size": "1000000",
    "compression.type": "none",
}
BARE_PRODUCER_EXTRA: Mapping[str, str] = {
    "queue.buffering.max.messages": "500000",
    "queue.buffering.max.kbytes": "1048576",
}
REPLICATION_FACTOR_KEYS = (
    "replication.factor",
    "offset-syncs.topic.replication.factor",
    "checkpoints.topic.replication.factor",
    "heartbeats.topic.replication.factor",
    "offset.storage.replication.factor",
    "config.storage.replication.factor",
    "status.storage.replication.factor",
)
NOTES = (
    "'mirror' and 'mm2' run the same features: offset syncs on (MM2's default), heartbeats, checkpoints "
    "and group-offset sync off (emit.heartbeats/emit.checkpoints/sync.group.offsets = false); "
    "'mm2-defaults' runs MM2 with everything at its defaults.",
    "'mm2' uses mirror's producer defaults (linger.ms=20, batch.size=1000000, idempotence, acks=all, no "
    "compression, max.in.flight=5 as librdkafka's idempotent producer) and max.poll.records=5000.",
    "records/s = N / (t1 - t0): t0 = first 100 ms sample with records in the target, t1 = first sample "
    "with all N; wall s = contender process start to t1; 10-90% rec/s = rate between 10 % and 90 % of N "
    "(start-up and tail excluded); CPU s = user+system seconds of the contender's process tree.",
)


class BenchError(Exception):
    """A failure of the harness itself (not of a contender)."""


# ------------------------------------------------------------------------------------------ data types


@dataclass(frozen=True)
class Dataset:
    topic: str
    records: int
    value_size: int


@dataclass(frozen=True)
class Clusters:
    source: str
    target: str
    broker_pids: tuple[int, ...]


@dataclass(frozen=True)
class Settings:
    partitions: int
    tasks_max: int
    timeout_s: float
    settle_s: float
    state_dir: Path
    lag_interval_s: float = 10.0


@dataclass(frozen=True)
class Contender:
    name: str
    prefix: str  # the target topic is "<prefix>.<source topic>"
    fatal_markers: tuple[str, ...] = ()  # log lines that mean the run cannot succeed: stop waiting
    exits_by_itself: bool = False  # the bare loop flushes and exits once it has copied everything

    def target_topic(self, dataset: Dataset) -> str:
        return f"{self.prefix}.{dataset.topic}"


MM2_FATAL = ("Failed to configure MirrorSourceConnector",)
CONTENDERS = (
    Contender("mirror", "m"),
    Contender("mm2", "k", MM2_FATAL),
    Contender("mm2-defaults", "kd", MM2_FATAL),
    Contender("bare", "bare", exits_by_itself=True),
    Contender("mirror-lag", "ml"),
)
SCRAPE_EVERY_S = 5.0
METRICS_PORT = 19_464


@dataclass
class Sample:
    """What the 100 ms sampler saw during one contender run."""

    t0: float | None = None
    t1: float | None = None
    first_count: int = 0
    peak_rss: int = 0
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    exited_early: int | None = None
    fatal_line: str | None = None
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, records)

    def note(self, at: float, count: int, expected: int) -> None:
        self.timeline.append((round(at, 3), count))
        if count > 0 and self.t0 is None:
            self.t0, self.first_count = at, count
        if count >= expected and self.t1 is None:
            self.t1 = at

    def steady_rate(self, expected: int) -> float | None:
        """Records/s between 10 % and 90 % of N, interpolated between samples: start-up and tail excluded."""
        t10 = self.crossing(0.1 * expected)
        t90 = self.crossing(0.9 * expected)
        if t10 is None or t90 is None or t90 <= t10:
            return None
        return 0.8 * expected / (t90 - t10)

    def crossing(self, level: float) -> float | None:
        previous = (0.0, 0)
        for at, count in self.timeline:
            if count >= level:
                before_at, before = previous
                if count == before:
                    return at
                return before_at + (at - before_at) * (level - before) / (count - before)
            previous = (at, count)
        return None


@dataclass
class ResultRow:
    dataset: str
    contender: str
    target_topic: str
    records: int
    value_size: int
    records_per_s: float | None
    mb_per_s: float | None
    steady_records_per_s: float | None  # between 10 % and 90 % of N
    wall_s: float | None
    peak_rss_mb: float
    cpu_s: float
    broker_cpu_s: float  # both brokers, from the contender's start to t1
    first_sample_records: int
    final_count: int
    exit_code: int | None
    killed: bool
    headers_ok: bool
    log_file: str
    problems: list[str]
    timeline: list[tuple[float, int]]  # (seconds since process start, records in the target)

    @property
    def ok(self) -> bool:
        return not self.problems


# ------------------------------------------------------------------------------------- process helpers


def kafka_local(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(KAFKA_LOCAL), *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"kafka-local {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def start_clusters(state_dir: Path) -> Clusters:
    kafka_local("stop", "--all", "--state-dir", str(state_dir))  # leftovers of an interrupted run
    bootstrap: dict[str, str] = {}
    pids: list[int] = []
    for name in (SOURCE_NAME, TARGET_NAME):
        state = json.loads(kafka_local("start", "--name", name, "--state-dir", str(state_dir)))
        bootstrap[name] = str(state["bootstrap_servers"])
        pids.append(int(state["pid"]))
        progress(f"cluster {name} up at {bootstrap[name]}")
    return Clusters(source=bootstrap[SOURCE_NAME], target=bootstrap[TARGET_NAME], broker_pids=tuple(pids))


def stop_clusters(state_dir: Path) -> None:
    try:
        kafka_local("stop", "--all", "--state-dir", str(state_dir))
    except BenchError as error:
        progress(str(error))


def launch(argv: Sequence[str], log_file: Path) -> subprocess.Popen[bytes]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as out:
        return subprocess.Popen(
            list(argv),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its children too
        )


def stop_process(
    proc: subprocess.Popen[bytes], natural_exit_s: float = 0.0, grace_s: float = STOP_GRACE_S
) -> tuple[int | None, bool]:
    """Wait ``natural_exit_s`` for the process to end by itself, then SIGTERM its process group and
    SIGKILL it after ``grace_s``: (exit code, whether it had to be killed)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=natural_exit_s)
    if proc.poll() is not None:
        return proc.returncode, False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=grace_s), False
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    return proc.returncode, True


def kill_group_leftovers(proc: subprocess.Popen[bytes]) -> None:
    """Children that outlived their leader still carry its process group id."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def tree_usage(pid: int, cpu_by_pid: dict[int, float]) -> int:
    """RSS summed over ``pid`` and its descendants; records each process's CPU seconds on the way."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    rss = 0
    for proc in procs:
        try:
            rss += proc.memory_info().rss
            times = proc.cpu_times()
            cpu_by_pid[proc.pid] = times.user + times.system
        except psutil.Error:
            continue
    return rss


class LogWatch:
    """Reads a growing log file incrementally and reports the first line holding a fatal marker."""

    def __init__(self, path: Path, markers: Sequence[str]) -> None:
        self.path = path
        self.markers = tuple(markers)
        self.offset = 0

    def fatal_line(self) -> str | None:
        if not self.markers:
            return None
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return None
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode("utf-8", "replace").splitlines():
            if any(marker in line for marker in self.markers):
                return line.strip()
        return None


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the given processes have used so far."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:])


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- kafka helpers


def admin_for(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = admin_for(bootstrap)  # keep a reference: a collected client fails its pending futures
    futures = admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=30)
    for future in futures.values():
        try:
            future.result(timeout=60)
        except KafkaException as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise


def metadata_consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-observer",
            "enable.auto.commit": False,
            "allow.auto.create.topics": False,
        }
    )


def topic_partitions(consumer: Consumer, topic: str, timeout_s: float = 5.0) -> list[int]:
    """The topic's partition ids, or [] while it does not exist."""
    metadata = consumer.list_topics(topic, timeout=timeout_s)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        return []
    return sorted(int(partition) for partition in info.partitions)


def record_count(consumer: Consumer, topic: str, partitions: Sequence[int]) -> int:
    """Records in the topic: sum over partitions of (log-end offset - log-start offset)."""
    total = 0
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5.0)
        total += high - low
    return total


class TargetWatch:
    """Polls a target topic's record count; remembers its partitions once it exists."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = metadata_consumer(bootstrap)
        self.partitions: list[int] = []
        self.last = 0

    def count(self) -> int:
        """The current count; the previous one while a fresh topic has no leader yet."""
        try:
            if not self.partitions:
                self.partitions = topic_partitions(self.consumer, self.topic, timeout_s=1.0)
            if self.partitions:
                self.last = record_count(self.consumer, self.topic, self.partitions)
        except KafkaException:
            pass
        return self.last

    def settled_count(self, attempts: int = 20) -> int:
        """The count once the broker answers for every partition (raises if it never does)."""
        for _ in range(attempts - 1):
            try:
                self.partitions = topic_partitions(self.consumer, self.topic)
                return record_count(self.consumer, self.topic, self.partitions) if self.partitions else 0
            except KafkaException:
                time.sleep(0.5)
        return record_count(self.consumer, self.topic, topic_partitions(self.consumer, self.topic))

    def close(self) -> None:
        self.consumer.close()


def headers_look_copied(bootstrap: str, topic: str, samples: int = 200) -> bool:
    """The first records of partition 0 carry the loader's headers (replication must copy them)."""
    consumer = metadata_consumer(bootstrap)
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        messages = consumer.consume(num_messages=samples, timeout=5.0)
        if not messages:
            return False
        for message in messages:
            headers = message.headers()
            keys = [key for key, _ in headers] if isinstance(headers, list) else []
            if tuple(keys) != HEADER_KEYS:
                return False
        return True
    finally:
        consumer.close()


# ------------------------------------------------------------------------------------------- loading


def load_dataset(bootstrap: str, dataset: Dataset, partitions: int) -> float:
    """Produce the dataset into a fresh topic; returns the records/s the loader reached."""
    create_topic(bootstrap, dataset.topic, partitions)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 100,
            "batch.size": 1000000,
            "compression.type": "none",
            "queue.buffering.max.messages": 1000000,
            "queue.buffering.max.kbytes": 2097152,
        }
    )
    pool = os.urandom(1 << 20)
    span = len(pool) - dataset.value_size
    origin = b"bench-loader"
    began = time.monotonic()
    for seq in range(dataset.records):
        start = (seq * 7919) % span
        headers: list[tuple[str, str | bytes | None]] = [
            (HEADER_KEYS[0], seq.to_bytes(8, "big")),
            (HEADER_KEYS[1], origin),
        ]
        while True:
            try:
                producer.produce(
                    dataset.topic,
                    pool[start : start + dataset.value_size],
                    b"key-%08d" % (seq % 10_000_000),
                    partition=seq % partitions,
                    headers=headers,
                )
                break
            except BufferError:
                producer.poll(0.05)
        if seq % 10000 == 0:
            producer.poll(0)
    if producer.flush(120) != 0:
        raise BenchError(f"loading {dataset.topic}: records still undelivered after 120 s")
    rate = dataset.records / (time.monotonic() - began)
    consumer = metadata_consumer(bootstrap)
    try:
        loaded = record_count(consumer, dataset.topic, topic_partitions(consumer, dataset.topic))
    finally:
        consumer.close()
    if loaded != dataset.records:
        raise BenchError(f"loading {dataset.topic}: the topic holds {loaded} records, not {dataset.records}")
    return rate


# ----------------------------------------------------------------------------------------- contenders


def base_mm2_properties(source_alias: str, clusters: Clusters, topic: str, tasks_max: int) -> dict[str, str]:
    props = {
        "clusters": f"{source_alias}, dst",
        f"{source_alias}.bootstrap.servers": clusters.source,
        "dst.bootstrap.servers": clusters.target,
        f"{source_alias}->dst.enabled": "true",
        f"{source_alias}->dst.topics": topic,
        "tasks.max": str(tasks_max),
    }
    props.update(dict.fromkeys(REPLICATION_FACTOR_KEYS, "1"))
    return props


# The features both replicators run in the like-for-like rows: replication and offset syncs only.
SAME_FEATURES: Mapping[str, str] = {
    "emit.heartbeats.enabled": "false",
    "emit.checkpoints.enabled": "false",
    "sync.group.offsets.enabled": "false",
}


def mirror_properties(source_alias: str, clusters: Clusters, topic: str, tasks_max: int) -> dict[str, str]:
    return {**base_mm2_properties(source_alias, clusters, topic, tasks_max), **SAME_FEATURES}


def tuned_mm2_properties(source_alias: str, clusters: Clusters, topic: str, tasks_max: int) -> dict[str, str]:
    props = {**base_mm2_properties(source_alias, clusters, topic, tasks_max), **SAME_FEATURES}
    props.update(
        {
            f"{source_alias}.consumer.max.poll.records": str(CONSUME_BATCH),
            # Connect's worker defaults max.in.flight to 1; librdkafka's idempotent producer keeps 5.
            "dst.producer.max.in.flight.requests.per.connection": "5",
        }
    )
    props.update({f"dst.producer.{key}": value for key, value in REPLICATOR_PRODUCER.items()})
    return props


def write_properties(path: Path, props: Mapping[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by bench/replication.py"] + [f"{key} = {value}" for key, value in props.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def contender_argv(
    contender: Contender, dataset: Dataset, clusters: Clusters, settings: Settings, work: Path
) -> list[str]:
    tag = f"{contender.name}-{dataset.topic}"
    if contender.name in ("mirror", "mirror-lag"):
        props = mirror_properties(contender.prefix, clusters, dataset.topic, settings.tasks_max)
        config = write_properties(work / f"{tag}.properties", props)
        argv = [sys.executable, "-m", "mirror.cli", "run", str(config)]
        if contender.name == "mirror-lag":
            argv += [
                "--metrics-bind",
                f"127.0.0.1:{METRICS_PORT}",
                "--lag-interval",
                str(settings.lag_interval_s),
            ]
        return argv
    if contender.name in ("mm2", "mm2-defaults"):
        build = tuned_mm2_properties if contender.name == "mm2" else base_mm2_properties
        config = write_properties(
            work / f"{tag}.properties", build(contender.prefix, clusters, dataset.topic, settings.tasks_max)
        )
        return [
            sys.executable,
            str(KAFKA_LOCAL),
            "mm2",
            "--config",
            str(config),
            "--log",
            str(work / f"{tag}.mm2.log"),
            "--clusters",
            "dst",
            "--state-dir",
            str(settings.state_dir),
        ]
    if contender.name == "bare":
        target_topic = contender.target_topic(dataset)
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            "--bare-loop",
            clusters.source,
            clusters.target,
            dataset.topic,
            target_topic,
        ]
    raise BenchError(f"unknown contender {contender.name}")


# ---------------------------------------------------------------------------------------- measurement


def sample_until_done(
    proc: subprocess.Popen[bytes],
    *,
    watch: TargetWatch,
    logs: LogWatch,
    expected: int,
    started: float,
    timeout_s: float,
) -> Sample:
    """Sample RSS/CPU and the target's record count every 100 ms until all N records are there.

    Times in the result are seconds since ``started`` (the contender's process start)."""
    sample = Sample()
    ticks = 0
    while True:
        ticks += 1
        tick = time.monotonic()
        sample.peak_rss = max(sample.peak_rss, tree_usage(proc.pid, sample.cpu_by_pid))
        sample.note(time.monotonic() - started, watch.count(), expected)
        if sample.t1 is not None:
            return sample
        if proc.poll() is not None:
            # It may have finished between two samples (the bare loop exits by itself).
            sample.note(time.monotonic() - started, watch.count(), expected)
            if sample.t1 is None:
                sample.exited_early = proc.returncode
            return sample
        if ticks % 10 == 0 and (line := logs.fatal_line()) is not None:
            sample.fatal_line = line
            return sample
        if tick - started >= timeout_s:
            return sample
        time.sleep(max(0.0, SAMPLE_INTERVAL_S - (time.monotonic() - tick)))


def run_contender(
    contender: Contender, dataset: Dataset, clusters: Clusters, settings: Settings, work: Path
) -> ResultRow:
    target_topic = contender.target_topic(dataset)
    log_file = work / f"{contender.name}-{dataset.topic}.log"
    argv = contender_argv(contender, dataset, clusters, settings, work)
    # MirrorMaker 2 logs to its own file (--log); the others log to stdout/stderr.
    app_log = work / f"{contender.name}-{dataset.topic}.mm2.log" if contender.fatal_markers else log_file
    progress(f"{dataset.topic} / {contender.name}: {shlex.join(argv)}")
    watch = TargetWatch(clusters.target, target_topic)
    broker_cpu_before = cpu_seconds(clusters.broker_pids)
    started = time.monotonic()
    proc = launch(argv, log_file)
    scraping = threading.Event()
    if contender.name == "mirror-lag":
        threading.Thread(target=scrape_metrics, args=(scraping,), daemon=True).start()
    try:
        logs = LogWatch(app_log, contender.fatal_markers)
        sample = sample_until_done(
            proc,
            watch=watch,
            logs=logs,
            expected=dataset.records,
            started=started,
            timeout_s=settings.timeout_s,
        )
        broker_cpu_s = cpu_seconds(clusters.broker_pids) - broker_cpu_before
        natural_exit_s = 60.0 if contender.exits_by_itself and sample.t1 is not None else 0.0
        exit_code, killed = stop_process(proc, natural_exit_s)
    finally:
        scraping.set()
        kill_group_leftovers(proc)
        watch.close()
    final = TargetWatch(clusters.target, target_topic)
    try:
        final_count = final.settled_count()
    finally:
        final.close()
    headers_ok = final_count > 0 and headers_look_copied(clusters.target, target_topic)
    row = build_row(
        contender=contender,
        dataset=dataset,
        target_topic=target_topic,
        sample=sample,
        final_count=final_count,
        exit_code=exit_code,
        killed=killed,
    )
    row.headers_ok = headers_ok
    row.broker_cpu_s = broker_cpu_s
    row.log_file = str(log_file.relative_to(REPO) if log_file.is_relative_to(REPO) else log_file)
    row.problems = find_problems(row, sample, contender)
    if row.problems:
        progress(f"{dataset.topic} / {contender.name}: PROBLEMS {row.problems}\n{log_tail(app_log)}")
    else:
        progress(f"{dataset.topic} / {contender.name}: {row.records_per_s:,.0f} records/s")
    return row


def scrape_metrics(done: threading.Event) -> None:
    """GET /metrics every few seconds, as Prometheus does, until ``done``."""
    while not done.wait(SCRAPE_EVERY_S):
        url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            response.read()


def build_row(
    *,
    contender: Contender,
    dataset: Dataset,
    target_topic: str,
    sample: Sample,
    final_count: int,
    exit_code: int | None,
    killed: bool,
) -> ResultRow:
    rate = mbps = wall = None
    if sample.t0 is not None and sample.t1 is not None:
        elapsed = max(sample.t1 - sample.t0, SAMPLE_INTERVAL_S)  # all N in one sample: bounded by the tick
        rate = dataset.records / elapsed
        mbps = dataset.records * dataset.value_size / elapsed / 1e6
        wall = sample.t1
    return ResultRow(
        dataset=dataset.topic,
        contender=contender.name,
        target_topic=target_topic,
        records=dataset.records,
        value_size=dataset.value_size,
        records_per_s=rate,
        mb_per_s=mbps,
        steady_records_per_s=sample.steady_rate(dataset.records),
        wall_s=wall,
        peak_rss_mb=sample.peak_rss / 1e6,
        cpu_s=sum(sample.cpu_by_pid.values()),
        broker_cpu_s=0.0,
        first_sample_records=sample.first_count,
        final_count=final_count,
        exit_code=exit_code,
        killed=killed,
        headers_ok=False,
        log_file="",
        problems=[],
        timeline=sample.timeline,
    )


def find_problems(row: ResultRow, sample: Sample, contender: Contender) -> list[str]:
    problems: list[str] = []
    if sample.fatal_line is not None:
        problems.append(f"gave up on a fatal log line: {sample.fatal_line[:200]}")
    elif sample.exited_early is not None:
        problems.append(f"exited with {sample.exited_early} before replicating everything")
    elif sample.t1 is None:
        problems.append("timed out before the target held all records")
    if row.final_count != row.records:
        problems.append(f"target holds {row.final_count} records, expected exactly {row.records}")
    if row.final_count and not row.headers_ok:
        problems.append("headers were not copied")
    if row.killed:
        problems.append(f"did not stop within {STOP_GRACE_S:.0f} s of SIGTERM (killed)")
    elif contender.name in ("mirror", "mirror-lag", "bare") and row.exit_code not in (0, None):
        problems.append(f"exit code {row.exit_code}")
    return problems


def recheck_counts(clusters: Clusters, rows: Sequence[ResultRow]) -> None:
    """Late writes (a contender replaying an earlier dataset after a restart) show up as extra records."""
    for row in rows:
        watch = TargetWatch(clusters.target, row.target_topic)
        try:
            count = watch.settled_count()
        finally:
            watch.close()
        if count != row.final_count:
            row.problems.append(f"target count changed later: {row.final_count} -> {count}")


# --------------------------------------------------------------------------------------------- report


def median_rate(rows: Sequence[ResultRow], dataset: str, contender: str) -> float | None:
    rates = [
        row.records_per_s
        for row in rows
        if row.dataset == dataset and row.contender == contender and row.records_per_s is not None
    ]
    return statistics.median(rates) if rates else None


def ratio(rows: Sequence[ResultRow], dataset: str, numerator: str, denominator: str) -> float | None:
    """Of the contenders' median records/s over the repeats."""
    top, bottom = median_rate(rows, dataset, numerator), median_rate(rows, dataset, denominator)
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render_table(rows: Sequence[ResultRow]) -> list[str]:
    header = (
        f"{'dataset':<11} {'contender':<13} {'records/s':>11} {'MB/s':>7} {'wall s':>7} "
        f"{'peak RSS MB':>11} {'CPU s':>6} {'10-90% rec/s':>12}  status"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        status = "ok" if row.ok else "PROBLEM: " + "; ".join(row.problems)
        lines.append(
            f"{row.dataset:<11} {row.contender:<13} {fmt(row.records_per_s, ',.0f'):>11} "
            f"{fmt(row.mb_per_s, '.1f'):>7} {fmt(row.wall_s, '.1f'):>7} {row.peak_rss_mb:>11.0f} "
            f"{row.cpu_s:>6.1f} {fmt(row.steady_records_per_s, ',.0f'):>12}  {status}"
        )
    return lines


def ratios(rows: Sequence[ResultRow], datasets: Sequence[Dataset]) -> dict[str, dict[str, float | None]]:
    return {
        dataset.topic: {
            "mirror/mm2": ratio(rows, dataset.topic, "mirror", "mm2"),
            "mirror/mm2-defaults": ratio(rows, dataset.topic, "mirror", "mm2-defaults"),
            "mirror/bare": ratio(rows, dataset.topic, "mirror", "bare"),
            "mm2/bare": ratio(rows, dataset.topic, "mm2", "bare"),
            "mirror-lag/mirror": ratio(rows, dataset.topic, "mirror-lag", "mirror"),
        }
        for dataset in datasets
    }


def environment() -> dict[str, Any]:
    return {
        "host_cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
        "kafka": KAFKA_VERSION,
        "platform": platform.platform(),
    }


def report(
    command: str,
    settings: Settings,
    datasets: Sequence[Dataset],
    load_rates: Mapping[str, float],
    rows: Sequence[ResultRow],
) -> Path:
    env = environment()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    the_ratios = ratios(rows, datasets)
    lines = [
        f"# replication benchmark, {started}",
        f"# command: {command}",
        f"# {env['host_cpus']} CPUs, {env['memory_gb']} GB, Python {env['python']}, "
        f"confluent-kafka {env['confluent_kafka']} / librdkafka {env['librdkafka']}, "
        f"Apache Kafka {KAFKA_VERSION} (1 broker per cluster, same host)",
        f"# partitions={settings.partitions} tasks.max={settings.tasks_max}; datasets: "
        + ", ".join(f"{d.topic} = {d.records:,} x {d.value_size} B + 2 headers" for d in datasets),
        *[f"# note: {note}" for note in NOTES],
        "",
        *render_table(rows),
        "",
    ]
    for dataset, values in the_ratios.items():
        parts = [f"{name} = {fmt(value, '.2f')}" for name, value in values.items()]
        lines.append(f"ratios {dataset}: " + ", ".join(parts))
    print("\n".join(lines), flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"replication-{time.strftime('%Y%m%d-%H%M%S')}.json"
    document = {
        "command": command,
        "started": started,
        "environment": env,
        "settings": {
            "partitions": settings.partitions,
            "tasks_max": settings.tasks_max,
            "timeout_s": settings.timeout_s,
            "replicator_producer": dict(REPLICATOR_PRODUCER),
            "consume_batch": CONSUME_BATCH,
        },
        "datasets": [asdict(d) | {"loader_records_per_s": load_rates.get(d.topic)} for d in datasets],
        "notes": list(NOTES),
        "rows": [asdict(row) | {"ok": row.ok} for row in rows],
        "ratios": the_ratios,
        "table": render_table(rows),
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results: {out.relative_to(REPO)}", flush=True)
    return out


# -------------------------------------------------------------------------------------------- bare loop


def bare_loop(source: str, target: str, topic: str, out_topic: str) -> int:
    """Copy every record of ``topic`` to ``out_topic`` as fast as confluent-kafka allows, then exit."""
    consumer = Consumer(
        {
            "bootstrap.servers": source,
            "group.id": "bench-bare-loop",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
        }
    )
    partitions = topic_partitions(consumer, topic, timeout_s=30.0)
    expected = record_count(consumer, topic, partitions)
    create_topic(target, out_topic, len(partitions))
    producer = Producer({"bootstrap.servers": target, **REPLICATOR_PRODUCER, **BARE_PRODUCER_EXTRA})
    consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in partitions])
    copied = 0
    produce = producer.produce
    while copied < expected:
        batch = consumer.consume(num_messages=CONSUME_BATCH, timeout=0.1)
        for message in batch:
            if message.error() is not None:
                raise KafkaException(message.error())
            while True:
                try:
                    produce(
                        out_topic,
                        message.value(),
                        message.key(),
                        partition=message.partition() or 0,  # always set on a consumed message
                        timestamp=message.timestamp()[1],
                        headers=message.headers(),
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
        copied += len(batch)
        producer.poll(0)
    undelivered = producer.flush(120)
    consumer.close()
    return 0 if undelivered == 0 else 1


# ------------------------------------------------------------------------------------------------ main


def _raise_interrupt(signum: int, _frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def local_clusters(state_dir: Path) -> Iterator[Clusters]:
    try:
        yield start_clusters(state_dir)
    finally:
        progress("stopping the clusters")
        stop_clusters(state_dir)


def run_benchmark(args: argparse.Namespace, command: str) -> int:
    settings = Settings(
        partitions=args.partitions,
        tasks_max=args.tasks_max,
        timeout_s=args.timeout,
        settle_s=args.settle,
        state_dir=args.state_dir.resolve(),
        lag_interval_s=args.lag_interval,
    )
    datasets = [
        Dataset("bench-100b", args.records_100b, 100),
        Dataset("bench-1kb", args.records_1kb, 1024),
    ]
    datasets = [dataset for dataset in datasets if dataset.records > 0]
    chosen = [contender for contender in CONTENDERS if contender.name in args.contenders]
    work = settings.state_dir / "runs" / time.strftime("%Y%m%d-%H%M%S")
    rows: list[ResultRow] = []
    load_rates: dict[str, float] = {}
    with local_clusters(settings.state_dir) as clusters:
        for dataset in datasets:
            load_rates[dataset.topic] = load_dataset(clusters.source, dataset, settings.partitions)
            rate = load_rates[dataset.topic]
            progress(f"loaded {dataset.topic}: {dataset.records:,} records ({rate:,.0f}/s)")
        for dataset in datasets:
            for run in range(args.repeat):
                for chosen_contender in chosen:
                    contender = chosen_contender
                    if args.repeat > 1:
                        contender = replace(contender, prefix=f"{contender.prefix}{run}")
                    time.sleep(settings.settle_s)
                    rows.append(run_contender(contender, dataset, clusters, settings, work))
        recheck_counts(clusters, rows)
    report(command, settings, datasets, load_rates, rows)
    return 0 if all(row.ok for row in rows) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/replication.py",
        description="Replication throughput: mirror vs Apache MirrorMaker 2 vs a bare confluent-kafka loop.",
    )
    parser.add_argument("--partitions", type=int, default=4, help="partitions per dataset topic (default 4)")
    parser.add_argument("--tasks-max", type=int, default=1, help="tasks.max for mirror and MM2 (default 1)")
    parser.add_argument("--records-100b", type=int, default=1_000_000, help="records of 100 B (0 = skip)")
    parser.add_argument("--records-1kb", type=int, default=200_000, help="records of 1 KiB (0 = skip)")
    parser.add_argument(
        "--contenders",
        nargs="+",
        choices=[contender.name for contender in CONTENDERS],
        default=[contender.name for contender in CONTENDERS],
        help="contenders to run, in the order mirror, mm2, mm2-defaults, bare, mirror-lag (default: all)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender, in turn (default 1)")
    parser.add_argument(
        "--lag-interval",
        type=float,
        default=10.0,
        help="mirror-lag: seconds between lag samples (default 10)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per contender run")
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before each contender run")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="kafka-local state dir")
    parser.add_argument(
        "--bare-loop",
        nargs=4,
        metavar=("SRC", "DST", "TOPIC", "OUT_TOPIC"),
        help="internal: run one bare consume->produce loop and exit",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bare_loop:
        source, target, topic, out_topic = args.bare_loop
        return bare_loop(source, target, topic, out_topic)
    command = shlex.join([os.path.relpath(sys.executable, REPO), *sys.argv]) if argv is None else "main()"
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return run_benchmark(args, command)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
