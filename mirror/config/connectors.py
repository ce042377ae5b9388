"""Typed views of MM2 connector configurations (the maps MirrorMaker builds for each connector).

A connector config is the flat ``Map<String,String>`` that MM2 hands its connectors: keys such as
``source.cluster.alias``, ``topics``, ``source.consumer.isolation.level`` or ``producer.override.acks``.
:class:`MirrorSourceConfig` parses one with MM2's defaults and resolves the clients it needs into
librdkafka settings.

Deliberate difference from MM2: the replication consumer reads with ``isolation.level=read_committed``
unless the user set ``isolation.level`` somewhere, so aborted transactions are not copied by default.
The data producer defaults to ``enable.idempotence=true``, ``acks=all`` and ``linger.ms=20`` (MM2 inherits
Connect's ``max.in.flight.requests.per.connection=1`` instead; idempotence keeps order without it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from mirror.config.errors import ConfigError, ConfigErrors
from mirror.config.librdkafka import (
    SHARED_CONNECTION_KEYS,
    ClientSettings,
    Role,
    describe_value,
    refusal_of_property,
    to_librdkafka,
)
from mirror.filters import ConfigPropertyFilter, GroupFilter, TopicFilter, java_trim
from mirror.policy import ReplicationPolicy, policy_from_config, should_replicate_topic

KeyType = Literal["boolean", "short", "int", "long", "double", "string", "list", "class", "password"]

_JAVA_PACKAGE = "org.apache.kafka.connect.mirror."


@dataclass(frozen=True)
class KeySpec:
    """Type and default of one connector key, as its Java ConfigDef declares it."""

    type: KeyType
    default: str | None = None
    choices: frozenset[str] | None = None
    minimum: int | None = None


def _spec(
    type_: KeyType,
    default: str | None = None,
    *,
    choices: tuple[str, ...] | None = None,
    minimum: int | None = None,
) -> KeySpec:
    return KeySpec(type_, default, frozenset(choices) if choices is not None else None, minimum)


# Keys of the three MM2 connector ConfigDefs (Connect's ConnectorConfig included), plus the 3.x keys
# removed in 4.0 that files written for 3.x still carry. These are the top-level keys MM2 passes to
# every connector (MirrorMakerConfig.allConfigNames); client ssl.*/sasl.* keys are handled separately.
MIRROR_CONNECTOR_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        # Connect ConnectorConfig
        "name": _spec("string"),
        "connector.class": _spec("string"),
        "tasks.max": _spec("int", "1", minimum=1),
        "tasks.max.enforce": _spec("boolean", "true"),
        "key.converter": _spec("class"),
        "value.converter": _spec("class"),
        "header.converter": _spec("class"),
        "transforms": _spec("list", ""),
        "predicates": _spec("list", ""),
        "config.action.reload": _spec("string", "restart", choices=("none", "restart")),
        "errors.retry.timeout": _spec("long", "0"),
        "errors.retry.delay.max.ms": _spec("long", "60000"),
        "errors.tolerance": _spec("string", "none", choices=("none", "all")),
        "errors.log.enable": _spec("boolean", "false"),
        "errors.log.include.messages": _spec("boolean", "false"),
        # MirrorConnectorConfig
        "enabled": _spec("boolean", "true"),
        "source.cluster.alias": _spec("string"),
        "target.cluster.alias": _spec("string", "target"),
        "admin.timeout.ms": _spec("long", "60000", minimum=1),
        "replication.policy.class": _spec("class", _JAVA_PACKAGE + "DefaultReplicationPolicy"),
        "replication.policy.separator": _spec("string", "."),
        "replication.policy.internal.topic.separator.enabled": _spec("boolean", "true"),
        "forwarding.admin.class": _spec("class", "org.apache.kafka.clients.admin.ForwardingAdmin"),
        "metric.reporters": _spec("list", "org.apache.kafka.common.metrics.JmxReporter"),
        "security.protocol": _spec(
            "string", "PLAINTEXT", choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
        ),
        "auto.include.jmx.reporter": _spec("boolean", "true"),
        # MirrorSourceConfig
        "topics": _spec("list", ".*"),
        "topics.exclude": _spec("list"),
        "topics.blacklist": _spec("list"),
        "config.properties.exclude": _spec("list"),
        "config.properties.blacklist": _spec("list"),
        "topic.filter.class": _spec("class", _JAVA_PACKAGE + "DefaultTopicFilter"),
        "config.property.filter.class": _spec("class", _JAVA_PACKAGE + "DefaultConfigPropertyFilter"),
        "consumer.poll.timeout.ms": _spec("long", "1000", minimum=0),
        "refresh.topics.enabled": _spec("boolean", "true"),
        "refresh.topics.interval.seconds": _spec("long", "600", minimum=1),
        "sync.topic.configs.enabled": _spec("boolean", "true"),
        "sync.topic.configs.interval.seconds": _spec("long", "600", minimum=1),
        "sync.topic.acls.enabled": _spec("boolean", "true"),
        "sync.topic.acls.interval.seconds": _spec("long", "600", minimum=1),
        "replication.factor": _spec("int", "2"),
        "offset-syncs.topic.replication.factor": _spec("short", "3"),
        "offset-syncs.topic.location": _spec("string", "source", choices=("source", "target")),
        "offset.lag.max": _spec("long", "100"),
        "emit.offset-syncs.enabled": _spec("boolean", "true"),
        "heartbeats.replication.enabled": _spec("boolean", "true"),
        "use.incremental.alter.configs": _spec(
            "string", "requested", choices=("requested", "required", "never")
        ),
        "add.source.alias.to.metrics": _spec("boolean", "false"),
        # MirrorCheckpointConfig
        "groups": _spec("list", ".*"),
        "groups.exclude": _spec("list"),
        "groups.blacklist": _spec("list"),
        "group.filter.class": _spec("class", _JAVA_PACKAGE + "DefaultGroupFilter"),
        "refresh.groups.enabled": _spec("boolean", "true"),
        "refresh.groups.interval.seconds": _spec("long", "600", minimum=1),
        "emit.checkpoints.enabled": _spec("boolean", "true"),
        "emit.checkpoints.interval.seconds": _spec("long", "60", minimum=1),
        "sync.group.offsets.enabled": _spec("boolean", "false"),
        "sync.group.offsets.interval.seconds": _spec("long", "60", minimum=1),
        "checkpoints.topic.replication.factor": _spec("short", "3"),
        # MirrorHeartbeatConfig
        "emit.heartbeats.enabled": _spec("boolean", "true"),
        "emit.heartbeats.interval.seconds": _spec("long", "1", minimum=1),
        "heartbeats.topic.replication.factor": _spec("short", "3"),
    }
)

# Keys a connector accepts that MM2 does not copy from the top level: Connect's SourceConnectorConfig,
# the DefaultConfigPropertyFilter's own key, and the task-level keys MM2 writes into task configs.
CONNECTOR_ONLY_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        "exactly.once.support": _spec("string", "requested", choices=("requested", "required")),
        "transaction.boundary": _spec("string", "poll", choices=("poll", "interval", "connector")),
        "transaction.boundary.interval.ms": _spec("long"),
        "offsets.storage.topic": _spec("string"),
        "topic.creation.groups": _spec("list", ""),
        "use.defaults.from": _spec("string", "target", choices=("source", "target")),
        "task.assigned.partitions": _spec("list"),
        "task.assigned.groups": _spec("list"),
        "task.index": _spec("int"),
    }
)

ALL_CONNECTOR_KEYS: Mapping[str, KeySpec] = MappingProxyType({**MIRROR_CONNECTOR_KEYS, **CONNECTOR_ONLY_KEYS})

CLIENT_ROLES: tuple[Role, ...] = ("consumer", "producer", "admin")
CLIENT_OVERRIDE_PREFIXES = ("producer.override.", "consumer.override.", "admin.override.")

_INT_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"short": (-(2**15), 2**15 - 1), "int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
)
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")
_JAVA_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[dDfF]?")


def parse_boolean(key: str, value: str) -> bool:
    """Connect's BOOLEAN: ``true``/``false`` in any case, surrounding whitespace ignored."""
    lowered = java_trim(value).lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ConfigError(f"expected true or false, got {describe_value(key, value)}", key=key)


