"""``mirror serve``: the REST API (gunicorn, a child process), the reconciler and the scheduler.

The reconciler and the scheduler run as threads of this process; gunicorn serves
``mirror.api.app:wsgi_app()`` as ``deploy/gunicorn.conf.py`` says, configured through the
environment (``MIRROR_DATABASE_URL``, ``MIRROR_API_*``). The child gets ``PR_SET_PDEATHSIG`` so
that it never outlives this process, even after a SIGKILL. SIGTERM or SIGINT stops gunicorn,
stops every task cleanly (offsets recorded), removes this worker's row and exits 0.

The worker id is claimed before anything starts: while another live process holds it, this one
exits 2 naming that process (two would both run every connector).
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from mirror import metrics
from mirror.service.lag_sampler import DEFAULT_INTERVAL_S as DEFAULT_LAG_INTERVAL_S
from mirror.service.runtime import RuntimeSettings, ServiceRuntime, WorkerIdInUseError
from mirror.service.scheduler import ScheduleService
from mirror.signals import process_alive, stop_on_signals
from mirror.store.store import Store

log = logging.getLogger("mirror.service.serve")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_REFUSED = 2

DEFAULT_BIND = "127.0.0.1:8083"
GUNICORN_CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"
OFFSETS_ADMIN = "mirror.service.kafka_offsets:KafkaOffsetsAdmin"
_GUNICORN_STOP_S = 10.0
_PR_SET_PDEATHSIG = 1
METRICS_DIR_PREFIX = "mirror-metrics-"
WORKER_ID_ENV = "MIRROR_API_WORKER_ID"
"""Tells the API processes this process's worker id, whose heartbeat ``/health`` checks."""


@dataclass(frozen=True)
class ServeOptions:
    database_url: str
    host: str
    port: int
    api_workers: int = 2
    tls_cert: Path | None = None
    tls_key: Path | None = None
    worker_id: str | None = None
    lag_interval_s: float | None = DEFAULT_LAG_INTERVAL_S

    @property
    def bind(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_cert else 'http'}://{self.bind}"


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``; raises ValueError saying what is wrong."""
    host, separator, port = text.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--bind must be HOST:PORT with a port from 1 to 65535, not {text!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DatabaseError(Exception):
    """The control-plane database could not be opened; the message holds no password."""


def open_store(url: str) -> Store:
    """``Store.open`` (migrations included), with errors that never show the URL's password."""
    try:
        return Store.open(url)
    except Exception as exc:
        try:
            parsed = make_url(url)
            shown, password = parsed.render_as_string(hide_password=True), parsed.password
        except Exception:
            shown, password = "(an unreadable URL)", None
        reason = str(exc).replace(str(password), "***") if password else str(exc)
        if reason.strip():
            reason = reason.replace(url, shown)
        raise DatabaseError(f"cannot open the database {shown}: {type(exc).__name__}: {reason}") from None


