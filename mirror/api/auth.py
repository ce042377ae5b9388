"""Who may call the API, and from where.

Bearer tokens (``Authorization: Bearer <token>``): a ``read`` token may GET, an ``admin`` token
may do everything. Without ``auth_required`` (a loopback-only service started with no token)
requests run as actor ``local`` until the first token is created: from then on they need one,
without a restart.

Browsers are the one client that can be made to call the API by someone else's page, so two
guards come first (``install_browser_guards``):

* DNS rebinding: with authentication off, only a loopback ``Host`` (``localhost``, ``127.x.x.x``,
  ``[::1]``, any port) or the advertised URL's host is served. A rebound page runs under its own
  name (``Host: rebind.evil.example``), so it is refused before it can act as ``local``.
* Cross-site requests: a state-changing request (any method but GET, HEAD and OPTIONS) whose
  ``Origin`` is not this service's own, or whose ``Sec-Fetch-Site`` says another site sent it, is
  refused in every mode. Clients that are not browsers (curl, Connect tools) send neither header
  and are not affected. JSON bodies need ``Content-Type: application/json`` already (415,
  ``mirror.api.bodies``), so a cross-site ``text/plain`` POST only reaches body-less routes such
  as ``/restart``, which this guard covers.

Both answer 403 in Connect's error shape. 403 rather than 421 Misdirected Request: 421 tells a
client to retry on another connection, while this is a refusal that no retry changes.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, redirect, request, url_for
from werkzeug.wrappers import Response

from mirror.api.context import Caller, api, set_caller
from mirror.api.errors import ApiError
from mirror.store.records import ApiToken, Role

PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
"""Load balancers and API tools read these without a token (by path, so that a wrong method on
them is a 405, not a 401)."""
ADMIN_ONLY_ENDPOINTS = frozenset({"audit.list_entries"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_ACTOR = "local"
UI_PREFIX = "/ui"
UI_PUBLIC_PREFIXES = ("/ui/login", "/ui/logout", "/ui/static/")
"""Dashboard paths anyone may reach: the login form, logging out, the page assets."""
UI_SESSION_COOKIE = "mirror_session"
"""Holds a dashboard session id (``mirror.store.ui_sessions``), never a token."""
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
"""``Sec-Fetch-Site`` values of a request another site's page made (``same-site`` is a sibling
subdomain or another port of this host: still not this service's own page)."""
HSTS = "max-age=31536000"
"""A year; no ``includeSubDomains``: this service speaks for its own host name only."""
_SHOWN_HOST_CHARS = 100


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def auth_off() -> bool:
    """True while every request runs as ``local``: started without ``auth_required``, no token yet."""
    context = api()
    return not context.settings.auth_required and not context.store.has_tokens()


# ---- browser guards ---------------------------------------------------------------------------------
def _guard_host_and_origin() -> None:
    # The store is asked last: a loopback /health must answer while the database is down.
    if not _host_allowed_without_auth(request.host) and auth_off():
        raise ApiError(
            403,
            f"Host {_shown(request.host)} is not served here: without API tokens this service answers "
            "only loopback names (localhost, 127.0.0.1, [::1]) and the host of MIRROR_API_ADVERTISED_URL",
        )
    if request.method in READ_METHODS:
        return
    fetch_site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site in FOREIGN_FETCH_SITES:
        raise ApiError(
            403, f"Refused a {fetch_site} {request.method} request: it came from another site's page"
        )
    origin = request.headers.get("Origin")
    if origin is not None and not _own_origin(origin):
        raise ApiError(
            403, f"Refused a {request.method} request from origin {_shown(origin)}: it is not this service's"
        )


def _host_allowed_without_auth(host_header: str) -> bool:
    name = _host_name(host_header)
    if name is None:
        return False
    if name == "localhost":
        return True
    try:
        if ipaddress.ip_address(name).is_loopback:
            return True
    except ValueError:
        pass
    return name == _advertised_host()


def _host_name(host_header: str) -> str | None:
    """The name of ``host[:port]`` / ``[v6]:port``, lower case; None if it does not parse."""
    try:
        return urlsplit(f"//{host_header}").hostname
    except ValueError:
        return None


def _advertised_host() -> str | None:
    advertised = api().settings.advertised_url
    return urlsplit(advertised).hostname if advertised else None


def _own_origin(origin: str) -> bool:
    """Whether ``origin`` is this service's: the host the request was sent to, or the advertised
    URL. The request's scheme is not compared: behind a TLS-terminating proxy the browser says
    https while this server sees http, and a page on the same host name over the other scheme is
    only possible for someone who already controls the network path."""
    try:
        parts = urlsplit(origin.strip())
        advertised = urlsplit(api().settings.advertised_url or "")
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path or parts.query:
        return False  # includes "null" (sandboxed frames, privacy-sensitive redirects)
    netloc = parts.netloc.lower()
    if netloc == request.host.lower():
        return True
    return bool(advertised.netloc) and (parts.scheme, netloc) == (
        advertised.scheme,
        advertised.netloc.lower(),
    )


def _shown(value: str) -> str:
    """A client-sent value for an error message: quoted and cut short."""
    return repr(value[:_SHOWN_HOST_CHARS] + ("..." if len(value) > _SHOWN_HOST_CHARS else ""))


def _strict_transport_security(response: Response) -> Response:
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


# ---- authentication ---------------------------------------------------------------------------------
def _authenticate() -> Response | None:
    if request.path == UI_PREFIX or request.path.startswith(UI_PREFIX + "/"):
        return _authenticate_page()
    if request.path.rstrip("/") in PUBLIC_PATHS:
        set_caller(Caller(actor="anonymous", role=Role.READ))
        return None
    if auth_off():
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
    """Dashboard pages: browsers cannot send bearer tokens, so the login form opens a session whose
    random id lives in an HttpOnly, SameSite=Strict cookie scoped to /ui; without a live one, pages
    redirect there. The pages only read, so a read token is enough."""
    if request.path.startswith(UI_PUBLIC_PREFIXES) or auth_off():
        set_caller(Caller(actor=LOCAL_ACTOR, role=Role.READ))
        return None
    record = _page_caller()
    if record is None or request.method not in READ_METHODS:
        return redirect(url_for("ui.login_form"))
    set_caller(Caller(actor=record.name, role=record.role))
    return None


def _page_caller() -> ApiToken | None:
    store = api().store
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        return store.authenticate(bearer.strip())
    return store.ui_sessions.authenticate(request.cookies.get(UI_SESSION_COOKIE, ""))


def install_browser_guards(app: Flask) -> None:
    """Before authentication: a refused Host or Origin is refused whatever the request carries."""
    app.before_request(_guard_host_and_origin)
    app.after_request(_strict_transport_security)


def install_authentication(app: Flask) -> None:
    app.before_request(_authenticate)
