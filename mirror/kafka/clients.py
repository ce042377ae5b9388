"""Client construction and error mapping.

librdkafka reports connection-level problems through ``error_cb`` rather than by raising, so
each client gets an :class:`ErrorWatch` that logs them and remembers a fatal one for the
owning loop to act on. Client configs arrive already translated to librdkafka keys
(``mirror.config.librdkafka``); this module adds only what every client of ours needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from mirror.config.librdkafka import is_allowed_client_property

log = logging.getLogger("mirror.kafka")

T = TypeVar("T")


class KafkaClientError(Exception):
    """A Kafka error with the context an operator needs to act on it.

    A plain exception class, not a frozen dataclass: raising sets ``__traceback__`` on the
    instance, which a frozen dataclass refuses.
    """

    def __init__(self, context: str, code: str, reason: str, retriable: bool, fatal: bool) -> None:
        super().__init__(context, code, reason)
        self.context = context
        self.code = code
        self.reason = reason
        self.retriable = retriable
        self.fatal = fatal

    def __str__(self) -> str:
        kind = "fatal" if self.fatal else ("retriable" if self.retriable else "error")
        return f"{self.context}: {self.code} ({kind}): {self.reason}"


# Retriable by the Kafka protocol (leadership or a group coordinator about to settle), though
# librdkafka does not flag them so when they come back per partition or from an admin call: a topic
# created a moment ago answers the first four until its leader is known, and a broker that has just
# started (or taken over a group) answers the coordinator ones while it loads the group's offsets.
_RETRIABLE_BY_PROTOCOL = frozenset(
    {
        "NOT_LEADER_FOR_PARTITION",
        "LEADER_NOT_AVAILABLE",
        "UNKNOWN_TOPIC_OR_PART",
        "_UNKNOWN_PARTITION",
        "COORDINATOR_LOAD_IN_PROGRESS",
        "COORDINATOR_NOT_AVAILABLE",
        "NOT_COORDINATOR",
    }
)


def failure_from(exc: BaseException | KafkaError, context: str) -> KafkaClientError:
    """Turn a ``KafkaException`` / ``KafkaError`` (or anything else) into a :class:`KafkaClientError`."""
    error: object = exc
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        error = exc.args[0]
    if isinstance(error, KafkaError):
        return KafkaClientError(
            context=context,
            code=error.name(),
            reason=error.str(),
            retriable=bool(error.retriable()) or error.name() in _RETRIABLE_BY_PROTOCOL,
            fatal=bool(error.fatal()),
        )
    return KafkaClientError(
        context=context, code=type(exc).__name__, reason=str(exc), retriable=False, fatal=False
    )


class ErrorWatch:
    """Receives librdkafka's asynchronous client errors for one client."""

    def __init__(self, client_name: str) -> None:
        self.client_name = client_name
        self._fatal: KafkaClientError | None = None
        self._lock = threading.Lock()

    def __call__(self, error: KafkaError) -> None:
        failure = failure_from(error, self.client_name)
        if failure.fatal:
            with self._lock:
                self._fatal = failure
            log.error("fatal client error", extra={"client": self.client_name, "error": str(failure)})
        elif error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            log.warning(
                "client connection problem", extra={"client": self.client_name, "error": str(failure)}
            )
        else:
            log.info("client error", extra={"client": self.client_name, "error": str(failure)})

    def raise_if_fatal(self) -> None:
        with self._lock:
            fatal = self._fatal
        if fatal is not None:
            raise fatal


class _KnownConfigWarnings(logging.Filter):
    """Drops librdkafka's notice that gapless delivery is experimental: we enable it on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "enable.gapless.guarantee is experimental" not in record.getMessage()


_LIBRDKAFKA_LOG = logging.getLogger("mirror.librdkafka")
_LIBRDKAFKA_LOG.addFilter(_KnownConfigWarnings())


def _with_callbacks(config: Mapping[str, str], name: str) -> tuple[dict[str, Any], ErrorWatch]:
    # The last gate: the config layer refuses keys off the allow-list by name long before; this
    # stops a path that forgot to translate its config from handing librdkafka one anyway.
    unlisted = sorted(key for key in config if not is_allowed_client_property(key))
    if unlisted:
        reason = f"not on mirror's allow-list of client properties: {', '.join(unlisted)}"
        raise KafkaClientError(
            f"creating client {name}", "_UNLISTED_PROPERTY", reason, retriable=False, fatal=True
        )
    watch = ErrorWatch(name)
    full: dict[str, Any] = dict(config)
    full.setdefault("client.id", name)
    full["error_cb"] = watch
    full["logger"] = _LIBRDKAFKA_LOG
    return full, watch


def make_consumer(config: Mapping[str, str], name: str) -> tuple[Consumer, ErrorWatch]:
    """A consumer for ``assign()`` use; it never commits (progress lives on the target)."""
    full, watch = _with_callbacks(config, name)
    # librdkafka insists on a group id even for manual assignment; it is never joined or
    # committed to, so a name that says what it is does no harm on the source cluster.
    full.setdefault("group.id", f"mirror-assign-only-{name}")
    full["enable.auto.commit"] = False
    full["enable.auto.offset.store"] = False
    full.setdefault("enable.partition.eof", False)
    try:
        return Consumer(full), watch
    except KafkaException as exc:
        raise failure_from(exc, f"creating consumer {name}") from exc


def make_producer(config: Mapping[str, str], name: str) -> tuple[Producer, ErrorWatch]:
    full, watch = _with_callbacks(config, name)
    try:
        return Producer(full), watch
    except KafkaException as exc:
        raise failure_from(exc, f"creating producer {name}") from exc


def make_admin(config: Mapping[str, str], name: str) -> AdminClient:
    full, _watch = _with_callbacks(config, name)
    try:
        return AdminClient(full)
    except KafkaException as exc:
        raise failure_from(exc, f"creating admin client {name}") from exc


def retrying(attempt: Callable[[float], T], context: str, timeout_s: float, pause_s: float = 0.1) -> T:
    """``attempt(seconds_left)``, tried again after ``pause_s`` while it fails with an error the Kafka
    protocol calls retriable (a leader or a group coordinator settling), for up to ``timeout_s``.
    Any other failure, or one at the deadline, raises as a :class:`KafkaClientError`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return attempt(max(0.1, deadline - time.monotonic()))
        except KafkaClientError as known:
            if not known.retriable or time.monotonic() >= deadline:
                raise
        except KafkaException as exc:
            failure = failure_from(exc, context)
            if not failure.retriable or time.monotonic() >= deadline:
                raise failure from exc
        time.sleep(pause_s)


