"""Start and stop real local Kafka clusters (through ``deploy/local/kafka-local``) for the tests.

Everything goes through the ``kafka-local`` script so tests, the README demo and the benchmarks share
one way of running Kafka.  ``LocalCluster`` is what tests see; ``ClusterProcess`` additionally knows
the broker JVM's pid/process group so the session can stop (or, as a last resort, kill) it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "deploy" / "local" / "kafka-local"

START_TIMEOUT_SECONDS = 120.0
METADATA_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class LocalCluster:
    """A running Kafka cluster as tests see it."""

    name: str
    bootstrap_servers: str


@dataclass(frozen=True)
class ClusterProcess:
    """A cluster started by this process: the broker JVM leads its own process group."""

    cluster: LocalCluster
    pid: int
    pgid: int
    create_time: float
    state_dir: Path
    log_file: Path
    cluster_id: str


@dataclass(frozen=True)
class KafkaClusters:
    """What the ``kafka_clusters`` fixture yields."""

    primary: LocalCluster
    backup: LocalCluster
    # Only the clusters this session started (empty entries for ones reused via environment variables).
    processes: dict[str, ClusterProcess] = field(default_factory=dict)


class KafkaHarnessError(RuntimeError):
    pass


def kafka_local(*args: str, timeout: float = START_TIMEOUT_SECONDS) -> Any:
    """Run ``kafka-local ARGS`` and return its JSON output; raise with its stderr on failure."""
    cmd = [sys.executable, str(KAFKA_LOCAL), *args]
    result = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise KafkaHarnessError(
            f"{' '.join(args[:1])} failed (exit {result.returncode}):\n{result.stderr[-6000:]}"
        )
    return json.loads(result.stdout) if result.stdout.strip() else None


def resolve_classpath() -> None:
    """Resolve the Kafka classpath once, before parallel starts compete for the Maven cache."""
    subprocess.run(
        [sys.executable, str(KAFKA_LOCAL), "classpath"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=900,
    )


_LAST_RESORT: dict[int, float] = {}  # pgid -> create time of its leader, killed at interpreter exit


def _kill_leftovers() -> None:
    for pgid, create_time in list(_LAST_RESORT.items()):
        if _same_process(pgid, create_time):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        _LAST_RESORT.pop(pgid, None)


atexit.register(_kill_leftovers)


def _same_process(pid: int, create_time: float) -> bool:
    try:
        process = psutil.Process(pid)
        return process.create_time() == create_time and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_cluster(name: str, state_dir: Path, timeout: float = START_TIMEOUT_SECONDS) -> ClusterProcess:
    state = kafka_local(
        "start",
        "--name",
        name,
        "--state-dir",
        str(state_dir),
        "--timeout",
        str(timeout - 10),
        timeout=timeout,
    )
    pid = int(state["pid"])
    pgid = int(state["pgid"])
    try:
        create_time = psutil.Process(pid).create_time()
    except psutil.Error as error:
        raise KafkaHarnessError(f"cluster {name!r} (pid {pid}) died right after starting") from error
    _LAST_RESORT[pgid] = create_time
    return ClusterProcess(
        cluster=LocalCluster(name=name, bootstrap_servers=str(state["bootstrap_servers"])),
        pid=pid,
        pgid=pgid,
        create_time=create_time,
        state_dir=state_dir,
        log_file=Path(state["log_file"]),
        cluster_id=str(state["cluster_id"]),
    )


def stop_clusters(processes: Iterable[ClusterProcess]) -> None:
    """Stop clusters (SIGTERM, then SIGKILL after ~15 s); kill their groups if the script itself fails."""
    by_dir: dict[Path, list[ClusterProcess]] = {}
    for process in processes:
        by_dir.setdefault(process.state_dir, []).append(process)
    for state_dir, group in by_dir.items():
        names = [arg for process in group for arg in ("--name", process.cluster.name)]
        try:
            kafka_local("stop", *names, "--state-dir", str(state_dir), timeout=60)
        finally:
            for process in group:
                if _same_process(process.pid, process.create_time):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pgid, signal.SIGKILL)
                _LAST_RESORT.pop(process.pgid, None)


def start_clusters(names: Sequence[str], state_dir: Path) -> dict[str, ClusterProcess]:
    """Start several clusters in parallel; if any fails, stop the ones that did start and raise."""
    resolve_classpath()
    started: dict[str, ClusterProcess] = {}
    errors: list[str] = []
    futures: dict[str, Future[ClusterProcess]] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            futures = {name: pool.submit(start_cluster, name, state_dir) for name in names}
            for name, future in futures.items():
                try:
                    started[name] = future.result()
                except Exception as error:  # collect every failure, then clean up
                    errors.append(f"{name}: {error}")
    except BaseException:  # e.g. KeyboardInterrupt: stop whatever did come up, then re-raise
        for name, future in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                started[name] = future.result()
        stop_clusters(started.values())
        raise
    if errors:
        stop_clusters(started.values())
        raise KafkaHarnessError("could not start local Kafka clusters:\n" + "\n".join(errors))
    return started


def _running_clusters(state_dir: Path) -> list[str]:
    """Names of clusters in ``state_dir`` whose recorded broker JVM is still running."""
    names = []
    for state_file in state_dir.glob("*/state.json"):
        try:
            state = json.loads(state_file.read_text())
            if str(state["config_file"]) in psutil.Process(int(state["pid"])).cmdline():
                names.append(str(state["name"]))
        except (OSError, ValueError, KeyError, TypeError, psutil.Error):
            continue
    return names


def stop_orphaned_test_runs(local_dir: Path = REPO / ".local") -> list[Path]:
    """Stop brokers left behind by test sessions that died without cleaning up (e.g. ``kill -9``).

    A ``test-run-<pid>`` state dir is orphaned when process ``<pid>`` no longer exists.  Its brokers
    are stopped and their data dirs removed; the logs stay for inspection.
    """
    cleaned = []
    for run_dir in sorted(local_dir.glob("test-run-*")):
        suffix = run_dir.name.removeprefix("test-run-")
        if not suffix.isdigit() or psutil.pid_exists(int(suffix)):
            continue
        names = _running_clusters(run_dir)
        if names:
            kafka_local(
                "stop", *[a for n in names for a in ("--name", n)], "--state-dir", str(run_dir), timeout=60
            )
            for name in names:
                shutil.rmtree(run_dir / name / "data", ignore_errors=True)
            cleaned.append(run_dir)
    return cleaned


def wait_for_metadata(bootstrap_servers: str, timeout: float = METADATA_TIMEOUT_SECONDS) -> str:
    """Wait until the cluster answers a metadata request; return its cluster id."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=5)
            cluster_id = getattr(metadata, "cluster_id", None)  # typed as None in the stubs; a str here
            if metadata.brokers and cluster_id:
                return str(cluster_id)
        except Exception as error:  # KafkaException while the broker is still coming up
            last_error = error
        time.sleep(0.2)
    raise KafkaHarnessError(f"{bootstrap_servers} did not answer metadata within {timeout}s: {last_error}")


