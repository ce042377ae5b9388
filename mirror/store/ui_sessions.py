"""Dashboard sessions: a login at ``/ui/login`` gives the browser a random session id, never the
bearer token it was made with.

Only the id's SHA-256 is stored, so a copy of the database opens no session. A session ends when
it expires, when its owner logs out, or when its token is revoked: ``ui_sessions.token_id``
references ``api_tokens`` with ``ON DELETE CASCADE``, and a lookup joins the token row, so a
revoked token's sessions stop working at once on every backend.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from mirror.store.database import Transactions
from mirror.store.models import ApiTokenRow, UiSessionRow
from mirror.store.records import ApiToken, Role


class UiSessions:
    def __init__(self, engine: Engine) -> None:
        transactions = Transactions(engine)
        self._read = transactions.read
        self._write = transactions.write

    def create(self, token_id: str, lifetime: timedelta) -> str:
        """A new session for the token ``token_id``, valid for ``lifetime``; returns its id (shown
        once, to be put in the cookie). Sessions that have expired are removed on the way."""
        session_id = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._write() as session:
            session.execute(delete(UiSessionRow).where(UiSessionRow.expires_at <= now))
            session.add(
                UiSessionRow(
                    id_hash=_id_hash(session_id), token_id=token_id, created_at=now, expires_at=now + lifetime
                )
            )
        return session_id

    def authenticate(self, session_id: str) -> ApiToken | None:
        """The token behind a live session, or None (unknown, expired, or its token revoked)."""
        if not session_id:
            return None
        with self._read() as session:
            row = session.scalar(
                select(ApiTokenRow)
                .join(UiSessionRow, UiSessionRow.token_id == ApiTokenRow.id)
                .where(
                    UiSessionRow.id_hash == _id_hash(session_id), UiSessionRow.expires_at > datetime.now(UTC)
                )
            )
        return None if row is None else token_record(row)

    def delete(self, session_id: str) -> None:
        """Ends the session (logging out); an unknown id is ignored."""
        with self._write() as session:
            session.execute(delete(UiSessionRow).where(UiSessionRow.id_hash == _id_hash(session_id)))


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def token_record(row: ApiTokenRow) -> ApiToken:
    """A token row as the API sees it (never its hash): for the store's token reads and for sessions."""
    return ApiToken(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )
