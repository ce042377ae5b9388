"""Translate Java Kafka client properties into librdkafka properties.

mm2.properties files carry Java client settings (``A.consumer.fetch.max.bytes``, ``A.sasl.jaas.config``,
``A.ssl.truststore.location``...). librdkafka shares many names with the Java client; those pass through.
Java-only settings with a faithful librdkafka equivalent are rewritten; the rest are rejected with an
error naming the key, because silently dropping, say, a truststore would change who we trust.

Aliases are normalised to the Java spelling (``queue.buffering.max.ms`` becomes ``linger.ms``,
``message.timeout.ms`` becomes ``delivery.timeout.ms``), so defaults and overrides compare by one name.

``max.poll.records`` is not handed to librdkafka (there it only configures the KIP-932 share consumer);
it is surfaced as :attr:`ClientSettings.max_poll_records` for the caller's ``consume(num_messages=...)``.

Only properties on an allow-list reach librdkafka, and enumerated values are checked against what
librdkafka accepts; properties that would load code or run commands (``plugin.library.paths``,
``ssl.engine.location``, ``sasl.kerberos.kinit.cmd``...) are refused by name, whatever the config's
source: the REST API, a cluster profile or an mm2.properties file.

Secret values never appear in error messages, nor do credentials in URLs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from mirror.config.errors import ConfigError, ConfigErrors
from mirror.filters import java_trim

Role = Literal["consumer", "producer", "admin"]
ROLES: tuple[Role, ...] = ("consumer", "producer", "admin")

# The allow-list: every librdkafka property a replication client may be given, name -> applicability
# ("*" any client, "C" consumer, "P" producer), from librdkafka 2.16's CONFIGURATION.md. Nothing else
# reaches librdkafka (see _Translation.put). Left out: callback, pointer and internal properties, which
# a properties file cannot set; ``delivery.report.only.error`` and ``log.queue``, which the Python
# client manages itself; ``max.poll.records`` (see the module docstring); and the properties in
# REFUSED_PROPERTIES, which would let whoever writes a config run code in the process.
LIBRDKAFKA_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {
        "client.id": "*",
        "metadata.broker.list": "*",
        "bootstrap.servers": "*",
        "message.max.bytes": "*",
        "message.copy.max.bytes": "*",
        "receive.message.max.bytes": "*",
        "max.in.flight.requests.per.connection": "*",
        "max.in.flight": "*",
        "metadata.recovery.strategy": "*",
        "metadata.recovery.rebootstrap.trigger.ms": "*",
        "topic.metadata.refresh.interval.ms": "*",
        "metadata.max.age.ms": "*",
        "topic.metadata.refresh.fast.interval.ms": "*",
        "topic.metadata.refresh.fast.cnt": "*",
        "topic.metadata.refresh.sparse": "*",
        "topic.metadata.propagation.max.ms": "*",
        "topic.blacklist": "*",
        "debug": "*",
        "socket.timeout.ms": "*",
        "socket.blocking.max.ms": "*",
        "socket.send.buffer.bytes": "*",
        "socket.receive.buffer.bytes": "*",
        "socket.keepalive.enable": "*",
        "socket.nagle.disable": "*",
        "socket.max.fails": "*",
        "broker.address.ttl": "*",
        "broker.address.family": "*",
        "socket.connection.setup.timeout.ms": "*",
        "connections.max.idle.ms": "*",
        "reconnect.backoff.jitter.ms": "*",
        "reconnect.backoff.ms": "*",
        "reconnect.backoff.max.ms": "*",
        "statistics.interval.ms": "*",
        "log_level": "*",
        "log.thread.name": "*",
        "enable.random.seed": "*",
        "log.connection.close": "*",
        "api.version.request": "*",
        "api.version.request.timeout.ms": "*",
        "api.version.fallback.ms": "*",
        "broker.version.fallback": "*",
        "allow.auto.create.topics": "*",
        "security.protocol": "*",
        "ssl.cipher.suites": "*",
        "ssl.curves.list": "*",
        "ssl.sigalgs.list": "*",
        "ssl.key.location": "*",
        "ssl.key.password": "*",
        "ssl.key.pem": "*",
        "ssl.certificate.location": "*",
        "ssl.certificate.pem": "*",
        "ssl.ca.location": "*",
        "https.ca.location": "*",
        "https.ca.pem": "*",
        "ssl.ca.pem": "*",
        "ssl.ca.certificate.stores": "*",
        "ssl.crl.location": "*",
        "ssl.keystore.location": "*",
        "ssl.keystore.password": "*",
        "enable.ssl.certificate.verification": "*",
        "ssl.endpoint.identification.algorithm": "*",
        "sasl.mechanisms": "*",
        "sasl.mechanism": "*",
        "sasl.kerberos.service.name": "*",
        "sasl.kerberos.principal": "*",
        "sasl.kerberos.keytab": "*",
        "sasl.kerberos.min.time.before.relogin": "*",
        "sasl.username": "*",
        "sasl.password": "*",
        "sasl.oauthbearer.config": "*",
        "enable.sasl.oauthbearer.unsecure.jwt": "*",
        "sasl.oauthbearer.method": "*",
        "sasl.oauthbearer.client.id": "*",
        "sasl.oauthbearer.client.credentials.client.id": "*",
        "sasl.oauthbearer.client.credentials.client.secret": "*",
        "sasl.oauthbearer.client.secret": "*",
        "sasl.oauthbearer.scope": "*",
        "sasl.oauthbearer.extensions": "*",
        "sasl.oauthbearer.token.endpoint.url": "*",
        "sasl.oauthbearer.sub.claim.name": "*",
        "sasl.oauthbearer.grant.type": "*",
        "sasl.oauthbearer.assertion.algorithm": "*",
        "sasl.oauthbearer.assertion.private.key.file": "*",
        "sasl.oauthbearer.assertion.private.key.passphrase": "*",
        "sasl.oauthbearer.assertion.private.key.pem": "*",
        "sasl.oauthbearer.assertion.claim.aud": "*",
        "sasl.oauthbearer.assertion.claim.exp.seconds": "*",
        "sasl.oauthbearer.assertion.claim.iss": "*",
        "sasl.oauthbearer.assertion.claim.jti.include": "*",
        "sasl.oauthbearer.assertion.claim.nbf.seconds": "*",
        "sasl.oauthbearer.assertion.claim.sub": "*",
        "group.id": "C",
        "group.instance.id": "C",
        "partition.assignment.strategy": "C",
        "session.timeout.ms": "C",
        "heartbeat.interval.ms": "C",
        "group.protocol.type": "C",
        "group.protocol": "C",
        "group.remote.assignor": "C",
        "coordinator.query.interval.ms": "C",
        "max.poll.interval.ms": "C",
        "enable.auto.commit": "C",
        "auto.commit.interval.ms": "C",
        "enable.auto.offset.store": "C",
        "queued.min.messages": "C",
        "queued.max.messages.kbytes": "C",
        "fetch.wait.max.ms": "C",
        "fetch.queue.backoff.ms": "C",
        "fetch.message.max.bytes": "C",
        "max.partition.fetch.bytes": "C",
        "fetch.max.bytes": "C",
        "fetch.min.bytes": "C",
        "fetch.error.backoff.ms": "C",
        "isolation.level": "C",
        "enable.partition.eof": "C",
        "check.crcs": "C",
        "client.rack": "*",
        "share.acknowledgement.mode": "C",
        "transactional.id": "P",
        "transaction.timeout.ms": "P",
        "enable.idempotence": "P",
        "enable.gapless.guarantee": "P",
        "queue.buffering.max.messages": "P",
        "queue.buffering.max.kbytes": "P",
        "queue.buffering.max.ms": "P",
        "linger.ms": "P",
        "message.send.max.retries": "P",
        "retries": "P",
        "retry.backoff.ms": "*",
        "retry.backoff.max.ms": "*",
        "queue.buffering.backpressure.threshold": "P",
        "compression.codec": "P",
        "compression.type": "P",
        "batch.num.messages": "P",
        "batch.size": "P",
        "sticky.partitioning.linger.ms": "P",
        "client.dns.lookup": "*",
        "enable.metrics.push": "*",
        "request.required.acks": "P",
        "acks": "P",
        "request.timeout.ms": "P",
        "message.timeout.ms": "P",
        "delivery.timeout.ms": "P",
        "queuing.strategy": "P",
        "produce.offset.report": "P",
        "partitioner": "P",
        "compression.level": "P",
        "auto.commit.enable": "C",
        "auto.offset.reset": "C",
        "consume.callback.max.messages": "C",
    }
)

# Real librdkafka properties that no config may set, with why: a connector config or cluster profile
# is written through the REST API, and none of these is needed to replicate. They load shared libraries
# or run commands (the librdkafka counterpart of Kafka Connect's CVE-2023-25194), write files, take
# over process-wide signals, or send the host's files or cloud identity to an endpoint the config chooses.
# mm2.properties files get no exception: one rule for every source is easier to trust.
REFUSED_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {
        "plugin.library.paths": "it loads shared libraries into the process",
        "ssl.engine.location": "it loads an OpenSSL engine (a shared library) into the process",
        "ssl.engine.id": "it makes OpenSSL load an engine (a shared library) into the process",
        "ssl.providers": "it makes OpenSSL load provider modules (shared libraries) into the process",
        "sasl.kerberos.kinit.cmd": "it is a shell command librdkafka runs; its default kinit command "
        "line uses sasl.kerberos.keytab and sasl.kerberos.principal",
        "offset.store.method": "mirror's consumers never commit, and the file store writes files anywhere",
        "offset.store.path": "mirror's consumers never commit, and the file store writes files anywhere",
        "offset.store.sync.interval.ms": "mirror's consumers never commit offsets to files",
        "internal.termination.signal": "it installs a signal handler for the whole process",
        "sasl.oauthbearer.metadata.authentication.type": "it fetches the host's cloud identity token "
        "(Azure IMDS) for whichever brokers the config names",
        "sasl.oauthbearer.assertion.file": "it sends a file of the host's to whichever token endpoint "
        "the config names; use sasl.oauthbearer.assertion.private.key.* and .claim.* instead",
        "sasl.oauthbearer.assertion.jwt.template.file": "it copies a file of the host's into the assertion "
        "sent to whichever token endpoint the config names; use sasl.oauthbearer.assertion.claim.*",
    }
)

# Values librdkafka accepts for its enumerated properties (compared case-insensitively, as librdkafka
# does), so a typo fails when the config is checked rather than when a client starts.
_CHOICES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "security.protocol": frozenset({"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"}),
        "broker.address.family": frozenset({"any", "v4", "v6"}),
        "metadata.recovery.strategy": frozenset({"none", "rebootstrap"}),
        "ssl.endpoint.identification.algorithm": frozenset({"none", "https"}),
        "sasl.oauthbearer.method": frozenset({"default", "oidc"}),
        "sasl.oauthbearer.grant.type": frozenset(
            {"client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"}
        ),
        "sasl.oauthbearer.assertion.algorithm": frozenset({"rs256", "es256"}),
        "client.dns.lookup": frozenset({"use_all_dns_ips", "resolve_canonical_bootstrap_servers_only"}),
        "group.protocol": frozenset({"classic", "consumer"}),
        "isolation.level": frozenset({"read_uncommitted", "read_committed"}),
        "auto.offset.reset": frozenset(
            {"smallest", "earliest", "beginning", "largest", "latest", "end", "error"}
        ),
        "compression.type": frozenset({"none", "gzip", "snappy", "lz4", "zstd"}),
        "queuing.strategy": frozenset({"fifo", "lifo"}),
    }
)
# String properties whose values librdkafka matches exactly (case-sensitively).
_EXACT_CHOICES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "sasl.mechanism": frozenset({"GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}),
        "partitioner": frozenset(
            {
                "random",
                "consistent",
                "consistent_random",
                "murmur2",
                "murmur2_random",
                "fnv1a",
                "fnv1a_random",
            }
        ),
    }
)

# librdkafka alias -> the name we emit.
_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "metadata.broker.list": "bootstrap.servers",
        "max.in.flight": "max.in.flight.requests.per.connection",
        "sasl.mechanisms": "sasl.mechanism",
        "queue.buffering.max.ms": "linger.ms",
        "message.send.max.retries": "retries",
        "compression.codec": "compression.type",
        "request.required.acks": "acks",
        "message.timeout.ms": "delivery.timeout.ms",
        "fetch.message.max.bytes": "max.partition.fetch.bytes",
        "auto.commit.enable": "enable.auto.commit",
        "sasl.oauthbearer.client.credentials.client.id": "sasl.oauthbearer.client.id",
        "sasl.oauthbearer.client.credentials.client.secret": "sasl.oauthbearer.client.secret",
    }
)

JAVA_SSL_KEYS = frozenset(
    {
        "ssl.protocol",
        "ssl.provider",
        "ssl.cipher.suites",
        "ssl.enabled.protocols",
        "ssl.keystore.type",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.key.password",
        "ssl.keystore.key",
        "ssl.keystore.certificate.chain",
        "ssl.truststore.certificates",
        "ssl.truststore.type",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.endpoint.identification.algorithm",
        "ssl.secure.random.implementation",
        "ssl.engine.factory.class",
    }
)
JAVA_SASL_KEYS = frozenset(
    {
        "sasl.kerberos.service.name",
        "sasl.kerberos.kinit.cmd",
        "sasl.kerberos.ticket.renew.window.factor",
        "sasl.kerberos.ticket.renew.jitter",
        "sasl.kerberos.min.time.before.relogin",
        "sasl.login.refresh.window.factor",
        "sasl.login.refresh.window.jitter",
        "sasl.login.refresh.min.period.seconds",
        "sasl.login.refresh.buffer.seconds",
        "sasl.mechanism",
        "sasl.jaas.config",
        "sasl.client.callback.handler.class",
        "sasl.login.callback.handler.class",
        "sasl.login.class",
        "sasl.login.connect.timeout.ms",
        "sasl.login.read.timeout.ms",
        "sasl.login.retry.backoff.max.ms",
        "sasl.login.retry.backoff.ms",
        "sasl.oauthbearer.scope.claim.name",
        "sasl.oauthbearer.sub.claim.name",
        "sasl.oauthbearer.token.endpoint.url",
        "sasl.oauthbearer.jwks.endpoint.url",
        "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
        "sasl.oauthbearer.clock.skew.seconds",
        "sasl.oauthbearer.expected.audience",
        "sasl.oauthbearer.expected.issuer",
        "sasl.oauthbearer.header.urlencode",
    }
)

# MirrorClientConfig.CLIENT_CONFIG_DEF: the keys MM2 copies from ``A.<k>`` into A's producer, consumer and
# admin configs, and the only cluster-level keys its connectors keep for their clients.
MM2_CLIENT_CONFIG_KEYS = (
    frozenset({"bootstrap.servers", "security.protocol"}) | JAVA_SSL_KEYS | JAVA_SASL_KEYS
)

# Our extension: librdkafka's own TLS/SASL settings (``A.sasl.username``, ``A.ssl.ca.location``) are shared
# by a cluster's clients as well. Java MM2 files never use these names, so they cannot change its
# behaviour; they just spare librdkafka-minded users from writing each one three times. The refused
# properties count as shared too, so that wherever one is written (``A.plugin.library.paths``,
# ``source.cluster.ssl.engine.location``) it reaches the translation and is refused by name.
SHARED_CONNECTION_KEYS = (
    MM2_CLIENT_CONFIG_KEYS
    | frozenset(
        name
        for name, applicability in LIBRDKAFKA_PROPERTIES.items()
        if applicability == "*"
        and (
            name.startswith(("ssl.", "sasl."))
            or name in {"enable.ssl.certificate.verification", "enable.sasl.oauthbearer.unsecure.jwt"}
        )
    )
    | REFUSED_PROPERTIES.keys()
)

# Settings every Java client (producer, consumer, admin) and Connect worker accepts.
JAVA_COMMON_CLIENT_KEYS = (
    frozenset(
        {
            "bootstrap.servers",
            "client.dns.lookup",
            "client.id",
            "metadata.max.age.ms",
            "send.buffer.bytes",
            "receive.buffer.bytes",
            "reconnect.backoff.ms",
            "reconnect.backoff.max.ms",
            "retry.backoff.ms",
            "retry.backoff.max.ms",
            "request.timeout.ms",
            "socket.connection.setup.timeout.ms",
            "socket.connection.setup.timeout.max.ms",
            "connections.max.idle.ms",
            "metrics.sample.window.ms",
            "metrics.num.samples",
            "metrics.recording.level",
            "metric.reporters",
            "auto.include.jmx.reporter",
            "security.protocol",
            "security.providers",
            "enable.metrics.push",
            "metadata.recovery.strategy",
            "metadata.recovery.rebootstrap.trigger.ms",
        }
    )
    | MM2_CLIENT_CONFIG_KEYS
)

JAVA_CLIENT_KEYS: Mapping[Role, frozenset[str]] = MappingProxyType(
    {
        "producer": JAVA_COMMON_CLIENT_KEYS
        | {
            "metadata.max.idle.ms",
            "batch.size",
            "partitioner.adaptive.partitioning.enable",
            "partitioner.availability.timeout.ms",
            "partitioner.ignore.keys",
            "acks",
            "linger.ms",
            "delivery.timeout.ms",
            "max.request.size",
            "max.block.ms",
            "buffer.memory",
            "compression.type",
            "compression.gzip.level",
            "compression.lz4.level",
            "compression.zstd.level",
            "retries",
            "key.serializer",
            "value.serializer",
            "partitioner.class",
            "interceptor.classes",
            "max.in.flight.requests.per.connection",
            "enable.idempotence",
            "transaction.timeout.ms",
            "transactional.id",
        },
        "consumer": JAVA_COMMON_CLIENT_KEYS
        | {
            "group.id",
            "group.instance.id",
            "max.poll.records",
            "max.poll.interval.ms",
            "session.timeout.ms",
            "heartbeat.interval.ms",
            "group.protocol",
            "group.remote.assignor",
            "enable.auto.commit",
            "auto.commit.interval.ms",
            "partition.assignment.strategy",
            "auto.offset.reset",
            "fetch.min.bytes",
            "fetch.max.bytes",
            "fetch.max.wait.ms",
            "max.partition.fetch.bytes",
            "client.rack",
            "check.crcs",
            "key.deserializer",
            "value.deserializer",
            "default.api.timeout.ms",
            "interceptor.classes",
            "exclude.internal.topics",
            "internal.leave.group.on.close",
            "isolation.level",
            "allow.auto.create.topics",
        },
        "admin": JAVA_COMMON_CLIENT_KEYS | {"bootstrap.controllers", "retries", "default.api.timeout.ms"},
    }
)

# Real librdkafka properties that a properties file cannot meaningfully set: callbacks and pointers,
# and the ones the Python client or mirror's runtime manage themselves.
_UNSETTABLE_LIBRDKAFKA_PROPERTIES = frozenset(
    {
        "builtin.features",
        "error_cb",
        "throttle_cb",
        "stats_cb",
        "log_cb",
        "background_event_cb",
        "socket_cb",
        "connect_cb",
        "closesocket_cb",
        "open_cb",
        "resolve_cb",
        "opaque",
        "default_topic_conf",
        "ssl_key",
        "ssl_certificate",
        "ssl_ca",
        "ssl_engine_callback_data",
        "ssl.certificate.verify_cb",
        "oauthbearer_token_refresh_cb",
        "interceptors",
        "consume_cb",
        "rebalance_cb",
        "offset_commit_cb",
        "dr_cb",
        "dr_msg_cb",
        "partitioner_cb",
        "msg_order_cmp",
        "enabled_events",
        "delivery.report.only.error",
        "log.queue",
    }
)

_METRICS_ONLY_KEYS = frozenset(
    {
        "metrics.sample.window.ms",
        "metrics.num.samples",
        "metrics.recording.level",
        "metric.reporters",
        "auto.include.jmx.reporter",
    }
)

_SECRET_MARKERS = (
    "password",
    "secret",
    "jaas",
    "credentials",
    "token",
    "private.key",
    "ssl.key.pem",
    "keystore.key",
    # librdkafka marks it sensitive: deployments put tokens and client secrets in it.
    "oauthbearer.config",
)

# The ``user:password@`` after a URL's ``://``, anywhere in a text. It cannot hold "/", "?", "#", "@"
# or whitespace, so matches never overlap and a text is scanned in linear time.
_URL_USERINFO = re.compile(r"(?<=://)[^/?#@\s]+@")

_OIDC_LOGIN_HANDLERS = frozenset(
    {
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
    }
)
_BYTE_ARRAY_SERDES = frozenset(
    {
        "org.apache.kafka.common.serialization.ByteArraySerializer",
        "org.apache.kafka.common.serialization.ByteArrayDeserializer",
    }
)
_ASSIGNORS = {
    "org.apache.kafka.clients.consumer.RangeAssignor": "range",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
    "RangeAssignor": "range",
    "RoundRobinAssignor": "roundrobin",
    "CooperativeStickyAssignor": "cooperative-sticky",
    "range": "range",
    "roundrobin": "roundrobin",
    "cooperative-sticky": "cooperative-sticky",
}
_TLS_PROTOCOLS = frozenset({"TLS", "TLSv1.2", "TLSv1.3"})
_PEM_EXTENSIONS = (".pem", ".crt", ".cer")
_PKCS12_EXTENSIONS = (".p12", ".pfx")


def is_secret_key(key: str) -> bool:
    """Whether a key's value must never be shown (passwords, keys, JAAS text, OAuth secrets)."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def hide_url_credentials(text: str) -> str:
    """``text`` with the userinfo of every URL in it (``http://key:secret@host``) shown as ``***``."""
    return _URL_USERINFO.sub("***@", text)


