"""``mirror token create|list|revoke``: API tokens, managed on the database directly."""

from __future__ import annotations

import secrets
import sys

from mirror.service.serve import DatabaseError, open_store
from mirror.store.records import Role
from mirror.store.store import AlreadyExistsError, NotFoundError, Store

EXIT_OK = 0
EXIT_FAILURE = 1
ACTOR = "cli"


def _fail(error: Exception) -> int:
    print(f"mirror: {error}", file=sys.stderr)
    return EXIT_FAILURE


def _open(database_url: str) -> Store | None:
    try:
        return open_store(database_url)
    except DatabaseError as error:
        _fail(error)
        return None


def create_token(database_url: str, role: str, name: str | None) -> int:
    """Print the new token once; only its hash is stored."""
    store = _open(database_url)
    if store is None:
        return EXIT_FAILURE
    with store:
        try:
            record, token = store.create_token(
                name or f"{role}-{secrets.token_hex(4)}", Role(role), actor=ACTOR
            )
        except (AlreadyExistsError, ValueError) as error:
            return _fail(error)
    print(token)
    print(
        f"token {record.id} ({record.name}, role {record.role}) created; it is shown only now",
        file=sys.stderr,
    )
    return EXIT_OK


def list_tokens(database_url: str) -> int:
    store = _open(database_url)
    if store is None:
        return EXIT_FAILURE
    with store:
        tokens = store.list_tokens()
    print(f"{'ID':<18} {'ROLE':<6} {'CREATED':<20} {'LAST USED':<20} NAME")
    for token in tokens:
        last_used = token.last_used_at.strftime("%Y-%m-%d %H:%M:%S") if token.last_used_at else "never"
        created = token.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{token.id:<18} {token.role:<6} {created:<20} {last_used:<20} {token.name}")
    return EXIT_OK


def revoke_token(database_url: str, token_id: str) -> int:
    store = _open(database_url)
    if store is None:
        return EXIT_FAILURE
    with store:
        try:
            store.revoke_token(token_id, actor=ACTOR)
        except NotFoundError as error:
            return _fail(error)
    print(f"token {token_id} revoked", file=sys.stderr)
    return EXIT_OK
