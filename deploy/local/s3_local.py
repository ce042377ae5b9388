#!/usr/bin/env python3
"""A local S3-compatible server (S3Proxy from Maven Central) for the backup tests and benchmark.

Stdlib only. The jars come from Maven Central through ``deploy/local/s3proxy/pom.xml``; the
resolved classpath is cached under ``.local/s3proxy/`` keyed by the pom's hash. Subcommands::

    s3_local.py classpath [--refresh]
    s3_local.py start --state-dir DIR [--port P] [--blobstore transient|filesystem] [--heap 512m]
    s3_local.py stop --state-dir DIR

``start`` runs the server in its own session (so ``stop`` signals the whole process group), waits
until it accepts connections on 127.0.0.1, writes ``DIR/state.json`` and prints the same JSON:
``{"endpoint", "access_key", "secret_key", "pid", "pgid", "log"}``. The credentials are made up
at start. ``transient`` keeps objects in the JVM heap; ``filesystem`` under ``DIR/blobs``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import kafka_local  # the sibling script: shared Java, Maven and port helpers

SCRIPT_DIR = Path(__file__).resolve().parent
REPO = SCRIPT_DIR.parent.parent
POM = SCRIPT_DIR / "s3proxy" / "pom.xml"
LOGBACK = SCRIPT_DIR / "s3proxy" / "logback.xml"
CACHE_DIR = REPO / ".local" / "s3proxy"
MAIN_CLASS = "org.gaul.s3proxy.Main"
STATE_FILE = "state.json"
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
PORT_ATTEMPTS = 3


class S3LocalError(RuntimeError):
    pass


def resolve_classpath(*, refresh: bool = False) -> str:
    """S3Proxy's classpath, resolved by Maven once (offline first, then Maven Central)."""
    return kafka_local.resolve_classpath(refresh, pom=POM, cache_dir=CACHE_DIR, what="S3Proxy")


def _java() -> str:
    return kafka_local.java_binary(needed_by="S3Proxy")


def _free_port() -> int:
    return kafka_local.free_port(set())


def _accepts(port: int) -> bool:
    return kafka_local.port_accepts(port)


def _properties(port: int, blobstore: str, blob_dir: Path, access_key: str, secret_key: str) -> str:
    lines = [
        f"s3proxy.endpoint=http://127.0.0.1:{port}",
        "s3proxy.authorization=aws-v2-or-v4",
        f"s3proxy.identity={access_key}",
        f"s3proxy.credential={secret_key}",
        f"jclouds.provider={blobstore}",
        f"jclouds.identity={access_key}",
        f"jclouds.credential={secret_key}",
    ]
    if blobstore == "filesystem":
        lines.append(f"jclouds.filesystem.basedir={blob_dir}")
    return "\n".join(lines) + "\n"


def _wait_ready(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _accepts(port):
            return True
        time.sleep(0.1)
    raise S3LocalError(f"S3Proxy did not accept connections on 127.0.0.1:{port} within {timeout_s}s")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def start(
    state_dir: Path,
    *,
    port: int | None = None,
    blobstore: str = "transient",
    heap: str = "512m",
    timeout_s: float = START_TIMEOUT_S,
) -> dict[str, object]:
    """Start S3Proxy detached; return (and write to ``state_dir/state.json``) how to reach and stop it."""
    classpath = resolve_classpath()
    state_dir.mkdir(parents=True, exist_ok=True)
    blob_dir = state_dir / "blobs"
    blob_dir.mkdir(exist_ok=True)
    access_key = "local" + secrets.token_hex(6)
    secret_key = secrets.token_hex(16)
    log_file = state_dir / "s3proxy.log"
    for _attempt in range(PORT_ATTEMPTS):
        chosen = port or _free_port()
        properties = state_dir / "s3proxy.properties"
        properties.write_text(_properties(chosen, blobstore, blob_dir, access_key, secret_key))
        properties.chmod(0o600)
        command = [
            _java(),
            f"-Xmx{heap}",
            f"-Dlogback.configurationFile={LOGBACK}",
            "-cp",
            classpath,
            MAIN_CLASS,
            "--properties",
            str(properties),
        ]
        with log_file.open("ab") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        try:
            ready = _wait_ready(process, chosen, timeout_s)
        except BaseException:
            _signal_group(process.pid, signal.SIGKILL)
            raise
        if ready:
            state: dict[str, object] = {
                "endpoint": f"http://127.0.0.1:{chosen}",
                "access_key": access_key,
                "secret_key": secret_key,
                "pid": process.pid,
                "pgid": process.pid,
                "log": str(log_file),
                "blobstore": blobstore,
            }
            state_path = state_dir / STATE_FILE
            state_path.write_text(json.dumps(state))
            state_path.chmod(0o600)
            return state
        if port is not None:
            break  # the caller's port is taken: another attempt would fail the same way
    tail = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
    raise S3LocalError(f"S3Proxy exited during start; log {log_file}:\n{tail}")


def stop(state_dir: Path) -> bool:
    """Stop the server of ``state_dir`` (SIGTERM, then SIGKILL); False if none was recorded."""
    state_path = state_dir / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return False
    pgid = int(state["pgid"])
    pid = int(state["pid"])
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
    state_path.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        waited = 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie left by another parent still answers kill(0); /proc tells the truth.
        with contextlib.suppress(OSError):
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        return True
    return waited == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="s3_local", description=__doc__.split("\n\n")[0] if __doc__ else "")
    commands = parser.add_subparsers(dest="command", required=True)
    classpath = commands.add_parser("classpath", help="resolve S3Proxy's jars and print the classpath")
    classpath.add_argument("--refresh", action="store_true")
    start_parser = commands.add_parser("start", help="start S3Proxy detached and print its state as JSON")
    start_parser.add_argument("--state-dir", type=Path, required=True)
    start_parser.add_argument("--port", type=int)
    start_parser.add_argument("--blobstore", choices=("transient", "filesystem"), default="transient")
    start_parser.add_argument("--heap", default="512m", help="JVM -Xmx (transient keeps objects in it)")
    start_parser.add_argument("--timeout", type=float, default=START_TIMEOUT_S)
    stop_parser = commands.add_parser("stop", help="stop the S3Proxy of a state dir")
    stop_parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "classpath":
            print(resolve_classpath(refresh=args.refresh))
        elif args.command == "start":
            state = start(
                args.state_dir,
                port=args.port,
                blobstore=args.blobstore,
                heap=args.heap,
                timeout_s=args.timeout,
            )
            print(json.dumps(state))
        elif not stop(args.state_dir):
            print(f"s3_local: no server recorded in {args.state_dir}", file=sys.stderr)
            return 1
    except (S3LocalError, kafka_local.KafkaLocalError) as exc:
        print(f"s3_local: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
