"""A flow A->B as the three Connect connectors MM2 would run for it.

``POST /flows`` stores one flow and these connectors in one transaction. Their configs name the
clusters by alias only; the runtime completes the connection settings from the cluster profiles
(``mirror.service.effective``), so a flow's connector configs never hold a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mirror.config.errors import ConfigError
from mirror.service.plugins import PLUGINS, Plugin, config_errors
from mirror.service.redaction import is_secret_key

_PLUGINS_BY_CLASS = {plugin.java_class: plugin for plugin in PLUGINS}
_MIRROR_PACKAGE = "org.apache.kafka.connect.mirror."

FLOW_PLUGINS: Mapping[str, Plugin] = MappingProxyType(
    {
        "source": _PLUGINS_BY_CLASS[_MIRROR_PACKAGE + "MirrorSourceConnector"],
        "checkpoint": _PLUGINS_BY_CLASS[_MIRROR_PACKAGE + "MirrorCheckpointConnector"],
        "heartbeat": _PLUGINS_BY_CLASS[_MIRROR_PACKAGE + "MirrorHeartbeatConnector"],
    }
)
"""Role suffix of each connector's name -> its plugin."""

RESERVED_KEYS = frozenset({"name", "connector.class", "source.cluster.alias", "target.cluster.alias"})
"""Set by the flow itself from its name and clusters."""

_CONNECTION_PREFIXES = ("source.cluster.", "target.cluster.")
_TASK_LEVEL_PREFIX = "task."


@dataclass(frozen=True)
class FlowConnector:
    name: str
    plugin: Plugin
    config: Mapping[str, str]

    @property
    def connector_class(self) -> str:
        return self.plugin.java_class


def default_flow_name(source_cluster: str, target_cluster: str) -> str:
    return f"{source_cluster}-{target_cluster}"


def flow_connector_name(flow: str, role: str) -> str:
    return f"{flow}-{role}"


def flow_key_errors(config: Mapping[str, str]) -> list[ConfigError]:
    """Keys a flow's config must not hold: those the flow sets itself, cluster connection settings
    and secrets (both belong in the cluster profiles) and task-level keys."""
    errors = []
    for key in config:
        if key in RESERVED_KEYS:
            errors.append(ConfigError("is set by the flow from its name and clusters", key=key))
        elif key.startswith(_CONNECTION_PREFIXES):
            errors.append(ConfigError("is a connection setting: put it in the cluster profile", key=key))
        elif is_secret_key(key):
            errors.append(ConfigError("is a secret: put it in the cluster profile", key=key))
        elif key.startswith(_TASK_LEVEL_PREFIX):
            errors.append(ConfigError("is written by connectors into task configs", key=key))
    return errors


def expand_flow(
    flow: str, source_cluster: str, target_cluster: str, config: Mapping[str, str]
) -> tuple[FlowConnector, ...]:
    """The source, checkpoint and heartbeat connectors of a flow, each carrying every flow key
    (MM2 hands all flow-level keys to all three connectors; each reads what it needs)."""
    connectors = []
    for role, plugin in FLOW_PLUGINS.items():
        name = flow_connector_name(flow, role)
        connector_config = {
            **config,
            "name": name,
            "connector.class": plugin.java_class,
            "source.cluster.alias": source_cluster,
            "target.cluster.alias": target_cluster,
        }
        connectors.append(FlowConnector(name, plugin, MappingProxyType(connector_config)))
    return tuple(connectors)


def flow_config_errors(
    flow: str, source_cluster: str, target_cluster: str, config: Mapping[str, str]
) -> list[ConfigError]:
    """Every problem of a flow's config: forbidden keys, then what each connector's plugin refuses
    (each reported once, naming the flow key)."""
    errors = flow_key_errors(config)
    if errors:
        return errors
    found: dict[ConfigError, None] = {}
    for connector in expand_flow(flow, source_cluster, target_cluster, config):
        found.update(dict.fromkeys(config_errors(connector.plugin, connector.config)))
    return list(found)
