"""A real S3-compatible server (S3Proxy, through ``deploy/local/s3_local.py``) for the backup tests.

``MIRROR_TEST_S3`` set to the ``state.json`` that ``s3_local.py start`` wrote reuses a running
server: nothing is then started or stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from mypy_boto3_s3 import S3Client

REPO = Path(__file__).resolve().parent.parent
S3_LOCAL = REPO / "deploy" / "local" / "s3_local.py"
REGION = "us-east-1"
START_TIMEOUT_S = 180.0
STOP_WAIT_S = 10.0


@dataclass(frozen=True)
class S3Endpoint:
    """How tests reach the server: endpoint URL and made-up credentials."""

    url: str
    access_key: str
    secret_key: str
    region: str = REGION

    def client(self) -> S3Client:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def env(self) -> dict[str, str]:
        """The variables a boto3 user sets to reach this server (what the CLI reads)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def connector_config(self) -> dict[str, str]:
        """The same, as S3 connector config keys."""
        return {
            "s3.endpoint": self.url,
            "s3.region": self.region,
            "aws.access.key.id": self.access_key,
            "aws.secret.access.key": self.secret_key,
        }

    def new_bucket(self, name: str) -> str:
        bucket = name.lower().replace("_", "-")[:63].strip("-.")
        self.client().create_bucket(Bucket=bucket)
        return bucket


@dataclass(frozen=True)
class S3Process:
    endpoint: S3Endpoint
    pid: int
    pgid: int
    state_dir: Path


def endpoint_from_state(path: Path) -> S3Endpoint:
    state = json.loads(path.read_text())
    return S3Endpoint(str(state["endpoint"]), str(state["access_key"]), str(state["secret_key"]))


def start_s3(state_dir: Path, *, blobstore: str = "transient", heap: str = "512m") -> S3Process:
    command = [
        sys.executable,
        str(S3_LOCAL),
        "start",
        "--state-dir",
        str(state_dir),
        "--blobstore",
        blobstore,
        "--heap",
        heap,
    ]
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"S3 server did not start (exit {result.returncode}):\n{result.stderr[-4000:]}")
    state = json.loads(result.stdout)
    endpoint = S3Endpoint(str(state["endpoint"]), str(state["access_key"]), str(state["secret_key"]))
    return S3Process(endpoint, int(state["pid"]), int(state["pgid"]), state_dir)


def stop_s3(process: S3Process) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers; never raises."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and _running(process.pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pgid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
