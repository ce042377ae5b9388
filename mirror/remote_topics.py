"""MirrorClient's topology helpers: what a cluster's topic names say about the flows into it. Pure.

Java's ``MirrorClient`` answers these from ``listTopics()`` alone (heartbeat records are never
read), so they are plain functions of a topic list and a ReplicationPolicy here; the caller lists
the topics. Results are sets, as in Java, because the answer has no meaningful order.

Identity-like policies cannot tell where a chain of remote names ends (a topic is its own upstream),
so every walk up a chain stops at the first alias it has already seen, as Java does.
"""

from __future__ import annotations

from collections.abc import Iterable

from mirror.policy import ReplicationPolicy

__all__ = [
    "checkpoint_topics",
    "heartbeat_topics",
    "remote_topics",
    "replication_hops",
    "upstream_clusters",
]


def heartbeat_topics(topics: Iterable[str], policy: ReplicationPolicy) -> frozenset[str]:
    """Topics whose original name is the heartbeats topic (``heartbeats``, ``A.heartbeats``, ...)."""
    return frozenset(topic for topic in topics if policy.is_heartbeats_topic(topic))


def checkpoint_topics(topics: Iterable[str], policy: ReplicationPolicy) -> frozenset[str]:
    return frozenset(topic for topic in topics if policy.is_checkpoints_topic(topic))


def _is_remote(topic: str, policy: ReplicationPolicy) -> bool:
    return not policy.is_internal_topic(topic) and policy.topic_source(topic) is not None


def remote_topics(
    topics: Iterable[str], policy: ReplicationPolicy, source: str | None = None
) -> frozenset[str]:
    """Replicated (non-internal) topics; with ``source``, only those copied directly from that alias."""
    return frozenset(
        topic
        for topic in topics
        if _is_remote(topic, policy) and (source is None or policy.topic_source(topic) == source)
    )


def _all_sources(topic: str, policy: ReplicationPolicy) -> set[str]:
    sources: set[str] = set()
    current: str | None = topic
    while current is not None:
        source = policy.topic_source(current)
        if source is None or source in sources:
            break
        sources.add(source)
        current = policy.upstream_topic(current)
    return sources


def upstream_clusters(topics: Iterable[str], policy: ReplicationPolicy) -> frozenset[str]:
    """Every alias on the chain of any heartbeat topic: the clusters whose data can reach this one."""
    found: set[str] = set()
    for topic in heartbeat_topics(topics, policy):
        found |= _all_sources(topic, policy)
    return frozenset(found)


def _hops(topic: str, upstream_alias: str, policy: ReplicationPolicy) -> int:
    visited: set[str] = set()
    current: str | None = topic
    hops = 0
    while current is not None:
        hops += 1
        source = policy.topic_source(current)
        if source is None:
            return -1
        if source == upstream_alias:
            return hops
        if source in visited:
            return -1
        visited.add(source)
        current = policy.upstream_topic(current)
    return -1


def replication_hops(topics: Iterable[str], policy: ReplicationPolicy, upstream_alias: str) -> int:
    """Fewest hops from ``upstream_alias`` to this cluster over heartbeat topics, -1 if unreachable.

    With flows A->B->C, C holds ``B.A.heartbeats``, so A is 2 hops from C.
    """
    counts = [_hops(topic, upstream_alias, policy) for topic in heartbeat_topics(topics, policy)]
    reachable = [count for count in counts if count != -1]
    return min(reachable, default=-1)