def wait_for_group_coordinator(bootstrap_servers: str, timeout: float = METADATA_TIMEOUT_SECONDS) -> None:
    """Wait until the cluster's group coordinator answers (``__consumer_offsets`` is loaded).

    A fresh broker answers metadata before it can coordinate groups; a consumer that asks for
    committed offsets then gets NOT_COORDINATOR once and never asks again.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin.describe_consumer_groups(["mirror-tests-coordinator-probe"], request_timeout=5)[
                "mirror-tests-coordinator-probe"
            ].result(timeout=10)
            return
        except Exception as error:  # KafkaException while the coordinator is loading
            last_error = error
        time.sleep(0.2)
    raise KafkaHarnessError(f"{bootstrap_servers}: no group coordinator within {timeout}s: {last_error}")


_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def unique_topic_name(base: str, max_base: int = 60) -> str:
    """A topic/group-name-safe unique name: ``base`` squashed to [A-Za-z0-9-] plus a random suffix.

    Only letters, digits and '-' are used, so names never mix '.' and '_' (Kafka warns about those
    colliding in metric names) and never contain MirrorMaker's '.' replication separator.
    """
    squashed = _UNSAFE.sub("-", base).strip("-")[:max_base].strip("-") or "t"
    return f"{squashed}-{secrets.token_hex(3)}"