def parse_integer(key: str, value: str, type_: Literal["short", "int", "long"] = "long") -> int:
    """Connect's SHORT/INT/LONG: decimal digits with an optional sign, in the Java type's range."""
    trimmed = java_trim(value)
    low, high = _INT_RANGES[type_]
    if not _JAVA_INTEGER.fullmatch(trimmed) or not low <= int(trimmed) <= high:
        raise ConfigError(f"expected an integer ({type_}), got {describe_value(key, value)}", key=key)
    return int(trimmed)


def validate_connector_value(key: str, value: str) -> ConfigError | None:
    """Check a connector key's value against its ConfigDef type; unknown keys are not checked."""
    spec = ALL_CONNECTOR_KEYS.get(key)
    if spec is None:
        return None
    try:
        if spec.type == "boolean":
            parse_boolean(key, value)
        elif spec.type in ("short", "int", "long"):
            number = parse_integer(key, value, spec.type)
            if spec.minimum is not None and number < spec.minimum:
                raise ConfigError(f"must be at least {spec.minimum}, got {number}", key=key)
        elif spec.type == "double" and not _JAVA_DOUBLE.fullmatch(java_trim(value)):
            raise ConfigError(f"expected a number, got {describe_value(key, value)}", key=key)
        elif spec.choices is not None and _normalise_choice(key, value) not in spec.choices:
            choices = ", ".join(sorted(spec.choices))
            raise ConfigError(f"expected one of {choices}, got {describe_value(key, value)}", key=key)
    except ConfigError as error:
        return error
    return None


