"""``/ui``: the operator's dashboard, server-rendered from the store.

Every figure comes from what the API itself serves (flows, connector and task states, the lag
sampler's newest samples and history), never from a connector or a cluster directly, so the page
agrees with ``/flows/{name}/lag`` and ``/metrics``. Charts are drawn by a vendored uPlot from
data embedded in the page: no request leaves the host, and nothing needs internet access. Pages
reload themselves every ``REFRESH_S`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mirror.api import views
from mirror.api.auth import UI_TOKEN_COOKIE
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
def login_form() -> str:
    return _login_page(None)


def _login_page(error: str | None) -> str:
    return render_template("ui/login.html", error=error, refresh_s=None, now=_clock(time.time()))


@blueprint.post("/login")
def login() -> BaseResponse | tuple[str, int]:
    token = request.form.get("token", "").strip()
    if not token or store().authenticate(token) is None:
        page = render_template(
            "ui/login.html", error="Invalid or revoked token", refresh_s=None, now=_clock(time.time())
        )
        return page, 401
    response = redirect(url_for("ui.overview"))
    response.set_cookie(
        UI_TOKEN_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure, path="/ui"
    )
    return response


@blueprint.post("/logout")
def logout() -> BaseResponse:
    response = make_response(redirect(url_for("ui.login_form")))
    response.delete_cookie(
        UI_TOKEN_COOKIE, path="/ui", httponly=True, samesite="Strict", secure=request.is_secure
    )
    return response


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