def has_url_credentials(text: str) -> bool:
    """Whether a URL in ``text`` carries userinfo (``user:password@``)."""
    return _URL_USERINFO.search(text) is not None


def _client_noun(role: Role) -> str:
    return "an admin client" if role == "admin" else f"a {role}"


def _show(key: str, value: str) -> str:
    return "(value hidden)" if is_secret_key(key) else repr(hide_url_credentials(value))


def applies_to(librdkafka_name: str, role: Role) -> bool:
    """Whether a librdkafka property affects a client of ``role`` (the Admin client is a bare handle)."""
    applicability = LIBRDKAFKA_PROPERTIES.get(librdkafka_name)
    if applicability is None:
        return False
    return (
        applicability == "*"
        or (applicability == "C" and role == "consumer")
        or (applicability == "P" and role == "producer")
    )


@dataclass(frozen=True)
class ClientSettings:
    """What a client of one role needs: its librdkafka configuration and settings librdkafka lacks.

    ``ignored`` maps input keys that were accepted but have no effect here to the reason, so callers
    can warn about them.
    """

    librdkafka: Mapping[str, str] = field(repr=False)
    max_poll_records: int | None = None
    ignored: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        shown = {key: _show(key, value) for key, value in self.librdkafka.items()}
        rendered = ", ".join(f"{key!r}: {value}" for key, value in shown.items())
        return (
            f"ClientSettings(librdkafka={{{rendered}}}, max_poll_records={self.max_poll_records!r}, "
            f"ignored={dict(self.ignored)!r})"
        )

    def __post_init__(self) -> None:
        object.__setattr__(self, "librdkafka", MappingProxyType(dict(self.librdkafka)))
        object.__setattr__(self, "ignored", MappingProxyType(dict(self.ignored)))

    def with_defaults(self, defaults: Mapping[str, str]) -> ClientSettings:
        """A copy where each default applies only if the key is not set."""
        merged = dict(defaults)
        merged.update(self.librdkafka)
        return ClientSettings(merged, self.max_poll_records, self.ignored)

    def with_overrides(self, overrides: Mapping[str, str]) -> ClientSettings:
        """A copy where the given librdkafka values replace existing ones."""
        merged = dict(self.librdkafka)
        merged.update(overrides)
        return ClientSettings(merged, self.max_poll_records, self.ignored)


