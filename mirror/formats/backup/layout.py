"""Where a backup's objects live under its prefix.

::

    <prefix>topics/<topic>/manifest.json
    <prefix>topics/<topic>/<partition, 10 digits>/<first offset, 20 digits>.<extension>

An object's key depends only on its topic, partition and first offset, so an upload retried
after a crash overwrites the same key rather than adding a second copy, and a listing sorts in
offset order. Kafka topic names use only ``[a-zA-Z0-9._-]``, all safe in keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MANIFEST_NAME = "manifest.json"
_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
_OBJECT = re.compile(
    r"^topics/(?P<topic>[a-zA-Z0-9._-]+)/(?P<partition>\d{10})/(?P<offset>\d{20})\.(?P<ext>[a-z.]+)$"
)


def normalise_prefix(prefix: str) -> str:
    """``""`` or a prefix ending with one ``/`` (``a/b`` and ``/a/b/`` both become ``a/b/``)."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


def check_topic(topic: str) -> str:
    if not _TOPIC.match(topic) or topic in (".", ".."):
        raise ValueError(f"{topic!r} is not a legal Kafka topic name")
    return topic


def topics_dir(prefix: str) -> str:
    return f"{prefix}topics/"


def topic_dir(prefix: str, topic: str) -> str:
    return f"{prefix}topics/{check_topic(topic)}/"


def manifest_key(prefix: str, topic: str) -> str:
    return f"{topic_dir(prefix, topic)}{MANIFEST_NAME}"


def object_name(topic: str, partition: int, first_offset: int, extension: str) -> str:
    """The object's key relative to the backup prefix (what manifests record)."""
    if partition < 0 or first_offset < 0:
        raise ValueError("partition and offset must not be negative")
    return f"topics/{check_topic(topic)}/{partition:010d}/{first_offset:020d}.{extension}"


@dataclass(frozen=True)
class ObjectName:
    topic: str
    partition: int
    first_offset: int
    extension: str


def parse_object_name(name: str) -> ObjectName | None:
    """The parts of a relative object key, or None for keys that are not record objects."""
    match = _OBJECT.match(name)
    if match is None:
        return None
    return ObjectName(match["topic"], int(match["partition"]), int(match["offset"]), match["ext"])
