"""Offset syncs in MM2's format, at every break in the offset relation, so translation is exact."""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from mirror.formats.mm2_records import OffsetSync, decode_offset_sync
from mirror.translation import Exact, OffsetMap
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import (
    create_topic,
    mm2_properties,
    produce_transactions,
    read_all,
    replicated,
    running,
    wait_until,
)


def source_offsets(bootstrap: str, topic: str) -> list[int]:
    """Offsets of the committed records of partition 0 (transaction markers leave gaps)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "tests", "isolation.level": "read_committed"}
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    offsets: list[int] = []
    while batch := consumer.consume(1000, 2.0):
        offsets.extend(m.offset() for m in batch if m.error() is None)  # type: ignore[misc]
    consumer.close()
    return offsets


def syncs_for(bootstrap: str, topic: str) -> list[OffsetSync]:
    syncs = [
        decode_offset_sync(r.key, r.value) for r in read_all(bootstrap, "mm2-offset-syncs.backup.internal")
    ]
    return [sync for sync in syncs if sync.topic == topic]


def test_syncs_make_every_offset_translate_exactly(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    produce_transactions(primary, unique_name, [1, 2, 3, 4, 5, 6])  # each marker: a one-offset gap upstream
    upstream = source_offsets(primary, unique_name)
    assert len(upstream) == 21 and upstream[-1] > 21  # gaps really are there

    properties = mm2_properties(
        primary,
        backup,
        "primary->backup.enabled = true",
        f"primary->backup.topics = {unique_name}",
        "offset.lag.max = 1000",  # so the syncs we check come from breakpoints, not from distance
    )
    with running(properties):
        wait_until(replicated(backup, f"primary.{unique_name}", 21), what="replication")
        wait_until(
            lambda: any(s.upstream_offset == upstream[-1] for s in syncs_for(primary, unique_name)),
            what="tail sync",
        )

    syncs = syncs_for(primary, unique_name)  # on the source cluster: offset-syncs.topic.location=source
    assert syncs[0] == OffsetSync(unique_name, 0, 0, 0)
    offset_map = OffsetMap()
    for sync in syncs:
        offset_map.add(sync.upstream_offset, sync.downstream_offset)
    # Record i upstream went to offset i downstream; a group that committed c resumes at the
    # first replicated record at or after c.
    for committed in range(upstream[-1] + 1):
        expected = sum(1 for offset in upstream if offset < committed)
        assert offset_map.translate(committed) == Exact(expected), committed