@dataclass(frozen=True)
class _JavaOnly:
    """A Java client key librdkafka lacks; harmless (ignored) when left at its Java default."""

    defaults: frozenset[str]
    hint: str = ""


def _java_only(*defaults: str, hint: str = "") -> _JavaOnly:
    return _JavaOnly(frozenset(defaults), hint)


_JAVA_ONLY_KEYS: Mapping[str, _JavaOnly] = MappingProxyType(
    {
        "buffer.memory": _java_only(
            "33554432",
            hint="librdkafka bounds its queue with queue.buffering.max.kbytes (KiB) and "
            "queue.buffering.max.messages",
        ),
        "max.block.ms": _java_only(
            "60000", hint="librdkafka's produce() never blocks; a full queue fails at once"
        ),
        "metadata.max.idle.ms": _java_only("300000"),
        "partitioner.class": _java_only(
            "",
            hint="librdkafka picks built-in partitioners with 'partitioner'; mirror keeps source partitions",
        ),
        "partitioner.ignore.keys": _java_only("false", hint="see librdkafka's 'partitioner'"),
        "partitioner.adaptive.partitioning.enable": _java_only("true", hint="see librdkafka's 'partitioner'"),
        "partitioner.availability.timeout.ms": _java_only("0", hint="see librdkafka's 'partitioner'"),
        "key.serializer": _java_only(*_BYTE_ARRAY_SERDES, hint="mirror always copies raw bytes"),
        "value.serializer": _java_only(*_BYTE_ARRAY_SERDES, hint="mirror always copies raw bytes"),
        "key.deserializer": _java_only(*_BYTE_ARRAY_SERDES, hint="mirror always copies raw bytes"),
        "value.deserializer": _java_only(*_BYTE_ARRAY_SERDES, hint="mirror always copies raw bytes"),
        "interceptor.classes": _java_only("", hint="Java interceptors cannot run inside librdkafka"),
        "socket.connection.setup.timeout.max.ms": _java_only(
            "30000", hint="librdkafka has a single socket.connection.setup.timeout.ms"
        ),
        "default.api.timeout.ms": _java_only(
            "60000", hint="MirrorMaker's admin.timeout.ms bounds its admin calls"
        ),
        "exclude.internal.topics": _java_only("true"),
        "internal.leave.group.on.close": _java_only("true"),
        "bootstrap.controllers": _java_only("", hint="mirror talks to brokers; use bootstrap.servers"),
        "security.providers": _java_only(""),
        "ssl.provider": _java_only(""),
        "ssl.secure.random.implementation": _java_only(""),
        "ssl.engine.factory.class": _java_only(""),
        "ssl.keymanager.algorithm": _java_only("SunX509"),
        "ssl.trustmanager.algorithm": _java_only("PKIX"),
        "sasl.client.callback.handler.class": _java_only(""),
        "sasl.login.class": _java_only(""),
        "sasl.login.connect.timeout.ms": _java_only(""),
        "sasl.login.read.timeout.ms": _java_only(""),
        "sasl.login.retry.backoff.max.ms": _java_only("10000"),
        "sasl.login.retry.backoff.ms": _java_only("100"),
        "sasl.kerberos.ticket.renew.window.factor": _java_only(
            "0.8", hint="librdkafka re-runs kinit every sasl.kerberos.min.time.before.relogin ms"
        ),
        "sasl.kerberos.ticket.renew.jitter": _java_only("0.05"),
        "sasl.login.refresh.window.factor": _java_only("0.8"),
        "sasl.login.refresh.window.jitter": _java_only("0.05"),
        "sasl.login.refresh.min.period.seconds": _java_only("60"),
        "sasl.login.refresh.buffer.seconds": _java_only("300"),
        "sasl.oauthbearer.scope.claim.name": _java_only("scope"),
        "sasl.oauthbearer.jwks.endpoint.url": _java_only(""),
        "sasl.oauthbearer.jwks.endpoint.refresh.ms": _java_only("3600000"),
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": _java_only("10000"),
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms": _java_only("100"),
        "sasl.oauthbearer.clock.skew.seconds": _java_only("30"),
        "sasl.oauthbearer.expected.audience": _java_only(""),
        "sasl.oauthbearer.expected.issuer": _java_only(""),
        "sasl.oauthbearer.header.urlencode": _java_only("false"),
    }
)

