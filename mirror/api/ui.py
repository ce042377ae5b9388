"""``/ui``: the operator's dashboard, server-rendered from the store.

Every figure comes from what the API itself serves (flows, connector and task states, the lag
sampler's newest samples and history), never from a connector or a cluster directly, so the page
agrees with ``/flows/{name}/lag`` and ``/metrics``. Charts are drawn by a vendored uPlot from
data embedded in the page: no request leaves the host, and nothing needs internet access. Pages
reload themselves every ``REFRESH_S`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from mirror.api import views
from mirror.api.auth import UI_SESSION_COOKIE
from mirror.api.context import store
from mirror.lag import LagPoint, Readiness, ReadinessRules, failover_readiness
from mirror.lag_view import lag_view
from mirror.store.records import FlowRecord

blueprint = Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)

REFRESH_S = 10
RANGES: dict[str, int] = {
    "15m": 15 * 60,
    "6h": 6 * 3600,
    "24h": 24 * 3600,
    "7d": 7 * 86400,
    "31d": 31 * 86400,
}
"""Chart ranges a flow page offers; each reads the finest history tier that covers it."""
DEFAULT_RANGE = "15m"
READINESS_RULES = ReadinessRules(
    max_rpo_s=60.0, max_heartbeat_age_s=120.0, max_checkpoint_age_s=300.0, max_sample_age_s=60.0
)
"""When the dashboard calls a flow ready to fail over (the pages print these too):

* ``max_rpo_s``: a failover now may lose at most a minute of records (oldest waiting record's age,
  grown by the time since the sample);
* ``max_heartbeat_age_s``: heartbeats that stopped reaching the target two minutes ago mean the
  flow itself may have stopped, whatever its last sample says;
* ``max_checkpoint_age_s``: consumer groups would resume from offsets at most five minutes older
  than their commits on the source (re-reading, not losing, what they had read since);
* ``max_sample_age_s``: the sampler runs every few seconds; a sample older than a minute vouches
  for nothing any more.
"""
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Scripts and styles only from files this app serves: the chart data embedded in a page is JSON
(``<script type="application/json">``), which no browser executes, and no page has inline code."""
SESSION_LIFETIME = timedelta(hours=12)
"""A working day: after that the dashboard asks for the token again."""
LOGIN_CSRF_COOKIE = "mirror_login_csrf"
"""The login form's CSRF token, also in the form (a double-submit token: another site's page can
neither read this cookie nor make the browser send it, SameSite=Strict)."""
LEGACY_TOKEN_COOKIE = "mirror_token"  # noqa: S105 - a cookie's name, not a secret
"""Earlier versions kept the bearer token itself in this cookie; logging in or out deletes it."""
CSRF_FIELD = "csrf"
CSRF_BYTES = 32
CSRF_LENGTH = 43
"""Characters of ``secrets.token_urlsafe(CSRF_BYTES)``."""
MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_S = 15 * 60.0
"""At most ``MAX_FAILED_LOGINS`` wrong tokens per client address in any ``FAILED_LOGIN_WINDOW_S``;
then every login from that address, the right token included, is refused (429) until the oldest
failure leaves the window. Counted in memory per API worker process (``mirror serve --workers``),
so an address gets at most that many times ``MAX_FAILED_LOGINS``: far too few to guess a token
(256 random bits), enough to stop a script from trying. Behind a proxy every client shares the
proxy's address."""
LOGIN_THROTTLE = "mirror.login_throttle"
"""``app.extensions`` key of the app's ``LoginThrottle``."""


@dataclass(frozen=True)
class ConnectorView:
    name: str
    state: str
    trace_line: str | None
    tasks: tuple[tuple[int, str, str | None], ...]
    """(task id, state, first line of its trace)."""


@dataclass(frozen=True)
class FlowView:
    record: FlowRecord
    connectors: tuple[ConnectorView, ...]
    lag: dict[str, Any]
    """``mirror.lag_view.lag_view`` of the newest sample."""
    readiness: Readiness


