"""Resolution of an ``mm2.properties`` file exactly as MirrorMaker 2's dedicated mode does it.

Given the parsed properties, this builds, for every herder pair MM2 would create, the three connector
configs and the worker config with MM2's precedence (MirrorMakerConfig.connectorBaseConfig /
clusterProps / workerConfig), then validates everything at once. Each error names the file key and
line that caused it: values are tracked with the Property they came from while they are moved
between prefixes.

Differences from Java, all on the side of telling the user more:

* keys no MM2, Connect or client ConfigDef knows (typos) are errors, not silently ignored;
* keys MM2 knows but drops where they are written (a top-level ``consumer.x``) are warnings;
* keys mirror accepts but does not implement (``sync.topic.acls.enabled=true``, internal REST, config
  providers, transforms...) are warnings, so a file written for Apache MM2 runs unchanged;
* ``A->B.enabled`` and ``emit.heartbeats.enabled`` decide herder pairs with Connect's boolean parsing
  (trimmed, strict) instead of ``Boolean.parseBoolean``, so ``true `` with a trailing blank is true.
* files whose replication would loop or whose loops MM2 could not detect are refused: ``A->B`` and
  ``B->A`` both enabled with IdentityReplicationPolicy (unless one side's topics are plain names the
  other refuses), an empty ``replication.policy.separator``,
  and cluster aliases that contain the separator or are not valid REST API cluster names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from mirror.config.connectors import (
    ALL_CONNECTOR_KEYS,
    CONNECTOR_ONLY_KEYS,
    MIRROR_CONNECTOR_KEYS,
    MirrorSourceConfig,
    inspect_client_configs,
    parse_boolean,
    validate_connector_config,
)
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.config.librdkafka import (
    JAVA_COMMON_CLIENT_KEYS,
    MM2_CLIENT_CONFIG_KEYS,
    ROLES,
    SHARED_CONNECTION_KEYS,
    Role,
    is_known_client_key,
    unknown_client_key_message,
)
from mirror.config.properties import Property
from mirror.filters import GroupFilter, java_trim, parse_connect_list
from mirror.policy import DEFAULT_SEPARATOR, is_identity_policy

_CONNECTOR_CLASSES = ("MirrorSourceConnector", "MirrorCheckpointConnector", "MirrorHeartbeatConnector")
_JAVA_PACKAGE = "org.apache.kafka.connect.mirror."
_BYTE_ARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
_CLIENT_PREFIX = re.compile(r"^(?:consumer|producer|admin)")
_PLACEHOLDER = re.compile(r"\$\{[^}]*:[^}]*\}")
# The REST API's rule for cluster names: an alias prefixes remote topic names, so it holds only
# characters a topic name allows, and no "." (the default separator, which would void cycle detection).
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# A topics entry that is a plain name: topic-name characters, with any "." escaped.
_LITERAL_TOPIC = re.compile(r"(?:[A-Za-z0-9_-]|\\\.)+")

# Top-level prefixes MirrorMakerConfig.workerConfig copies into every herder's worker config.
_WORKER_TOP_LEVEL_PREFIXES = (
    "offset.storage",
    "config.storage",
    "status.storage",
    "key.converter",
    "value.converter",
    "header.converter",
    "task",
    "worker",
    "replication.policy",
)
_REPLICATION_POLICY_KEYS = frozenset(
    {
        "replication.policy.class",
        "replication.policy.separator",
        "replication.policy.internal.topic.separator.enabled",
    }
)
_INTERNAL_REST_KEYS = frozenset(
    {
        "listeners",
        "rest.advertised.host.name",
        "rest.advertised.port",
        "rest.advertised.listener",
        "access.control.allow.origin",
        "access.control.allow.methods",
        "response.http.headers.config",
        "ssl.client.auth",
    }
)
# Connect DistributedConfig / WorkerConfig / RestServerConfig keys (the common client keys among them):
# valid as ``A.<key>`` (worker config of herders targeting A).
_WORKER_KEYS = JAVA_COMMON_CLIENT_KEYS | frozenset(
    {
        "group.id",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "rebalance.timeout.ms",
        "worker.sync.timeout.ms",
        "worker.unsync.backoff.ms",
        "offset.storage.topic",
        "offset.storage.partitions",
        "offset.storage.replication.factor",
        "config.storage.topic",
        "config.storage.replication.factor",
        "status.storage.topic",
        "status.storage.partitions",
        "status.storage.replication.factor",
        "offset.flush.interval.ms",
        "offset.flush.timeout.ms",
        "key.converter",
        "value.converter",
        "header.converter",
        "task.shutdown.graceful.timeout.ms",
        "plugin.path",
        "plugin.discovery",
        "config.providers",
        "connector.client.config.override.policy",
        "topic.tracking.enable",
        "topic.tracking.allow.reset",
        "topic.creation.enable",
        "exactly.once.source.support",
        "connect.protocol",
        "scheduled.rebalance.max.delay.ms",
        "inter.worker.key.generation.algorithm",
        "inter.worker.key.size",
        "inter.worker.key.ttl.ms",
        "inter.worker.signature.algorithm",
        "inter.worker.verification.algorithms",
        "admin.listeners",
        "rest.extension.classes",
    }
    | _INTERNAL_REST_KEYS
)
_WORKER_KEY_PREFIXES = (
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "config.providers.",
    "listeners.https.",
    "admin.listeners.https.",
)

_NOT_IMPLEMENTED_NOTE = (
    "is accepted for compatibility with Apache MirrorMaker 2 but not implemented by mirror"
)


def _always(_: str) -> bool:
    return True


def _is_true(value: str) -> bool:
    return java_trim(value).lower() == "true"


def _is_not_empty(value: str) -> bool:
    return bool(parse_connect_list(value))


def _differs_from(*defaults: str) -> Callable[[str], bool]:
    return lambda value: java_trim(value) not in defaults


# Keys mirror accepts but ignores, with the condition under which setting them changes MM2's
# behaviour (and so deserves a warning). One table, so it shrinks as features land.
NOT_IMPLEMENTED: Mapping[str, Callable[[str], bool]] = MappingProxyType(
    {
        "dedicated.mode.enable.internal.rest": _is_true,
        "config.providers": _always,
        "exactly.once.source.support": _differs_from("disabled"),
        "sync.topic.acls.enabled": _is_true,
        "transforms": _is_not_empty,
        "predicates": _is_not_empty,
        "errors.tolerance": _differs_from("none"),
        "errors.log.enable": _is_true,
        "errors.retry.timeout": _differs_from("0"),
        "config.action.reload": _differs_from("restart"),
        "forwarding.admin.class": _differs_from("org.apache.kafka.clients.admin.ForwardingAdmin"),
        "metric.reporters": _differs_from("org.apache.kafka.common.metrics.JmxReporter"),
        "transaction.boundary": _differs_from("poll"),
        "key.converter": _differs_from(_BYTE_ARRAY_CONVERTER),
        "value.converter": _differs_from(_BYTE_ARRAY_CONVERTER),
        "header.converter": _differs_from(_BYTE_ARRAY_CONVERTER),
        "use.incremental.alter.configs": _differs_from("requested", "required"),
        "plugin.path": _always,
        "plugin.discovery": _always,
        "connector.client.config.override.policy": _always,
        "topic.creation.enable": _always,
        "connect.protocol": _always,
        **dict.fromkeys(_INTERNAL_REST_KEYS, _always),
    }
)
_NOT_IMPLEMENTED_PREFIXES = (
    "config.providers.",
    "transforms.",
    "predicates.",
    "topic.creation.",
    "inter.worker.",
)

_Sourced = tuple[str, Property | None]


@dataclass(frozen=True)
class FlowConfig:
    """One herder pair S->T: the configs MM2 would give its three connectors and its worker."""

    source: str
    target: str
    enabled: bool
    source_connector: Mapping[str, str]
    checkpoint_connector: Mapping[str, str]
    heartbeat_connector: Mapping[str, str]
    worker: Mapping[str, str]
    heartbeats_enabled: bool = True

    def __post_init__(self) -> None:
        for name in ("source_connector", "checkpoint_connector", "heartbeat_connector", "worker"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    def source_config(self) -> MirrorSourceConfig:
        """The typed MirrorSourceConnector config (already validated by :func:`resolve_mm2`)."""
        return MirrorSourceConfig.parse(self.source_connector)


@dataclass(frozen=True)
class MirrorMakerConfig:
    """A resolved mm2.properties: the clusters, every herder pair, and warnings for the user."""

    clusters: tuple[str, ...]
    flows: tuple[FlowConfig, ...]
    warnings: tuple[str, ...]

    def flow(self, source: str, target: str) -> FlowConfig:
        for flow in self.flows:
            if flow.source == source and flow.target == target:
                return flow
        raise KeyError(f"{source}->{target}")

    def enabled_flows(self) -> tuple[FlowConfig, ...]:
        return tuple(flow for flow in self.flows if flow.enabled)


def resolve_mm2(props: Sequence[Property], *, source: str = "mm2.properties") -> MirrorMakerConfig:
    """Resolve parsed mm2.properties; raises ConfigErrors listing every problem with its key and line."""
    return _Resolver(props, source).resolve()


def _literal_names(entries: Sequence[str]) -> set[str] | None:
    """The names a list of plain topic names matches, or None if some entry is a real regex."""
    if not all(_LITERAL_TOPIC.fullmatch(entry) for entry in entries):
        return None
    return {entry.replace("\\.", ".") for entry in entries}


def _provably_disjoint(flow: FlowConfig, reverse: FlowConfig) -> bool:
    """True if no topic is replicated both ways: one flow's topics are plain names the other refuses.

    Identity flows loop exactly on the names both accept, and a list of plain names is a finite set,
    so this is exact when either side is one; otherwise it cannot be decided here and is False.
    """
    try:
        filters = [candidate.source_config().topic_filter for candidate in (flow, reverse)]
    except ConfigErrors:
        return False  # the bad filter is reported on its own line already
    for index, topic_filter in enumerate(filters):
        names = _literal_names(topic_filter.include.entries)
        if names is not None:
            other = filters[1 - index]
            return not any(topic_filter.accepts(name) and other.accepts(name) for name in names)
    return False


def _values(sourced: Mapping[str, _Sourced]) -> dict[str, str]:
    return {key: value for key, (value, _) in sourced.items()}


def _suggest(name: str, candidates: Sequence[str]) -> str:
    matches = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {matches[0]}?)" if matches else ""


class _Resolver:
    def __init__(self, props: Sequence[Property], source: str) -> None:
        self.source = source
        self.raw: dict[str, Property] = {}
        self.errors: list[ConfigError] = []
        self.warnings: dict[str, None] = {}
        seen: dict[str, Property] = {}
        for prop in props:
            previous = seen.get(prop.key)
            if previous is not None and previous.value != prop.value:
                self.warn(prop, f"also set on line {previous.line}; this later value wins")
            seen[prop.key] = prop
            self.raw[prop.key] = prop
        self.clusters: tuple[str, ...] = ()

    # -- reporting ---------------------------------------------------------------------------------

    def error(self, prop: Property | None, message: str, key: str | None = None) -> None:
        self.errors.append(
            ConfigError(
                message,
                key=prop.key if prop is not None else key,
                line=prop.line if prop is not None else None,
                source=self.source,
            )
        )

    def warn(self, prop: Property | None, message: str, key: str | None = None) -> None:
        where = self.source if prop is None else f"{self.source}:{prop.line}"
        shown_key = prop.key if prop is not None else key
        self.warnings[f"{where}: {shown_key}: {message}" if shown_key else f"{where}: {message}"] = None

    def relocate(self, error: ConfigError, provenance: Mapping[str, _Sourced], flow: str) -> None:
        origin = provenance.get(error.key or "")
        prop = origin[1] if origin is not None else None
        if prop is not None:
            self.error(prop, error.message)
        else:
            self.error(None, error.message, key=f"{flow}.{error.key}" if error.key else flow)

    # -- entry point -------------------------------------------------------------------------------

    def resolve(self) -> MirrorMakerConfig:
        self.clusters = self.read_clusters()
        for prop in self.raw.values():
            self.classify(prop)
            if _PLACEHOLDER.search(prop.value):
                self.warn(
                    prop, "config provider placeholders ${...} are not resolved; the value is used as written"
                )
        flows = tuple(self.build_flow(source, target) for source, target in self.pairs())
        self.check_loops(flows)
        if self.errors:
            # The same key can fail in each of a flow's three connectors: report it once.
            ordered = sorted(
                dict.fromkeys(self.errors),
                key=lambda error: (error.line is not None, error.line or 0, error.key or ""),
            )
            raise ConfigErrors(ordered)
        return MirrorMakerConfig(self.clusters, flows, tuple(self.warnings))

    def read_clusters(self) -> tuple[str, ...]:
        prop = self.raw.get("clusters")
        if prop is None:
            self.error(None, "is required: list the cluster aliases, e.g. clusters = A, B", key="clusters")
            return ()
        clusters = tuple(dict.fromkeys(parse_connect_list(prop.value)))
        if not clusters:
            self.error(prop, "lists no cluster aliases")
        for alias in clusters:
            if "->" in alias:
                self.error(prop, f"cluster alias {alias!r} must not contain '->'")
            elif not _ALIAS.fullmatch(alias):
                self.error(
                    prop,
                    f"cluster alias {alias!r} must start with a letter or digit and hold only letters, "
                    "digits, '_' and '-' (it prefixes remote topic names; a '.' would void cycle detection)",
                )
        return clusters

    def pairs(self) -> list[tuple[str, str]]:
        global_heartbeats = self.lenient_boolean("emit.heartbeats.enabled", default=True)
        pairs = []
        for source in self.clusters:
            for target in self.clusters:
                if source == target:
                    continue
                flow = f"{source}->{target}."
                enabled = self.lenient_boolean(flow + "enabled", default=False)
                heartbeats = self.lenient_boolean(flow + "emit.heartbeats.enabled", default=global_heartbeats)
                if enabled or heartbeats:
                    pairs.append((source, target))
        return pairs

    def lenient_boolean(self, key: str, *, default: bool) -> bool:
        # Bad values are reported by connector validation; here they just keep the default.
        prop = self.raw.get(key)
        if prop is None:
            return default
        try:
            return parse_boolean(key, prop.value)
        except ConfigError:
            return default

    # -- MM2's config composition, with provenance ---------------------------------------------------

    def top_level(self, key: str) -> _Sourced | None:
        prop = self.raw.get(key)
        return None if prop is None else (prop.value, prop)

    def cluster_props(self, alias: str) -> dict[str, _Sourced]:
        prefix = alias + "."
        props: dict[str, _Sourced] = {
            key[len(prefix) :]: (prop.value, prop) for key, prop in self.raw.items() if key.startswith(prefix)
        }
        shared = sorted(SHARED_CONNECTION_KEYS)
        for key in shared:
            if key in props:
                for role in ROLES:
                    props.setdefault(f"{role}.{key}", props[key])
        for key in shared:
            inherited = self.top_level(key)
            if inherited is not None:
                for role in ROLES:
                    props.setdefault(f"{role}.{key}", inherited)
                props.setdefault(key, inherited)
        return props

    def with_prefix(self, prefix: str) -> dict[str, _Sourced]:
        return {key: (prop.value, prop) for key, prop in self.raw.items() if key.startswith(prefix)}

    def connector_config(self, source: str, target: str, connector_class: str) -> dict[str, _Sourced]:
        retained = MIRROR_CONNECTOR_KEYS.keys() | (MM2_CLIENT_CONFIG_KEYS - {"bootstrap.servers"})
        props: dict[str, _Sourced] = {
            key: (prop.value, prop) for key, prop in self.raw.items() if key in retained
        }
        props.update(self.with_prefix("config.providers"))
        props.update(self.with_prefix("replication.policy"))
        for side, alias in (("source", source), ("target", target)):
            for key, sourced in self.cluster_props(alias).items():
                if _CLIENT_PREFIX.match(key):
                    props[f"{side}.{key}"] = sourced
                else:
                    props[f"{side}.cluster.{key}"] = sourced
        props.setdefault("name", (connector_class, None))
        props.setdefault("connector.class", (_JAVA_PACKAGE + connector_class, None))
        props.setdefault("source.cluster.alias", (source, None))
        props.setdefault("target.cluster.alias", (target, None))
        flow_prefix = f"{source}->{target}."
        props.update(
            {
                key[len(flow_prefix) :]: (prop.value, prop)
                for key, prop in self.raw.items()
                if key.startswith(flow_prefix)
            }
        )
        props.setdefault("enabled", ("false", None))
        return props

    def worker_config(self, source: str, target: str) -> dict[str, _Sourced]:
        props = self.cluster_props(target)
        for prefix in _WORKER_TOP_LEVEL_PREFIXES:
            props.update(self.with_prefix(prefix))
        props.update(self.with_prefix("config.providers"))
        defaults = {
            "client.id": f"{source}->{target}",
            "group.id": f"{source}-mm2",
            "offset.storage.topic": f"mm2-offsets.{source}.internal",
            "status.storage.topic": f"mm2-status.{source}.internal",
            "config.storage.topic": f"mm2-configs.{source}.internal",
            "key.converter": _BYTE_ARRAY_CONVERTER,
            "value.converter": _BYTE_ARRAY_CONVERTER,
            "header.converter": _BYTE_ARRAY_CONVERTER,
        }
        for key, value in defaults.items():
            props.setdefault(key, (value, None))
        return props

    def build_flow(self, source: str, target: str) -> FlowConfig:
        name = f"{source}->{target}"
        configs = [
            self.connector_config(source, target, connector_class) for connector_class in _CONNECTOR_CLASSES
        ]
        source_connector, checkpoint_connector, heartbeat_connector = configs
        worker = self.worker_config(source, target)
        for config in configs:
            for error in validate_connector_config(_values(config)):
                self.relocate(error, config, name)
        try:
            MirrorSourceConfig.parse(_values(source_connector))
        except ConfigErrors as failure:
            for error in failure.errors:
                self.relocate(error, source_connector, name)
        try:
            GroupFilter.from_config(_values(checkpoint_connector))
        except ConfigErrors as failure:
            for error in failure.errors:
                self.relocate(error, checkpoint_connector, name)
        self.check_separator(source, target, source_connector)
        report = inspect_client_configs(_values(source_connector))
        for error in report.errors:
            self.relocate(error, source_connector, name)
        for connector_key, reason in report.ignored:
            origin = source_connector.get(connector_key)
            self.warn(origin[1] if origin else None, f"ignored: {reason}", key=f"{name}.{connector_key}")

        enabled = self.strict_boolean(source_connector["enabled"][0])
        heartbeats = self.strict_boolean(
            heartbeat_connector.get("emit.heartbeats.enabled", ("true", None))[0]
        )
        for alias in (source, target) if enabled else (target,):
            servers = self.cluster_props(alias).get("bootstrap.servers")
            if servers is None or not java_trim(servers[0]):
                if enabled:
                    self.error(
                        None,
                        f"is required: cluster {alias} is used by flow {name}",
                        key=f"{alias}.bootstrap.servers",
                    )
                elif heartbeats:
                    self.warn(
                        None,
                        f"{alias} has no bootstrap.servers, so the heartbeats of {name} cannot run "
                        f"(set {name}.emit.heartbeats.enabled=false to silence this)",
                    )
        return FlowConfig(
            source=source,
            target=target,
            enabled=enabled,
            heartbeats_enabled=heartbeats,
            source_connector=_values(source_connector),
            checkpoint_connector=_values(checkpoint_connector),
            heartbeat_connector=_values(heartbeat_connector),
            worker=_values(worker),
        )

    def check_separator(self, source: str, target: str, connector: Mapping[str, _Sourced]) -> None:
        """An alias holding the separator makes ``topic_source`` return a part of it: no cycle is seen."""
        separator, origin = connector.get("replication.policy.separator", (DEFAULT_SEPARATOR, None))
        if not separator:
            return  # reported by the policy's own validation
        for alias in (source, target):
            if separator in alias and origin is not None:
                self.error(
                    origin,
                    f"cluster alias {alias!r} contains the separator {separator!r}, so its remote topics "
                    "could not be traced back to it and replication cycles would go undetected",
                )

    def check_loops(self, flows: Sequence[FlowConfig]) -> None:
        """Refuse A->B + B->A with IdentityReplicationPolicy: MM2 runs it, copying topics round forever.

        Remote topics keep their names under that policy, so no hop can tell a topic came back; it is
        accepted only when one flow's topics are plain names the other flow refuses. With
        Default on one side and Identity on the other the names grow by one prefix per round trip, also
        forever, unless the Identity flow's topics filter refuses the other side's prefixed names; a
        filter is beyond what can be checked here, so that case is a warning.
        """
        enabled = {(flow.source, flow.target): flow for flow in flows if flow.enabled}
        for (source, target), flow in enabled.items():
            reverse = enabled.get((target, source))
            if reverse is None or (source, target) > (target, source):
                continue
            identity = [
                candidate
                for candidate in (flow, reverse)
                if is_identity_policy(candidate.source_connector.get("replication.policy.class", ""))
            ]
            if len(identity) == 2 and not _provably_disjoint(flow, reverse):
                self.error(
                    self.policy_origin(reverse) or self.policy_origin(flow),
                    f"{flow.name} and {reverse.name} are both enabled with IdentityReplicationPolicy: "
                    "every topic both accept would be copied back and forth forever, because remote "
                    "topics keep their names and no cycle can be detected. Enable one direction only, "
                    "use DefaultReplicationPolicy for both, or list each flow's topics as plain names (a dot "
                    "written \\\\. in the file) with no name in both",
                    key="replication.policy.class",
                )
            elif len(identity) == 1:
                looping = identity[0]
                other = reverse if looping is flow else flow
                prefix = other.source + other.source_connector.get(
                    "replication.policy.separator", DEFAULT_SEPARATOR
                )
                self.warn(
                    self.policy_origin(looping),
                    f"{looping.name} uses IdentityReplicationPolicy while {other.name} is enabled with "
                    f"DefaultReplicationPolicy: topics {other.name} writes as {prefix}<topic> are "
                    f"copied back by {looping.name} and round again with one more prefix each time, "
                    f"unless {looping.name}.topics excludes the names starting {prefix}",
                    key=f"{looping.name}.replication.policy.class",
                )

    def policy_origin(self, flow: FlowConfig) -> Property | None:
        return self.raw.get(f"{flow.name}.replication.policy.class") or self.raw.get(
            "replication.policy.class"
        )

    @staticmethod
    def strict_boolean(value: str) -> bool:
        try:
            return parse_boolean("enabled", value)
        except ConfigError:
            return False

    # -- key classification -------------------------------------------------------------------------

    def classify(self, prop: Property) -> None:
        key = prop.key
        if "->" in key:
            self.classify_flow_key(prop)
            return
        cluster = max(
            (alias for alias in self.clusters if key.startswith(alias + ".")), key=len, default=None
        )
        if cluster is not None:
            self.classify_cluster_key(prop, cluster, key[len(cluster) + 1 :])
            return
        self.classify_top_level_key(prop)

    def warn_if_not_implemented(self, prop: Property, name: str) -> None:
        condition = NOT_IMPLEMENTED.get(name)
        if (condition is not None and condition(prop.value)) or name.startswith(_NOT_IMPLEMENTED_PREFIXES):
            self.warn(prop, _NOT_IMPLEMENTED_NOTE + "; it has no effect")

    def check_client_key(self, prop: Property, name: str, role: Role) -> None:
        if is_known_client_key(name):
            return
        self.error(prop, unknown_client_key_message(name, role))

    def classify_flow_key(self, prop: Property) -> None:
        key = prop.key
        matches = [
            (source, target)
            for source in self.clusters
            for target in self.clusters
            if key.startswith(f"{source}->{target}.")
        ]
        if not matches:
            flow = key.split(".", 1)[0] if "." in key else key
            known = ", ".join(self.clusters) or "none"
            self.error(prop, f"flow {flow!r} names a cluster that is not in clusters ({known})")
            return
        source, target = max(matches, key=lambda pair: len(pair[0]) + len(pair[1]))
        if source == target:
            self.error(prop, f"a cluster cannot replicate to itself ({source}->{target})")
            return
        self.classify_connector_key(prop, key[len(source) + len(target) + 3 :])

    def classify_connector_key(self, prop: Property, name: str) -> None:
        if name in ALL_CONNECTOR_KEYS:
            self.warn_if_not_implemented(prop, name)
            if name in {"topics.blacklist", "groups.blacklist", "config.properties.blacklist"}:
                self.warn(prop, f"is deprecated; use {name.replace('blacklist', 'exclude')}")
        elif name in SHARED_CONNECTION_KEYS or name == "bootstrap.servers":
            self.warn(
                prop,
                f"has no effect on a flow's clients in MirrorMaker 2; set it per cluster or as "
                f"source.consumer.{name}, target.producer.{name}, ...",
            )
        elif not self.classify_client_connector_key(prop, name):
            if name.startswith(_NOT_IMPLEMENTED_PREFIXES):
                self.warn_if_not_implemented(prop, name)
            elif not name.startswith(("key.converter.", "value.converter.", "header.converter.")):
                self.error(prop, "unknown key" + _suggest(name, list(ALL_CONNECTOR_KEYS)))

    def classify_client_connector_key(self, prop: Property, name: str) -> bool:
        """Handles ``source.cluster.x``, ``source.consumer.x``, ``consumer.x``, ``producer.override.x``..."""
        for side in ("source", "target"):
            cluster_prefix = f"{side}.cluster."
            if name.startswith(cluster_prefix):
                if name[len(cluster_prefix) :] not in SHARED_CONNECTION_KEYS:
                    self.error(prop, f"unknown key: {name} is not a connection setting")
                return True
            for role in ROLES:
                if name.startswith(f"{side}.{role}."):
                    self.check_client_key(prop, name[len(side) + len(role) + 2 :], role)
                    return True
        for role in ROLES:
            override = f"{role}.override."
            if name.startswith(override):
                if role != "producer":
                    self.warn(prop, f"has no effect: MirrorSourceConnector does not use a Connect {role}")
                self.check_client_key(prop, name[len(override) :], role)
                return True
            if name.startswith(f"{role}."):
                self.check_client_key(prop, name[len(role) + 1 :], role)
                return True
        return False

    def classify_cluster_key(self, prop: Property, alias: str, name: str) -> None:
        if name in SHARED_CONNECTION_KEYS:
            return
        if name in _WORKER_KEYS or name.startswith(_WORKER_KEY_PREFIXES):
            self.warn_if_not_implemented(prop, name)
            return
        for role in ROLES:
            if name.startswith(f"{role}."):
                self.check_client_key(prop, name[len(role) + 1 :], role)
                return
        if name in ALL_CONNECTOR_KEYS:
            self.warn(
                prop,
                f"MirrorMaker 2 ignores connector settings per cluster; set {name} at the top level "
                f"or per flow ({alias}->X.{name})",
            )
            return
        if is_known_client_key(name):
            self.warn(
                prop,
                "MirrorMaker 2 shares only connection settings (bootstrap.servers, security.protocol, "
                f"ssl.*, sasl.*) between a cluster's clients; use {alias}.consumer.{name}, "
                f"{alias}.producer.{name} or {alias}.admin.{name}",
            )
            return
        candidates = sorted(_WORKER_KEYS | SHARED_CONNECTION_KEYS)
        self.error(prop, "unknown key" + _suggest(name, candidates))

    def classify_top_level_key(self, prop: Property) -> None:
        key = prop.key
        if key == "clusters" or key in SHARED_CONNECTION_KEYS or key == "bootstrap.servers":
            return
        if self.classify_known_top_level_key(prop):
            return
        if self.meaningful_elsewhere(key):
            example = self.clusters[0] if self.clusters else "A"
            flow = f"{self.clusters[0]}->{self.clusters[1]}" if len(self.clusters) > 1 else "A->B"
            self.warn(
                prop,
                f"is ignored at the top level (MirrorMaker 2 drops it); set it per cluster ({example}.{key}) "
                f"or per flow ({flow}.{key})",
            )
            return
        hint = self.missing_cluster_hint(key)
        self.error(prop, "unknown key" + (hint or _suggest(key, sorted(self.top_level_candidates()))))

    def classify_known_top_level_key(self, prop: Property) -> bool:
        """Keys MirrorMakerConfig itself reads or copies from the top level; False if none of them."""
        key = prop.key
        if key == "dedicated.mode.enable.internal.rest":
            try:
                parse_boolean(key, prop.value)
            except ConfigError as error:
                self.error(prop, error.message)
            self.warn_if_not_implemented(prop, key)
        elif key in MIRROR_CONNECTOR_KEYS:
            self.classify_connector_key(prop, key)
        elif key in _INTERNAL_REST_KEYS or key.startswith("config.providers"):
            self.warn_if_not_implemented(prop, key)
        elif key.startswith("replication.policy"):
            if key not in _REPLICATION_POLICY_KEYS:
                self.error(prop, "unknown key" + _suggest(key, sorted(_REPLICATION_POLICY_KEYS)))
        elif key.startswith(_WORKER_TOP_LEVEL_PREFIXES):
            if key in _WORKER_KEYS or key.startswith(_WORKER_KEY_PREFIXES):
                self.warn_if_not_implemented(prop, key)
            else:
                self.error(
                    prop, "unknown key" + _suggest(key, sorted(_WORKER_KEYS | MIRROR_CONNECTOR_KEYS.keys()))
                )
        else:
            return False
        return True

    @staticmethod
    def meaningful_elsewhere(key: str) -> bool:
        if key in CONNECTOR_ONLY_KEYS or key in _WORKER_KEYS or key.startswith(_WORKER_KEY_PREFIXES):
            return True
        if key.startswith(
            ("source.", "target.", "producer.override.", "consumer.override.", "admin.override.")
        ):
            return True
        for role in ROLES:
            if key.startswith(f"{role}.") and is_known_client_key(key[len(role) + 1 :]):
                return True
        return is_known_client_key(key)

    def missing_cluster_hint(self, key: str) -> str:
        if "." not in key:
            return ""
        alias, rest = key.split(".", 1)
        known_rest = (
            rest in SHARED_CONNECTION_KEYS
            or rest in _WORKER_KEYS
            or any(rest.startswith(f"{role}.") for role in ROLES)
        )
        if known_rest and alias not in self.clusters:
            return f" (is {alias!r} missing from clusters?)"
        return ""

    @staticmethod
    def top_level_candidates() -> set[str]:
        return (
            set(MIRROR_CONNECTOR_KEYS)
            | set(SHARED_CONNECTION_KEYS)
            | {"clusters", "dedicated.mode.enable.internal.rest", "config.providers"}
            | _REPLICATION_POLICY_KEYS
        )
