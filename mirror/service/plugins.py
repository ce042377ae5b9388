"""The connector plugins this service runs, under the names Kafka Connect users know them by.

MM2-on-Connect configs name classes by their Java names; operators also type the short names
(``MirrorSourceConnector``, ``MirrorSource``), as Connect accepts both. The S3 backup and restore
connectors have Java-style names of our own (``io.mirror.connect.s3.S3SinkConnector``) and short
names too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from connectors.mirror_checkpoint import MirrorCheckpointConnector
from connectors.mirror_heartbeat import MirrorHeartbeatConnector
from connectors.mirror_source import MirrorSourceConnector
from connectors.s3_sink import S3SinkConnector
from connectors.s3_source import S3SourceConnector
from mirror import __version__
from mirror.config.backup import (
    BACKUP_SINK_SECTIONS,
    RESTORE_SOURCE_SECTIONS,
    BackupSinkConfig,
    ConfigSection,
    RestoreSourceConfig,
)
from mirror.config.connectors import (
    ALL_CONNECTOR_KEYS,
    CONNECTOR_ONLY_KEYS,
    KeySpec,
    MirrorCheckpointConfig,
    MirrorHeartbeatConfig,
    MirrorSourceConfig,
    validate_connector_config,
)
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.runtime.contracts import Connector
from mirror.runtime.sink import SinkConnector
from mirror.service.redaction import HIDDEN, shown_value

PLUGIN_VERSION = "4.3.1"
"""The Apache Kafka release whose MM2 keys, defaults and formats these connectors follow."""

_MIRROR_PACKAGE = "org.apache.kafka.connect.mirror."
_S3_PACKAGE = "io.mirror.connect.s3."
S3_SINK_CLASS = _S3_PACKAGE + "S3SinkConnector"
S3_SOURCE_CLASS = _S3_PACKAGE + "S3SourceConnector"


@dataclass(frozen=True)
class ConfigKeyDefinition:
    """One key of a plugin's configuration (Connect's ConfigKeyInfo)."""

    name: str
    type: str
    """Connect's type name: BOOLEAN, SHORT, INT, LONG, DOUBLE, STRING, LIST, CLASS or PASSWORD."""
    required: bool
    default_value: str | None
    importance: str
    group: str
    order: int
    """Position within its group, from 1."""
    display_name: str
    recommended_values: tuple[str, ...]


def _definition(key: str, spec: KeySpec, group: str, order: int, required: bool) -> ConfigKeyDefinition:
    return ConfigKeyDefinition(
        name=key,
        type=spec.type.upper(),
        required=required,
        default_value=None if required else spec.default,
        importance="HIGH" if required else "MEDIUM",
        group=group,
        order=order,
        display_name=key,
        recommended_values=tuple(sorted(spec.choices)) if spec.choices is not None else (),
    )


# ---- the MM2 connectors' definitions ----------------------------------------------------------------

MIRROR_REQUIRED_KEYS = ("name", "connector.class", "source.cluster.alias")
"""Keys with no default that every MM2 connector needs (Connect's ConfigDef NO_DEFAULT_VALUE)."""

_TASK_LEVEL_KEYS = frozenset({"task.assigned.partitions", "task.assigned.groups", "task.index"})
"""Written by connectors into task configs, never by users: not part of the plugin's definition."""

# MIRROR_CONNECTOR_KEYS lists its keys section by section; each section starts at one of these.
_GROUP_STARTS: Mapping[str, str] = {
    "name": "Common",
    "enabled": "Mirror",
    "topics": "Source",
    "groups": "Checkpoint",
    "emit.heartbeats.enabled": "Heartbeat",
}
_CONNECTOR_ONLY_GROUPS: Mapping[str, str] = {
    "exactly.once.support": "Exactly Once Support",
    "transaction.boundary": "Exactly Once Support",
    "transaction.boundary.interval.ms": "Exactly Once Support",
    "offsets.storage.topic": "Exactly Once Support",
    "topic.creation.groups": "Topic Creation",
    "use.defaults.from": "Source",
}


def _group_of(key: str) -> str:
    if key in CONNECTOR_ONLY_KEYS:
        return _CONNECTOR_ONLY_GROUPS[key]
    group = "Common"
    for name in ALL_CONNECTOR_KEYS:
        group = _GROUP_STARTS.get(name, group)
        if name == key:
            return group
    raise KeyError(key)


