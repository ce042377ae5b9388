"""MirrorHeartbeatConnector: MM2-format heartbeats, replicated so each cluster sees its upstreams."""

from __future__ import annotations

import itertools
import time

from mirror.formats.mm2_records import Heartbeat, decode_heartbeat
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import mm2_properties, read_all, running, topic_partitions, wait_until


def heartbeats(bootstrap: str, topic: str) -> list[Heartbeat]:
    if topic not in topic_partitions(bootstrap):
        return []
    return [decode_heartbeat(r.key, r.value) for r in read_all(bootstrap, topic)]


def test_heartbeats_are_emitted_and_replicated(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {unique_name}",  # nothing else: heartbeats bypass the topic filter
        "emit.heartbeats.enabled = true",
        "emit.heartbeats.interval.seconds = 1",
        "refresh.topics.interval.seconds = 1",  # primary's heartbeats topic appears after the flow starts
    )
    started_ms = int(time.time() * 1000)
    with running(properties):
        # The enabled flow's herder beats into backup's `heartbeats`...
        own = wait_until(
            lambda: [h for h in heartbeats(backup, "heartbeats") if h.timestamp_ms >= started_ms],
            what="heartbeats of primary->backup on backup",
        )
        # ...and the heartbeat-only herder backup->primary beats into primary's, which the
        # primary->backup flow replicates as primary.heartbeats: proof that primary reaches backup.
        upstream = wait_until(
            lambda: [h for h in heartbeats(backup, "primary.heartbeats") if h.timestamp_ms >= started_ms],
            what="primary's heartbeats replicated to backup",
        )
    assert {(h.source_alias, h.target_alias) for h in own} == {("primary", "backup")}
    assert {(h.source_alias, h.target_alias) for h in upstream} == {("backup", "primary")}
    # backup->primary only beats; it replicates nothing (an earlier test may have made the topic).
    assert [h for h in heartbeats(primary, "backup.heartbeats") if h.timestamp_ms >= started_ms] == []
    beats = sorted(h.timestamp_ms for h in own)
    assert all(later - earlier >= 900 for earlier, later in itertools.pairwise(beats))  # one a second