def _normalise_choice(key: str, value: str) -> str:
    trimmed = java_trim(value)
    # security.protocol and the Connect enums are case-insensitive in Java; MM2's own
    # ValidString (offset-syncs.topic.location) is not.
    if key in {"security.protocol"}:
        return trimmed.upper()
    if key in {"exactly.once.support", "transaction.boundary", "errors.tolerance", "config.action.reload"}:
        return trimmed.lower()
    return trimmed


def validate_connector_config(config: Mapping[str, str]) -> list[ConfigError]:
    """Type errors of every known key in a connector config (errors name the connector key)."""
    errors = [validate_connector_value(key, value) for key, value in config.items()]
    return [error for error in errors if error is not None]


def _value(config: Mapping[str, str], key: str) -> str:
    if key in config:
        return config[key]
    default = ALL_CONNECTOR_KEYS[key].default
    if default is None:
        raise KeyError(key)
    return default


class _Reader:
    """Reads typed values from a connector config, collecting errors instead of stopping at the first."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = config
        self.errors: list[ConfigError] = []

    def boolean(self, key: str) -> bool:
        try:
            return parse_boolean(key, _value(self.config, key))
        except ConfigError as error:
            self.errors.append(error)
            return parse_boolean(key, ALL_CONNECTOR_KEYS[key].default or "false")

    def integer(self, key: str) -> int:
        spec = ALL_CONNECTOR_KEYS[key]
        error = validate_connector_value(key, _value(self.config, key))
        if error is not None:
            self.errors.append(error)
            return int(spec.default or "0")
        return int(java_trim(_value(self.config, key)))

    def choice(self, key: str) -> str:
        value = _value(self.config, key)
        error = validate_connector_value(key, value)
        if error is not None:
            self.errors.append(error)
            return ALL_CONNECTOR_KEYS[key].default or ""
        return _normalise_choice(key, value)

    def required_string(self, key: str) -> str:
        value = self.string(key)
        if value is None:
            self.errors.append(ConfigError("is required", key=key))
            return ""
        return value

    def string(self, key: str) -> str | None:
        try:
            return java_trim(_value(self.config, key))
        except KeyError:
            return None


@dataclass(frozen=True)
class _ComposedClient:
    values: dict[str, str]
    origins: dict[str, str]


def _is_connector_key_under_prefix(key: str) -> bool:
    # consumer.poll.timeout.ms and admin.timeout.ms start with client prefixes but are connector keys;
    # Java passes them to its clients as unknown (and ignored) configs, so they must not reach ours.
    return key in ALL_CONNECTOR_KEYS or key.startswith(CLIENT_OVERRIDE_PREFIXES)


def _compose_client(
    config: Mapping[str, str], side: Literal["source", "target"], role: Role
) -> _ComposedClient:
    """``<side>.cluster.*`` connection keys < ``<role>.*`` < ``<side>.<role>.*``, as MM2 composes clients."""
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    cluster_prefix = f"{side}.cluster."
    for key, value in config.items():
        if key.startswith(cluster_prefix) and key[len(cluster_prefix) :] in SHARED_CONNECTION_KEYS:
            values[key[len(cluster_prefix) :]] = value
            origins[key[len(cluster_prefix) :]] = key
    for prefix in (f"{role}.", f"{side}.{role}."):
        for key, value in config.items():
            if key.startswith(prefix) and not _is_connector_key_under_prefix(key):
                values[key[len(prefix) :]] = value
                origins[key[len(prefix) :]] = key
    return _ComposedClient(values, origins)


def _translate(composed: _ComposedClient, role: Role, errors: list[ConfigError]) -> ClientSettings:
    try:
        return to_librdkafka(composed.values, role)
    except ConfigErrors as failure:
        for error in failure.errors:
            origin = composed.origins.get(error.key or "", error.key)
            errors.append(error.relocated(key=origin))
        return ClientSettings({})


def _idempotence_compatible(settings: ClientSettings) -> bool:
    # The Java producer (3.0+) only enables idempotence by default when nothing conflicts with it.
    values = settings.librdkafka
    acks = java_trim(values.get("acks", "all")).lower()
    in_flight = java_trim(values.get("max.in.flight.requests.per.connection", "5"))
    retries = java_trim(values.get("retries", "1"))
    return acks in {"all", "-1"} and (not in_flight.isdigit() or int(in_flight) <= 5) and retries != "0"


def _producer_defaults(settings: ClientSettings, extra: Mapping[str, str]) -> ClientSettings:
    defaults = dict(extra)
    if "enable.idempotence" not in settings.librdkafka and _idempotence_compatible(settings):
        defaults["enable.idempotence"] = "true"
    return settings.with_defaults(defaults)


def _override_client(config: Mapping[str, str], role: Role) -> _ComposedClient:
    prefix = f"{role}.override."
    values = {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
    origins = {key[len(prefix) :]: key for key in config if key.startswith(prefix)}
    return _ComposedClient(values, origins)


def _merge(first: _ComposedClient, second: _ComposedClient) -> _ComposedClient:
    return _ComposedClient({**first.values, **second.values}, {**first.origins, **second.origins})


def _target_producer(
    config: Mapping[str, str], errors: list[ConfigError], defaults: Mapping[str, str] | None = None
) -> ClientSettings:
    """``target.cluster.*`` < ``producer.*`` < ``target.producer.*`` < ``producer.override.*``, acks=all."""
    composed = _merge(_compose_client(config, "target", "producer"), _override_client(config, "producer"))
    return _producer_defaults(_translate(composed, "producer", errors), {"acks": "all", **(defaults or {})})


def _parse_plugins(
    config: Mapping[str, str], errors: list[ConfigError]
) -> tuple[TopicFilter, ConfigPropertyFilter, ReplicationPolicy]:
    # A refused client property at the top level reaches no client, but it is still refused by name,
    # like anywhere else, rather than silently kept in the stored config.
    for key in config:
        refusal = refusal_of_property(key)
        if refusal is not None:
            errors.append(ConfigError(refusal, key=key))
    topic_filter = TopicFilter.from_config({})
    config_property_filter = ConfigPropertyFilter.from_config({})
    policy: ReplicationPolicy = policy_from_config({})
    try:
        topic_filter = TopicFilter.from_config(config)
    except ConfigErrors as failure:
        errors.extend(failure.errors)
    try:
        config_property_filter = ConfigPropertyFilter.from_config(config)
    except ConfigErrors as failure:
        errors.extend(failure.errors)
    try:
        policy = policy_from_config(config)
    except ConfigErrors as failure:
        errors.extend(failure.errors)
    for key, default in (
        ("topic.filter.class", "DefaultTopicFilter"),
        ("config.property.filter.class", "DefaultConfigPropertyFilter"),
    ):
        value = java_trim(config.get(key, default))
        if value not in {default, _JAVA_PACKAGE + default}:
            errors.append(
                ConfigError(f"custom filter class {value!r} cannot be loaded; use {default}", key=key)
            )
    return topic_filter, config_property_filter, policy


def _cross_check(
    config: Mapping[str, str],
    emit_offset_syncs: bool,
    exactly_once: str,
    source_consumer: ClientSettings,
) -> list[ConfigError]:
    errors = []
    if not emit_offset_syncs and any(key.startswith(("offset-syncs.", "offset-syncs-")) for key in config):
        errors.append(
            ConfigError(
                "is false, but offset-syncs.* settings are present; remove them or enable offset syncs",
                key="emit.offset-syncs.enabled",
            )
        )
    isolation = java_trim(source_consumer.librdkafka.get("isolation.level", "")).lower()
    if exactly_once == "required" and isolation != "read_committed":
        errors.append(
            ConfigError(
                "is 'required', but the source consumer does not use isolation.level=read_committed",
                key="exactly.once.support",
            )
        )
    return errors


@dataclass(frozen=True)
class MirrorSourceConfig:
    """A parsed MirrorSourceConnector configuration with MM2's defaults and resolved clients."""

    name: str
    source_alias: str
    target_alias: str
    enabled: bool
    tasks_max: int
    topic_filter: TopicFilter
    config_property_filter: ConfigPropertyFilter
    use_defaults_from: Literal["source", "target"]
    policy: ReplicationPolicy
    replication_factor: int
    refresh_topics_enabled: bool
    refresh_topics_interval_s: int
    sync_topic_configs_enabled: bool
    sync_topic_configs_interval_s: int
    sync_topic_acls_enabled: bool
    sync_topic_acls_interval_s: int
    offset_syncs_topic_location: Literal["source", "target"]
    offset_syncs_topic_replication_factor: int
    offset_lag_max: int
    emit_offset_syncs_enabled: bool
    heartbeats_replication_enabled: bool
    consumer_poll_timeout_ms: int
    admin_timeout_ms: int
    exactly_once_support: Literal["requested", "required"]
    source_consumer: ClientSettings
    target_producer: ClientSettings
    source_admin: ClientSettings
    target_admin: ClientSettings
    offset_syncs_producer: ClientSettings
    raw: Mapping[str, str] = field(repr=False, compare=False)

    @property
    def offset_syncs_topic(self) -> str:
        """Named after the cluster it does *not* live on (``mm2-offset-syncs.<T>.internal`` on S)."""
        other = self.target_alias if self.offset_syncs_topic_location == "source" else self.source_alias
        return self.policy.offset_syncs_topic(other)

    def remote_topic(self, topic: str) -> str:
        return self.policy.format_remote_topic(self.source_alias, topic)

    def should_replicate_topic(self, topic: str) -> bool:
        return should_replicate_topic(
            topic,
            topic_filter=self.topic_filter,
            policy=self.policy,
            target_alias=self.target_alias,
            heartbeats_replication_enabled=self.heartbeats_replication_enabled,
        )

    @classmethod
    def parse(cls, connector_config: Mapping[str, str]) -> MirrorSourceConfig:
        """Parse a connector config; raises ConfigErrors whose keys are connector keys."""
        config = MappingProxyType(dict(connector_config))
        reader = _Reader(config)
        errors = reader.errors
        source_alias = reader.required_string("source.cluster.alias")
        target_alias = reader.string("target.cluster.alias") or ""

        topic_filter, config_property_filter, policy = _parse_plugins(config, errors)
        offset_syncs_location: Literal["source", "target"] = (
            "target" if reader.choice("offset-syncs.topic.location") == "target" else "source"
        )
        exactly_once: Literal["requested", "required"] = (
            "required" if reader.choice("exactly.once.support") == "required" else "requested"
        )
        use_defaults_from: Literal["source", "target"] = (
            "source" if reader.choice("use.defaults.from") == "source" else "target"
        )
        for key in ("use.incremental.alter.configs", "tasks.max.enforce", "add.source.alias.to.metrics"):
            error = validate_connector_value(key, config[key]) if key in config else None
            if error is not None:
                errors.append(error)

        source_consumer = _translate(_compose_client(config, "source", "consumer"), "consumer", errors)
        source_consumer = source_consumer.with_overrides({"enable.auto.commit": "false"}).with_defaults(
            {"auto.offset.reset": "earliest", "isolation.level": "read_committed"}
        )
        target_producer = _target_producer(config, errors, {"linger.ms": "20"})
        source_admin = _translate(_compose_client(config, "source", "admin"), "admin", errors)
        target_admin = _translate(_compose_client(config, "target", "admin"), "admin", errors)
        offset_syncs_producer = _producer_defaults(
            _translate(_compose_client(config, offset_syncs_location, "producer"), "producer", errors),
            {"acks": "all"},
        )

        emit_offset_syncs = reader.boolean("emit.offset-syncs.enabled")
        errors.extend(_cross_check(config, emit_offset_syncs, exactly_once, source_consumer))
        for key in ("replication.factor", "offset-syncs.topic.replication.factor"):
            factor = reader.integer(key)
            if factor == 0 or factor < -1:
                errors.append(
                    ConfigError(f"must be -1 (broker default) or at least 1, got {factor}", key=key)
                )

        parsed = cls(
            name=reader.string("name") or "MirrorSourceConnector",
            source_alias=source_alias,
            target_alias=target_alias,
            enabled=reader.boolean("enabled"),
            tasks_max=reader.integer("tasks.max"),
            topic_filter=topic_filter,
            config_property_filter=config_property_filter,
            use_defaults_from=use_defaults_from,
            policy=policy,
            replication_factor=reader.integer("replication.factor"),
            refresh_topics_enabled=reader.boolean("refresh.topics.enabled"),
            refresh_topics_interval_s=reader.integer("refresh.topics.interval.seconds"),
            sync_topic_configs_enabled=reader.boolean("sync.topic.configs.enabled"),
            sync_topic_configs_interval_s=reader.integer("sync.topic.configs.interval.seconds"),
            sync_topic_acls_enabled=reader.boolean("sync.topic.acls.enabled"),
            sync_topic_acls_interval_s=reader.integer("sync.topic.acls.interval.seconds"),
            offset_syncs_topic_location=offset_syncs_location,
            offset_syncs_topic_replication_factor=reader.integer("offset-syncs.topic.replication.factor"),
            offset_lag_max=reader.integer("offset.lag.max"),
            emit_offset_syncs_enabled=emit_offset_syncs,
            heartbeats_replication_enabled=reader.boolean("heartbeats.replication.enabled"),
            consumer_poll_timeout_ms=reader.integer("consumer.poll.timeout.ms"),
            admin_timeout_ms=reader.integer("admin.timeout.ms"),
            exactly_once_support=exactly_once,
            source_consumer=source_consumer,
            target_producer=target_producer,
            source_admin=source_admin,
            target_admin=target_admin,
            offset_syncs_producer=offset_syncs_producer,
            raw=config,
        )
        if errors:
            raise ConfigErrors(errors)
        return parsed