def _mirror_definitions() -> tuple[ConfigKeyDefinition, ...]:
    orders: dict[str, int] = {}
    definitions = []
    for key, spec in ALL_CONNECTOR_KEYS.items():
        if key in _TASK_LEVEL_KEYS:
            continue
        group = _group_of(key)
        orders[group] = orders.get(group, 0) + 1
        definitions.append(_definition(key, spec, group, orders[group], key in MIRROR_REQUIRED_KEYS))
    return tuple(definitions)


# ---- the S3 connectors' definitions -------------------------------------------------------------------

S3_REQUIRED_KEYS = ("name", "connector.class", "s3.bucket.name")
"""``bootstrap.servers`` is needed too, unless ``kafka.cluster.alias`` names a cluster profile."""


def _section_definitions(sections: tuple[ConfigSection, ...]) -> tuple[ConfigKeyDefinition, ...]:
    return tuple(
        _definition(key, spec, group, order, key in S3_REQUIRED_KEYS)
        for group, keys in sections
        for order, (key, spec) in enumerate(keys.items(), start=1)
    )


ConfigParser = Callable[[Mapping[str, str]], object]
_PROFILE_SERVERS = "cluster-profile:9092"
"""Stands for a profile's servers while a config is checked before the profile is looked up."""


def _with_cluster_alias(parse: ConfigParser) -> ConfigParser:
    """A parser that lets ``kafka.cluster.alias`` stand for ``bootstrap.servers``: the service fills
    the servers in from that profile (``mirror.service.effective``), and says so if there is none."""

    def parse_stored(config: Mapping[str, str]) -> object:
        if config.get("kafka.cluster.alias", "").strip() and not config.get("bootstrap.servers", "").strip():
            return parse({**config, "bootstrap.servers": _PROFILE_SERVERS})
        return parse(config)

    return parse_stored


# ---- plugins --------------------------------------------------------------------------------------

Connection = Literal["mm2", "kafka"]
"""How a connector names its Kafka clusters: ``mm2``, a source and a target by ``source.cluster.*`` and
``target.cluster.*`` keys; ``kafka``, one cluster by ``bootstrap.servers`` or ``kafka.cluster.alias``."""


@dataclass(frozen=True)
class Plugin:
    java_class: str
    short_names: tuple[str, ...]
    type: str
    """``source`` or ``sink``, as in Connect's ConnectorInfo."""
    factory: Callable[[], Connector | SinkConnector]
    parse_config: ConfigParser
    """Parses a connector config with its defaults; raises ConfigErrors naming connector keys."""
    definitions: tuple[ConfigKeyDefinition, ...]
    """The keys it accepts, in definition order (client keys aside)."""
    connection: Connection = "mm2"
    version: str = PLUGIN_VERSION
    """The MM2 plugins follow an Apache Kafka release; our own plugins carry this project's version."""

    @property
    def task_class(self) -> str:
        """The Java name of the plugin's task class, as Connect shows it in task configs."""
        return self.java_class.removesuffix("Connector") + "Task"

    @property
    def required_keys(self) -> tuple[str, ...]:
        return tuple(definition.name for definition in self.definitions if definition.required)


_MIRROR_DEFINITIONS = _mirror_definitions()

PLUGINS: tuple[Plugin, ...] = (
    Plugin(
        _MIRROR_PACKAGE + "MirrorSourceConnector",
        ("MirrorSourceConnector", "MirrorSource"),
        "source",
        MirrorSourceConnector,
        MirrorSourceConfig.parse,
        _MIRROR_DEFINITIONS,
    ),
    Plugin(
        _MIRROR_PACKAGE + "MirrorCheckpointConnector",
        ("MirrorCheckpointConnector", "MirrorCheckpoint"),
        "source",
        MirrorCheckpointConnector,
        MirrorCheckpointConfig.parse,
        _MIRROR_DEFINITIONS,
    ),
    Plugin(
        _MIRROR_PACKAGE + "MirrorHeartbeatConnector",
        ("MirrorHeartbeatConnector", "MirrorHeartbeat"),
        "source",
        MirrorHeartbeatConnector,
        MirrorHeartbeatConfig.parse,
        _MIRROR_DEFINITIONS,
    ),
    Plugin(
        S3_SINK_CLASS,
        ("S3SinkConnector", "S3Sink"),
        "sink",
        S3SinkConnector,
        _with_cluster_alias(BackupSinkConfig.parse),
        _section_definitions(BACKUP_SINK_SECTIONS),
        "kafka",
        __version__,
    ),
    Plugin(
        S3_SOURCE_CLASS,
        ("S3SourceConnector", "S3Source"),
        "source",
        S3SourceConnector,
        _with_cluster_alias(RestoreSourceConfig.parse),
        _section_definitions(RESTORE_SOURCE_SECTIONS),
        "kafka",
        __version__,
    ),
)