# Java admin "retries" is a Java-only admin knob; librdkafka's retries is a producer property.
_ADMIN_RETRIES = _java_only("2147483647")


def _is_default(value: str, defaults: frozenset[str]) -> bool:
    trimmed = java_trim(value)
    if trimmed in defaults:
        return True
    try:
        number = float(trimmed)
    except ValueError:
        return trimmed.lower() in {default.lower() for default in defaults}
    for default in defaults:
        try:
            if float(default) == number:
                return True
        except ValueError:
            continue
    return False


def _java_only_error(key: str, hint: str) -> ConfigError:
    message = f"{key} is a Java client setting with no librdkafka equivalent"
    return ConfigError(message + (f" ({hint})" if hint else ""), key=key)


class _Translation:
    """Accumulates one role's translation: output values, where each came from, errors and notes."""

    def __init__(self, props: Mapping[str, str], role: Role) -> None:
        self.props = props
        self.role = role
        self.out: dict[str, str] = {}
        self.origin: dict[str, str] = {}
        self.errors: list[ConfigError] = []
        self.ignored: dict[str, str] = {}
        self.max_poll_records: int | None = None

    def put(self, name: str, value: str, from_key: str) -> None:
        """Every value that reaches librdkafka passes here, and so through :func:`client_value_problem`."""
        problem = client_value_problem(name, value)
        if problem is not None:
            self.fail(from_key, problem)
            return
        name = _ALIASES.get(name, name)
        if name in _CHOICES or name in _EXACT_CHOICES:
            value = java_trim(value)
        previous = self.origin.get(name)
        if previous is not None and previous != from_key and self.out[name] != value:
            self.errors.append(
                ConfigError(
                    f"conflicts with {previous}: both set librdkafka's {name} to different values",
                    key=from_key,
                )
            )
            return
        self.out[name] = value
        self.origin[name] = from_key

    def fail(self, key: str, message: str) -> None:
        self.errors.append(ConfigError(message, key=key))

    def ignore(self, key: str, reason: str) -> None:
        self.ignored[key] = reason