@dataclass
class LoginThrottle:
    """Failed logins per client address in a sliding window (see ``MAX_FAILED_LOGINS``)."""

    max_failures: int = MAX_FAILED_LOGINS
    window_s: float = FAILED_LOGIN_WINDOW_S
    max_addresses: int = 10_000
    """Addresses tracked at once; the least recently failing are forgotten first, so memory stays bounded."""
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after_s(self, address: str) -> float:
        """0 if ``address`` may try to log in now, else the seconds until it may."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.max_failures:
                return 0.0
            return failures[-self.max_failures] + self.window_s - self.clock()

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self.clock())
            self._failures.move_to_end(address)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        oldest_kept = self.clock() - self.window_s
        while failures and failures[0] <= oldest_kept:
            failures.popleft()
        return failures


@blueprint.record_once
def _add_login_throttle(state: BlueprintSetupState) -> None:
    state.app.extensions[LOGIN_THROTTLE] = LoginThrottle()


def login_throttle() -> LoginThrottle:
    throttle: LoginThrottle = current_app.extensions[LOGIN_THROTTLE]
    return throttle


@blueprint.context_processor
def _logout_form() -> dict[str, str]:
    return {"logout_csrf": _logout_csrf(request.cookies.get(UI_SESSION_COOKIE, ""))}


def _logout_csrf(session_id: str) -> str:
    """The logout form's CSRF token: derived from the session id, which only its browser knows,
    so nothing more needs storing. Empty without a session (then there is nothing to end)."""
    if not session_id:
        return ""
    return hmac.new(session_id.encode(), b"mirror ui logout", hashlib.sha256).hexdigest()


@blueprint.after_request
def _secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/")
def overview() -> str:
    now_s = time.time()
    flows = [_flow_view(record, now_s) for record in store().list_flows()]
    return render_template(
        "ui/overview.html", flows=flows, rules=READINESS_RULES, refresh_s=REFRESH_S, now=_clock(now_s)
    )


@blueprint.get("/flows/<name>")
def flow_page(name: str) -> BaseResponse | str | tuple[str, int]:
    record = store().get_flow(name)
    if record is None:
        return render_template("ui/missing.html", name=name, refresh_s=None, now=_clock(time.time())), 404
    chosen = request.args.get("range", DEFAULT_RANGE)
    if chosen not in RANGES:
        return redirect(url_for("ui.flow_page", name=name))
    now_s = time.time()
    history = store().lag_history(since_s=int(now_s) - RANGES[chosen], until_s=int(now_s), flow=name)
    return render_template(
        "ui/flow.html",
        flow=_flow_view(record, now_s),
        chart=_chart_data(history.points),
        tier=history.tier,
        rules=READINESS_RULES,
        ranges=list(RANGES),
        chosen=chosen,
        refresh_s=REFRESH_S,
        now=_clock(now_s),
    )


@blueprint.get("/login")
def login_form() -> Response:
    return _login_page(None, 200)


def _login_page(error: str | None, status: int, headers: dict[str, str] | None = None) -> Response:
    """The login form, with its CSRF token in the form and in a cookie; one token per browser, not
    per page load, so two open login tabs both work."""
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if len(csrf) != CSRF_LENGTH or not csrf.isascii():
        csrf = secrets.token_urlsafe(CSRF_BYTES)
    page = render_template("ui/login.html", csrf=csrf, error=error, refresh_s=None, now=_clock(time.time()))
    response = make_response(page, status, headers or {})
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, **_cookie_flags(path="/ui/login"))
    return response


@blueprint.post("/login")
def login() -> BaseResponse:
    address = request.remote_addr or "unknown"
    wait_s = login_throttle().retry_after_s(address)
    if wait_s > 0:
        retry_after = str(int(wait_s) + 1)
        message = f"Too many failed logins from {address}: try again in {retry_after} s"
        return _login_page(message, 429, {"Retry-After": retry_after})
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = request.form.get(CSRF_FIELD, "")
    if not csrf or not hmac.compare_digest(sent.encode(), csrf.encode()):
        return _login_page("The login form expired or came from another page: log in again", 403)
    token = request.form.get("token", "").strip()
    record = store().authenticate(token) if token else None
    if record is None:
        login_throttle().failed(address)
        return _login_page("Invalid or revoked token", 401)
    login_throttle().succeeded(address)
    previous = request.cookies.get(UI_SESSION_COOKIE)
    if previous:
        store().ui_sessions.delete(previous)
    session_id = store().ui_sessions.create(record.id, SESSION_LIFETIME)
    response = redirect(url_for("ui.overview"))
    response.set_cookie(
        UI_SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        **_cookie_flags(path="/ui"),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, **_cookie_flags(path="/ui/login"))
    response.delete_cookie(LEGACY_TOKEN_COOKIE, **_cookie_flags(path="/ui"))
    return response


@blueprint.post("/logout")
def logout() -> BaseResponse:
    session_id = request.cookies.get(UI_SESSION_COOKIE, "")
    if session_id:
        sent = request.form.get(CSRF_FIELD, "")
        if not hmac.compare_digest(sent.encode(), _logout_csrf(session_id).encode()):
            return _login_page("Log out with the dashboard's own Log out button", 403)
        store().ui_sessions.delete(session_id)
    response = make_response(redirect(url_for("ui.login_form")))
    response.delete_cookie(UI_SESSION_COOKIE, **_cookie_flags(path="/ui"))
    response.delete_cookie(LEGACY_TOKEN_COOKIE, **_cookie_flags(path="/ui"))
    return response


def _cookie_flags(path: str) -> dict[str, Any]:
    """Unreadable by scripts, never sent by another site's request, Secure over HTTPS."""
    return {"path": path, "httponly": True, "samesite": "Strict", "secure": request.is_secure}


# ---- view models ----------------------------------------------------------------------------------


def _flow_view(record: FlowRecord, now_s: float) -> FlowView:
    connectors = []
    for name in record.connectors:
        connector = store().get_connector(name)
        if connector is None:
            continue
        state = store().connector_state(name)
        shown = views.connector_state(connector, state)
        tasks = tuple(
            (task.task_id, task.state, _first_line(task.trace))
            for task in views.visible_tasks(state, store().task_states(name))
        )
        connectors.append(
            ConnectorView(name, str(shown["state"]), _first_line(state.trace if state else None), tasks)
        )
    sample = store().latest_lag(record.name)
    return FlowView(
        record,
        tuple(connectors),
        lag_view(record.name, sample, now_s),
        failover_readiness(sample, now_s, READINESS_RULES),
    )


def _chart_data(points: Sequence[LagPoint]) -> dict[str, Any]:
    """uPlot's aligned columns: shared times, then one column per topic (null where absent)."""
    times = sorted({point.at_s for point in points})
    index = {at: position for position, at in enumerate(times)}
    topics = sorted({point.topic for point in points})
    records: dict[str, list[int | None]] = {topic: [None] * len(times) for topic in topics}
    seconds: dict[str, list[float | None]] = {topic: [None] * len(times) for topic in topics}
    for point in points:
        records[point.topic][index[point.at_s]] = point.records
        seconds[point.topic][index[point.at_s]] = point.seconds
    return {
        "topics": topics,
        "times": times,
        "records": [records[topic] for topic in topics],
        "seconds": [seconds[topic] for topic in topics],
    }


def _first_line(text: str | None) -> str | None:
    return None if not text else text.strip().splitlines()[0][:300]


def _clock(now_s: float) -> str:
    return datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
