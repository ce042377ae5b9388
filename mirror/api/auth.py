"""Bearer tokens (``Authorization: Bearer <token>``): a ``read`` token may GET, an ``admin`` token
may do everything. Without ``auth_required`` (a loopback-only service started with no token)
requests run as actor ``local`` until the first token is created: from then on they need one,
without a restart."""

from __future__ import annotations

from flask import Flask, request

from mirror.api.context import Caller, api, set_caller
from mirror.api.errors import ApiError
from mirror.store.records import Role

PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
"""Load balancers and API tools read these without a token (by path, so that a wrong method on
them is a 405, not a 401)."""
ADMIN_ONLY_ENDPOINTS = frozenset({"audit.list_entries"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_ACTOR = "local"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def _authenticate() -> None:
    context = api()
    if request.path.rstrip("/") in PUBLIC_PATHS:
        set_caller(Caller(actor="anonymous", role=Role.READ))
        return
    if not context.settings.auth_required and not context.store.has_tokens():
        set_caller(Caller(actor=LOCAL_ACTOR, role=Role.ADMIN))
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("Authentication required: send 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Unsupported Authorization header: send 'Authorization: Bearer <token>'")
    record = context.store.authenticate(token.strip())
    if record is None:
        raise _unauthorized("Invalid or revoked token")
    caller = Caller(actor=record.name, role=record.role)
    set_caller(caller)
    if caller.role != Role.ADMIN and (
        request.method not in READ_METHODS or request.endpoint in ADMIN_ONLY_ENDPOINTS
    ):
        raise ApiError(403, f"Token {record.name!r} has role {caller.role}; this request needs role admin")


def install_authentication(app: Flask) -> None:
    app.before_request(_authenticate)