def _translate_truststore(t: _Translation) -> None:
    props = t.props
    location = props.get("ssl.truststore.location")
    certificates = props.get("ssl.truststore.certificates")
    store_type = java_trim(props.get("ssl.truststore.type", "")).upper()
    if certificates is not None and java_trim(certificates):
        t.put("ssl.ca.pem", certificates, "ssl.truststore.certificates")
    if location is None or not java_trim(location):
        return
    path = java_trim(location)
    looks_pem = path.lower().endswith(_PEM_EXTENSIONS)
    if store_type == "PEM" or (not store_type and looks_pem):
        t.put("ssl.ca.location", path, "ssl.truststore.location")
        if "ssl.truststore.password" in props:
            t.ignore("ssl.truststore.password", "a PEM truststore has no password")
        return
    t.fail(
        "ssl.truststore.location",
        f"a {store_type or 'JKS'} truststore cannot be read by librdkafka "
        "(export the CA certificates to PEM, e.g. keytool -exportcert -rfc, and set "
        "ssl.truststore.type=PEM or ssl.ca.location)",
    )


def _translate_keystore(t: _Translation) -> set[str]:
    """Returns keys consumed beyond the keystore's own (ssl.key.password when it belongs to a keystore)."""
    props = t.props
    consumed: set[str] = set()
    store_type = java_trim(props.get("ssl.keystore.type", "")).upper()
    key_password = props.get("ssl.key.password")
    pem_key = props.get("ssl.keystore.key")
    pem_chain = props.get("ssl.keystore.certificate.chain")
    if pem_key is not None and java_trim(pem_key):
        t.put("ssl.key.pem", pem_key, "ssl.keystore.key")
    if pem_chain is not None and java_trim(pem_chain):
        t.put("ssl.certificate.pem", pem_chain, "ssl.keystore.certificate.chain")
    location = props.get("ssl.keystore.location")
    if location is None or not java_trim(location):
        return consumed
    path = java_trim(location)
    store_password = props.get("ssl.keystore.password")
    if store_type == "PEM":
        t.put("ssl.certificate.location", path, "ssl.keystore.location")
        t.put("ssl.key.location", path, "ssl.keystore.location")
        return consumed
    # Without an explicit type we cannot tell JKS from PKCS#12 without reading the file; librdkafka
    # will report an unreadable store when the client starts.
    if store_type in {"", "PKCS12"} or path.lower().endswith(_PKCS12_EXTENSIONS):
        t.put("ssl.keystore.location", path, "ssl.keystore.location")
        if store_password is not None:
            t.put("ssl.keystore.password", store_password, "ssl.keystore.password")
        if key_password is not None:
            consumed.add("ssl.key.password")
            if store_password is not None and key_password != store_password:
                t.fail(
                    "ssl.key.password",
                    "librdkafka opens a PKCS#12 keystore with ssl.keystore.password only; "
                    "the key password must be the same",
                )
        return consumed
    t.fail(
        "ssl.keystore.location",
        f"a {store_type} keystore cannot be read by librdkafka (convert it to PKCS#12 with "
        "keytool -importkeystore -deststoretype PKCS12 and set ssl.keystore.type=PKCS12)",
    )
    return consumed


