"""MirrorClient topology helpers over topic names."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mirror.policy import DefaultReplicationPolicy, IdentityReplicationPolicy
from mirror.remote_topics import (
    checkpoint_topics,
    heartbeat_topics,
    remote_topics,
    replication_hops,
    upstream_clusters,
)

DEFAULT = DefaultReplicationPolicy()

# Cluster C downstream of A->B->C and D->C, with its own local topics and internals.
ON_C = [
    "heartbeats",
    "B.heartbeats",
    "B.A.heartbeats",
    "D.heartbeats",
    "B.orders",
    "B.A.orders",
    "D.payments",
    "local",
    "A.checkpoints.internal",
    "B.checkpoints.internal",
    "mm2-offset-syncs.C.internal",
    "__consumer_offsets",
    "B.something-internal",
]


def test_heartbeat_and_checkpoint_topics() -> None:
    assert heartbeat_topics(ON_C, DEFAULT) == {"heartbeats", "B.heartbeats", "B.A.heartbeats", "D.heartbeats"}
    assert checkpoint_topics(ON_C, DEFAULT) == {"A.checkpoints.internal", "B.checkpoints.internal"}


def test_remote_topics_exclude_internal_and_local_topics() -> None:
    assert remote_topics(ON_C, DEFAULT) == {
        "B.heartbeats",
        "B.A.heartbeats",
        "D.heartbeats",
        "B.orders",
        "B.A.orders",
        "D.payments",
    }


def test_remote_topics_from_one_source_are_direct_copies_only() -> None:
    assert remote_topics(ON_C, DEFAULT, source="B") == {
        "B.heartbeats",
        "B.A.heartbeats",
        "B.orders",
        "B.A.orders",
    }
    assert remote_topics(ON_C, DEFAULT, source="A") == set()
    assert remote_topics(ON_C, DEFAULT, source="D") == {"D.heartbeats", "D.payments"}


def test_upstream_clusters_follow_heartbeat_chains() -> None:
    assert upstream_clusters(ON_C, DEFAULT) == {"A", "B", "D"}
    assert upstream_clusters(["heartbeats", "orders"], DEFAULT) == set()


def test_replication_hops_a_to_c_is_two() -> None:
    assert replication_hops(ON_C, DEFAULT, "A") == 2
    assert replication_hops(ON_C, DEFAULT, "B") == 1
    assert replication_hops(ON_C, DEFAULT, "D") == 1
    assert replication_hops(ON_C, DEFAULT, "C") == -1
    assert replication_hops(ON_C, DEFAULT, "Z") == -1


def test_replication_hops_takes_the_shortest_path() -> None:
    topics = ["X.Y.A.heartbeats", "B.A.heartbeats", "A.heartbeats"]
    assert replication_hops(topics, DEFAULT, "A") == 1
    assert replication_hops(topics[:2], DEFAULT, "A") == 2


def test_cycles_terminate() -> None:
    # Active/active without cycle detection upstream: A.B.A.heartbeats names A twice.
    looping = ["A.B.A.B.heartbeats"]
    assert upstream_clusters(looping, DEFAULT) == {"A", "B"}
    assert replication_hops(looping, DEFAULT, "A") == 1
    assert replication_hops(looping, DEFAULT, "B") == 2
    assert replication_hops(looping, DEFAULT, "Q") == -1


def test_identity_policy_chains_stop_at_a_repeated_alias() -> None:
    identity = IdentityReplicationPolicy(source_alias="A")
    topics = ["orders", "A.heartbeats", "heartbeats"]
    # Ordinary topics are their own upstream under the identity policy: the walk must stop.
    assert remote_topics(topics, identity) == {"orders", "A.heartbeats"}
    assert remote_topics(topics, identity, source="A") == {"orders", "A.heartbeats"}
    assert upstream_clusters(topics, identity) == {"A"}
    assert replication_hops(topics, identity, "A") == 1
    assert replication_hops(topics, identity, "B") == -1


def test_custom_separator() -> None:
    policy = DefaultReplicationPolicy(separator="_")
    topics = ["B_A_heartbeats", "B_orders", "A_checkpoints_internal"]
    assert heartbeat_topics(topics, policy) == {"B_A_heartbeats"}
    assert checkpoint_topics(topics, policy) == {"A_checkpoints_internal"}
    assert replication_hops(topics, policy, "A") == 2
    assert remote_topics(topics, policy) == {"B_A_heartbeats", "B_orders"}


aliases = st.sampled_from(["A", "B", "C", "D"])


def walk(chain: list[str]) -> list[str]:
    """The aliases Java's loop guard visits: the chain up to (excluding) the first repeated alias."""
    seen: list[str] = []
    for alias in chain:
        if alias in seen:
            break
        seen.append(alias)
    return seen


@given(st.lists(st.lists(aliases, min_size=0, max_size=6), max_size=5), aliases)
def test_hops_is_the_first_position_of_the_alias_before_any_repeat(
    chains: list[list[str]], alias: str
) -> None:
    topics = [".".join([*chain, "heartbeats"]) for chain in chains]
    expected = [walk(chain).index(alias) + 1 for chain in chains if alias in walk(chain)]
    assert replication_hops(topics, DEFAULT, alias) == min(expected, default=-1)
    assert upstream_clusters(topics, DEFAULT) == {a for chain in chains for a in walk(chain)}
