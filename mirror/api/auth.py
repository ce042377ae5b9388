"""Bearer tokens (``Authorization: Bearer <token>``): a ``read`` token may GET, an ``admin`` token
may do everything. Without ``auth_required`` (a loopback-only service started with no token)
requests run as actor ``local`` until the first token is created: from then on they need one,
without a restart."""

from __future__ import annotations

from flask import Flask, redirect, request, url_for
from werkzeug.wrappers import Response

from mirror.api.context import Caller, api, set_caller
from mirror.api.errors import ApiError
from mirror.store.records import Role

PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
"""Load balancers and API tools read these without a token (by path, so that a wrong method on
them is a 405, not a 401)."""
ADMIN_ONLY_ENDPOINTS = frozenset({"audit.list_entries"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_ACTOR = "local"
UI_PREFIX = "/ui"
UI_PUBLIC_PREFIXES = ("/ui/login", "/ui/logout", "/ui/static/")
"""Dashboard paths anyone may reach: the login form, logging out, the page assets."""
UI_TOKEN_COOKIE = "mirror_token"  # noqa: S105 - the cookie's name, not a secret


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def _authenticate() -> Response | None:
    context = api()
    if request.path == UI_PREFIX or request.path.startswith(UI_PREFIX + "/"):
        return _authenticate_page()
    if request.path.rstrip("/") in PUBLIC_PATHS:
        set_caller(Caller(actor="anonymous", role=Role.READ))
        return None
    if not context.settings.auth_required and not context.store.has_tokens():
        set_caller(Caller(actor=LOCAL_ACTOR, role=Role.ADMIN))
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("Authentication required: send 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Unsupported Authorization header: send 'Authorization: Bearer <token>'")
    _check_token(token.strip())
    return None


def _check_token(token: str) -> None:
    context = api()
    record = context.store.authenticate(token)
    if record is None:
        raise _unauthorized("Invalid or revoked token")
    caller = Caller(actor=record.name, role=record.role)
    set_caller(caller)
    if caller.role != Role.ADMIN and (
        request.method not in READ_METHODS or request.endpoint in ADMIN_ONLY_ENDPOINTS
    ):
        raise ApiError(403, f"Token {record.name!r} has role {caller.role}; this request needs role admin")


def _authenticate_page() -> Response | None:
    """Dashboard pages: browsers cannot send bearer tokens, so the login form keeps the token in
    an HttpOnly, SameSite=Strict cookie scoped to /ui; without a valid one, pages redirect there.
    The pages only read, so a read token is enough."""
    context = api()
    if request.path.startswith(UI_PUBLIC_PREFIXES) or (
        not context.settings.auth_required and not context.store.has_tokens()
    ):
        set_caller(Caller(actor=LOCAL_ACTOR, role=Role.READ))
        return None
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else request.cookies.get(UI_TOKEN_COOKIE, "")
    record = context.store.authenticate(token) if token else None
    if record is None or request.method not in READ_METHODS:
        return redirect(url_for("ui.login_form"))
    set_caller(Caller(actor=record.name, role=record.role))
    return None


def install_authentication(app: Flask) -> None:
    app.before_request(_authenticate)
