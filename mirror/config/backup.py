"""Typed views of the S3 backup (sink) and restore (source) connector configs. Pure.

Both take the flat ``Map<String,String>`` any Connect connector takes. Kafka connection keys are
Java client keys (``bootstrap.servers``, ``security.protocol``, ``sasl.*``, ``ssl.*``) shared by
every client, with per-role overrides under ``consumer.``, ``producer.`` and ``admin.``. S3 keys
follow the Aiven/Confluent S3 connectors' names; any left unset fall back to what boto3 users
expect (``AWS_*`` variables including ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, shared config files,
instance roles). Every problem is reported at once, each naming its key; unknown keys are
refused, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

from mirror.config.connectors import MIRROR_CONNECTOR_KEYS, KeySpec, KeyType, parse_boolean, parse_integer
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.config.librdkafka import Role, describe_value, has_url_credentials, to_librdkafka
from mirror.filters import (
    ConfigPropertyFilter,
    GroupFilter,
    TopicFilter,
    java_trim,
    parse_connect_list,
)
from mirror.formats.backup.layout import check_topic, normalise_prefix
from mirror.formats.backup.records import COMPRESSIONS, DEFAULT_MAX_DECODED_BYTES, FORMATS

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
"""S3's smallest multipart part (except the last)."""
DEFAULT_OFFSET_HEADER = "mirror.backup.offset"

DEFAULT_RESTORE_OFFSETS_TOPIC = "mirror-restore-offsets.internal"
"""Where a restore records its progress on the target cluster, unless ``offsets.storage.topic`` says."""


def _spec(
    type_: KeyType, default: str | None = None, *, choices: tuple[str, ...] = (), minimum: int | None = None
) -> KeySpec:
    return KeySpec(type_, default, frozenset(choices) if choices else None, minimum)


ConfigSection = tuple[str, Mapping[str, KeySpec]]
"""A named group of keys with their types and defaults, as the plugin config endpoints show them."""

_COMMON_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        key: MIRROR_CONNECTOR_KEYS[key]
        for key in (
            "name",
            "connector.class",
            "tasks.max",
            "key.converter",
            "value.converter",
            "header.converter",
            "transforms",
            "predicates",
            "errors.tolerance",
            "errors.log.enable",
            "errors.log.include.messages",
            "errors.retry.timeout",
            "errors.retry.delay.max.ms",
            "config.action.reload",
        )
    }
)
"""Connect's ConnectorConfig keys: accepted; converters and transforms do not apply to raw bytes."""
_KAFKA_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        "bootstrap.servers": _spec("list"),
        "kafka.cluster.alias": _spec("string"),
        "client.dns.lookup": _spec("string"),
    }
)
"""The Kafka cluster: ``bootstrap.servers``, or (``mirror serve``) the profile ``kafka.cluster.alias``."""
_SHARED_CLIENT_PREFIXES = ("security.", "ssl.", "sasl.")
_S3_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        "s3.bucket.name": _spec("string"),
        "s3.prefix": _spec("string", ""),
        "s3.endpoint": _spec("string"),
        "s3.region": _spec("string"),
        "s3.path.style.access.enabled": _spec("boolean"),
        "s3.part.size.bytes": _spec("long", str(16 * MIB), minimum=MIN_PART_SIZE),
        "s3.upload.concurrency": _spec("int", "4", minimum=1),
        "aws.access.key.id": _spec("string"),
        "aws.secret.access.key": _spec("password"),
        "aws.session.token": _spec("password"),
        "aws.profile": _spec("string"),
    }
)
_FILTER_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        key: MIRROR_CONNECTOR_KEYS[key]
        for key in (
            "topics",
            "topics.exclude",
            "topics.blacklist",
            "groups",
            "groups.exclude",
            "groups.blacklist",
            "config.properties.exclude",
            "config.properties.blacklist",
        )
    }
)
_SINK_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        "format.output.type": _spec("string", "jsonl", choices=FORMATS),
        "file.compression.type": _spec("string", "zstd", choices=COMPRESSIONS),
        "rotate.records": _spec("long", "500000", minimum=1),
        "rotate.bytes": _spec("long", str(64 * MIB), minimum=1),
        "rotate.interval.ms": _spec("long", "60000", minimum=1),
        "buffer.max.bytes": _spec("long", str(256 * MIB), minimum=1),
        "backup.mode": _spec("string", "continuous", choices=("continuous", "once")),
        "group.offsets.interval.ms": _spec("long", "60000", minimum=0),
        "group.offsets.snapshots.max": _spec("int", "1000", minimum=0),
        "refresh.topics.interval.seconds": _spec("long", "60", minimum=1),
        "consumer.poll.timeout.ms": _spec("long", "1000", minimum=0),
        "admin.timeout.ms": _spec("long", "60000", minimum=1),
    }
)
_SOURCE_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        "topics.rename": _spec("list", ""),
        "restore.from.time": _spec("string"),
        "restore.until.time": _spec("string"),
        "restore.groups.enabled": _spec("boolean", "true"),
        "offset.header": _spec("string", DEFAULT_OFFSET_HEADER),
        "corrupt.object.policy": _spec("string", "fail", choices=("fail", "skip")),
        "replication.factor": _spec("int", "-1", minimum=-1),
        "offsets.storage.topic": _spec("string", DEFAULT_RESTORE_OFFSETS_TOPIC),
        "admin.timeout.ms": _spec("long", "60000", minimum=1),
        "max.poll.records": _spec("int", "20000", minimum=1),
        "restore.object.max.bytes": _spec("long", str(DEFAULT_MAX_DECODED_BYTES), minimum=MIB),
    }
)
TASK_LEVEL_KEYS = frozenset({"task.assigned.partitions", "task.index", "task.end.offsets"})
"""Written by the connectors into their task configs, never by users."""