_JAAS_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
_JAAS_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_JAAS_OAUTH = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
_JAAS_KERBEROS = "com.sun.security.auth.module.Krb5LoginModule"
_JAAS_FLAGS = frozenset({"required", "requisite", "sufficient", "optional"})
_JAAS_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


class _JaasSyntaxError(Exception):
    pass


def _jaas_tokens(text: str) -> list[str]:
    """Words, quoted strings (returned unquoted, prefixed with a quote mark), and the symbols ``=`` ``;``."""
    tokens: list[str] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "=;":
            tokens.append(char)
            index += 1
        elif char == '"':
            index += 1
            chars: list[str] = []
            while True:
                if index >= length:
                    raise _JaasSyntaxError("unterminated quoted value")
                char = text[index]
                index += 1
                if char == '"':
                    break
                if char == "\\" and index < length:
                    escaped = text[index]
                    index += 1
                    chars.append(_JAAS_ESCAPES.get(escaped, escaped))
                else:
                    chars.append(char)
            tokens.append('"' + "".join(chars))
        else:
            start = index
            while index < length and not text[index].isspace() and text[index] not in '=;"':
                index += 1
            tokens.append(text[start:index])
    return tokens


def _parse_jaas(text: str) -> tuple[str, dict[str, str]]:
    """``LoginModule flag key="value" ...;`` (exactly one module, as Kafka clients require)."""
    tokens = _jaas_tokens(text)
    if len(tokens) < 3 or tokens[-1] != ";":
        raise _JaasSyntaxError("expected 'LoginModule flag key=\"value\" ... ;'")
    module, flag = tokens[0], tokens[1]
    if module.startswith('"') or flag.lower() not in _JAAS_FLAGS:
        raise _JaasSyntaxError("expected a login module class and a control flag such as 'required'")
    options: dict[str, str] = {}
    body = tokens[2:-1]
    if ";" in body:
        raise _JaasSyntaxError("exactly one login module is allowed")
    if len(body) % 3:
        raise _JaasSyntaxError("options must be key=value pairs")
    for position in range(0, len(body), 3):
        name, equals, value = body[position : position + 3]
        if equals != "=" or name.startswith('"') or name in "=;":
            raise _JaasSyntaxError("options must be key=value pairs")
        options[name] = value[1:] if value.startswith('"') else value
    return module, options


def _translate_jaas(t: _Translation) -> None:
    text = t.props.get("sasl.jaas.config")
    if text is None or not java_trim(text):
        return
    key = "sasl.jaas.config"
    try:
        module, options = _parse_jaas(text)
    except _JaasSyntaxError as error:
        t.fail(key, f"cannot parse the JAAS configuration: {error}")
        return
    translator = _JAAS_MODULES.get(module)
    if translator is None:
        t.fail(key, f"login module {module} has no librdkafka equivalent")
        return
    translator(t, options)
    if options:
        t.fail(key, f"JAAS option(s) {', '.join(sorted(options))} of {module} have no librdkafka equivalent")


def _translate_password_jaas(t: _Translation, options: dict[str, str]) -> None:
    key = "sasl.jaas.config"
    if java_trim(options.pop("tokenauth", "false")).lower() == "true":
        t.fail(key, "delegation-token authentication (tokenauth=true) is not supported by librdkafka")
        return
    for option, name in (("username", "sasl.username"), ("password", "sasl.password")):
        if option in options:
            t.put(name, options.pop(option), key)


def _translate_kerberos_jaas(t: _Translation, options: dict[str, str]) -> None:
    for option, name in (
        ("principal", "sasl.kerberos.principal"),
        ("keyTab", "sasl.kerberos.keytab"),
        ("serviceName", "sasl.kerberos.service.name"),
    ):
        if option in options:
            t.put(name, options.pop(option), "sasl.jaas.config")
    # librdkafka always logs in from the keytab with kinit; these only steer Java's own login.
    for harmless in ("useKeyTab", "storeKey", "useTicketCache", "doNotPrompt", "debug", "renewTGT"):
        options.pop(harmless, None)


def _translate_oauth_jaas(t: _Translation, options: dict[str, str]) -> None:
    key = "sasl.jaas.config"
    extensions = [
        f"{name[len('extension_') :]}={options.pop(name)}"
        for name in sorted(options)
        if name.startswith("extension_")
    ]
    unsecured = {name: options.pop(name) for name in sorted(options) if name.startswith("unsecuredLogin")}
    if unsecured:
        principal_claim = unsecured.pop("unsecuredLoginPrincipalClaimName", "sub")
        parts = []
        principal = unsecured.pop(f"unsecuredLoginStringClaim_{principal_claim}", None)
        if principal is None:
            t.fail(key, f"unsecured OAUTHBEARER login needs unsecuredLoginStringClaim_{principal_claim}")
            return
        parts.append(f"principal={principal}")
        if principal_claim != "sub":
            parts.append(f"principalClaimName={principal_claim}")
        lifetime = unsecured.pop("unsecuredLoginLifetimeSeconds", None)
        if lifetime is not None:
            parts.append(f"lifeSeconds={lifetime}")
        parts.extend(
            f"extension_{name[len('unsecuredLoginExtension_') :]}={unsecured.pop(name)}"
            for name in sorted(unsecured)
            if name.startswith("unsecuredLoginExtension_")
        )
        if unsecured:
            t.fail(key, f"JAAS option(s) {', '.join(sorted(unsecured))} have no librdkafka equivalent")
            return
        t.put("enable.sasl.oauthbearer.unsecure.jwt", "true", key)
        t.put("sasl.oauthbearer.config", " ".join(parts), key)
    for option, name in (
        ("clientId", "sasl.oauthbearer.client.id"),
        ("clientSecret", "sasl.oauthbearer.client.secret"),
        ("scope", "sasl.oauthbearer.scope"),
    ):
        if option in options:
            t.put(name, options.pop(option), key)
    if extensions:
        t.put("sasl.oauthbearer.extensions", ",".join(extensions), key)