_BY_NAME = {name: plugin for plugin in PLUGINS for name in (plugin.java_class, *plugin.short_names)}


def find_plugin(name: str) -> Plugin | None:
    """The plugin a ``connector.class`` value names (Java name or short name), or None."""
    return _BY_NAME.get(name.strip())


# ---- config definitions, as Connect's plugin config and validate endpoints show them ---------------


@dataclass(frozen=True)
class ConfigKeyReport:
    """A validated key: its definition (None for a key the plugin does not declare) and its value."""

    name: str
    definition: ConfigKeyDefinition | None
    value: str | None
    """As a response may show it: secret values are ``[hidden]``; an unset key shows its default."""
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ConfigValidation:
    """Every declared key plus every undeclared key with an error, in definition order."""

    plugin: Plugin
    groups: tuple[str, ...]
    keys: tuple[ConfigKeyReport, ...]

    @property
    def error_count(self) -> int:
        return sum(len(key.errors) for key in self.keys)

    def messages(self) -> list[str]:
        """One line per error, each naming its key."""
        return [f"{key.name}: {error}" for key in self.keys for error in key.errors]


def config_definitions(plugin: Plugin) -> tuple[ConfigKeyDefinition, ...]:
    """The keys ``plugin`` accepts, in definition order.

    MM2 hands every connector the same top-level keys, and each reads the ones it needs, so the
    three MM2 plugins share one definition list."""
    return plugin.definitions


def config_groups(plugin: Plugin) -> tuple[str, ...]:
    return tuple(dict.fromkeys(definition.group for definition in config_definitions(plugin)))


def config_errors(plugin: Plugin, config: Mapping[str, str]) -> list[ConfigError]:
    """Every problem of a connector config for ``plugin``: missing required keys, values that do
    not fit their type, and whatever the plugin's own parser refuses (client keys included)."""
    required = plugin.required_keys
    errors = [
        ConfigError(f'Missing required configuration "{key}" which has no default value.', key=key)
        for key in required
        if not config.get(key, "").strip()
    ]
    if plugin.connection == "mm2":
        errors.extend(validate_connector_config(config))
    try:
        plugin.parse_config(config)
    except ConfigErrors as failure:
        errors.extend(failure.errors)
    if plugin.connection == "kafka":
        errors = [_or_cluster_alias(error) for error in errors]
    missing = {key for key in required if not config.get(key, "").strip()}
    # The parser repeats "is required" for keys already reported missing above.
    return list(
        dict.fromkeys(
            error for error in errors if not (error.key in missing and error.message == "is required")
        )
    )


def _or_cluster_alias(error: ConfigError) -> ConfigError:
    if error.key == "bootstrap.servers" and error.message == "is required":
        return ConfigError(SERVERS_REQUIRED, key=error.key)
    return error


SERVERS_REQUIRED = "is required, unless kafka.cluster.alias names a cluster profile"


def validate_config(plugin: Plugin, config: Mapping[str, str]) -> ConfigValidation:
    """Connect's validate result for ``config``: each declared key with its value and errors, then
    the undeclared keys that have errors."""
    by_key: dict[str, list[str]] = {}
    for error in config_errors(plugin, config):
        by_key.setdefault(error.key or "connector.class", []).append(error.message)
    reports = []
    for definition in config_definitions(plugin):
        value = config.get(definition.name, definition.default_value)
        reports.append(
            ConfigKeyReport(
                name=definition.name,
                definition=definition,
                value=_shown(definition.name, definition.type, value),
                errors=tuple(dict.fromkeys(by_key.pop(definition.name, []))),
            )
        )
    for key, messages in by_key.items():
        reports.append(
            ConfigKeyReport(
                name=key,
                definition=None,
                value=_shown(key, "STRING", config.get(key)),
                errors=tuple(dict.fromkeys(messages)),
            )
        )
    return ConfigValidation(plugin=plugin, groups=config_groups(plugin), keys=tuple(reports))


def _shown(key: str, type_: str, value: str | None) -> str | None:
    if value is None:
        return None
    return HIDDEN if type_ == "PASSWORD" else shown_value(key, value)
