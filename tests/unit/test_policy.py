"""Replication policies: remote-topic naming with Java semantics, cycles, and the replicate decision."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mirror.config.errors import ConfigErrors
from mirror.filters import TopicFilter
from mirror.policy import (
    DefaultReplicationPolicy,
    IdentityReplicationPolicy,
    ReplicationPolicy,
    is_cycle,
    is_identity_policy,
    java_split,
    policy_from_config,
    should_replicate_topic,
)

DEFAULT = DefaultReplicationPolicy()


@pytest.mark.parametrize(
    ("text", "separator", "parts"),
    [
        ("a.b", ".", ["a", "b"]),
        ("a..b", ".", ["a", "", "b"]),
        ("a.", ".", ["a"]),
        ("a...", ".", ["a"]),
        (".a", ".", ["", "a"]),
        ("..", ".", []),
        ("", ".", [""]),
        ("abc", ".", ["abc"]),
        ("a__b__", "__", ["a", "b"]),
        ("abc", "", ["a", "b", "c"]),
    ],
)
def test_java_split(text: str, separator: str, parts: list[str]) -> None:
    assert java_split(text, separator) == parts


@pytest.mark.parametrize(
    ("topic", "source", "upstream"),
    [
        ("orders", None, None),
        ("A.orders", "A", "orders"),
        ("my.topic", "my", "topic"),
        ("A.", None, None),
        ("A..x", "A", ".x"),
        ("B.A.orders", "B", "A.orders"),
        (".hidden", "", "hidden"),
        ("", None, None),
    ],
)
def test_default_policy_worked_examples(topic: str, source: str | None, upstream: str | None) -> None:
    assert DEFAULT.topic_source(topic) == source
    assert DEFAULT.upstream_topic(topic) == upstream


def test_default_policy_names() -> None:
    assert DEFAULT.format_remote_topic("A", "orders") == "A.orders"
    assert DEFAULT.original_topic("B.A.orders") == "orders"
    assert DEFAULT.original_topic("orders") == "orders"
    assert DEFAULT.heartbeats_topic() == "heartbeats"
    assert DEFAULT.checkpoints_topic("A") == "A.checkpoints.internal"
    assert DEFAULT.offset_syncs_topic("B") == "mm2-offset-syncs.B.internal"


@pytest.mark.parametrize(
    ("policy", "remote", "checkpoints", "offset_syncs"),
    [
        (DefaultReplicationPolicy("."), "A.t", "A.checkpoints.internal", "mm2-offset-syncs.B.internal"),
        (DefaultReplicationPolicy("_", True), "A_t", "A_checkpoints_internal", "mm2-offset-syncs_B_internal"),
        (
            DefaultReplicationPolicy("_", False),
            "A_t",
            "A.checkpoints.internal",
            "mm2-offset-syncs.B.internal",
        ),
    ],
)
def test_separator_table(
    policy: DefaultReplicationPolicy, remote: str, checkpoints: str, offset_syncs: str
) -> None:
    assert policy.format_remote_topic("A", "t") == remote
    assert policy.checkpoints_topic("A") == checkpoints
    assert policy.offset_syncs_topic("B") == offset_syncs
    assert policy.is_checkpoints_topic(checkpoints)
    assert policy.is_mm2_internal_topic(offset_syncs)
    assert policy.heartbeats_topic() == "heartbeats"


def test_custom_separator_internal_topic_tests_follow_the_flag() -> None:
    underscore = DefaultReplicationPolicy("_", True)
    assert not underscore.is_checkpoints_topic("A.checkpoints.internal")
    assert not underscore.is_mm2_internal_topic("x.internal")
    # isInternalTopic still catches ".internal" through its own suffix checks.
    assert underscore.is_internal_topic("x.internal")
    assert underscore.is_internal_topic("A_checkpoints_internal")


@pytest.mark.parametrize(
    ("topic", "internal"),
    [
        ("__consumer_offsets", True),
        (".hidden", True),
        ("connect-configs-internal", True),
        ("mm2-offsets.A.internal", True),
        ("orders", False),
        ("A.orders", False),
        ("internal", False),
        ("_single", False),
    ],
)
def test_internal_topics(topic: str, internal: bool) -> None:
    assert DEFAULT.is_internal_topic(topic) == internal


def test_heartbeats_topics_are_recognised_through_hops() -> None:
    assert DEFAULT.is_heartbeats_topic("heartbeats")
    assert DEFAULT.is_heartbeats_topic("A.heartbeats")
    assert DEFAULT.is_heartbeats_topic("B.A.heartbeats")
    assert not DEFAULT.is_heartbeats_topic("A.myheartbeats")


class TestIdentityPolicy:
    policy = IdentityReplicationPolicy(source_alias="A")

    def test_ordinary_topics_keep_their_names(self) -> None:
        assert self.policy.format_remote_topic("A", "orders") == "orders"
        assert self.policy.topic_source("orders") == "A"
        assert self.policy.upstream_topic("orders") == "orders"
        assert self.policy.original_topic("orders") == "orders"

    def test_heartbeats_are_prefixed_and_the_test_is_a_suffix_test(self) -> None:
        assert self.policy.format_remote_topic("A", "heartbeats") == "A.heartbeats"
        assert self.policy.format_remote_topic("A", "myheartbeats") == "A.myheartbeats"
        assert self.policy.topic_source("B.heartbeats") == "B"
        assert self.policy.upstream_topic("B.heartbeats") == "heartbeats"
        assert self.policy.is_heartbeats_topic("B.heartbeats")

    def test_without_source_alias_nothing_has_a_source(self) -> None:
        assert IdentityReplicationPolicy().topic_source("orders") is None

    def test_internal_names_follow_the_default_policy(self) -> None:
        policy = IdentityReplicationPolicy("A", "_", True)
        assert policy.checkpoints_topic("A") == "A_checkpoints_internal"
        assert policy.offset_syncs_topic("B") == "mm2-offset-syncs_B_internal"
        assert policy.is_checkpoints_topic("A_checkpoints_internal")
        assert policy.format_remote_topic("A", "heartbeats") == "A_heartbeats"

    def test_no_cycle_detection(self) -> None:
        assert not is_cycle(self.policy, "orders", "B")
        # Only the heartbeats path is detectable.
        assert is_cycle(self.policy, "B.heartbeats", "B")


class TestCycles:
    def test_active_active(self) -> None:
        # Flow A->B sees topics on A; flow B->A sees topics on B.
        assert not is_cycle(DEFAULT, "orders", "B")
        assert is_cycle(DEFAULT, "A.orders", "A")  # on B, flowing back to A
        assert is_cycle(DEFAULT, "B.A.orders", "A")
        assert not is_cycle(DEFAULT, "C.orders", "A")

    def test_prefix_equal_to_target_is_skipped(self) -> None:
        assert is_cycle(DEFAULT, "B.events", "B")


class TestShouldReplicate:
    def decide(self, topic: str, *, topics: str = ".*", heartbeats: bool = True) -> bool:
        return should_replicate_topic(
            topic,
            topic_filter=TopicFilter.from_config({"topics": topics}),
            policy=DEFAULT,
            target_alias="B",
            heartbeats_replication_enabled=heartbeats,
        )

    def test_filter_internal_and_cycle(self) -> None:
        assert self.decide("orders")
        assert not self.decide("orders", topics="payments")
        assert not self.decide("__consumer_offsets")
        assert not self.decide("B.orders")

    def test_heartbeats_bypass_the_filter_but_not_the_cycle_check(self) -> None:
        assert self.decide("heartbeats", topics="payments")
        assert self.decide("C.heartbeats", topics="payments")
        assert not self.decide("heartbeats", topics="payments", heartbeats=False)
        assert not self.decide("B.heartbeats")


class TestPolicyFromConfig:
    @pytest.mark.parametrize(
        "name",
        [
            None,
            "DefaultReplicationPolicy",
            "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
            " org.apache.kafka.connect.mirror.DefaultReplicationPolicy ",
        ],
    )
    def test_default(self, name: str | None) -> None:
        config = {} if name is None else {"replication.policy.class": name}
        assert policy_from_config(config) == DefaultReplicationPolicy()

    @pytest.mark.parametrize(
        "name", ["IdentityReplicationPolicy", "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"]
    )
    def test_identity_reads_the_source_alias(self, name: str) -> None:
        policy = policy_from_config({"replication.policy.class": name, "source.cluster.alias": "A"})
        assert policy == IdentityReplicationPolicy(source_alias="A")

    def test_separator_is_used_verbatim_and_the_flag_only_with_it(self) -> None:
        assert policy_from_config({"replication.policy.separator": "_ "}) == DefaultReplicationPolicy("_ ")
        assert policy_from_config(
            {
                "replication.policy.separator": "_",
                "replication.policy.internal.topic.separator.enabled": "false",
            }
        ) == DefaultReplicationPolicy("_", False)
        assert policy_from_config(
            {"replication.policy.internal.topic.separator.enabled": "false"}
        ) == DefaultReplicationPolicy(".", True)

    def test_errors_name_their_keys(self) -> None:
        with pytest.raises(ConfigErrors) as raised:
            policy_from_config(
                {
                    "replication.policy.class": "com.example.MyPolicy",
                    "replication.policy.separator": "_",
                    "replication.policy.internal.topic.separator.enabled": "maybe",
                }
            )
        keys = [error.key for error in raised.value.errors]
        assert keys == ["replication.policy.class", "replication.policy.internal.topic.separator.enabled"]
        assert "com.example.MyPolicy" in raised.value.errors[0].message

    @pytest.mark.parametrize("policy", ["DefaultReplicationPolicy", "IdentityReplicationPolicy"])
    def test_an_empty_separator_is_refused_because_it_voids_cycle_detection(self, policy: str) -> None:
        # Java accepts it, and then DefaultReplicationPolicy says "orders" came from cluster "o".
        with pytest.raises(ConfigErrors) as raised:
            policy_from_config({"replication.policy.class": policy, "replication.policy.separator": ""})
        (error,) = raised.value.errors
        assert error.key == "replication.policy.separator"
        assert error.message.startswith("must not be empty")

    def test_identity_policy_names(self) -> None:
        assert is_identity_policy(" IdentityReplicationPolicy")
        assert is_identity_policy("org.apache.kafka.connect.mirror.IdentityReplicationPolicy")
        assert not is_identity_policy("DefaultReplicationPolicy")


def test_policies_are_immutable_and_hashable() -> None:
    with pytest.raises(AttributeError):
        DEFAULT.separator = "_"  # type: ignore[misc]
    assert hash(DefaultReplicationPolicy()) == hash(DefaultReplicationPolicy())
    assert {IdentityReplicationPolicy("A"), IdentityReplicationPolicy("A")} == {
        IdentityReplicationPolicy("A")
    }


# -- properties ---------------------------------------------------------------------------------------

_separators = st.sampled_from([".", "_", "__", "-", "::"])
_topics = st.text(st.sampled_from("ab.-_:xy"), min_size=1, max_size=12)


@st.composite
def policies(draw: st.DrawFn) -> ReplicationPolicy:
    separator = draw(_separators)
    flag = draw(st.booleans())
    if draw(st.booleans()):
        return DefaultReplicationPolicy(separator, flag)
    return IdentityReplicationPolicy(draw(st.sampled_from(["A", "B", None])), separator, flag)


def _aliases(separator: str) -> st.SearchStrategy[str]:
    # No separator characters at all: with "__", an alias ending in "_" would move the first match.
    return st.text(st.sampled_from("ABCxy._-:"), min_size=1, max_size=5).filter(
        lambda alias: not set(alias) & set(separator)
    )


@given(st.data(), _separators, _topics)
def test_upstream_of_a_formatted_topic_is_the_topic(data: st.DataObject, separator: str, topic: str) -> None:
    alias = data.draw(_aliases(separator))
    assume(any(topic.split(separator)))
    policy = DefaultReplicationPolicy(separator)
    remote = policy.format_remote_topic(alias, topic)
    assert policy.topic_source(remote) == alias
    assert policy.upstream_topic(remote) == topic


@given(policies(), _topics)
def test_original_topic_is_idempotent(policy: ReplicationPolicy, topic: str) -> None:
    original = policy.original_topic(topic)
    assert policy.original_topic(original) == original


@given(st.data(), _separators, _topics)
def test_a_topic_formatted_with_the_target_alias_is_a_cycle(
    data: st.DataObject, separator: str, topic: str
) -> None:
    target = data.draw(_aliases(separator))
    assume(any(topic.split(separator)))
    policy = DefaultReplicationPolicy(separator)
    assert is_cycle(policy, policy.format_remote_topic(target, topic), target)
    other = data.draw(_aliases(separator))
    assert is_cycle(
        policy, policy.format_remote_topic(other, policy.format_remote_topic(target, topic)), target
    )


@given(_topics)
def test_identity_leaves_non_heartbeat_topics_alone(topic: str) -> None:
    assume(not topic.endswith("heartbeats"))
    policy = IdentityReplicationPolicy("A")
    assert policy.format_remote_topic("B", topic) == topic
    assert policy.original_topic(topic) == topic
