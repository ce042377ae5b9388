"""Committed offsets of many groups at once, from a real broker: what the lag sampler, the checkpoint
connector, the S3 sink and the failover runbook read each time they run."""

from __future__ import annotations

import socket

import pytest

from mirror.kafka import ClusterAdmin
from mirror.kafka import admin as admin_module
from mirror.kafka.admin import GroupOffset
from mirror.kafka.clients import KafkaClientError
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import create_topic


def test_offsets_of_many_groups_match_what_each_group_committed(
    kafka_clusters: KafkaClusters, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_module, "_GROUPS_IN_FLIGHT", 16)  # 40 groups: three windows
    bootstrap = kafka_clusters.primary.bootstrap_servers
    create_topic(bootstrap, unique_name, partitions=2)
    admin = ClusterAdmin({"bootstrap.servers": bootstrap}, "tests", 30)
    try:
        committed = {
            f"{unique_name}-g{index}": {
                (unique_name, 0): GroupOffset(index, f"meta-{index}"),
                **({(unique_name, 1): GroupOffset(10 * index, "")} if index % 2 else {}),
            }
            for index in range(40)
        }
        for group, offsets in committed.items():
            admin.alter_group_offsets(group, offsets)
        never = f"{unique_name}-never-committed"
        asked = [*committed, next(iter(committed)), never]  # a repeat and an unknown group
        assert admin.offsets_of_groups(asked) == {**committed, never: {}}

        odd = admin.offsets_of_listed_groups(
            lambda group: group.startswith(unique_name) and int(group.rsplit("g", 1)[1]) % 2 == 1
        )
        assert odd == {group: offsets for group, offsets in committed.items() if len(offsets) == 2}
        assert admin.group_offsets(f"{unique_name}-g3") == committed[f"{unique_name}-g3"]
    finally:
        admin.close()


def test_groups_that_cannot_be_read_raise_or_are_handed_over() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    admin = ClusterAdmin({"bootstrap.servers": f"127.0.0.1:{port}"}, "nowhere", 1.5)
    try:
        with pytest.raises(KafkaClientError, match="nowhere: listing offsets of group a"):
            admin.offsets_of_groups(["a", "b"])
        failed: list[tuple[str, str]] = []
        read = admin.offsets_of_groups(
            ["a", "b"], on_error=lambda group, exc: failed.append((group, exc.code))
        )
        assert read == {}
        assert [group for group, _code in failed] == ["a", "b"]
    finally:
        admin.close()
