"""``mirror backup verify``: every object a manifest lists is present, intact and decodable.

Each object is downloaded and checked against its manifest entry: size, sha256, format, and its
records' partition, count and offset range. No object is read past its recorded size or decoded
past the restore's default bound (``DEFAULT_MAX_DECODED_BYTES``).

Objects under ``topics/`` that no manifest lists are reported as orphans (left by a backup
that crashed between storing an object and recording it): they are not errors, and
``mirror backup prune --orphans`` removes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mirror.formats.backup.codec import decode
from mirror.formats.backup.layout import parse_object_name, topics_dir
from mirror.formats.backup.manifest import ObjectEntry, TopicManifest
from mirror.formats.backup.records import DEFAULT_MAX_DECODED_BYTES, RecordFormatError
from mirror.s3 import ObjectStore, S3StorageError

_PARALLEL_DOWNLOADS = 4


@dataclass(frozen=True)
class ObjectProblem:
    topic: str
    name: str
    problem: str


@dataclass(frozen=True)
class VerifyReport:
    url: str
    topics: int
    objects: int
    records: int
    bytes: int
    problems: tuple[ObjectProblem, ...]
    orphans: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "topics": self.topics,
            "objects": self.objects,
            "records": self.records,
            "bytes": self.bytes,
            "problems": [{"topic": p.topic, "object": p.name, "problem": p.problem} for p in self.problems],
            "orphans": list(self.orphans),
        }


def check_object(store: ObjectStore, entry: ObjectEntry) -> str | None:
    """What is wrong with one stored object, or None."""
    if entry.size > DEFAULT_MAX_DECODED_BYTES:
        return f"not checked: {entry.size} bytes, over the {DEFAULT_MAX_DECODED_BYTES} read per object"
    try:
        data = store.get(entry.name, entry.size)
    except S3StorageError as exc:
        if exc.code == "SizeMismatch":
            return exc.reason
        return "missing" if exc.code in ("404", "NoSuchKey") else f"unreadable: {exc.code}: {exc.reason}"
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry.sha256:
        return f"sha256 {actual} does not match the manifest's {entry.sha256}"
    try:
        columns = decode(data, entry.format, entry.compression)
    except RecordFormatError as exc:
        return f"does not decode: {exc}"
    return entry.mismatch(columns)


def verify_backup(
    store: ObjectStore, manifests: dict[str, TopicManifest], *, on_object: Callable[[ObjectEntry], None]
) -> VerifyReport:
    listed = [(topic, entry) for topic, manifest in sorted(manifests.items()) for entry in manifest.objects]
    problems: list[ObjectProblem] = []

    def check(item: tuple[str, ObjectEntry]) -> tuple[str, ObjectEntry, str | None]:
        topic, entry = item
        return topic, entry, check_object(store, entry)

    with ThreadPoolExecutor(_PARALLEL_DOWNLOADS, thread_name_prefix="verify") as pool:
        for topic, entry, problem in pool.map(check, listed):
            if problem is not None:
                problems.append(ObjectProblem(topic, entry.name, problem))
            on_object(entry)
    referenced = {entry.name for _, entry in listed}
    return VerifyReport(
        url=store.url(),
        topics=len(manifests),
        objects=len(listed),
        records=sum(entry.records for _, entry in listed),
        bytes=sum(entry.size for _, entry in listed),
        problems=tuple(problems),
        orphans=tuple(_orphans(store, referenced)),
    )


def _orphans(store: ObjectStore, referenced: set[str]) -> Iterator[str]:
    for name, _size in store.list_objects(topics_dir("")):
        if parse_object_name(name) is not None and name not in referenced:
            yield name
