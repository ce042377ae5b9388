"""Stopping a flow that ``mirror serve`` runs, through its REST API, before groups move.

``mirror run`` is a process this command cannot reach, so for such flows the runbook can only
refuse while they move. A flow the service runs can be stopped: ``PUT /flows/{name}/stop``,
then wait until every connector of the flow reports STOPPED with no task left, so nothing is
replicated after the offsets are translated.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from mirror.service.flows import flow_connector_name

TOKEN_ENV = "MIRROR_API_TOKEN"  # noqa: S105 - the name of a variable, not a secret
_POLL_S = 0.5


class FlowStopError(Exception):
    """The flow could not be stopped; the message says why (never the token)."""


@dataclass(frozen=True)
class ServiceFlow:
    base_url: str
    name: str
    token: str | None = None

    def url(self, suffix: str = "") -> str:
        return f"{self.base_url.rstrip('/')}/flows/{urllib.parse.quote(self.name, safe='')}{suffix}"


def _call(flow: ServiceFlow, method: str, suffix: str, timeout_s: float) -> dict[str, object]:
    request = urllib.request.Request(flow.url(suffix), method=method)  # noqa: S310 - an operator's URL
    request.add_header("Accept", "application/json")
    if flow.token:
        request.add_header("Authorization", f"Bearer {flow.token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            body: dict[str, object] = json.loads(response.read() or b"{}")
            return body
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise FlowStopError(f"{method} {flow.url(suffix)} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FlowStopError(f"the service at {flow.base_url} does not answer: {exc}") from None


def _statuses(body: dict[str, object]) -> list[dict[str, object]]:
    connectors = body.get("connectors")
    if not isinstance(connectors, list):
        raise FlowStopError("the service answered a flow without its connectors")
    return [status for status in connectors if isinstance(status, dict)]


def _still_running(status: dict[str, object]) -> bool:
    connector = status.get("connector")
    state = connector.get("state") if isinstance(connector, dict) else None
    return state != "STOPPED" or bool(status.get("tasks"))


def source_connector(flow: ServiceFlow, timeout_s: float = 10.0) -> str:
    """The name of the flow's MirrorSourceConnector (its source offsets are stored under it)."""
    wanted = flow_connector_name(flow.name, "source")
    if any(status.get("name") == wanted for status in _statuses(_call(flow, "GET", "", timeout_s))):
        return wanted
    raise FlowStopError(f"flow {flow.name!r} has no source connector {wanted!r}")


def stop_and_wait(flow: ServiceFlow, timeout_s: float = 30.0) -> None:
    """Stop the flow and return once all its connectors are STOPPED with no task left."""
    _call(flow, "PUT", "/stop", timeout_s)
    deadline = time.monotonic() + timeout_s
    pending: list[str] = []
    while time.monotonic() < deadline:
        body = _call(flow, "GET", "", timeout_s)
        pending = [str(status.get("name")) for status in _statuses(body) if _still_running(status)]
        if not pending:
            return
        time.sleep(_POLL_S)
    raise FlowStopError(
        f"flow {flow.name!r} did not stop within {timeout_s:.0f}s: {', '.join(pending)} still run"
    )
