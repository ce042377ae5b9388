"""What MM2's ``MirrorClient`` / ``RemoteClusterUtils`` answer, for one (local) cluster.

Topic-name questions are answered from the cluster's topic list with the replication policy
(``mirror.remote_topics``); ``translate_offsets`` reads the checkpoints a flow wrote. Because
mirror's checkpoints are exact, so is the answer: a group committed there resumes at the
record after the last one it processed upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mirror.kafka import ClusterAdmin, GroupOffset
from mirror.kafka.mm2_topics import latest_checkpoints
from mirror.policy import DefaultReplicationPolicy, ReplicationPolicy
from mirror.remote_topics import (
    checkpoint_topics,
    heartbeat_topics,
    remote_topics,
    replication_hops,
    upstream_clusters,
)


@dataclass(frozen=True)
class MirrorClient:
    """Questions about replication into the cluster that ``client_config`` (librdkafka keys) reaches."""

    client_config: Mapping[str, str]
    policy: ReplicationPolicy = field(default_factory=DefaultReplicationPolicy)
    timeout_s: float = 30.0

    def _topics(self) -> list[str]:
        admin = ClusterAdmin(self.client_config, "mirror-client", self.timeout_s)
        try:
            return list(admin.topic_partitions())
        finally:
            admin.close()

    def heartbeat_topics(self) -> frozenset[str]:
        return heartbeat_topics(self._topics(), self.policy)

    def checkpoint_topics(self) -> frozenset[str]:
        return checkpoint_topics(self._topics(), self.policy)

    def remote_topics(self, source: str | None = None) -> frozenset[str]:
        return remote_topics(self._topics(), self.policy, source)

    def upstream_clusters(self) -> frozenset[str]:
        return upstream_clusters(self._topics(), self.policy)

    def replication_hops(self, upstream_alias: str) -> int:
        """Fewest hops from ``upstream_alias`` to this cluster, -1 if its heartbeats never arrive."""
        return replication_hops(self._topics(), self.policy, upstream_alias)

    def translate_offsets(self, group: str, remote_alias: str) -> dict[tuple[str, int], GroupOffset]:
        """The group's latest checkpoint per (local topic, partition) from flow ``remote_alias``->here."""
        topic = self.policy.checkpoints_topic(remote_alias)
        checkpoints = latest_checkpoints(
            self.client_config, topic, "mirror-client|checkpoints-reader", self.timeout_s, missing_ok=False
        )
        return {
            (topic_name, partition): GroupOffset(
                latest.checkpoint.downstream_offset, latest.checkpoint.metadata
            )
            for (checkpoint_group, topic_name, partition), latest in checkpoints.items()
            if checkpoint_group == group
        }