def serve(options: ServeOptions) -> int:
    if (options.tls_cert is None) != (options.tls_key is None):
        print("mirror: --tls-cert and --tls-key go together", file=sys.stderr)
        return EXIT_REFUSED
    if not GUNICORN_CONF.is_file():
        print(f"mirror: gunicorn settings missing: {GUNICORN_CONF}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        store = open_store(options.database_url)
    except DatabaseError as exc:
        print(f"mirror: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        if not store.has_tokens():
            if not is_loopback(options.host):
                print(
                    f"mirror: refusing to listen on {options.host}: no API token exists, so anyone could "
                    "change the replication. Create one first (mirror token create --role admin) or bind "
                    "a loopback address.",
                    file=sys.stderr,
                )
                return EXIT_REFUSED
            log.warning("authentication off: no API tokens; listening on loopback only")
            return _run(store, options, auth_required=False)
        return _run(store, options, auth_required=True)
    finally:
        store.close()


def _run(store: Store, options: ServeOptions, *, auth_required: bool) -> int:
    worker_id = options.worker_id or f"{socket.gethostname()}:{options.port}"
    # Tasks (this process) and the API workers (gunicorn's) share task metrics through files in
    # a fresh directory per run, so nothing a previous run counted is added in. A run killed
    # with SIGKILL cannot remove its own: the next one does.
    _remove_stale_metrics_dirs()
    metrics_dir = Path(tempfile.gettempdir()) / f"{METRICS_DIR_PREFIX}{os.getpid()}"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(mode=0o700)
    try:
        metrics.use_multiprocess_dir(metrics_dir)
        return _serve_until_stopped(store, options, worker_id, auth_required=auth_required)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _remove_stale_metrics_dirs() -> None:
    for directory in Path(tempfile.gettempdir()).glob(f"{METRICS_DIR_PREFIX}*"):
        pid = directory.name.removeprefix(METRICS_DIR_PREFIX)
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)


def _serve_until_stopped(store: Store, options: ServeOptions, worker_id: str, *, auth_required: bool) -> int:
    stop = stop_on_signals(log)
    runtime = ServiceRuntime(store, RuntimeSettings(worker_id=worker_id, address=options.bind))
    try:
        runtime.claim()
    except WorkerIdInUseError as exc:
        print(f"mirror: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    # Started before any thread of ours: preexec_fn runs between fork and exec.
    api = _start_gunicorn(options, worker_id, auth_required=auth_required)
    schedules = ScheduleService(store, worker_id, lag_interval_s=options.lag_interval_s)
    exit_code = EXIT_OK
    reported_silent = False
    try:
        runtime.start()
        schedules.start()
        log.info("serving", extra={"url": options.url, "worker": worker_id})
        while not stop.wait(0.5):
            if api.poll() is not None:
                log.error("the API server exited", extra={"exit_code": api.returncode})
                exit_code = EXIT_FAILURE
                break
            silent = runtime.heartbeat_age_s() > runtime.settings.worker_timeout_s
            if silent != reported_silent:
                # Liveness as the other workers see it: they move a silent worker's connectors.
                reported_silent = silent
                if silent:
                    log.error(
                        "no heartbeat written for too long: this worker counts as dead",
                        extra={"worker": worker_id},
                    )
                else:
                    log.info(
                        "heartbeat written again: this worker counts as live", extra={"worker": worker_id}
                    )
            if runtime.displaced_by is not None:
                log.error(
                    "this worker id was taken over by another process; exiting", extra={"worker": worker_id}
                )
                exit_code = EXIT_FAILURE
                break
    finally:
        _stop_gunicorn(api)
        schedules.stop()
        runtime.stop()
    return exit_code


def _gunicorn_environment(options: ServeOptions, worker_id: str, *, auth_required: bool) -> dict[str, str]:
    environment = {
        **os.environ,
        "MIRROR_DATABASE_URL": options.database_url,
        WORKER_ID_ENV: worker_id,
        "MIRROR_API_BIND": options.bind,
        "MIRROR_API_WORKERS": str(options.api_workers),
        "MIRROR_API_AUTH_REQUIRED": "true" if auth_required else "false",
        "MIRROR_API_OFFSETS_ADMIN": OFFSETS_ADMIN,
    }
    for name, path in (("MIRROR_API_TLS_CERT", options.tls_cert), ("MIRROR_API_TLS_KEY", options.tls_key)):
        if path is not None:
            environment[name] = str(path.resolve())
        else:
            environment.pop(name, None)
    return environment


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM when the parent dies, SIGKILL included."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _start_gunicorn(options: ServeOptions, worker_id: str, *, auth_required: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
    process = subprocess.Popen(
        command,
        env=_gunicorn_environment(options, worker_id, auth_required=auth_required),
        # Its own session: a terminal's Ctrl-C reaches this process only, which then stops it in order.
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no thread of ours runs yet (see the caller)
    )
    log.info("API server started", extra={"pid": process.pid, "bind": options.bind})
    return process


def _stop_gunicorn(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(_GUNICORN_STOP_S)
        except subprocess.TimeoutExpired:
            log.warning("the API server did not stop in time; killing it", extra={"pid": process.pid})
            process.kill()
            process.wait()
    log.info("API server stopped", extra={"exit_code": process.returncode})