BACKUP_SINK_SECTIONS: tuple[ConfigSection, ...] = (
    ("Common", _COMMON_KEYS),
    ("Kafka", _KAFKA_KEYS),
    ("S3", _S3_KEYS),
    ("Topics and groups", _FILTER_KEYS),
    ("Backup", _SINK_KEYS),
)
"""Every key of S3SinkConnector (client keys aside: shared ``security.*``, ``ssl.*``, ``sasl.*`` and
per-role ``consumer.*`` / ``admin.*``), by section."""
RESTORE_SOURCE_SECTIONS: tuple[ConfigSection, ...] = (
    ("Common", _COMMON_KEYS),
    ("Kafka", _KAFKA_KEYS),
    ("S3", _S3_KEYS),
    ("Topics and groups", _FILTER_KEYS),
    ("Restore", _SOURCE_KEYS),
)
"""Every key of S3SourceConnector (client keys aside, as for the sink; roles ``producer``,
``consumer`` and ``admin``), by section."""


def is_shared_client_key(key: str) -> bool:
    """A Kafka client key the S3 connectors take unprefixed, for every client they make."""
    return key in ("bootstrap.servers", "client.dns.lookup") or key.startswith(_SHARED_CLIENT_PREFIXES)


@dataclass(frozen=True)
class S3Settings:
    """Where a backup lives and how to reach it; None means "as boto3 finds it"."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    path_style: bool | None = None
    part_size: int = 16 * MIB
    upload_concurrency: int = 4

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def parse_s3_url(url: str, *, key: str = "url") -> tuple[str, str]:
    """``s3://BUCKET/PREFIX`` -> (bucket, normalised prefix); raises ConfigError naming ``key``."""
    if not url.startswith("s3://"):
        raise ConfigError(f"expected s3://BUCKET/PREFIX, got {url!r}", key=key)
    bucket, _slash, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket):
        raise ConfigError(f"{bucket!r} is not a valid S3 bucket name", key=key)
    return bucket, normalise_prefix(prefix)


class _Reader:
    """Typed reads from a flat config, collecting every error instead of stopping at the first."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = config
        self.errors: list[ConfigError] = []

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.config.get(key)
        if value is None:
            return default
        trimmed = java_trim(value)
        return trimmed if trimmed else default

    def required(self, key: str) -> str:
        value = self.string(key)
        if value is None:
            self.errors.append(ConfigError("is required", key=key))
            return ""
        return value

    def integer(self, key: str, default: int, *, minimum: int | None = None) -> int:
        raw = self.config.get(key)
        if raw is None:
            return default
        try:
            number = parse_integer(key, raw, "long")
        except ConfigError as error:
            self.errors.append(error)
            return default
        if minimum is not None and number < minimum:
            self.errors.append(ConfigError(f"must be at least {minimum}, got {number}", key=key))
            return default
        return number

    def boolean(self, key: str, default: bool | None) -> bool | None:
        raw = self.config.get(key)
        if raw is None:
            return default
        try:
            return parse_boolean(key, raw)
        except ConfigError as error:
            self.errors.append(error)
            return default

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(key, default) or default
        if value.lower() not in choices:
            shown = describe_value(key, value)
            self.errors.append(ConfigError(f"expected one of {', '.join(choices)}, got {shown}", key=key))
            return default
        return value.lower()

    def timestamp(self, key: str) -> int | None:
        value = self.string(key)
        if value is None:
            return None
        try:
            return parse_timestamp_ms(value)
        except ValueError as exc:
            self.errors.append(ConfigError(str(exc), key=key))
            return None

    def collect(self, parse: Callable[[], object]) -> None:
        try:
            parse()
        except ConfigErrors as failure:
            self.errors.extend(failure.errors)
        except ConfigError as error:
            self.errors.append(error)


def parse_timestamp_ms(value: str) -> int:
    """Epoch milliseconds, or an ISO-8601 date/time (UTC unless it names an offset)."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"expected epoch milliseconds or an ISO-8601 time, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


