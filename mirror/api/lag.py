"""``/flows/{name}/lag`` (the newest sample) and ``/lag`` (history): what the lag sampler stored.

The API never measures: it shows the store's samples (``mirror.service.lag_sampler`` takes
them), so every API worker, ``/metrics`` and ``/ui`` show the same numbers.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

from flask import Blueprint, Response, jsonify, request

from mirror.api.bodies import JsonObject
from mirror.api.context import store
from mirror.api.errors import ApiError, bad_request, not_found
from mirror.lag_view import lag_view

blueprint = Blueprint("lag", __name__)

DEFAULT_HISTORY_S = 3600


@blueprint.get("/flows/<name>/lag")
def flow_lag(name: str) -> Response:
    if store().get_flow(name) is None:
        raise not_found(f"Flow {name} not found")
    return jsonify(lag_view(name, store().latest_lag(name), time.time()))


@blueprint.get("/lag")
def lag_history() -> Response:
    now_s = int(time.time())
    until_s = _time_parameter("until", now_s)
    since_s = _time_parameter("since", until_s - DEFAULT_HISTORY_S)
    if until_s < since_s:
        raise bad_request("until must not be before since")
    flow = request.args.get("flow") or None
    topic = request.args.get("topic") or None
    history = store().lag_history(since_s=since_s, until_s=until_s, flow=flow, topic=topic, now_s=now_s)
    series: dict[tuple[str, str], list[JsonObject]] = {}
    for point in history.points:
        series.setdefault((point.flow, point.topic), []).append(
            {"at": point.at_s, "records": point.records, "seconds": point.seconds}
        )
    return jsonify(
        {
            "since": since_s,
            "until": until_s,
            "tier": history.tier,
            "step_seconds": history.step_s,
            "series": [
                {"flow": flow_name, "topic": topic_name, "points": points}
                for (flow_name, topic_name), points in series.items()
            ],
        }
    )


def _time_parameter(name: str, default: int) -> int:
    """Seconds since the epoch, or an ISO 8601 time with a zone."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return default
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        return _iso_time(name, raw)
    if not math.isfinite(value) or not 0 <= value < 2**40:
        raise _bad_time(name, raw)
    return int(value)


def _iso_time(name: str, raw: str) -> int:
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _bad_time(name, raw) from None
    if parsed.tzinfo is None:
        raise bad_request(f"{name} must give a time zone (e.g. 2026-11-24T10:00:00Z), not {raw[:64]!r}")
    return int(parsed.timestamp())


def _bad_time(name: str, raw: str) -> ApiError:
    return bad_request(f"{name} must be seconds since the epoch or an ISO 8601 time, not {raw[:64]!r}")
