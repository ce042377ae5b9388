"""A private PostgreSQL server for tests: its own data dir, 127.0.0.1 on a free port, always stopped.

Uses the distribution's binaries (``make postgres`` installs them). PostgreSQL refuses to run as
root, so when the tests run as root the server runs as the ``postgres`` OS user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from mirror.signals import process_alive
from tests.made_up import secret

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"
"""The OS user that runs the server when the tests run as root."""
DATABASE_USER = "mirror"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
PORT_ATTEMPTS = 3
BASE_DIR_PREFIX = "mirror-pg-"
OWNER_FILE = "owner.pid"
"""Holds the pid of the test process that started the server, to find servers it left behind."""


class PostgresMissingError(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


class _ExitedAtStartError(RuntimeError):
    """The server process ended before accepting connections (e.g. its port was taken meanwhile)."""


@dataclass(frozen=True)
class PostgresServer:
    base_dir: Path
    bin_dir: Path
    port: int
    password: str
    process: subprocess.Popen[bytes]

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "sockets"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3) of ``database`` on this server."""
        return (
            make_url("postgresql+psycopg://127.0.0.1")
            .set(username=DATABASE_USER, password=self.password, port=self.port, database=database)
            .render_as_string(hide_password=False)
        )


def find_bin_dir() -> Path:
    """The newest installed server's bin dir; PostgresMissingError says how to install one."""
    candidates = sorted(
        (path for path in Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/")) if (path / "initdb").is_file()),
        key=lambda path: _version_key(path.parent.name),
    )
    if not candidates:
        raise PostgresMissingError(
            f"PostgreSQL server binaries not found ({POSTGRES_BIN_GLOB}/initdb): run `make postgres` "
            "(installs Debian's postgresql package), or set MIRROR_TEST_POSTGRES_URL to a server of yours"
        )
    return candidates[-1]


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a private server; stop it and remove its files on exit, whatever happened."""
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)


def start_postgres() -> PostgresServer:
    bin_dir = find_bin_dir()
    for orphan in stop_orphaned_servers():
        sys.stderr.write(f"\nstopped a PostgreSQL server left behind by a dead test run in {orphan}\n")
    base_dir = Path(tempfile.mkdtemp(prefix=BASE_DIR_PREFIX))
    try:
        (base_dir / OWNER_FILE).write_text(f"{os.getpid()}\n")
        password = secret()
        _init_cluster(bin_dir, base_dir, password)
    except BaseException:
        shutil.rmtree(base_dir, ignore_errors=True)
        raise
    for attempt in range(1, PORT_ATTEMPTS + 1):
        server = _launch(bin_dir, base_dir, password)
        try:
            _wait_until_ready(server)
        except _ExitedAtStartError:
            _stop_process(server)
            if attempt == PORT_ATTEMPTS:  # not a lost race for the port: give up
                stop_postgres(server)
                raise
        except BaseException:
            stop_postgres(server)
            raise
        else:
            return server
    raise AssertionError("unreachable")


def stop_orphaned_servers() -> list[Path]:
    """Stop servers whose test run died without stopping them (its pid is gone); returns their dirs."""
    stopped = []
    for base_dir in Path(tempfile.gettempdir()).glob(BASE_DIR_PREFIX + "*"):
        try:
            owner = int((base_dir / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if process_alive(owner):
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = int((base_dir / "data" / "postmaster.pid").read_text().splitlines()[0])
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(postmaster, signal.SIGKILL)
        shutil.rmtree(base_dir, ignore_errors=True)
        stopped.append(base_dir)
    return stopped


def stop_postgres(server: PostgresServer) -> None:
    """Stop the server and remove its files."""
    try:
        _stop_process(server)
    finally:
        shutil.rmtree(server.base_dir, ignore_errors=True)


def _stop_process(server: PostgresServer) -> None:
    """``pg_ctl stop -m immediate``; the whole process group is killed if that does not do it."""
    user, group, extra_groups = _server_identity()
    try:
        if server.process.poll() is None:
            subprocess.run(
                [str(server.bin_dir / "pg_ctl"), "stop", "-D", str(server.data_dir), "-m", "immediate", "-w"],
                check=False,
                capture_output=True,
                timeout=STOP_TIMEOUT_S,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
            server.process.wait(timeout=STOP_TIMEOUT_S)
    except (subprocess.TimeoutExpired, OSError):
        pass
    finally:
        _kill_group(server.process)


def create_database(server_url: str, prefix: str = "test") -> str:
    """A fresh empty database on the server of ``server_url``; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin_connection(server_url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    """Drop the database of ``database_url``, disconnecting whoever is still connected."""
    name = make_url(database_url).database
    if not name:
        raise ValueError("database URL names no database")
    with _admin_connection(database_url) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _admin_connection(url: str) -> psycopg.Connection[tuple[object, ...]]:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    )


def _init_cluster(bin_dir: Path, base_dir: Path, password: str) -> None:
    password_file = base_dir / "password"
    password_file.write_text(password + "\n")
    user, group, extra_groups = _server_identity()
    if _running_as_root():
        server_user = pwd.getpwnam(SERVER_USER)
        for path in (base_dir, password_file):
            os.chown(path, server_user.pw_uid, server_user.pw_gid)
    result = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "--pgdata",
            str(base_dir / "data"),
            "--username",
            DATABASE_USER,
            "--pwfile",
            str(password_file),
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        user=user,
        group=group,
        extra_groups=extra_groups,
    )
    password_file.unlink()
    if result.returncode != 0:
        raise RuntimeError(
            f"initdb failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
        )
    (base_dir / "data" / "sockets").mkdir()
    if _running_as_root():
        server_user = pwd.getpwnam(SERVER_USER)
        os.chown(base_dir / "data" / "sockets", server_user.pw_uid, server_user.pw_gid)


def _launch(bin_dir: Path, base_dir: Path, password: str) -> PostgresServer:
    port = _free_port()
    data_dir = base_dir / "data"
    user, group, extra_groups = _server_identity()
    log = (base_dir / "postgres.log").open("ab")
    try:
        process = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data_dir),
                "-p",
                str(port),
                "-k",
                str(data_dir / "sockets"),
                "-c",
                "listen_addresses=127.0.0.1",
                # A throwaway test server: durability settings only cost time.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
    finally:
        log.close()
    return PostgresServer(base_dir=base_dir, bin_dir=bin_dir, port=port, password=password, process=process)


def _wait_until_ready(server: PostgresServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise _ExitedAtStartError(
                f"postgres exited with {server.process.returncode} at start; log:\n{_log_tail(server)}"
            )
        try:
            with _admin_connection(server.url()):
                return
        except psycopg.OperationalError as error:
            last_error = error
            time.sleep(0.2)
    raise RuntimeError(
        f"postgres not ready after {START_TIMEOUT_S:.0f}s ({last_error}); log:\n{_log_tail(server)}"
    )


def _log_tail(server: PostgresServer, lines: int = 30) -> str:
    try:
        return "\n".join(server.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """The server and its backends share the process group started for it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _server_identity() -> tuple[str | None, str | None, list[int] | None]:
    """Popen's user, group and extra_groups: root drops to ``postgres`` (PostgreSQL will not run as root)."""
    if not _running_as_root():
        return None, None, None
    return SERVER_USER, SERVER_USER, []


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