@dataclass(frozen=True)
class ClientReport:
    """Problems found in every client a connector config can build (errors and ignored settings)."""

    errors: tuple[ConfigError, ...]
    ignored: tuple[tuple[str, str], ...]
    """(connector key, reason) for settings accepted but without effect."""


def inspect_client_configs(config: Mapping[str, str]) -> ClientReport:
    """Translate every client the three connectors may build from ``config`` and report problems.

    Errors and ignored keys name connector keys (``source.consumer.x``, ``producer.override.y``).
    """
    errors: list[ConfigError] = []
    ignored: dict[tuple[str, str], None] = {}
    combinations: list[tuple[_ComposedClient, Role]] = [
        (_compose_client(config, side, role), role) for side in ("source", "target") for role in CLIENT_ROLES
    ]
    combinations.append((_override_client(config, "producer"), "producer"))
    for composed, role in combinations:
        settings = _translate(composed, role, errors)
        for client_key, reason in settings.ignored.items():
            ignored[(composed.origins.get(client_key, client_key), reason)] = None
    return ClientReport(tuple(dict.fromkeys(errors)), tuple(ignored))


@dataclass(frozen=True)
class MirrorHeartbeatConfig:
    """MirrorHeartbeatConnector: a heartbeat into the target's ``heartbeats`` topic every interval."""

    name: str
    source_alias: str
    target_alias: str
    emit_heartbeats_enabled: bool
    emit_heartbeats_interval_s: int
    heartbeats_topic_replication_factor: int
    policy: ReplicationPolicy
    target_producer: ClientSettings
    target_admin: ClientSettings
    admin_timeout_ms: int

    @property
    def heartbeats_topic(self) -> str:
        return self.policy.heartbeats_topic()

    @classmethod
    def parse(cls, connector_config: Mapping[str, str]) -> MirrorHeartbeatConfig:
        """Parse a connector config; raises ConfigErrors whose keys are connector keys."""
        config = MappingProxyType(dict(connector_config))
        reader = _Reader(config)
        errors = reader.errors
        source_alias = reader.required_string("source.cluster.alias")
        _topic_filter, _property_filter, policy = _parse_plugins(config, errors)
        target_producer = _target_producer(config, errors)
        target_admin = _translate(_compose_client(config, "target", "admin"), "admin", errors)
        parsed = cls(
            name=reader.string("name") or "MirrorHeartbeatConnector",
            source_alias=source_alias,
            target_alias=reader.string("target.cluster.alias") or "",
            emit_heartbeats_enabled=reader.boolean("emit.heartbeats.enabled"),
            emit_heartbeats_interval_s=reader.integer("emit.heartbeats.interval.seconds"),
            heartbeats_topic_replication_factor=reader.integer("heartbeats.topic.replication.factor"),
            policy=policy,
            target_producer=target_producer,
            target_admin=target_admin,
            admin_timeout_ms=reader.integer("admin.timeout.ms"),
        )
        if errors:
            raise ConfigErrors(errors)
        return parsed