def watermarks(consumer: Consumer, topic: str, partition: int, timeout_s: float) -> tuple[int, int]:
    """(low, high) offsets of a partition, riding out the leader moves a new topic goes through."""

    def ask(seconds_left: float) -> tuple[int, int]:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=seconds_left)
        return int(low), int(high)

    return retrying(ask, f"watermarks of {topic}-{partition}", timeout_s)


def read_to_end(
    config: Mapping[str, str], topic: str, name: str, timeout_s: float, start: int = OFFSET_BEGINNING
) -> list[Message]:
    """Every record of a (small, internal) topic, from ``start`` (every partition) to the end seen
    at the start.

    Ends by position, not by the last offset seen: transaction markers and compaction leave
    offsets that are never delivered as records.
    """
    consumer, watch = make_consumer(config, name)
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise KafkaClientError(f"reading {topic}", "UNKNOWN_TOPIC", "topic missing", True, False)
        remaining = {
            p: high for p in metadata.partitions if (high := watermarks(consumer, topic, p, timeout_s)[1]) > 0
        }
        remaining = {p: high for p, high in remaining.items() if start < 0 or start < high}
        consumer.assign([TopicPartition(topic, p, start) for p in remaining])
        records: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise KafkaClientError(f"reading {topic}", "TIMED_OUT", "not read to its end", True, False)
            watch.raise_if_fatal()
            for message in consumer.consume(10_000, 0.5):
                error = message.error()
                if error is not None:
                    log.warning("error reading topic", extra={"topic": topic, "error": error.str()})
                    continue
                records.append(message)
            for tp in consumer.position([TopicPartition(topic, p) for p in remaining]):
                if tp.offset >= remaining[tp.partition]:
                    del remaining[tp.partition]
        return records
    finally:
        consumer.close()


def first_records_at(
    config: Mapping[str, str],
    positions: Mapping[tuple[str, int], int],
    ends: Mapping[tuple[str, int], int],
    name: str,
    timeout_s: float,
) -> tuple[dict[tuple[str, int], Message], set[tuple[str, int]]]:
    """The first record at or after each position, read by one consumer for every partition; and
    the partitions that hold no readable record before their end offset in ``ends`` (only
    transaction markers or aborted records: a read_committed consumer skips them).

    Partitions with neither within ``timeout_s`` are in neither result. Each partition is paused
    once settled, so only its first fetch is read."""
    if not positions:
        return {}, set()
    consumer, watch = make_consumer({**config, "enable.auto.commit": "false"}, name)
    try:
        consumer.assign([TopicPartition(topic, p, offset) for (topic, p), offset in positions.items()])
        found: dict[tuple[str, int], Message] = {}
        empty: set[tuple[str, int]] = set()
        deadline = time.monotonic() + timeout_s
        while len(found) + len(empty) < len(positions) and time.monotonic() < deadline:
            watch.raise_if_fatal()
            settled: list[TopicPartition] = []
            for message in consumer.consume(len(positions), 0.2):
                if message.error() is not None:
                    continue
                key: tuple[str, int] = (message.topic(), message.partition())  # type: ignore[assignment]
                if key not in found:
                    found[key] = message
                    settled.append(TopicPartition(*key))
            waiting = [TopicPartition(*key) for key in positions if key not in found and key not in empty]
            for tp in consumer.position(waiting) if waiting else []:
                key = (tp.topic, tp.partition)
                if key not in found and tp.offset >= ends[key]:
                    empty.add(key)
                    settled.append(TopicPartition(*key))
            if settled:
                consumer.pause(settled)
        return found, empty
    finally:
        consumer.close()
