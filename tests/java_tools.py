"""Run small Java programs (``tests/java/*.java``) against Apache Kafka's own client libraries.

The classpath is the one ``deploy/local/kafka-local classpath`` resolves (Apache Kafka incl.
connect-mirror-client); the programs are compiled once into ``.local/java-classes`` and recompiled
only when a source is newer than its class file.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.kafka_harness import KAFKA_LOCAL, REPO

SOURCES = REPO / "tests" / "java"
CLASSES = REPO / ".local" / "java-classes"
JAVA_TIMEOUT_SECONDS = 120.0


class JavaToolError(RuntimeError):
    pass


def _jdk_tool(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / name).is_file():
        return str(Path(java_home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise JavaToolError(f"no {name} found (set JAVA_HOME or put a JDK 17+ on PATH)")
    return found


@functools.cache
def kafka_classpath() -> str:
    result = subprocess.run(
        [sys.executable, str(KAFKA_LOCAL), "classpath"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise JavaToolError(f"kafka-local classpath failed (exit {result.returncode}):\n{result.stderr}")
    return result.stdout.strip()


def _up_to_date(sources: list[Path]) -> bool:
    for source in sources:
        compiled = CLASSES / f"{source.stem}.class"
        if not compiled.is_file() or compiled.stat().st_mtime < source.stat().st_mtime:
            return False
    return True


@functools.cache
def compiled_classes() -> Path:
    """Compile ``tests/java/*.java`` (once per session, and only if a source changed)."""
    sources = sorted(SOURCES.glob("*.java"))
    CLASSES.mkdir(parents=True, exist_ok=True)
    with open(CLASSES / ".lock", "w") as lock:  # parallel test sessions share the directory
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _up_to_date(sources):
            result = subprocess.run(
                [_jdk_tool("javac"), "-cp", kafka_classpath(), "-d", str(CLASSES), *map(str, sources)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=JAVA_TIMEOUT_SECONDS,
                check=False,
            )
            if result.returncode != 0:
                raise JavaToolError(f"javac failed (exit {result.returncode}):\n{result.stderr}")
    return CLASSES


def run_java(main_class: str, *args: str) -> str:
    """Run ``main_class`` from ``tests/java`` with Apache Kafka on the classpath; return its stdout."""
    classpath = f"{kafka_classpath()}{os.pathsep}{compiled_classes()}"
    result = subprocess.run(
        [_jdk_tool("java"), "-cp", classpath, main_class, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=JAVA_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise JavaToolError(f"{main_class} failed (exit {result.returncode}):\n{result.stderr[-6000:]}")
    return result.stdout


def translate_offsets(bootstrap: str, remote_alias: str, group: str) -> dict[tuple[str, int], int]:
    """Apache's ``RemoteClusterUtils.translateOffsets`` on ``bootstrap``: (topic, partition) -> offset."""
    translated: dict[tuple[str, int], int] = {}
    for line in run_java("TranslateOffsets", bootstrap, remote_alias, group).splitlines():
        topic, partition, offset = line.split("\t")
        translated[(topic, int(partition))] = int(offset)
    return translated