@dataclass(frozen=True)
class MirrorCheckpointConfig:
    """MirrorCheckpointConnector: translated group offsets as checkpoints, optionally committed on T."""

    name: str
    source_alias: str
    target_alias: str
    enabled: bool
    tasks_max: int
    group_filter: GroupFilter
    topic_filter: TopicFilter
    policy: ReplicationPolicy
    emit_checkpoints_enabled: bool
    emit_checkpoints_interval_s: int
    sync_group_offsets_enabled: bool
    sync_group_offsets_interval_s: int
    refresh_groups_enabled: bool
    refresh_groups_interval_s: int
    checkpoints_topic_replication_factor: int
    offset_syncs_topic_location: Literal["source", "target"]
    consumer_poll_timeout_ms: int
    admin_timeout_ms: int
    source_admin: ClientSettings
    target_admin: ClientSettings
    target_producer: ClientSettings
    target_consumer: ClientSettings
    offset_syncs_consumer: ClientSettings

    @property
    def checkpoints_topic(self) -> str:
        return self.policy.checkpoints_topic(self.source_alias)

    @property
    def offset_syncs_topic(self) -> str:
        other = self.target_alias if self.offset_syncs_topic_location == "source" else self.source_alias
        return self.policy.offset_syncs_topic(other)

    @property
    def offset_maps_topic(self) -> str:
        """Persisted offset maps (``mirror.formats.offset_maps``) on the target; internal by MM2's rule.

        Named after both ends: the maps describe one offset-syncs topic, which is per flow.
        """
        return f"mirror-offset-maps.{self.source_alias}.{self.target_alias}.internal"

    @classmethod
    def parse(cls, connector_config: Mapping[str, str]) -> MirrorCheckpointConfig:
        """Parse a connector config; raises ConfigErrors whose keys are connector keys."""
        config = MappingProxyType(dict(connector_config))
        reader = _Reader(config)
        errors = reader.errors
        source_alias = reader.required_string("source.cluster.alias")
        topic_filter, _property_filter, policy = _parse_plugins(config, errors)
        group_filter = GroupFilter.from_config({})
        try:
            group_filter = GroupFilter.from_config(config)
        except ConfigErrors as failure:
            errors.extend(failure.errors)
        location: Literal["source", "target"] = (
            "target" if reader.choice("offset-syncs.topic.location") == "target" else "source"
        )
        consumer_defaults = {"enable.auto.commit": "false"}
        target_consumer = _translate(_compose_client(config, "target", "consumer"), "consumer", errors)
        syncs_consumer = _translate(_compose_client(config, location, "consumer"), "consumer", errors)
        parsed = cls(
            name=reader.string("name") or "MirrorCheckpointConnector",
            source_alias=source_alias,
            target_alias=reader.string("target.cluster.alias") or "",
            enabled=reader.boolean("enabled"),
            tasks_max=reader.integer("tasks.max"),
            group_filter=group_filter,
            topic_filter=topic_filter,
            policy=policy,
            emit_checkpoints_enabled=reader.boolean("emit.checkpoints.enabled"),
            emit_checkpoints_interval_s=reader.integer("emit.checkpoints.interval.seconds"),
            sync_group_offsets_enabled=reader.boolean("sync.group.offsets.enabled"),
            sync_group_offsets_interval_s=reader.integer("sync.group.offsets.interval.seconds"),
            refresh_groups_enabled=reader.boolean("refresh.groups.enabled"),
            refresh_groups_interval_s=reader.integer("refresh.groups.interval.seconds"),
            checkpoints_topic_replication_factor=reader.integer("checkpoints.topic.replication.factor"),
            offset_syncs_topic_location=location,
            consumer_poll_timeout_ms=reader.integer("consumer.poll.timeout.ms"),
            admin_timeout_ms=reader.integer("admin.timeout.ms"),
            source_admin=_translate(_compose_client(config, "source", "admin"), "admin", errors),
            target_admin=_translate(_compose_client(config, "target", "admin"), "admin", errors),
            target_producer=_target_producer(config, errors),
            target_consumer=target_consumer.with_overrides(consumer_defaults),
            offset_syncs_consumer=syncs_consumer.with_overrides(consumer_defaults),
        )
        if errors:
            raise ConfigErrors(errors)
        return parsed
