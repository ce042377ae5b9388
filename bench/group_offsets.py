"""Reading the committed offsets of many consumer groups: one request awaited at a time vs all in flight.

The lag sampler, the checkpoint connector's group refresh, the S3 sink's group snapshot and the
failover runbook each read every selected group's offsets. The admin API takes one group per
request; this compares awaiting each request in turn (``ClusterAdmin.group_offsets`` in a loop,
what they did before) with ``ClusterAdmin.offsets_of_groups`` (every request sent, then awaited),
in the same run on one local cluster, interleaved. Not a test: numbers depend on the machine, and
a loopback round trip is far shorter than one across zones, where the gap grows.

    .venv/bin/python bench/group_offsets.py [--groups 500] [--partitions 12] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mirror.kafka import ClusterAdmin
from mirror.kafka.admin import GroupOffset, TopicSpec
from mirror.kafka.clients import retrying

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".local" / "bench-groups"
KAFKA_LOCAL = [sys.executable, str(REPO / "deploy" / "local" / "kafka-local")]
TOPIC = "orders"


def kafka_local(*args: str) -> str:
    done = subprocess.run(
        [*KAFKA_LOCAL, *args, "--state-dir", str(STATE)], check=True, capture_output=True, text=True
    )
    return done.stdout


def timed(read: Callable[[], dict[str, dict[tuple[str, int], GroupOffset]]], expected: int) -> float:
    started = time.perf_counter()
    offsets = read()
    elapsed = time.perf_counter() - started
    if sum(len(partitions) for partitions in offsets.values()) != expected:
        raise SystemExit(f"read {offsets!r:.200} instead of {expected} committed offsets")
    return elapsed


def commit(admin: ClusterAdmin, group: str, offsets: dict[tuple[str, int], GroupOffset]) -> None:
    # A fresh broker loads its group coordinators for a moment after it starts.
    retrying(lambda _seconds_left: admin.alter_group_offsets(group, offsets), f"committing {group}", 60)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    bootstrap = json.loads(kafka_local("start", "--name", "groups"))["bootstrap_servers"]
    admin: ClusterAdmin | None = None
    try:
        admin = ClusterAdmin({"bootstrap.servers": bootstrap}, "bench", 60)
        admin.create_topics([TopicSpec(TOPIC, args.partitions, 1)])
        groups = [f"group-{index:05d}" for index in range(args.groups)]
        for index, group in enumerate(groups):
            offsets = {(TOPIC, p): GroupOffset(index + p, "") for p in range(args.partitions)}
            commit(admin, group, offsets)
        expected = args.groups * args.partitions
        one_by_one: list[float] = []
        in_flight: list[float] = []
        for _ in range(args.repeat):
            one_by_one.append(timed(lambda: {g: admin.group_offsets(g) for g in groups}, expected))
            in_flight.append(timed(lambda: admin.offsets_of_groups(groups), expected))
        before, after = statistics.median(one_by_one), statistics.median(in_flight)
        print(
            f"# .venv/bin/python bench/group_offsets.py --groups {args.groups} "
            f"--partitions {args.partitions} --repeat {args.repeat}"
        )
        print(f"{'reading':<28}{'median s':>10}{'min s':>10}{'max s':>10}")
        for name, runs in (("one request at a time", one_by_one), ("all requests in flight", in_flight)):
            print(f"{name:<28}{statistics.median(runs):>10.3f}{min(runs):>10.3f}{max(runs):>10.3f}")
        print(f"speed-up (median): {before / after:.1f}x")
        return 0
    finally:
        if admin is not None:
            admin.close()
        kafka_local("stop", "--name", "groups")


if __name__ == "__main__":
    sys.exit(main())