_S3_ENDPOINT_CREDENTIALS = (
    "must not hold credentials (user:password@host), which would show wherever the endpoint is shown; "
    "set aws.access.key.id and aws.secret.access.key instead, which are kept secret"
)


def _s3_settings(reader: _Reader) -> S3Settings:
    bucket = reader.required("s3.bucket.name")
    if bucket and not _BUCKET.match(bucket):
        reader.errors.append(ConfigError(f"{bucket!r} is not a valid S3 bucket name", key="s3.bucket.name"))
    access_key = reader.string("aws.access.key.id")
    secret_key = reader.string("aws.secret.access.key")
    if (access_key is None) != (secret_key is None):
        missing = "aws.secret.access.key" if secret_key is None else "aws.access.key.id"
        reader.errors.append(ConfigError("must be set together with its pair (or neither)", key=missing))
    endpoint = reader.string("s3.endpoint")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        shown = describe_value("s3.endpoint", endpoint)
        reader.errors.append(ConfigError(f"expected an http(s) URL, got {shown}", key="s3.endpoint"))
    elif endpoint is not None and has_url_credentials(endpoint):
        reader.errors.append(ConfigError(_S3_ENDPOINT_CREDENTIALS, key="s3.endpoint"))
    return S3Settings(
        bucket=bucket,
        prefix=normalise_prefix(reader.string("s3.prefix", "") or ""),
        endpoint=endpoint,
        region=reader.string("s3.region"),
        profile=reader.string("aws.profile"),
        access_key_id=access_key,
        secret_access_key=secret_key,
        session_token=reader.string("aws.session.token"),
        path_style=reader.boolean("s3.path.style.access.enabled", None),
        part_size=reader.integer("s3.part.size.bytes", 16 * MIB, minimum=MIN_PART_SIZE),
        upload_concurrency=reader.integer("s3.upload.concurrency", 4, minimum=1),
    )


def _client(
    config: Mapping[str, str],
    role: Role,
    reader: _Reader,
    defaults: Mapping[str, str],
    own: Mapping[str, KeySpec],
) -> dict[str, str]:
    shared = {key: value for key, value in config.items() if is_shared_client_key(key)}
    prefix = f"{role}."
    overrides = {
        key[len(prefix) :]: value
        for key, value in config.items()
        if key.startswith(prefix) and key not in own
    }
    try:
        settings = to_librdkafka({**shared, **overrides}, role)
    except ConfigErrors as failure:
        reader.errors.extend(
            error.relocated(key=f"{prefix}{error.key}") if error.key in overrides else error
            for error in failure.errors
        )
        return {}
    return {**defaults, **settings.librdkafka}


def _check_known(config: Mapping[str, str], sections: tuple[ConfigSection, ...], reader: _Reader) -> None:
    prefixes = (*_SHARED_CLIENT_PREFIXES, "consumer.", "producer.", "admin.")
    for key in config:
        known = key in TASK_LEVEL_KEYS or any(key in keys for _name, keys in sections)
        if not known and not key.startswith(prefixes):
            reader.errors.append(ConfigError("unknown key for this connector", key=key))


def _filters(config: Mapping[str, str], reader: _Reader) -> tuple[TopicFilter, GroupFilter]:
    topics = TopicFilter.from_config({})
    groups = GroupFilter.from_config({})
    try:
        topics = TopicFilter.from_config(config)
    except ConfigErrors as failure:
        reader.errors.extend(failure.errors)
    try:
        groups = GroupFilter.from_config(config)
    except ConfigErrors as failure:
        reader.errors.extend(failure.errors)
    return topics, groups


