"""mirror.kafka.mm2_topics on a real cluster: read to the end, latest per key, empty and missing topics."""

from __future__ import annotations

import pytest

from mirror.formats.mm2_records import Checkpoint, Heartbeat, encode_key, encode_value
from mirror.kafka import KafkaClientError
from mirror.kafka.mm2_topics import LatestCheckpoint, latest_checkpoints, newest_heartbeat_ms, read_or_empty
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import Record, create_topic, produce

TIMEOUT_S = 30.0
# Topic names end in "-checkpoints" / "-heartbeats", never ".checkpoints.internal" / ".heartbeats":
# flows of other tests on the shared clusters replicate every topic the policy calls a heartbeats
# topic, whatever their filter, and would then count ours.


def _new_topic(kafka_clusters: KafkaClusters, topic: str, partitions: int = 1) -> tuple[str, dict[str, str]]:
    """Creates ``topic`` on primary; returns its bootstrap servers and the reader's settings."""
    bootstrap = kafka_clusters.primary.bootstrap_servers
    create_topic(bootstrap, topic, partitions)
    return bootstrap, {"bootstrap.servers": bootstrap}


def _record(partition: int, point: Checkpoint | Heartbeat, timestamp_ms: int) -> Record:
    return Record(partition, encode_key(point), encode_value(point), (), timestamp_ms)


def test_latest_checkpoint_per_key_is_the_last_written(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    topic = f"{unique_name}-checkpoints"
    bootstrap, settings = _new_topic(kafka_clusters, topic)
    first = Checkpoint("g1", "primary.t", 0, 10, 10, "")
    moved = Checkpoint("g1", "primary.t", 0, 20, 19, "m")
    other = Checkpoint("g2", "primary.t", 0, 5, 5, "")
    produce(
        bootstrap,
        topic,
        [
            _record(0, first, 1_000),
            _record(0, other, 2_000),
            Record(0, b"not a checkpoint key", b"junk", (), 2_500),  # skipped, as MM2 skips it
            _record(0, moved, 3_000),
        ],
    )

    latest = latest_checkpoints(settings, topic, "test-mm2-topics", TIMEOUT_S, missing_ok=False)

    assert latest == {
        ("g1", "primary.t", 0): LatestCheckpoint(moved, 3_000),
        ("g2", "primary.t", 0): LatestCheckpoint(other, 2_000),
    }


def test_newest_heartbeat_is_newest_by_emit_time_across_partitions(
    kafka_clusters: KafkaClusters, unique_name: str
) -> None:
    topic = f"{unique_name}-heartbeats"
    bootstrap, settings = _new_topic(kafka_clusters, topic, partitions=2)
    produce(
        bootstrap,
        topic,
        [
            _record(0, Heartbeat("a", "b", 5_000), 5_000),
            # Last in its partition but older: the last offset is not the newest heartbeat.
            _record(0, Heartbeat("c", "b", 4_000), 4_000),
            _record(1, Heartbeat("a", "b", 7_000), 7_000),
            _record(1, Heartbeat("c", "b", 6_000), 6_000),
        ],
    )

    assert newest_heartbeat_ms(settings, topic, "test-mm2-topics", TIMEOUT_S) == 7_000
    assert newest_heartbeat_ms(settings, topic, "test-mm2-topics", TIMEOUT_S, ("c", "b")) == 6_000
    assert newest_heartbeat_ms(settings, topic, "test-mm2-topics", TIMEOUT_S, ("x", "y")) is None


def test_empty_topic_reads_as_nothing(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    _, settings = _new_topic(kafka_clusters, unique_name)

    assert read_or_empty(settings, unique_name, "test-mm2-topics", TIMEOUT_S) == []
    assert latest_checkpoints(settings, unique_name, "test-mm2-topics", TIMEOUT_S, missing_ok=False) == {}
    assert newest_heartbeat_ms(settings, unique_name, "test-mm2-topics", TIMEOUT_S) is None


def test_missing_topic_is_empty_only_where_asked(kafka_clusters: KafkaClusters, unique_name: str) -> None:
    settings = {"bootstrap.servers": kafka_clusters.primary.bootstrap_servers}
    missing = f"{unique_name}-never-created"

    assert read_or_empty(settings, missing, "test-mm2-topics", TIMEOUT_S) == []
    assert latest_checkpoints(settings, missing, "test-mm2-topics", TIMEOUT_S, missing_ok=True) == {}
    assert newest_heartbeat_ms(settings, missing, "test-mm2-topics", TIMEOUT_S) is None
    with pytest.raises(KafkaClientError) as raised:
        latest_checkpoints(settings, missing, "test-mm2-topics", TIMEOUT_S, missing_ok=False)
    assert raised.value.code == "UNKNOWN_TOPIC"