_JAAS_MODULES: Mapping[str, Callable[[_Translation, dict[str, str]], None]] = MappingProxyType(
    {
        _JAAS_PLAIN: _translate_password_jaas,
        _JAAS_SCRAM: _translate_password_jaas,
        _JAAS_OAUTH: _translate_oauth_jaas,
        _JAAS_KERBEROS: _translate_kerberos_jaas,
    }
)


def _translate_login_handler(t: _Translation) -> None:
    value = t.props.get("sasl.login.callback.handler.class")
    if value is None or not java_trim(value):
        return
    if java_trim(value) in _OIDC_LOGIN_HANDLERS:
        t.put("sasl.oauthbearer.method", "oidc", "sasl.login.callback.handler.class")
        return
    t.errors.append(
        _java_only_error(
            "sasl.login.callback.handler.class",
            "only Kafka's OAuthBearerLoginCallbackHandler (OIDC client credentials) maps to librdkafka",
        )
    )


def _translate_compression_levels(t: _Translation) -> None:
    codec = java_trim(t.props.get("compression.type", t.props.get("compression.codec", "none"))).lower()
    for level_codec in ("gzip", "lz4", "zstd"):
        key = f"compression.{level_codec}.level"
        if key not in t.props:
            continue
        if t.role != "producer":
            t.ignore(key, f"a producer setting; {_client_noun(t.role)} ignores it")
        elif level_codec == codec:
            t.put("compression.level", java_trim(t.props[key]), key)
        else:
            t.ignore(key, f"applies only when compression.type={level_codec}")


def _translate_max_poll_records(t: _Translation) -> None:
    value = t.props.get("max.poll.records")
    if value is None:
        return
    if t.role != "consumer":
        t.ignore("max.poll.records", f"a consumer setting; {_client_noun(t.role)} ignores it")
        return
    trimmed = java_trim(value)
    if not trimmed.isascii() or not trimmed.isdigit() or int(trimmed) < 1 or int(trimmed) > 2**31 - 1:
        t.fail("max.poll.records", f"expected a positive integer, got {value!r}")
        return
    t.max_poll_records = int(trimmed)


_GROUP_KEYS = frozenset(
    {
        "ssl.truststore.location",
        "ssl.truststore.type",
        "ssl.truststore.password",
        "ssl.truststore.certificates",
        "ssl.keystore.location",
        "ssl.keystore.type",
        "ssl.keystore.password",
        "ssl.keystore.key",
        "ssl.keystore.certificate.chain",
        "sasl.jaas.config",
        "sasl.login.callback.handler.class",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.zstd.level",
        "max.poll.records",
    }
)


def _buffer_bytes(name: str) -> Callable[[_Translation, str, str], None]:
    def translate(t: _Translation, key: str, value: str) -> None:
        trimmed = java_trim(value)
        # Java's -1 means "OS default", which librdkafka spells 0.
        t.put(name, "0" if trimmed == "-1" else trimmed, key)

    return translate


def _request_timeout(t: _Translation, key: str, value: str) -> None:
    # Java's per-request timeout; librdkafka's request.timeout.ms is the producer's ack timeout and
    # socket.timeout.ms is the general request timeout.
    t.put("request.timeout.ms" if t.role == "producer" else "socket.timeout.ms", java_trim(value), key)


def _endpoint_identification(t: _Translation, key: str, value: str) -> None:
    trimmed = java_trim(value).lower()
    if trimmed in {"", "none"}:
        t.put(key, "none", key)
    elif trimmed == "https":
        t.put(key, "https", key)
    else:
        t.fail(key, f"expected https or an empty value, got {value!r}")


def _auto_offset_reset(t: _Translation, key: str, value: str) -> None:
    trimmed = java_trim(value).lower()
    if trimmed == "none":
        t.put(key, "error", key)
    elif trimmed.startswith("by_duration:"):
        t.fail(key, "by_duration offset reset has no librdkafka equivalent")
    else:
        t.put(key, trimmed, key)


def _assignment_strategy(t: _Translation, key: str, value: str) -> None:
    translated = []
    for entry in (java_trim(part) for part in value.split(",")):
        if not entry:
            continue
        mapped = _ASSIGNORS.get(entry)
        if mapped is None:
            t.fail(
                key,
                f"assignor {entry!r} has no librdkafka equivalent "
                "(use range, roundrobin or cooperative-sticky)",
            )
            return
        translated.append(mapped)
    t.put(key, ",".join(translated), key)


def _kinit_command(t: _Translation, key: str, value: str) -> None:
    # Java's value is the path of kinit, and MM2 files often spell out its default; librdkafka's is a
    # shell command line, which no config may choose (REFUSED_PROPERTIES).
    if java_trim(value) == "/usr/bin/kinit":
        t.ignore(key, "the Java default; librdkafka runs its own kinit command line")
    else:
        t.put(key, value, key)


def _cipher_suites(t: _Translation, key: str, value: str) -> None:
    suites = [java_trim(part) for part in value.replace(":", ",").split(",") if java_trim(part)]
    if any("_WITH_" in suite or suite.startswith("TLS_") for suite in suites):
        t.fail(
            key,
            "Java (IANA) cipher suite names cannot be used; librdkafka expects OpenSSL names, "
            "e.g. ECDHE-RSA-AES256-GCM-SHA384",
        )
        return
    t.put(key, ":".join(suites), key)


def _tls_protocol(t: _Translation, key: str, value: str) -> None:
    requested = {java_trim(part) for part in value.split(",") if java_trim(part)}
    if requested <= _TLS_PROTOCOLS:
        t.ignore(key, "librdkafka negotiates TLS 1.2 or 1.3 as OpenSSL allows")
    else:
        t.fail(key, f"only TLSv1.2 and TLSv1.3 are supported, got {value!r}")