def parse_end_offsets(value: str) -> dict[tuple[str, int], int]:
    """``topic:partition:offset,...`` (the sink's ``task.end.offsets``)."""
    ends: dict[tuple[str, int], int] = {}
    for item in parse_connect_list(value):
        topic, _colon, rest = item.rpartition(":")
        topic, _colon2, partition = topic.rpartition(":")
        if not topic or not partition.isdigit() or not rest.lstrip("-").isdigit():
            raise ConfigError(f"{item!r} is not topic:partition:offset", key="task.end.offsets")
        ends[(topic, int(partition))] = int(rest)
    return ends


def format_end_offsets(ends: Mapping[tuple[str, int], int]) -> str:
    return ",".join(f"{topic}:{partition}:{offset}" for (topic, partition), offset in sorted(ends.items()))


BackupMode = Literal["continuous", "once"]


@dataclass(frozen=True)
class BackupSinkConfig:
    name: str
    s3: S3Settings
    topics: TopicFilter
    groups: GroupFilter
    config_properties: ConfigPropertyFilter
    format: str
    compression: str
    rotate_records: int
    rotate_bytes: int
    rotate_interval_ms: int
    buffer_max_bytes: int
    mode: BackupMode
    group_offsets_interval_ms: int
    group_snapshots_max: int
    refresh_topics_interval_s: int
    poll_timeout_ms: int
    admin_timeout_ms: int
    tasks_max: int
    consumer: Mapping[str, str] = field(repr=False)
    admin: Mapping[str, str] = field(repr=False)
    end_offsets: Mapping[tuple[str, int], int] = field(default_factory=dict)

    @property
    def group_id(self) -> str:
        """The consumer group whose offsets follow the backup (Connect names sink groups so)."""
        return self.consumer.get("group.id", f"connect-{self.name}")

    @classmethod
    def parse(cls, config: Mapping[str, str]) -> BackupSinkConfig:
        reader = _Reader(config)
        _check_known(config, BACKUP_SINK_SECTIONS, reader)
        name = reader.string("name", "s3-backup") or "s3-backup"
        reader.required("bootstrap.servers")
        topics, groups = _filters(config, reader)
        properties = ConfigPropertyFilter.from_config({})
        try:
            properties = ConfigPropertyFilter.from_config(config)
        except ConfigErrors as failure:
            reader.errors.extend(failure.errors)
        consumer_defaults = {"auto.offset.reset": "earliest", "group.id": f"connect-{name}"}
        consumer = _client(config, "consumer", reader, consumer_defaults, _SINK_KEYS)
        isolation = consumer.get("isolation.level", "read_committed")
        if isolation != "read_committed":
            reader.errors.append(
                ConfigError(
                    "a backup reads committed records only; remove the override",
                    key="consumer.isolation.level",
                )
            )
        consumer["isolation.level"] = "read_committed"
        end_offsets: dict[tuple[str, int], int] = {}
        if "task.end.offsets" in config:
            reader.collect(lambda: end_offsets.update(parse_end_offsets(config["task.end.offsets"])))
        parsed = cls(
            name=name,
            s3=_s3_settings(reader),
            topics=topics,
            groups=groups,
            config_properties=properties,
            format=reader.choice("format.output.type", FORMATS, "jsonl"),
            compression=reader.choice("file.compression.type", COMPRESSIONS, "zstd"),
            rotate_records=reader.integer("rotate.records", 500_000, minimum=1),
            rotate_bytes=reader.integer("rotate.bytes", 64 * MIB, minimum=1),
            rotate_interval_ms=reader.integer("rotate.interval.ms", 60_000, minimum=1),
            buffer_max_bytes=reader.integer("buffer.max.bytes", 256 * MIB, minimum=1),
            mode="once"
            if reader.choice("backup.mode", ("continuous", "once"), "continuous") == "once"
            else "continuous",
            group_offsets_interval_ms=reader.integer("group.offsets.interval.ms", 60_000, minimum=0),
            group_snapshots_max=reader.integer("group.offsets.snapshots.max", 1000, minimum=0),
            refresh_topics_interval_s=reader.integer("refresh.topics.interval.seconds", 60, minimum=1),
            poll_timeout_ms=reader.integer("consumer.poll.timeout.ms", 1000, minimum=0),
            admin_timeout_ms=reader.integer("admin.timeout.ms", 60_000, minimum=1),
            tasks_max=reader.integer("tasks.max", 1, minimum=1),
            consumer=consumer,
            admin=_client(config, "admin", reader, {}, _SINK_KEYS),
            end_offsets=end_offsets,
        )
        if reader.errors:
            raise ConfigErrors(reader.errors)
        return parsed


