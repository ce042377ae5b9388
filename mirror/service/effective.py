"""What a stored connector runs with: its config completed from cluster profiles, checked, and
where its source offsets live.

A connector names its clusters by alias (``source.cluster.alias``); when it gives no
``<side>.cluster.bootstrap.servers`` of its own, the cluster profile of that alias supplies the
connection (bootstrap servers, config and secrets under ``<side>.cluster.``). Keys the connector
sets itself win. Source offsets live on the target cluster, in ``mm2-offsets.<source>.internal``
as ``mirror run`` and MM2 keep them, or in the topic the connector's ``offsets.storage.topic``
names (Connect's per-connector offsets topic).

The S3 connectors name one Kafka cluster: ``bootstrap.servers``, or the profile
``kafka.cluster.alias`` names, whose servers, config and secrets then join the config unprefixed
(client keys the connectors take only per client role go under ``consumer.``, ``producer.`` and
``admin.``). A backup keeps no source offsets (its S3 manifest is its progress); a restore keeps
them on its Kafka cluster in ``mirror-restore-offsets.internal`` (or ``offsets.storage.topic``), as
``mirror restore`` does, so either can continue what the other began.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from mirror.backup.jobs import RESTORE_CLUSTER_ALIAS, restore_offset_storage
from mirror.config.backup import DEFAULT_RESTORE_OFFSETS_TOPIC, RestoreSourceConfig, is_shared_client_key
from mirror.config.connectors import parse_integer
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.runtime.offsets import OffsetStorageSettings
from mirror.service.plugins import SERVERS_REQUIRED, Plugin, config_errors, find_plugin
from mirror.standalone import offset_storage
from mirror.store.records import ClusterProfile

Side = Literal["source", "target"]

OFFSETS_TOPIC_REPLICATION_DEFAULT = "-1"
"""The broker's default: a service has no worker file to say it, and Connect's 3 fails on small clusters."""

_NEEDS_SOURCE_CLUSTER = frozenset(
    {
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
    }
)


@dataclass(frozen=True)
class ResolvedConnector:
    """A connector ready to run: its plugin, effective config and offset storage."""

    plugin: Plugin
    config: Mapping[str, str] = field(repr=False)
    source_alias: str
    offsets: OffsetStorageSettings | None
    """None for a connector that keeps no source offsets (a sink)."""


_CLIENT_ROLES = {"sink": ("consumer", "admin"), "source": ("producer", "consumer", "admin")}
"""The Kafka clients an S3 connector of each type makes."""


def effective_config(config: Mapping[str, str], clusters: Mapping[str, ClusterProfile]) -> dict[str, str]:
    """``config`` with its connections taken from the profiles its aliases name, where it gives none."""
    plugin = find_plugin(config.get("connector.class", ""))
    if plugin is not None and plugin.connection == "kafka":
        return _one_cluster_config(config, clusters, _CLIENT_ROLES[plugin.type])
    effective = dict(config)
    for side in ("source", "target"):
        prefix = f"{side}.cluster."
        if f"{prefix}bootstrap.servers" in config:
            continue
        profile = clusters.get(config.get(f"{prefix}alias", "").strip())
        if profile is None:
            continue
        effective[f"{prefix}bootstrap.servers"] = profile.bootstrap_servers
        for key, value in {**profile.config, **profile.secrets}.items():
            effective.setdefault(f"{prefix}{key}", value)
    return effective


def _one_cluster_config(
    config: Mapping[str, str], clusters: Mapping[str, ClusterProfile], roles: tuple[str, ...]
) -> dict[str, str]:
    effective = dict(config)
    if config.get("bootstrap.servers", "").strip():
        return effective
    profile = clusters.get(config.get("kafka.cluster.alias", "").strip())
    if profile is None:
        return effective
    effective["bootstrap.servers"] = profile.bootstrap_servers
    for key, value in {**profile.config, **profile.secrets}.items():
        for name in [key] if is_shared_client_key(key) else [f"{role}.{key}" for role in roles]:
            effective.setdefault(name, value)
    return effective


def offsets_location(config: Mapping[str, str]) -> OffsetStorageSettings:
    """Where the connector of this (effective) config keeps its source offsets, on its target.

    Raises ConfigErrors naming connector keys."""
    source_alias = config.get("source.cluster.alias", "").strip()
    worker: dict[str, str] = {}
    origins: dict[str, str] = {}
    for key, value in config.items():
        if key.startswith("target.cluster."):
            worker[key.removeprefix("target.cluster.")] = value
            origins[key.removeprefix("target.cluster.")] = key
    for role in ("consumer", "admin"):
        for key, value in config.items():
            if key.startswith(f"target.{role}."):
                worker[f"{role}.{key.removeprefix(f'target.{role}.')}"] = value
    worker["offset.storage.topic"] = config.get("offsets.storage.topic", "").strip() or (
        f"mm2-offsets.{source_alias}.internal"
    )
    for key in ("offset.storage.partitions", "offset.storage.replication.factor"):
        if key in config:
            worker[key] = config[key]
    worker.setdefault("offset.storage.replication.factor", OFFSETS_TOPIC_REPLICATION_DEFAULT)
    try:
        settings = offset_storage(worker, source_alias)
    except ConfigErrors as failure:
        raise ConfigErrors(
            error.relocated(key=origins.get(error.key or "", error.key)) for error in failure.errors
        ) from None
    # The connector's admin timeout bounds its offsets topic's admin and reads too.
    admin_timeout_ms = parse_integer("admin.timeout.ms", config.get("admin.timeout.ms", "60000"))
    return replace(settings, timeout_s=admin_timeout_ms / 1000)


def resolve(
    name: str, connector_class: str, config: Mapping[str, str], clusters: Mapping[str, ClusterProfile]
) -> ResolvedConnector:
    """Check a stored connector and say what it runs with; raises ConfigErrors naming every bad key."""
    plugin = find_plugin(connector_class)
    if plugin is None:
        raise ConfigErrors(
            [ConfigError(f"no such connector plugin: {connector_class!r}", key="connector.class")]
        )
    stored = {**config, "name": name, "connector.class": connector_class}
    effective = {**effective_config(stored, clusters), "name": name, "connector.class": connector_class}
    errors = config_errors(plugin, effective)
    if plugin.connection == "kafka":
        # Said once, with where the servers could have come from.
        errors = [
            error for error in errors if (error.key, error.message) != ("bootstrap.servers", SERVERS_REQUIRED)
        ]
        errors.extend(_missing_servers(effective, "bootstrap.servers", "kafka.cluster.alias"))
    else:
        for side in ("source", "target"):
            if side == "source" and plugin.java_class not in _NEEDS_SOURCE_CLUSTER:
                continue
            errors.extend(
                _missing_servers(effective, f"{side}.cluster.bootstrap.servers", f"{side}.cluster.alias")
            )
    if errors:
        raise ConfigErrors(errors)
    if plugin.connection == "mm2":
        source_alias = effective.get("source.cluster.alias", "").strip()
        offsets: OffsetStorageSettings | None = offsets_location(effective)
    elif plugin.type == "source":
        source_alias, offsets = RESTORE_CLUSTER_ALIAS, restore_offsets_location(effective)
    else:
        source_alias, offsets = "", None
    return ResolvedConnector(plugin=plugin, config=effective, source_alias=source_alias, offsets=offsets)


def _missing_servers(config: Mapping[str, str], servers_key: str, alias_key: str) -> list[ConfigError]:
    if config.get(servers_key, "").strip():
        return []
    alias = config.get(alias_key, "").strip()
    hint = f"no cluster profile named {alias!r}" if alias else f"{alias_key} is not set"
    return [ConfigError(f"is required ({hint})", key=servers_key)]


def restore_offsets_location(config: Mapping[str, str]) -> OffsetStorageSettings:
    """Where an S3SourceConnector of this (effective, valid) config records its progress."""
    topic = config.get("offsets.storage.topic", "").strip() or DEFAULT_RESTORE_OFFSETS_TOPIC
    return restore_offset_storage(RestoreSourceConfig.parse(config), topic)
