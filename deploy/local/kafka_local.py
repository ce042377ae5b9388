#!/usr/bin/env python3
"""Local single-node Apache Kafka (KRaft) clusters for tests, the README demo and benchmarks.

Stdlib only.  The official Apache Kafka jars come from Maven Central through ``deploy/local/pom.xml``
(the local Maven repository ``~/.m2`` is the only cache).  Subcommands::

    kafka-local classpath [--refresh]
    kafka-local start --name NAME [--port P] [--state-dir DIR] [--timeout S] [--keep-data]
    kafka-local stop (--name NAME [--name NAME ...] | --all) [--state-dir DIR]
    kafka-local status [--name NAME] [--state-dir DIR]
    kafka-local mm2 --config FILE [--log FILE] [--clusters A B ...] [--state-dir DIR]
    kafka-local run-class CLASS [ARGS...]

Each cluster lives in ``<state-dir>/<name>/``: ``server.properties``, ``data/``, ``server.log``
(log4j2, INFO), ``jvm.out`` (JVM stdout/stderr), ``kafka.pid`` and ``state.json``.  The JVM runs in
its own session, so ``stop`` can signal the whole process group.

Environment: ``KAFKA_LOCAL_STATE_DIR`` (default state dir), ``JAVA_HOME``, ``MVN`` (maven binary),
``KAFKA_LOCAL_HEAP_OPTS`` (replaces the default heap flags of mm2/run-class), ``KAFKA_LOCAL_JVM_OPTS``
(extra JVM flags for every JVM started here), ``KAFKA_LOCAL_CDS=0`` (no class-data-sharing archive).

Fast start: the first broker started for a given classpath + JDK records an AppCDS archive when it
exits (``-XX:ArchiveClassesAtExit``; ``stop`` moves it into ``.local/kafka/cds/``); every later JVM
started here maps it (``-XX:SharedArchiveFile``).  A stale or foreign archive is ignored by the JVM.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

SCRIPT_DIR = Path(__file__).resolve().parent
REPO = SCRIPT_DIR.parent.parent
POM = SCRIPT_DIR / "pom.xml"
CLASSPATH_DIR = REPO / ".local" / "kafka"  # shared by every state dir: the jars are the same
CDS_DIR = CLASSPATH_DIR / "cds"
# Class-data-sharing archives only speed up class loading (broker start ~4.6 s -> ~2.8 s here); the JIT
# is untouched.  Their JVM log lines would otherwise land on stdout (and in tools' output).
CDS_QUIET = "-Xlog:cds*=off"

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STARTED_MARKER = b"Kafka Server started"
BIND_FAILURE_MARKERS = (b"Address already in use", b"BindException")

BROKER_HEAP = ["-Xms256m", "-Xmx768m"]
MM2_HEAP = ["-Xms256m", "-Xmx1g"]
TOOL_HEAP = ["-Xmx512m"]
# Kafka's own KAFKA_JVM_PERFORMANCE_OPTS (bin/kafka-run-class.sh): normal JIT, G1 with short pauses.
JVM_PERF_OPTS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]

DEFAULT_START_TIMEOUT = 90.0
STOP_GRACE_SECONDS = 15.0
KILL_WAIT_SECONDS = 10.0

State = dict[str, Any]

_LOG_PATTERN = "[%d] %p %m (%c)%n"

BROKER_LOG4J2 = f"""\
# Written by deploy/local/kafka-local: broker log, INFO, size-capped, never to stdout.
status = warn
name = kafka-local-broker
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${{sys:kafka.local.log.file}}
appender.file.filePattern = ${{sys:kafka.local.log.file}}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = {_LOG_PATTERN}
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""

MM2_FILE_LOG4J2 = f"""\
# Written by deploy/local/kafka-local: MirrorMaker 2 log, INFO, to a file.
status = warn
name = kafka-local-mm2-file
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${{sys:kafka.local.log.file}}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = {_LOG_PATTERN}
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
"""

MM2_STDOUT_LOG4J2 = f"""\
# Written by deploy/local/kafka-local: MirrorMaker 2 log, INFO, to stdout.
status = warn
name = kafka-local-mm2-stdout
appender.out.type = Console
appender.out.name = STDOUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = {_LOG_PATTERN}
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
"""

TOOLS_LOG4J2 = f"""\
# Written by deploy/local/kafka-local: command-line tools log WARN to stderr (like Kafka's tools config).
status = warn
name = kafka-local-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = {_LOG_PATTERN}
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
"""


