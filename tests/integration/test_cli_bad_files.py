"""Broken mm2.properties files through the real CLI: exit 2 and a message naming file, line and key.

No Kafka is needed: every file here is refused, or runs nothing, before any client connects.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MIRROR = str(Path(sys.executable).with_name("mirror"))
EXIT_BAD_CONFIG = 2
CLUSTERS = b"clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = 127.0.0.1:1\n"


def mirror(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIRROR, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ["run", "/dev/zero"],
        ["lag", "--config", "/dev/zero"],
        ["failover", "--config", "/dev/zero", "--from", "A", "--to", "B"],
        ["failback", "--config", "/dev/zero", "--from", "A", "--to", "B"],
    ],
)
def test_an_endless_file_is_refused_without_reading_it_all(command: list[str]) -> None:
    result = mirror(*command)
    assert result.returncode == EXIT_BAD_CONFIG, result.stderr
    assert "/dev/zero: is larger than 10 MiB, or endless: not an mm2.properties file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_latin1_file_is_read_as_mm2_reads_it_so_errors_name_the_key_as_written(tmp_path: Path) -> None:
    path = tmp_path / "mm2.properties"
    path.write_bytes(CLUSTERS + b"A->B.enabled = true\nA->B.t\xf3pics = orders\n")
    result = mirror("run", str(path))
    assert result.returncode == EXIT_BAD_CONFIG, result.stderr
    assert f"{path}:5: A->B.t\u00f3pics: unknown key (did you mean topics?)" in result.stderr


def test_a_latin1_file_that_is_valid_is_accepted_with_a_warning_naming_file_line_and_key(
    tmp_path: Path,
) -> None:
    # No flow is enabled and heartbeats are off, so mirror run stops after reading the file.
    path = tmp_path / "mm2.properties"
    path.write_bytes(CLUSTERS + b"emit.heartbeats.enabled = false\nA->B.topics = caf\xe9\n")
    result = mirror("run", str(path))
    assert result.returncode == EXIT_BAD_CONFIG, result.stderr
    assert f"{path}:5: A->B.topics: not UTF-8, so the file was read as ISO-8859-1" in result.stderr
    assert "no enabled flow to run" in result.stderr
