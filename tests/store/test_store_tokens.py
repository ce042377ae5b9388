"""API tokens: shown once, stored as a hash, checked in constant time, revocable."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import text

from mirror.store.records import Role
from mirror.store.store import AlreadyExistsError, NotFoundError, Store


def test_create_and_authenticate(store: Store) -> None:
    assert not store.has_tokens()
    record, token = store.create_token("ops", Role.ADMIN, "cli")
    assert store.has_tokens()
    assert (record.name, record.role, record.last_used_at) == ("ops", Role.ADMIN, None)
    assert record.created_at.tzinfo is UTC

    authenticated = store.authenticate(token)
    assert authenticated is not None
    assert (authenticated.id, authenticated.name, authenticated.role) == (record.id, "ops", Role.ADMIN)
    assert authenticated.last_used_at is not None
    [listed] = store.list_tokens()
    assert listed.last_used_at == authenticated.last_used_at


@pytest.mark.parametrize("mangle", ["wrong-secret", "wrong-id", "no-separator", "empty", "secret-only"])
def test_wrong_tokens_are_refused(store: Store, mangle: str) -> None:
    _, token = store.create_token("ops", Role.READ, "cli")
    token_id, _, secret_part = token.partition(".")
    wrong = {
        "wrong-secret": f"{token_id}.{secret_part[:-1]}{'A' if secret_part[-1] != 'A' else 'B'}",
        "wrong-id": f"{'0' * len(token_id)}.{secret_part}",
        "no-separator": token_id + secret_part,
        "empty": "",
        "secret-only": f".{secret_part}",
    }[mangle]
    assert store.authenticate(wrong) is None
    assert store.authenticate(token) is not None


def test_only_a_hash_is_stored(store: Store) -> None:
    _, token = store.create_token("ops", Role.ADMIN, "cli")
    secret_part = token.partition(".")[2]
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_tokens")).all()
        audit = connection.execute(text("SELECT * FROM audit_log")).all()
    stored = " ".join(str(value) for row in [*rows, *audit] for value in row)
    assert secret_part not in stored
    assert token not in stored


def test_token_names_are_unique_and_roles_checked(store: Store) -> None:
    store.create_token("ops", Role.READ, "cli")
    with pytest.raises(AlreadyExistsError):
        store.create_token("ops", Role.ADMIN, "cli")
    with pytest.raises(ValueError, match="role"):
        store.create_token("other", "root", "cli")  # type: ignore[arg-type]  # a bad role on purpose
    assert [token.name for token in store.list_tokens()] == ["ops"]


def test_revoke_token(store: Store) -> None:
    record, token = store.create_token("ops", Role.ADMIN, "cli")
    store.create_token("reader", Role.READ, "cli")
    store.revoke_token(record.id, "cli")
    assert store.authenticate(token) is None
    assert [token.name for token in store.list_tokens()] == ["reader"]
    with pytest.raises(NotFoundError):
        store.revoke_token(record.id, "cli")
    assert [(entry.action, entry.detail.get("name")) for entry in store.audit_log()] == [
        ("token.revoke", "ops"),
        ("token.create", "reader"),
        ("token.create", "ops"),
    ]
