"""The dashboard at /ui: what a real headless Chromium shows, and its pages' safety rules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from mirror.lag import FlowLag, GroupLag, PartitionLag
from mirror.store.records import Role, TargetState
from mirror.store.store import Store
from tests.api.harness import Api, build_api
from tests.browser import Element, elements, render, text


def flows_with_lag(store: Store) -> None:
    """Two flows: one caught up and ready, one with 1,000 records waiting and a stale checkpoint."""
    now = time.time()
    for name in ("primary", "backup"):
        store.put_cluster(name, f"{name}:9092", {}, {}, actor="test")
    for flow in ("ready-flow", "lagging-flow"):
        store.create_flow(
            flow, "primary", "backup", {}, connectors={}, target_state=TargetState.RUNNING, actor="t"
        )
    for at in (now - 120, now - 60, now):
        store.record_lag(
            FlowLag(
                "ready-flow",
                at,
                (PartitionLag("orders", 0, 500, 500, 0, 0.0),),
                (GroupLag("billing", "orders", 0, 480, 20, 480, 20, 0.0),),
                last_heartbeat_ms=int((now - 2) * 1000),
            )
        )
    for at, waiting in ((now - 120, 0), (now - 60, 400), (now, 1000)):
        store.record_lag(
            FlowLag(
                "lagging-flow",
                at,
                (
                    PartitionLag(
                        "payments", 0, 2000, 2000 - waiting // 2, waiting // 2, 95.0 if waiting else 0.0
                    ),
                    PartitionLag(
                        "payments", 1, 2000, 2000 - waiting // 2, waiting // 2, 40.0 if waiting else 0.0
                    ),
                ),
                (GroupLag("fraud", "payments", 0, 1900, 100, 1500, 500, 420.0),),
                last_heartbeat_ms=None,
            )
        )


def is_lag(element: Element) -> bool:
    return "data-lag-records" in element.attributes


def is_rpo(element: Element) -> bool:
    return "data-rpo-seconds" in element.attributes


@pytest.fixture
def served(store: Store) -> Iterator[str]:
    """The app on 127.0.0.1 (werkzeug in a thread), for the browser; stopped after the test."""
    flows_with_lag(store)
    api = build_api(store, auth_required=False)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, api.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ui-under-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_overview_shows_each_flow_with_its_lag_and_readiness_in_chromium(served: str) -> None:
    page = render(f"{served}/ui", "ui-overview")
    ready = elements(page.dom, "tr", data_flow="ready-flow")
    lagging = elements(page.dom, "tr", data_flow="lagging-flow")
    assert len(ready) == len(lagging) == 1
    assert "1,000" in text(lagging[0])
    shown = [cell.attributes["data-lag-records"] for cell in elements(page.dom, "td") if is_lag(cell)]
    assert shown == ["1000", "0"]  # flows in name order: lagging-flow, ready-flow
    assert len(elements(page.dom, "span", data_ready="true")) == 1
    assert len(elements(page.dom, "span", data_ready="false")) == 1
    # The RPO grows with the time since the sample: the oldest waiting record's 95 s, and more.
    rpo = [float(cell.attributes["data-rpo-seconds"]) for cell in elements(page.dom, "td") if is_rpo(cell)]
    assert rpo[1] == 0.0 and 95.0 <= rpo[0] < 95.0 + 60
    assert "not ready" in text(lagging[0]) and "RPO 9" in text(lagging[0])
    assert "checkpoint stale: fraud" in text(lagging[0])
    assert "no heartbeats reach the target" in text(lagging[0])
    assert "not ready" not in text(ready[0])
    assert page.screenshot.stat().st_size > 10_000


def test_the_flow_page_draws_lag_charts_and_lists_partitions_and_groups_in_chromium(served: str) -> None:
    page = render(f"{served}/ui/flows/lagging-flow", "ui-flow")
    assert elements(page.dom, "span", data_lag_records="1000")
    for chart in ("chart-records", "chart-seconds"):
        container = elements(page.dom, "div", id=chart)
        assert len(container) == 1
    # uPlot drew into the containers: a canvas each, and a legend naming the topic.
    assert len(elements(page.dom, "canvas")) == 2
    legend = [text(cell) for cell in elements(page.dom, "div", **{"class": "u-label"})]
    assert legend.count("payments") == 2
    rows = {
        row.attributes["data-partition"]: row.attributes["data-lag-records"]
        for row in elements(page.dom, "tr")
        if "data-lag-records" in row.attributes
    }
    assert rows == {"payments-0": "500", "payments-1": "500"}
    group = elements(page.dom, "tr", data_group="fraud")
    assert [(row.attributes["data-source-lag"], row.attributes["data-target-lag"]) for row in group] == [
        ("100", "500")
    ]
    history = json.loads(text(elements(page.dom, "script", id="lag-history")[0]))
    assert history["topics"] == ["payments"] and history["records"] == [[0, 400, 1000]]


def test_an_unknown_flow_is_a_404_page(api: Api) -> None:
    response = api.app.test_client().get("/ui/flows/nope")
    assert response.status_code == 404
    assert b'data-missing-flow="nope"' in response.data


def test_names_are_escaped_and_pages_carry_a_content_security_policy(api: Api, store: Store) -> None:
    hostile = "<script>alert(1)</script>"
    store.put_cluster("a", "a:9092", {}, {}, actor="test")
    store.put_cluster("b", "b:9092", {}, {}, actor="test")
    store.create_flow("f", "a", "b", {}, connectors={}, target_state=TargetState.RUNNING, actor="test")
    store.record_lag(FlowLag("f", time.time(), (PartitionLag(hostile, 0, 5, 0, 5, 1.0),)))
    client = api.app.test_client()
    for path in ("/ui", "/ui/flows/f"):
        response = client.get(path)
        assert response.status_code == 200
        assert hostile.encode() not in response.data
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/ui/flows/f").data


def test_with_tokens_pages_need_a_login_and_the_cookie_is_locked_down(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'auth.db'}") as store:
        _record, token = store.create_token("viewer", Role.READ, actor="cli")
        client = build_api(store, auth_required=True).app.test_client()
        page = client.get("/ui")
        assert page.status_code == 302 and page.headers["Location"].endswith("/ui/login")
        assert client.get("/ui/login").status_code == 200
        with client.get("/ui/static/ui.css") as asset:
            assert asset.status_code == 200
        refused = client.post("/ui/login", data={"token": "mirror.wrong"})
        assert refused.status_code == 401 and b"mirror.wrong" not in refused.data
        accepted = client.post("/ui/login", data={"token": token})
        assert accepted.status_code == 302
        cookie = accepted.headers["Set-Cookie"]
        assert cookie.startswith("mirror_token=")
        assert all(flag in cookie for flag in ("HttpOnly", "SameSite=Strict", "Path=/ui"))
        assert client.get("/ui").status_code == 200  # a read token may view
        assert client.get("/connectors").status_code == 401  # the cookie is for pages only
        client.post("/ui/logout")
        assert client.get("/ui").status_code == 302