_VALUE_TRANSLATORS: Mapping[str, Callable[[_Translation, str, str], None]] = MappingProxyType(
    {
        "send.buffer.bytes": _buffer_bytes("socket.send.buffer.bytes"),
        "receive.buffer.bytes": _buffer_bytes("socket.receive.buffer.bytes"),
        "request.timeout.ms": _request_timeout,
        "ssl.endpoint.identification.algorithm": _endpoint_identification,
        "sasl.kerberos.kinit.cmd": _kinit_command,
        "ssl.cipher.suites": _cipher_suites,
        "ssl.protocol": _tls_protocol,
        "ssl.enabled.protocols": _tls_protocol,
    }
)
_CONSUMER_VALUE_TRANSLATORS: Mapping[str, Callable[[_Translation, str, str], None]] = MappingProxyType(
    {
        "auto.offset.reset": _auto_offset_reset,
        "partition.assignment.strategy": _assignment_strategy,
        "fetch.max.wait.ms": lambda t, key, value: t.put("fetch.wait.max.ms", java_trim(value), key),
    }
)
_PRODUCER_VALUE_TRANSLATORS: Mapping[str, Callable[[_Translation, str, str], None]] = MappingProxyType(
    {"max.request.size": lambda t, key, value: t.put("message.max.bytes", java_trim(value), key)}
)


def _role_translators(role: Role) -> Mapping[str, Callable[[_Translation, str, str], None]]:
    if role == "consumer":
        return _CONSUMER_VALUE_TRANSLATORS
    if role == "producer":
        return _PRODUCER_VALUE_TRANSLATORS
    return {}


def _other_role_owning(key: str, role: Role) -> Role | None:
    for other in ROLES:
        if other == role:
            continue
        if key in JAVA_CLIENT_KEYS[other] or applies_to(_ALIASES.get(key, key), other):
            return other
    return None


def _translate_key(t: _Translation, key: str, value: str) -> None:
    role = t.role
    translator = _VALUE_TRANSLATORS.get(key) or _role_translators(role).get(key)
    if translator is not None:
        translator(t, key, value)
        return
    if key in _UNSETTABLE_LIBRDKAFKA_PROPERTIES:
        t.fail(key, "is managed by mirror and the Python client; it cannot be set in a properties file")
        return
    if key in _METRICS_ONLY_KEYS:
        t.ignore(key, "Java client metrics settings have no effect on librdkafka")
        return
    java_only = _ADMIN_RETRIES if (role == "admin" and key == "retries") else _JAVA_ONLY_KEYS.get(key)
    if java_only is not None and (key in JAVA_CLIENT_KEYS[role] or not applies_to(key, role)):
        if key not in JAVA_CLIENT_KEYS[role]:
            owner = _other_role_owning(key, role)
            t.ignore(key, f"a {owner or 'Java client'} setting; {_client_noun(role)} ignores it")
        elif _is_default(value, java_only.defaults):
            t.ignore(key, "left at the Java default, which matches librdkafka's behaviour")
        else:
            t.errors.append(_java_only_error(key, java_only.hint))
        return
    if applies_to(key, role) or key in REFUSED_PROPERTIES:
        t.put(key, value, key)  # which refuses the refused ones, for every role
        return
    owner = _other_role_owning(key, role)
    if owner is not None:
        t.ignore(key, f"a {owner} setting; {_client_noun(role)} ignores it")
        return
    t.fail(key, unknown_client_key_message(key, role))


def to_librdkafka(props: Mapping[str, str], role: Role) -> ClientSettings:
    """Translate Java client properties for a client of ``role``; raises ConfigErrors naming each bad key.

    Values of secret keys are passed through untouched and never quoted in errors.
    """
    t = _Translation(props, role)
    _translate_truststore(t)
    consumed = _translate_keystore(t)
    _translate_jaas(t)
    _translate_login_handler(t)
    _translate_compression_levels(t)
    _translate_max_poll_records(t)
    for key, value in props.items():
        if key in _GROUP_KEYS or key in consumed:
            continue
        _translate_key(t, key, value)
    if t.errors:
        raise ConfigErrors(t.errors)
    return ClientSettings(t.out, t.max_poll_records, t.ignored)


def is_allowed_client_property(name: str) -> bool:
    """Whether librdkafka property ``name`` is on the allow-list (any value, any client role)."""
    return name in LIBRDKAFKA_PROPERTIES


def refusal_of_property(name: str) -> str | None:
    """Why no config may set librdkafka property ``name`` (it loads code, runs commands...), or None."""
    reason = REFUSED_PROPERTIES.get(name)
    return None if reason is None else f"may not be set: {reason}"


def client_value_problem(name: str, value: str) -> str | None:
    """Why librdkafka property ``name`` may not be given ``value`` by any config, or None if it may.

    The one place that decides what reaches librdkafka: the property must be on the allow-list
    (LIBRDKAFKA_PROPERTIES), and an enumerated one must hold a value librdkafka accepts. Messages
    never quote secret values.
    """
    refusal = refusal_of_property(name)
    if refusal is not None:
        return refusal
    if not is_allowed_client_property(name):
        return f"may not be set: librdkafka's {name} is not among the properties a replication client may set"
    name = _ALIASES.get(name, name)
    exact = _EXACT_CHOICES.get(name)
    if exact is not None and java_trim(value) not in exact:
        return f"expected one of {', '.join(sorted(exact))}, got {_show(name, value)}"
    choices = _CHOICES.get(name)
    if choices is not None and java_trim(value).lower() not in choices:
        return f"expected one of {', '.join(sorted(choices))}, got {_show(name, value)}"
    if name == "bootstrap.servers" and "@" in value:
        return "must not hold credentials (user:password@host); use sasl.username and sasl.password"
    return None


def describe_value(key: str, value: str) -> str:
    """``repr(value)``, or a placeholder for secret keys; for error messages built by callers."""
    return _show(key, value)


def is_known_client_key(name: str) -> bool:
    """Whether ``name`` is a Java client or librdkafka setting for any role (typo detection)."""
    return (
        name in LIBRDKAFKA_PROPERTIES
        or name in REFUSED_PROPERTIES
        or name in _UNSETTABLE_LIBRDKAFKA_PROPERTIES
        or any(name in JAVA_CLIENT_KEYS[role] for role in ROLES)
    )


def suggest_client_key(name: str, role: Role) -> str | None:
    """The closest known setting for ``role``, for "did you mean" hints."""
    candidates = sorted(
        JAVA_CLIENT_KEYS[role] | {known for known in LIBRDKAFKA_PROPERTIES if applies_to(known, role)}
    )
    matches = difflib.get_close_matches(name, candidates, n=1)
    return matches[0] if matches else None


def unknown_client_key_message(name: str, role: Role) -> str:
    """The message for a setting neither the Java client nor librdkafka knows."""
    suggestion = suggest_client_key(name, role)
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    return f"unknown {role} setting: neither a Java client nor a librdkafka property{hint}"
