"""What a stored connector runs with: its config completed from cluster profiles, checked, and
where its source offsets live.

A connector names its clusters by alias (``source.cluster.alias``); when it gives no
``<side>.cluster.bootstrap.servers`` of its own, the cluster profile of that alias supplies the
connection (bootstrap servers, config and secrets under ``<side>.cluster.``). Keys the connector
sets itself win. Source offsets live on the target cluster, in ``mm2-offsets.<source>.internal``
as ``mirror run`` and MM2 keep them, or in the topic the connector's ``offsets.storage.topic``
names (Connect's per-connector offsets topic).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from mirror.config.connectors import parse_integer
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.runtime.offsets import OffsetStorageSettings
from mirror.service.plugins import Plugin, config_errors, find_plugin
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
    offsets: OffsetStorageSettings


def effective_config(config: Mapping[str, str], clusters: Mapping[str, ClusterProfile]) -> dict[str, str]:
    """``config`` with each side's connection taken from the profile its alias names, if it has none."""
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
    effective = {**effective_config(config, clusters), "name": name, "connector.class": connector_class}
    errors = config_errors(plugin, effective)
    for side in ("source", "target"):
        if side == "source" and plugin.java_class not in _NEEDS_SOURCE_CLUSTER:
            continue
        if not effective.get(f"{side}.cluster.bootstrap.servers", "").strip():
            alias = effective.get(f"{side}.cluster.alias", "").strip()
            hint = f"no cluster profile named {alias!r}" if alias else f"{side}.cluster.alias is not set"
            errors.append(ConfigError(f"is required ({hint})", key=f"{side}.cluster.bootstrap.servers"))
    if errors:
        raise ConfigErrors(errors)
    return ResolvedConnector(
        plugin=plugin,
        config=effective,
        source_alias=effective.get("source.cluster.alias", "").strip(),
        offsets=offsets_location(effective),
    )
