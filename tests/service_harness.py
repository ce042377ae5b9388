"""``mirror serve`` as a real subprocess on a free loopback port, always killed with its children;
plus the MM2-on-Connect connector configs the service tests submit."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from mirror.store.store import Store
from tests.kafka_harness import REPO
from tests.kafka_io import SINGLE_BROKER_REPLICATION, Record, end_offsets_total, wait_until

SOURCE_CONNECTOR = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
ACTOR = "test"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0

SINGLE_BROKER_KEYS: Mapping[str, str] = dict(
    (part.strip() for part in line.split("=", 1))  # type: ignore[misc]  # always two parts
    for line in SINGLE_BROKER_REPLICATION
)
"""The replication factors the one-broker test clusters need, as connector config keys."""


def source_connector_config(name: str, topic: str, source: str, target: str) -> dict[str, str]:
    """A MirrorSourceConnector as an MM2-on-Connect user submits it: connections inline."""
    return {
        "name": name,
        "connector.class": SOURCE_CONNECTOR,
        "source.cluster.alias": "primary",
        "source.cluster.bootstrap.servers": source,
        "target.cluster.alias": "backup",
        "target.cluster.bootstrap.servers": target,
        "topics": topic,
        "tasks.max": "1",
        **SINGLE_BROKER_KEYS,
    }


def profile_config(topic: str, **overrides: str) -> dict[str, str]:
    """A MirrorSourceConnector whose connections come from the cluster profiles its aliases name."""
    return {
        "connector.class": SOURCE_CONNECTOR,
        "source.cluster.alias": "primary",
        "target.cluster.alias": "backup",
        "topics": topic,
        **SINGLE_BROKER_KEYS,
        **overrides,
    }


def recent_records(start: int, count: int) -> list[Record]:
    """Values ``v<start>``...; recent timestamps, or the brokers' retention would delete them."""
    now_ms = int(time.time() * 1000)
    return [Record(0, None, f"v{i}".encode(), (), now_ms + i) for i in range(start, start + count)]


def wait_for_state(
    store: Store, name: str, state: str, *, tasks: int | None = None, timeout: float = 60
) -> float:
    """Seconds until the stored status shows ``state`` (and ``tasks`` tasks, all in it)."""
    began = time.monotonic()

    def shown() -> bool:
        connector = store.connector_state(name)
        task_states = store.task_states(name)
        return (
            connector is not None
            and connector.state == state
            and (tasks is None or (len(task_states) == tasks and all(t.state == state for t in task_states)))
        )

    wait_until(shown, timeout=timeout, interval=0.05, what=f"{name} {state}")
    return time.monotonic() - began


def arrived(bootstrap: str, topic: str, count: int) -> Callable[[], bool]:
    """Whether ``count`` records have been written to ``topic`` (log-end offsets; retention-proof)."""
    return lambda: end_offsets_total(bootstrap, topic) >= count


def self_signed_certificate(directory: Path) -> Path:
    """A certificate for 127.0.0.1 made now by openssl; its key is ``<cert>.key``."""
    cert = directory / "api.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", f"{cert}.key", "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServeProcess:
    """One ``mirror serve``; ``log`` holds everything it (and gunicorn) printed."""

    database_url: str
    log_path: Path
    worker_id: str
    port: int = field(default_factory=free_port)
    token: str | None = None
    tls_cert: Path | None = None
    """With a certificate (and its key beside it, ``<cert>.key``), HTTPS verified against it."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_cert else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> str | bool:
        return str(self.tls_cert) if self.tls_cert else True

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def start(self, *extra: str) -> None:
        command = [
            sys.executable,
            "-m",
            "mirror.cli",
            "serve",
            "--db",
            self.database_url,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--worker-id",
            self.worker_id,
            *extra,
        ]
        if self.tls_cert is not None:
            command += ["--tls-cert", str(self.tls_cert), "--tls-key", f"{self.tls_cert}.key"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"mirror serve exited with {self.process.returncode}:\n{self.log}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/", timeout=2, verify=self.verify).status_code < 500:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"mirror serve did not answer in {START_TIMEOUT_S}s:\n{self.log}")
            time.sleep(0.2)

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> int:
        """Signal it and wait for it to exit; its exit code."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL it and everything it started (what a crash leaves is cleaned up here, not by it)."""
        if self.process is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            family = [
                psutil.Process(self.process.pid),
                *psutil.Process(self.process.pid).children(recursive=True),
            ]
            for member in family:
                with contextlib.suppress(psutil.NoSuchProcess):
                    member.kill()
            psutil.wait_procs(family, timeout=10)
        self.process.wait(10)

    def children(self) -> list[psutil.Process]:
        assert self.process is not None
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


@contextlib.contextmanager
def serving(
    database_url: str, log_path: Path, worker_id: str, *extra: str, tls_cert: Path | None = None
) -> Iterator[ServeProcess]:
    """A started ``mirror serve``, killed (with its children) however the block ends."""
    service = ServeProcess(database_url, log_path, worker_id, tls_cert=tls_cert)
    try:
        service.start(*extra)
        yield service
    finally:
        service.kill()