class KafkaLocalError(Exception):
    """A failure reported to the user as one line on stderr and exit status 1."""


# --------------------------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"kafka-local: {message}", file=sys.stderr, flush=True)


def default_state_dir() -> Path:
    env = os.environ.get("KAFKA_LOCAL_STATE_DIR")
    return Path(env).resolve() if env else REPO / ".local" / "kafka"


def write_if_changed(path: Path, content: str) -> None:
    """Atomically write ``content`` unless the file already holds exactly that."""
    with contextlib.suppress(OSError):
        if path.read_text() == content:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; these are plain config/state files
        with os.fdopen(fd, "w") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    write_if_changed(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def java_binary(needed_by: str = "Kafka 4.x") -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise KafkaLocalError(
            f"no java found (set JAVA_HOME or put java on PATH); {needed_by} needs Java 17+"
        )
    return found


def extra_jvm_opts() -> list[str]:
    return shlex.split(os.environ.get("KAFKA_LOCAL_JVM_OPTS", ""))


def heap_opts(default: list[str]) -> list[str]:
    env = os.environ.get("KAFKA_LOCAL_HEAP_OPTS")
    return shlex.split(env) if env else list(default)


def java_env(classpath: str) -> dict[str, str]:
    """The environment for a JVM: the classpath goes through CLASSPATH to keep ``ps`` output short."""
    env = dict(os.environ)
    env["CLASSPATH"] = classpath
    return env


def free_port(avoid: set[int]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise KafkaLocalError("could not find a free loopback port")


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def random_cluster_id() -> str:
    """A Kafka-style random Uuid: 16 random bytes, URL-safe base64 without padding, no leading '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):
            return cluster_id


# ------------------------------------------------------------------------------------------- processes


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of ``pid`` from /proc, or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[2])


def pid_running(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) process."""
    if pid <= 0:
        return False
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid`` (Linux /proc scan)."""
    members: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return [pgid] if pid_running(pgid) else []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# -------------------------------------------------------------------------------------------- classpath


def _cached_classpath(cache_dir: Path, digest: str) -> str | None:
    try:
        if (cache_dir / "classpath.txt.pom-sha256").read_text().strip() != digest:
            return None
        classpath = (cache_dir / "classpath.txt").read_text().strip()
    except OSError:
        return None
    jars = [entry for entry in classpath.split(os.pathsep) if entry]
    if not jars or not all(Path(jar).is_file() for jar in jars):
        return None  # e.g. ~/.m2 was cleaned
    return classpath


def _run_maven(pom: Path, output: Path, offline: bool) -> subprocess.CompletedProcess[str]:
    mvn = os.environ.get("MVN") or shutil.which("mvn")
    if not mvn:
        raise KafkaLocalError("no mvn found (install Maven 3.8+ or set MVN)")
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom)]
    if offline:
        cmd.append("-o")
    cmd += ["dependency:build-classpath", f"-Dmdep.outputFile={output}"]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)


def resolve_classpath(
    refresh: bool = False, *, pom: Path = POM, cache_dir: Path = CLASSPATH_DIR, what: str = "the Kafka jars"
) -> str:
    """The classpath of ``pom``, resolved by Maven once and cached in ``cache_dir`` keyed by the pom's hash.

    Also used by ``s3_local.py`` for S3Proxy's jars."""
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if not refresh and (cached := _cached_classpath(cache_dir, digest)) is not None:
        return cached
    with file_lock(cache_dir / "classpath.lock"):
        if not refresh and (cached := _cached_classpath(cache_dir, digest)) is not None:
            return cached  # another process resolved it while we waited for the lock
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".resolve-") as tmp:
            output = Path(tmp) / "classpath.txt"
            # Offline first: a warm ~/.m2 needs no network at all; fall back to Maven Central.
            result = _run_maven(pom, output, offline=True)
            if result.returncode != 0 or not output.is_file():
                log(f"resolving {what} with Maven (first run downloads them into ~/.m2) ...")
                result = _run_maven(pom, output, offline=False)
            if result.returncode != 0 or not output.is_file():
                sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
                raise KafkaLocalError(f"mvn dependency:build-classpath failed for {pom}")
            classpath = output.read_text().strip()
        write_if_changed(cache_dir / "classpath.txt", classpath + "\n")
        write_if_changed(cache_dir / "classpath.txt.pom-sha256", digest + "\n")
        return classpath


# ------------------------------------------------------------------------------------------------- CDS


def cds_enabled() -> bool:
    return os.environ.get("KAFKA_LOCAL_CDS", "1") != "0"


def cds_archive(java: str, classpath: str) -> Path:
    """Where the AppCDS archive for this JDK + classpath lives (it is only valid for exactly those)."""
    real = Path(java).resolve()
    info = real.stat()
    key = hashlib.sha256(f"{real}|{info.st_size}|{info.st_mtime_ns}|{classpath}".encode()).hexdigest()
    return CDS_DIR / f"kafka-{key[:20]}.jsa"


def cds_use_opts(java: str, classpath: str) -> list[str]:
    if not cds_enabled():
        return []
    archive = cds_archive(java, classpath)
    return [f"-XX:SharedArchiveFile={archive}", CDS_QUIET] if archive.is_file() else []


def finish_cds_dump(state: State, keep: bool) -> None:
    """After a broker that recorded an archive has exited: publish the archive (or drop a partial one)."""
    dump, archive = state.get("cds_dump"), state.get("cds_archive")
    if not isinstance(dump, str) or not isinstance(archive, str) or not Path(dump).exists():
        return
    if keep and not Path(archive).exists() and Path(dump).stat().st_size > 0:
        os.replace(dump, archive)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dump)