CorruptPolicy = Literal["fail", "skip"]


@dataclass(frozen=True)
class RestoreSourceConfig:
    name: str
    s3: S3Settings
    topics: TopicFilter
    groups: GroupFilter
    renames: Mapping[str, str]
    from_ms: int | None
    until_ms: int | None
    restore_groups: bool
    offset_header: str | None
    corrupt_policy: CorruptPolicy
    replication_factor: int
    admin_timeout_ms: int
    max_poll_records: int
    tasks_max: int
    producer: Mapping[str, str] = field(repr=False)
    admin: Mapping[str, str] = field(repr=False)
    consumer: Mapping[str, str] = field(repr=False)
    max_object_bytes: int = DEFAULT_MAX_DECODED_BYTES
    """The most one backed-up object may be stored as or decode to (a manifest can claim anything)."""

    def target_topic(self, topic: str) -> str:
        return self.renames.get(topic, topic)

    @classmethod
    def parse(cls, config: Mapping[str, str]) -> RestoreSourceConfig:
        reader = _Reader(config)
        _check_known(config, RESTORE_SOURCE_SECTIONS, reader)
        reader.required("bootstrap.servers")
        topics, groups = _filters(config, reader)
        renames = _renames(config.get("topics.rename", ""), reader)
        header: str | None = config.get("offset.header", DEFAULT_OFFSET_HEADER)
        if header is not None and not java_trim(header):
            header = None
        restore_groups = reader.boolean("restore.groups.enabled", True) is True
        if restore_groups and header is None:
            reader.errors.append(
                ConfigError(
                    "restoring group offsets needs the original offsets: set offset.header or "
                    "restore.groups.enabled=false",
                    key="offset.header",
                )
            )
        from_ms = reader.timestamp("restore.from.time")
        until_ms = reader.timestamp("restore.until.time")
        if from_ms is not None and until_ms is not None and from_ms > until_ms:
            reader.errors.append(ConfigError("is after restore.until.time", key="restore.from.time"))
        policy = reader.choice("corrupt.object.policy", ("fail", "skip"), "fail")
        parsed = cls(
            name=reader.string("name", "s3-restore") or "s3-restore",
            s3=_s3_settings(reader),
            topics=topics,
            groups=groups,
            renames=renames,
            from_ms=from_ms,
            until_ms=until_ms,
            restore_groups=restore_groups,
            offset_header=header,
            corrupt_policy="skip" if policy == "skip" else "fail",
            replication_factor=reader.integer("replication.factor", -1, minimum=-1),
            admin_timeout_ms=reader.integer("admin.timeout.ms", 60_000, minimum=1),
            max_poll_records=reader.integer("max.poll.records", 20_000, minimum=1),
            tasks_max=reader.integer("tasks.max", 1, minimum=1),
            producer=_client(config, "producer", reader, {}, _SOURCE_KEYS),
            admin=_client(config, "admin", reader, {}, _SOURCE_KEYS),
            consumer=_client(config, "consumer", reader, {}, _SOURCE_KEYS),
            max_object_bytes=reader.integer(
                "restore.object.max.bytes", DEFAULT_MAX_DECODED_BYTES, minimum=MIB
            ),
        )
        if reader.errors:
            raise ConfigErrors(reader.errors)
        return parsed


def _renames(value: str, reader: _Reader) -> dict[str, str]:
    renames: dict[str, str] = {}
    for item in parse_connect_list(value):
        old, equals, new = item.partition("=")
        old, new = old.strip(), new.strip()
        try:
            if not equals:
                raise ValueError(f"{item!r} is not OLD=NEW")
            check_topic(old)
            check_topic(new)
        except ValueError as exc:
            reader.errors.append(ConfigError(str(exc), key="topics.rename"))
            continue
        if old in renames:
            reader.errors.append(ConfigError(f"{old!r} is renamed twice", key="topics.rename"))
        renames[old] = new
    targets = list(renames.values())
    duplicates = sorted({t for t in targets if targets.count(t) > 1})
    if duplicates:
        reader.errors.append(ConfigError(f"several topics renamed to {duplicates[0]!r}", key="topics.rename"))
    return renames
