"""The audit log: operator actions, newest first."""

from __future__ import annotations

from datetime import UTC

import pytest

from mirror.store.store import NotFoundError, Store


def test_audit_entries_newest_first(store: Store) -> None:
    for number in range(5):
        store.audit("ops", "offsets.reset", f"flows/f{number}", {"group": f"g{number}"})
    store.audit("cli", "runbook.failover", "flows/f0")
    entries = store.audit_log()
    assert [(entry.actor, entry.action) for entry in entries[:2]] == [
        ("cli", "runbook.failover"),
        ("ops", "offsets.reset"),
    ]
    assert [entry.resource for entry in entries[1:]] == [f"flows/f{number}" for number in (4, 3, 2, 1, 0)]
    assert entries[0].detail == {}
    assert entries[1].detail == {"group": "g4"}
    assert entries[1].at.tzinfo is UTC
    assert [entry.id for entry in entries] == sorted((entry.id for entry in entries), reverse=True)
    assert [entry.id for entry in store.audit_log(limit=2)] == [entry.id for entry in entries[:2]]


def test_audit_detail_must_be_strings(store: Store) -> None:
    with pytest.raises(ValueError, match="count"):
        store.audit("ops", "offsets.reset", "flows/f", {"count": 3})  # type: ignore[dict-item]  # on purpose
    assert store.audit_log() == []


def test_failed_write_leaves_no_audit_entry(store: Store) -> None:
    store.put_cluster("primary", "127.0.0.1:9092", {}, {}, "cli")
    entries = store.audit_log()
    with pytest.raises(NotFoundError):
        store.delete_cluster("missing", "cli")
    assert store.audit_log() == entries
