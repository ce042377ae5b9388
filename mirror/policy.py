"""Remote-topic naming (MM2's ReplicationPolicy) and the topic replication decision built on it.

The names produced here are on-disk and on-the-wire contracts with Java MirrorMaker 2 deployments,
so the Java behaviour is reproduced exactly, including its surprises (``String.split`` dropping
trailing empty parts, IdentityReplicationPolicy's ``endsWith("heartbeats")`` test).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from mirror.config.errors import ConfigError, ConfigErrors
from mirror.filters import TopicFilter, java_trim

REPLICATION_POLICY_CLASS_KEY = "replication.policy.class"
REPLICATION_POLICY_SEPARATOR_KEY = "replication.policy.separator"
INTERNAL_TOPIC_SEPARATOR_ENABLED_KEY = "replication.policy.internal.topic.separator.enabled"
SOURCE_CLUSTER_ALIAS_KEY = "source.cluster.alias"

DEFAULT_SEPARATOR = "."
HEARTBEATS_TOPIC = "heartbeats"

_JAVA_PACKAGE = "org.apache.kafka.connect.mirror."
_DEFAULT_POLICY_NAMES = frozenset({"DefaultReplicationPolicy", _JAVA_PACKAGE + "DefaultReplicationPolicy"})
_IDENTITY_POLICY_NAMES = frozenset({"IdentityReplicationPolicy", _JAVA_PACKAGE + "IdentityReplicationPolicy"})


EMPTY_SEPARATOR_MESSAGE = (
    "must not be empty: remote topic names could not be traced back to their source cluster, "
    "so replication cycles would go undetected"
)


def is_identity_policy(class_name: str) -> bool:
    """True if ``replication.policy.class`` names IdentityReplicationPolicy (remote topics keep names)."""
    return java_trim(class_name) in _IDENTITY_POLICY_NAMES


def java_split(text: str, separator: str) -> list[str]:
    """``text.split(Pattern.quote(separator))`` in Java: trailing empty parts dropped, leading kept.

    An empty separator matches between characters; Java (8+) then yields one part per character and
    no leading empty part.
    """
    if not text:
        return [text]
    parts = list(text) if not separator else text.split(separator)
    while parts and not parts[-1]:
        parts.pop()
    return parts


class ReplicationPolicy(ABC):
    """How remote topics are named; defaults as in ``org.apache.kafka.connect.mirror.ReplicationPolicy``."""

    @abstractmethod
    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        """Name on the target of ``topic`` replicated from ``source_alias``."""

    @abstractmethod
    def topic_source(self, topic: str) -> str | None:
        """Alias of the cluster ``topic`` was replicated from, or None if it is not a remote topic."""

    @abstractmethod
    def upstream_topic(self, topic: str) -> str | None:
        """Name of ``topic`` on the immediately upstream cluster, or None if it is not remote."""

    def original_topic(self, topic: str) -> str:
        """Name of the topic on the cluster where it was first produced (follows every hop)."""
        current = topic
        while True:
            upstream = self.upstream_topic(current)
            if upstream is None or upstream == current:
                return current
            current = upstream

    def heartbeats_topic(self) -> str:
        return HEARTBEATS_TOPIC

    def offset_syncs_topic(self, cluster_alias: str) -> str:
        return f"mm2-offset-syncs.{cluster_alias}.internal"

    def checkpoints_topic(self, cluster_alias: str) -> str:
        return f"{cluster_alias}.checkpoints.internal"

    def is_heartbeats_topic(self, topic: str) -> bool:
        return self.heartbeats_topic() == self.original_topic(topic)

    def is_checkpoints_topic(self, topic: str) -> bool:
        return topic.endswith(".checkpoints.internal")

    def is_mm2_internal_topic(self, topic: str) -> bool:
        return topic.endswith(".internal")

    def is_internal_topic(self, topic: str) -> bool:
        """Never replicated, whatever the filters say."""
        is_kafka_internal = topic.startswith(("__", "."))
        is_default_connect_topic = topic.endswith(("-internal", ".internal"))
        return self.is_mm2_internal_topic(topic) or is_kafka_internal or is_default_connect_topic


@dataclass(frozen=True)
class DefaultReplicationPolicy(ReplicationPolicy):
    """``<source><separator><topic>`` naming.

    ``internal_separator_enabled`` (KIP-690 / KAFKA-15102) decides whether the custom separator is
    also used in the checkpoints and offset-syncs topic names; false keeps the pre-3.1 "." names.
    """

    separator: str = DEFAULT_SEPARATOR
    internal_separator_enabled: bool = True

    @property
    def internal_separator(self) -> str:
        return self.separator if self.internal_separator_enabled else "."

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        return source_alias + self.separator + topic

    def topic_source(self, topic: str) -> str | None:
        parts = java_split(topic, self.separator)
        if len(parts) < 2:
            return None
        return parts[0]

    def upstream_topic(self, topic: str) -> str | None:
        source = self.topic_source(topic)
        if source is None:
            return None
        return topic[len(source) + len(self.separator) :]

    def offset_syncs_topic(self, cluster_alias: str) -> str:
        separator = self.internal_separator
        return f"mm2-offset-syncs{separator}{cluster_alias}{separator}internal"

    def checkpoints_topic(self, cluster_alias: str) -> str:
        return cluster_alias + self._checkpoints_suffix()

    def is_checkpoints_topic(self, topic: str) -> bool:
        return topic.endswith(self._checkpoints_suffix())

    def is_mm2_internal_topic(self, topic: str) -> bool:
        return topic.endswith(self.internal_separator + "internal")

    def _checkpoints_suffix(self) -> str:
        separator = self.internal_separator
        return f"{separator}checkpoints{separator}internal"


@dataclass(frozen=True)
class IdentityReplicationPolicy(ReplicationPolicy):
    """Remote topics keep their names; only heartbeats topics are prefixed, so monitoring still works.

    Any topic whose name merely *ends with* ``heartbeats`` (e.g. ``myheartbeats``) gets Default
    behaviour: that is Java's test and changing it would rename topics. There is no cycle detection
    for ordinary topics, exactly as in Java. Internal topic names follow DefaultReplicationPolicy.
    """

    source_alias: str | None = None
    separator: str = DEFAULT_SEPARATOR
    internal_separator_enabled: bool = True
    _default: DefaultReplicationPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_default", DefaultReplicationPolicy(self.separator, self.internal_separator_enabled)
        )

    def _looks_like_heartbeats(self, topic: str) -> bool:
        return topic.endswith(self.heartbeats_topic())

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        if self._looks_like_heartbeats(topic):
            return self._default.format_remote_topic(source_alias, topic)
        return topic

    def topic_source(self, topic: str) -> str | None:
        if self._looks_like_heartbeats(topic):
            return self._default.topic_source(topic)
        return self.source_alias

    def upstream_topic(self, topic: str) -> str | None:
        if self._looks_like_heartbeats(topic):
            return self._default.upstream_topic(topic)
        return topic

    def offset_syncs_topic(self, cluster_alias: str) -> str:
        return self._default.offset_syncs_topic(cluster_alias)

    def checkpoints_topic(self, cluster_alias: str) -> str:
        return self._default.checkpoints_topic(cluster_alias)

    def is_checkpoints_topic(self, topic: str) -> bool:
        return self._default.is_checkpoints_topic(topic)

    def is_mm2_internal_topic(self, topic: str) -> bool:
        return self._default.is_mm2_internal_topic(topic)


def is_cycle(policy: ReplicationPolicy, topic: str, target_alias: str) -> bool:
    """True if ``topic`` already came from ``target_alias`` at some hop (so copying it back loops)."""
    current = topic
    while True:
        source = policy.topic_source(current)
        if source is None:
            return False
        if source == target_alias:
            return True
        upstream = policy.upstream_topic(current)
        if upstream is None or upstream == current:
            # Identity-like policies cannot tell; Java gives up here too.
            return False
        current = upstream


def should_replicate_topic(
    topic: str,
    *,
    topic_filter: TopicFilter,
    policy: ReplicationPolicy,
    target_alias: str,
    heartbeats_replication_enabled: bool,
) -> bool:
    """MirrorSourceConnector.shouldReplicateTopic: heartbeats bypass the filter, never the cycle check."""
    wanted = topic_filter.accepts(topic) or (
        heartbeats_replication_enabled and policy.is_heartbeats_topic(topic)
    )
    return wanted and not policy.is_internal_topic(topic) and not is_cycle(policy, topic, target_alias)


def _parse_strict_boolean(key: str, value: str) -> bool:
    lowered = java_trim(value).lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ConfigError(f"expected true or false, got {value!r}", key=key)


def policy_from_config(cfg: Mapping[str, str]) -> ReplicationPolicy:
    """Build the policy a connector (or MirrorClient) would configure from ``cfg``.

    The separator is used verbatim (not trimmed), because Java hands the raw value to
    ``configure()``; the internal-separator flag is only consulted when a separator is given.
    Raises ConfigErrors.
    """
    errors: list[ConfigError] = []
    class_name = java_trim(cfg.get(REPLICATION_POLICY_CLASS_KEY, "DefaultReplicationPolicy"))
    if class_name not in _DEFAULT_POLICY_NAMES | _IDENTITY_POLICY_NAMES:
        errors.append(
            ConfigError(
                f"unsupported replication policy {class_name!r}: only DefaultReplicationPolicy and "
                "IdentityReplicationPolicy are available (custom Java policies cannot be loaded)",
                key=REPLICATION_POLICY_CLASS_KEY,
            )
        )
    separator = DEFAULT_SEPARATOR
    internal_separator_enabled = True
    if REPLICATION_POLICY_SEPARATOR_KEY in cfg:
        separator = cfg[REPLICATION_POLICY_SEPARATOR_KEY]
        if not separator:
            # Java accepts it, but then topic_source("orders") is "o": cycle detection is void.
            errors.append(ConfigError(EMPTY_SEPARATOR_MESSAGE, key=REPLICATION_POLICY_SEPARATOR_KEY))
        if INTERNAL_TOPIC_SEPARATOR_ENABLED_KEY in cfg:
            try:
                internal_separator_enabled = _parse_strict_boolean(
                    INTERNAL_TOPIC_SEPARATOR_ENABLED_KEY, cfg[INTERNAL_TOPIC_SEPARATOR_ENABLED_KEY]
                )
            except ConfigError as error:
                errors.append(error)
    if errors:
        raise ConfigErrors(errors)
    if class_name in _IDENTITY_POLICY_NAMES:
        return IdentityReplicationPolicy(
            separator=separator,
            internal_separator_enabled=internal_separator_enabled,
            source_alias=cfg.get(SOURCE_CLUSTER_ALIAS_KEY),
        )
    return DefaultReplicationPolicy(
        separator=separator, internal_separator_enabled=internal_separator_enabled
    )
