"""``mirror backup prune``: retention for a backup prefix.

Objects whose newest record is older than the retention are dropped from their manifest first
and deleted after, so a crash in between leaves orphans (ignored by restore) rather than a
manifest naming missing objects. Each partition's resume point is kept, so a continuing backup
never re-reads what was pruned. ``orphans`` also deletes objects no manifest lists whose records
lie below their partition's resume point (left by crashed backups; never an upload in flight).

A backup writing the same prefix keeps its manifests in memory and would put pruned entries
back, so pruning refuses while a manifest was written in the last ``busy_window_ms`` unless
forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mirror.formats.backup.layout import manifest_key, parse_object_name, topics_dir
from mirror.formats.backup.manifest import TopicManifest, encode_manifest
from mirror.s3 import ObjectStore

DAY_MS = 24 * 3600 * 1000
BUSY_WINDOW_MS = 5 * 60 * 1000


class BackupBusyError(Exception):
    """A backup seems to be writing this prefix right now."""


@dataclass(frozen=True)
class PruneReport:
    url: str
    deleted: tuple[str, ...]
    deleted_bytes: int
    orphans_deleted: tuple[str, ...]
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "dry_run": self.dry_run,
            "deleted_objects": len(self.deleted),
            "deleted_bytes": self.deleted_bytes,
            "orphans_deleted": len(self.orphans_deleted),
            "objects": list(self.deleted),
            "orphans": list(self.orphans_deleted),
        }


def prune_backup(
    store: ObjectStore,
    manifests: dict[str, TopicManifest],
    *,
    keep_days: float,
    now_ms: int,
    dry_run: bool,
    orphans: bool = False,
    force: bool = False,
    busy_window_ms: int = BUSY_WINDOW_MS,
) -> PruneReport:
    busy = [topic for topic, m in manifests.items() if now_ms - m.updated_at_ms < busy_window_ms]
    if busy and not force:
        raise BackupBusyError(
            f"the manifest of {busy[0]} was written less than {busy_window_ms // 60000} minutes ago: "
            "a backup may be writing this prefix; stop it first or pass --force"
        )
    cutoff = now_ms - int(keep_days * DAY_MS)
    deleted: list[str] = []
    deleted_bytes = 0
    for topic, manifest in sorted(manifests.items()):
        expired = [entry for entry in manifest.objects if entry.max_timestamp < cutoff]
        if not expired:
            continue
        deleted.extend(entry.name for entry in expired)
        deleted_bytes += sum(entry.size for entry in expired)
        if not dry_run:
            kept = manifest.without_objects(entry.name for entry in expired)
            store.put(manifest_key("", topic), encode_manifest(kept), "application/json")
            store.delete(entry.name for entry in expired)
    orphan_names: list[str] = []
    if orphans:
        referenced = {entry.name for m in manifests.values() for entry in m.objects}
        for name, _size in store.list_objects(topics_dir("")):
            parsed = parse_object_name(name)
            if parsed is None or name in referenced or parsed.topic not in manifests:
                continue
            if parsed.first_offset < manifests[parsed.topic].next_offsets.get(parsed.partition, 0):
                orphan_names.append(name)
        if orphan_names and not dry_run:
            store.delete(orphan_names)
    return PruneReport(store.url(), tuple(deleted), deleted_bytes, tuple(orphan_names), dry_run)