# --------------------------------------------------------------------------------------------- clusters


@dataclass(frozen=True)
class ClusterDir:
    state_dir: Path
    name: str

    @property
    def root(self) -> Path:
        return self.state_dir / self.name

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def jvm_out(self) -> Path:
        return self.root / "jvm.out"

    @property
    def pid_file(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def read_state(self) -> State | None:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def validate_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise KafkaLocalError(f"invalid cluster name {name!r}: use letters, digits, '.', '_', '-'")
    return name


def state_alive(state: State) -> bool:
    """The recorded broker JVM is running (and the pid was not reused by something else)."""
    pid = state.get("pid")
    if not isinstance(pid, int) or not pid_running(pid):
        return False
    args = cmdline(pid)
    if args is None:  # no /proc: trust the pid
        return True
    return str(state.get("config_file")) in args


def broker_properties(cluster: ClusterDir, port: int, controller_port: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(cluster.data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
    }
    lines = [f"# Written by deploy/local/kafka-local for cluster {cluster.name!r}."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def read_cluster_id(cluster: ClusterDir) -> str | None:
    try:
        text = (cluster.data_dir / "meta.properties").read_text()
    except OSError:
        return None
    match = re.search(r"^cluster\.id=(\S+)$", text, re.MULTILINE)
    return match.group(1) if match else None


def format_storage(cluster: ClusterDir, classpath: str, cluster_id: str, tools_log4j: Path) -> None:
    java = java_binary()
    cmd = [
        java,
        *TOOL_HEAP,
        *cds_use_opts(java, classpath),
        *extra_jvm_opts(),
        f"-Dlog4j2.configurationFile={tools_log4j}",
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        cluster_id,
        "--config",
        str(cluster.config),
    ]
    result = subprocess.run(
        cmd, env=java_env(classpath), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise KafkaLocalError(f"formatting the storage of {cluster.name!r} failed")


def tail(path: Path, lines: int = 60) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return f"(no {path})\n"
    return "\n".join(data.splitlines()[-lines:]) + "\n"


class LogScanner:
    """Incrementally scans a growing log file for byte markers."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self.carry = b""

    def scan(self, markers: Sequence[bytes]) -> set[bytes]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return set()
        self.offset += len(chunk)
        data = self.carry + chunk
        keep = max(len(marker) for marker in markers)
        self.carry = data[-keep:]
        return {marker for marker in markers if marker in data}


def _raise_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def broker_cds_opts(java: str, classpath: str, cluster: ClusterDir) -> tuple[list[str], State]:
    """JVM flags to use the CDS archive or, if there is none yet, to record one at exit."""
    if not cds_enabled():
        return [], {}
    archive = cds_archive(java, classpath)
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}", CDS_QUIET], {}
    CDS_DIR.mkdir(parents=True, exist_ok=True)
    for leftover in CDS_DIR.glob("*.tmp"):  # partial dumps of JVMs killed while exiting
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > 3600:
                leftover.unlink()
    dump = archive.with_name(f"{archive.name}.{cluster.name}-{uuid.uuid4().hex[:8]}.tmp")
    return [f"-XX:ArchiveClassesAtExit={dump}", CDS_QUIET], {
        "cds_dump": str(dump),
        "cds_archive": str(archive),
    }


def launch_broker(cluster: ClusterDir, classpath: str, cds_opts: list[str]) -> subprocess.Popen[bytes]:
    cmd = [
        java_binary(),
        *BROKER_HEAP,
        *JVM_PERF_OPTS,
        *cds_opts,
        *extra_jvm_opts(),
        f"-Dlog4j2.configurationFile={cluster.state_dir / 'log4j2-broker.properties'}",
        f"-Dkafka.local.log.file={cluster.log_file}",
        f"-Dkafka.logs.dir={cluster.root}",
        "kafka.Kafka",
        str(cluster.config),
    ]
    with cluster.jvm_out.open("ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=cluster.root,
            env=java_env(classpath),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session + process group: stop signals the whole group
        )


def wait_ready(
    proc: subprocess.Popen[bytes], cluster: ClusterDir, port: int, deadline: float, log_offset: int
) -> str:
    """'ready', 'bind' (a port was taken), 'died' or 'timeout'; reads the log from ``log_offset`` on."""
    scanner = LogScanner(cluster.log_file, log_offset)
    started = False
    while True:
        found = scanner.scan([STARTED_MARKER, *BIND_FAILURE_MARKERS])
        if any(marker in found for marker in BIND_FAILURE_MARKERS):
            return "bind"
        started = started or STARTED_MARKER in found
        if started and port_accepts(port):
            return "ready"
        if proc.poll() is not None:
            return "died"
        if time.monotonic() >= deadline:
            return "timeout"
        time.sleep(0.1)


def kill_now(proc: subprocess.Popen[bytes]) -> None:
    signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_WAIT_SECONDS)


def _reset_cluster_dir(cluster: ClusterDir, keep_data: bool) -> None:
    if not keep_data:
        shutil.rmtree(cluster.data_dir, ignore_errors=True)
    for stale in [cluster.pid_file, cluster.state_file, cluster.jvm_out, *cluster.root.glob("server.log*")]:
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _launch_and_wait(
    cluster: ClusterDir, classpath: str, broker_port: int, deadline: float
) -> tuple[str, subprocess.Popen[bytes], State]:
    """Start the broker JVM and wait for it; on any outcome but 'ready' the JVM is already gone."""
    cds_opts, cds_state = broker_cds_opts(java_binary(), classpath, cluster)
    proc: subprocess.Popen[bytes] | None = None
    log_offset = cluster.log_file.stat().st_size if cluster.log_file.exists() else 0  # earlier attempts
    previous_handler = signal.signal(signal.SIGTERM, _raise_sigterm)  # clean up when we are killed
    try:
        proc = launch_broker(cluster, classpath, cds_opts)
        outcome = wait_ready(proc, cluster, broker_port, deadline, log_offset)
    except BaseException:
        if proc is not None:
            kill_now(proc)
        finish_cds_dump(cds_state, keep=False)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if outcome != "ready":
        kill_now(proc)
        finish_cds_dump(cds_state, keep=False)
    return outcome, proc, cds_state


def start_cluster(state_dir: Path, name: str, port: int | None, timeout: float, keep_data: bool) -> State:
    cluster = ClusterDir(state_dir, validate_name(name))
    cluster.root.mkdir(parents=True, exist_ok=True)
    with file_lock(cluster.lock_file):
        previous = cluster.read_state()
        if previous is not None and state_alive(previous):
            if port is not None and previous.get("port") != port:
                raise KafkaLocalError(
                    f"cluster {name!r} is already running on port {previous.get('port')}, not {port}"
                )
            log(f"cluster {name!r} is already running (pid {previous.get('pid')})")
            return previous
        _reset_cluster_dir(cluster, keep_data)
        classpath = resolve_classpath()
        write_if_changed(state_dir / "log4j2-broker.properties", BROKER_LOG4J2)
        write_if_changed(state_dir / "log4j2-tools.properties", TOOLS_LOG4J2)

        cluster_id = read_cluster_id(cluster) if keep_data else None
        attempts = 1 if port is not None else 3  # a port picked by us may be grabbed before the JVM binds
        began = time.monotonic()
        for attempt in range(1, attempts + 1):
            broker_port = port if port is not None else free_port(set())
            controller_port = free_port({broker_port})
            write_if_changed(cluster.config, broker_properties(cluster, broker_port, controller_port))
            if cluster_id is None:
                cluster_id = random_cluster_id()
                format_storage(cluster, classpath, cluster_id, state_dir / "log4j2-tools.properties")
            outcome, proc, cds_state = _launch_and_wait(cluster, classpath, broker_port, began + timeout)
            if outcome == "ready":
                state: State = {
                    "name": name,
                    "bootstrap_servers": f"127.0.0.1:{broker_port}",
                    "port": broker_port,
                    "controller_port": controller_port,
                    "pid": proc.pid,
                    "pgid": os.getpgid(proc.pid),
                    "cluster_id": cluster_id,
                    "log_file": str(cluster.log_file),
                    "jvm_out": str(cluster.jvm_out),
                    "data_dir": str(cluster.data_dir),
                    "config_file": str(cluster.config),
                    "state_dir": str(state_dir),
                    "started_at": time.time(),
                    "startup_seconds": round(time.monotonic() - began, 3),
                    **cds_state,
                }
                write_if_changed(cluster.pid_file, f"{proc.pid}\n")
                write_json(cluster.state_file, state)
                return state
            if outcome == "bind" and attempt < attempts:
                log(f"{name}: a chosen port was taken, retrying with new ports")
                continue
            sys.stderr.write(f"---- tail of {cluster.log_file}\n{tail(cluster.log_file)}")
            sys.stderr.write(f"---- tail of {cluster.jvm_out}\n{tail(cluster.jvm_out, 30)}")
            reason = {"bind": "a port is already in use", "died": "the JVM exited", "timeout": "timed out"}
            raise KafkaLocalError(f"cluster {name!r} did not start: {reason[outcome]}")
    raise AssertionError("unreachable")


def cluster_names(state_dir: Path) -> list[str]:
    if not state_dir.is_dir():
        return []
    return sorted(
        entry.name
        for entry in state_dir.iterdir()
        if entry.is_dir() and NAME_RE.match(entry.name) and (entry / "state.json").is_file()
    )


def stop_clusters(state_dir: Path, names: Sequence[str], grace: float = STOP_GRACE_SECONDS) -> list[State]:
    """SIGTERM every cluster's process group, wait up to ``grace`` seconds, then SIGKILL what is left."""
    results: list[State] = []
    pending: dict[str, int] = {}
    states: dict[str, State] = {}
    for name in names:
        cluster = ClusterDir(state_dir, validate_name(name))
        state = cluster.read_state()
        states[name] = state or {}
        running = state is not None and state_alive(state)
        result: State = {"name": name, "was_running": running, "forced": False, "stopped": True}
        if running and state is not None:
            pgid = int(state.get("pgid") or state["pid"])
            pending[name] = pgid
            signal_group(pgid, signal.SIGTERM)
        results.append(result)
    by_name = {result["name"]: result for result in results}

    def wait_groups(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while pending and time.monotonic() < deadline:
            for name, pgid in list(pending.items()):
                if not group_members(pgid):
                    del pending[name]
            if pending:
                time.sleep(0.1)

    wait_groups(grace)
    for name, pgid in pending.items():
        log(f"{name}: still running after {grace:.0f}s, sending SIGKILL")
        by_name[name]["forced"] = True
        signal_group(pgid, signal.SIGKILL)
    wait_groups(KILL_WAIT_SECONDS)
    for name in pending:
        by_name[name]["stopped"] = False
    for name in names:
        if name not in pending:
            # A broker that exited on SIGTERM has written its complete class-data-sharing archive.
            finish_cds_dump(states[name], keep=by_name[name]["was_running"] and not by_name[name]["forced"])
            with contextlib.suppress(FileNotFoundError):
                ClusterDir(state_dir, name).pid_file.unlink()
    return results


def cluster_status(state_dir: Path, names: Sequence[str]) -> list[State]:
    report: list[State] = []
    for name in names:
        state = ClusterDir(state_dir, validate_name(name)).read_state()
        if state is None:
            report.append({"name": name, "alive": False})
        else:
            report.append({**state, "alive": state_alive(state)})
    return report


# ------------------------------------------------------------------------------------------ java execs


def exec_java(
    heap: list[str], log4j: Path, props: list[str], main_class: str, args: Sequence[str]
) -> NoReturn:
    classpath = resolve_classpath()
    java = java_binary()
    argv = [
        java,
        *heap_opts(heap),
        *JVM_PERF_OPTS,
        *cds_use_opts(java, classpath),
        *extra_jvm_opts(),
        f"-Dlog4j2.configurationFile={log4j}",
        *props,
        main_class,
        *args,
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(java, argv, java_env(classpath))  # noqa: S606 - replace this process with the JVM on purpose


def run_mm2(state_dir: Path, config: Path, log_file: Path | None, clusters: Sequence[str]) -> NoReturn:
    if not config.is_file():
        raise KafkaLocalError(f"no such MirrorMaker 2 config: {config}")
    props: list[str] = []
    if log_file is not None:
        log4j = state_dir / "log4j2-mm2-file.properties"
        write_if_changed(log4j, MM2_FILE_LOG4J2)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        props.append(f"-Dkafka.local.log.file={log_file.resolve()}")
    else:
        log4j = state_dir / "log4j2-mm2-stdout.properties"
        write_if_changed(log4j, MM2_STDOUT_LOG4J2)
    args = [str(config.resolve())]
    if clusters:
        args += ["--clusters", *clusters]
    exec_java(MM2_HEAP, log4j, props, "org.apache.kafka.connect.mirror.MirrorMaker", args)


def run_class(state_dir: Path, main_class: str, args: Sequence[str]) -> NoReturn:
    log4j = state_dir / "log4j2-tools.properties"
    write_if_changed(log4j, TOOLS_LOG4J2)
    exec_java(TOOL_HEAP, log4j, [], main_class, args)


# ---------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafka-local", description="Local single-node Apache Kafka 4.3.1 (KRaft) clusters."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def state_dir_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--state-dir",
            type=Path,
            default=None,
            help="state directory (default: $KAFKA_LOCAL_STATE_DIR or <repo>/.local/kafka)",
        )

    classpath = sub.add_parser("classpath", help="resolve (once, cached) and print the Kafka classpath")
    classpath.add_argument("--refresh", action="store_true", help="ignore the cache and ask Maven again")

    start = sub.add_parser("start", help="start a single-node KRaft cluster and print its state as JSON")
    start.add_argument("--name", required=True)
    start.add_argument("--port", type=int, default=None, help="PLAINTEXT port (default: a free one)")
    start.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT, help="seconds to wait")
    start.add_argument("--keep-data", action="store_true", help="reuse the existing data dir (default: wipe)")
    state_dir_option(start)

    stop = sub.add_parser("stop", help="stop a cluster (idempotent)")
    target = stop.add_mutually_exclusive_group(required=True)
    target.add_argument("--name", action="append", help="cluster to stop (repeatable)")
    target.add_argument("--all", action="store_true", help="every cluster in the state dir")
    state_dir_option(stop)

    status = sub.add_parser("status", help="JSON list of clusters and whether each is alive")
    status.add_argument("--name", default=None)
    state_dir_option(status)

    mm2 = sub.add_parser("mm2", help="exec Apache Kafka's MirrorMaker 2 in the foreground")
    mm2.add_argument("--config", type=Path, required=True, help="mm2.properties")
    mm2.add_argument("--log", type=Path, default=None, help="log file (default: stdout)")
    mm2.add_argument("--clusters", nargs="+", default=[], help="only drive these target clusters")
    state_dir_option(mm2)

    sub.add_parser(
        "run-class",
        help="exec java MAIN_CLASS ARGS... with the Kafka classpath",
        usage="kafka-local run-class CLASS [ARGS...]",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] == "run-class":
            if len(args_list) < 2 or args_list[1].startswith("-"):
                raise KafkaLocalError("usage: kafka-local run-class CLASS [ARGS...]")
            run_class(default_state_dir(), args_list[1], args_list[2:])
        args = build_parser().parse_args(args_list)
        state_dir = args.state_dir.resolve() if getattr(args, "state_dir", None) else default_state_dir()
        if args.command == "classpath":
            print(resolve_classpath(refresh=args.refresh))
        elif args.command == "start":
            state = start_cluster(state_dir, args.name, args.port, args.timeout, args.keep_data)
            print(json.dumps(state, indent=2, sort_keys=True))
        elif args.command == "stop":
            names = cluster_names(state_dir) if args.all else [validate_name(name) for name in args.name]
            results = stop_clusters(state_dir, names)
            print(json.dumps(results, indent=2, sort_keys=True))
            return 0 if all(result["stopped"] for result in results) else 1
        elif args.command == "status":
            names = [args.name] if args.name else cluster_names(state_dir)
            print(json.dumps(cluster_status(state_dir, names), indent=2, sort_keys=True))
        elif args.command == "mm2":
            run_mm2(state_dir, args.config, args.log, args.clusters)
    except KafkaLocalError as error:
        log(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
