"""The dashboard at /ui: what a real headless Chromium shows, and its pages' safety rules."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server

from mirror.api.ui import (
    FAILED_LOGIN_WINDOW_S,
    LOGIN_THROTTLE,
    MAX_FAILED_LOGINS,
    READINESS_RULES,
    LoginThrottle,
)
from mirror.lag import FlowLag, GroupLag, PartitionLag
from mirror.store.records import Role, TargetState
from mirror.store.store import Store
from tests.api.harness import Api, build_api
from tests.browser import Element, elements, render, text

FAILED_TRACE = (
    "org.example.BrokerUnreachable: primary:9092 refused\n\tat org.example.Fetcher.poll(Fetcher.java:7)"
)
STALE_HEARTBEAT_S = 312


def source_connector(flow: str) -> dict[str, tuple[str, dict[str, str]]]:
    return {f"{flow}-source": ("MirrorSourceConnector", {"topics": ".*"})}


def seed_flows(api: Api) -> float:
    """Four flows, by name: ``idle-flow`` (paused, never sampled), ``lagging-flow`` (1,000 records
    over two topics, a stale checkpoint, a failed task), ``ready-flow`` (caught up), ``stale-flow``
    (caught up, but its heartbeats stopped 312 s ago). Returns the time of the newest samples."""
    store = api.store
    now = time.time()
    for name in ("primary", "backup"):
        store.put_cluster(name, f"{name}:9092", {}, {}, actor="test")
    for flow in ("ready-flow", "lagging-flow", "stale-flow", "idle-flow"):
        state = TargetState.PAUSED if flow == "idle-flow" else TargetState.RUNNING
        store.create_flow(
            flow, "primary", "backup", {}, connectors=source_connector(flow), target_state=state, actor="t"
        )
    api.report("ready-flow-source", "RUNNING", {0: "RUNNING"})
    api.report("lagging-flow-source", "RUNNING", {0: "RUNNING", 1: "FAILED"}, traces={1: FAILED_TRACE})
    api.report("stale-flow-source", "RUNNING", {0: "RUNNING"})
    api.report("idle-flow-source", "PAUSED", {0: "PAUSED"})
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
        store.record_lag(
            FlowLag(
                "stale-flow",
                at,
                (PartitionLag("audit", 0, 70, 70, 0, 0.0),),
                last_heartbeat_ms=int((now - STALE_HEARTBEAT_S) * 1000),
            )
        )
    # Records waiting on payments-0, payments-1 and refunds-0, oldest first.
    for at, waiting in ((now - 120, (0, 0, 0)), (now - 60, (200, 100, 100)), (now, (500, 400, 100))):
        ages = (95.0, 40.0, 12.5) if any(waiting) else (0.0, 0.0, 0.0)
        store.record_lag(
            FlowLag(
                "lagging-flow",
                at,
                (
                    PartitionLag("payments", 0, 2000, 2000 - waiting[0], waiting[0], ages[0]),
                    PartitionLag("payments", 1, 2000, 2000 - waiting[1], waiting[1], ages[1]),
                    PartitionLag("refunds", 0, 300, 300 - waiting[2], waiting[2], ages[2]),
                ),
                (GroupLag("fraud", "payments", 0, 1900, 100, 1500, 500, 420.0),),
                last_heartbeat_ms=None,
            )
        )
    return now


def cell_values(dom: str, attribute: str) -> list[str]:
    return [cell.attributes[attribute] for cell in elements(dom, "td") if attribute in cell.attributes]


def cells(dom: str, row: Element) -> list[str]:
    """The texts of the cells of the row with ``row``'s attributes."""
    return [
        text(cell)
        for cell in elements(dom, "td")
        if cell.ancestors
        and cell.ancestors[-1].tag == "tr"
        and cell.ancestors[-1].attributes == row.attributes
    ]


def row_of(dom: str, flow: str) -> Element:
    rows = elements(dom, "tr", data_flow=flow)
    assert len(rows) == 1, f"{len(rows)} rows for flow {flow}"
    return rows[0]


@pytest.fixture
def served(store: Store) -> Iterator[str]:
    """The app on 127.0.0.1 (werkzeug in a thread), for the browser; stopped after the test."""
    api = build_api(store, auth_required=False)
    seed_flows(api)
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
    flows = [row.attributes["data-flow"] for row in elements(page.dom, "tr") if "data-flow" in row.attributes]
    assert flows == ["idle-flow", "lagging-flow", "ready-flow", "stale-flow"]
    assert cell_values(page.dom, "data-lag-records") == ["", "1000", "0", "0"]
    lagging, ready, stale, idle = (row_of(page.dom, flow) for flow in flows[1:] + flows[:1])
    assert "1,000" in text(lagging)
    assert "primary → backup" in text(ready)
    verdicts = [
        (span.attributes["data-ready"], text(span))
        for span in elements(page.dom, "span")
        if "data-ready" in span.attributes
    ]
    assert verdicts == [
        ("false", "not ready"),
        ("false", "not ready"),
        ("true", "ready"),
        ("false", "not ready"),
    ]
    # The RPO grows with the time since the sample: the oldest waiting record's 95 s, and more.
    rpo = [float(value) for value in cell_values(page.dom, "data-rpo-seconds")]
    assert 95.0 <= rpo[0] < 95.0 + 60 and rpo[1:] == [0.0, 0.0]
    assert "RPO 9" in text(lagging) and "checkpoint stale: fraud" in text(lagging)
    assert "no heartbeats reach the target" in text(lagging)
    assert re.search(r"heartbeat stale 3[1-9]\d s", text(stale)), text(stale)
    heartbeat = [float(value) for value in cell_values(page.dom, "data-heartbeat-age") if value]
    assert heartbeat[0] < 60 and STALE_HEARTBEAT_S <= heartbeat[1] < STALE_HEARTBEAT_S + 60
    assert cell_values(page.dom, "data-checkpoint-age") == ["420.0", "0.0", ""]
    assert all(0 <= float(age) < 60 for age in cell_values(page.dom, "data-sample-age"))
    assert "not sampled yet" in text(idle) and "PAUSED" in text(idle)
    assert "not ready" not in text(ready)
    # Connector and task states, a failed task in red with its trace's first line only.
    assert [
        (item.attributes["data-task"], item.attributes["data-state"])
        for item in elements(page.dom, "li")
        if item.attributes.get("data-task", "").startswith("lagging-flow")
    ] == [
        ("lagging-flow-source/0", "RUNNING"),
        ("lagging-flow-source/1", "FAILED"),
    ]
    failed = elements(page.dom, "li", data_task="lagging-flow-source/1")[0]
    assert elements(page.dom, "span", **{"class": "state state-failed"})
    assert "org.example.BrokerUnreachable: primary:9092 refused" in text(failed)
    assert "Fetcher.poll" not in page.dom
    assert elements(page.dom, "li", data_connector="idle-flow-source", data_state="PAUSED")
    assert f"RPO ≤ {READINESS_RULES.max_rpo_s:.0f} s" in text(elements(page.dom, id="readiness-rules")[0])
    assert page.screenshot.stat().st_size > 10_000


def test_the_flow_page_draws_lag_charts_and_lists_partitions_and_groups_in_chromium(served: str) -> None:
    page = render(f"{served}/ui/flows/lagging-flow", "ui-flow")
    assert elements(page.dom, "h1", data_flow="lagging-flow")
    assert elements(page.dom, "span", data_lag_records="1000")
    assert elements(page.dom, "span", data_lag_seconds="95.0")
    assert elements(page.dom, "span", data_checkpoint_age="420.0")
    assert elements(page.dom, "span", data_heartbeat_age="")
    assert elements(page.dom, "li", data_task="lagging-flow-source/1", data_state="FAILED")
    assert elements(page.dom, "small", data_tier="raw")
    for chart in ("chart-records", "chart-seconds"):
        assert len(elements(page.dom, "div", id=chart)) == 1
        # uPlot drew into the container: its canvas, and a legend naming each topic.
        assert [canvas for canvas in elements(page.dom, "canvas") if canvas.within(id=chart)]
        labels = [
            text(label) for label in elements(page.dom, **{"class": "u-label"}) if label.within(id=chart)
        ]
        assert [label for label in labels if label != "time"] == ["payments", "refunds"], labels
    rows = {
        row.attributes["data-partition"]: (row.attributes["data-lag-records"], cells(page.dom, row))
        for row in elements(page.dom, "tr")
        if "data-partition" in row.attributes and row.within(**{"class": "partitions"})
    }
    assert rows == {
        "payments-0": ("500", ["payments", "0", "2000", "1500", "500", "95.0 s"]),
        "payments-1": ("400", ["payments", "1", "2000", "1600", "400", "40.0 s"]),
        "refunds-0": ("100", ["refunds", "0", "300", "200", "100", "12.5 s"]),
    }
    group = elements(page.dom, "tr", data_group="fraud")
    assert [(row.attributes["data-source-lag"], row.attributes["data-target-lag"]) for row in group] == [
        ("100", "500")
    ]
    assert cells(page.dom, group[0]) == ["fraud", "payments", "0", "1900", "100", "500", "420.0 s"]
    history = json.loads(text(elements(page.dom, "script", id="lag-history")[0]))
    assert history["topics"] == ["payments", "refunds"]
    assert history["records"] == [[0, 300, 900], [0, 100, 100]]
    assert page.screenshot.stat().st_size > 10_000


def test_pages_refresh_themselves_every_ten_seconds(api: Api) -> None:
    seed_flows(api)
    client = api.app.test_client()
    for path in ("/ui", "/ui/flows/ready-flow"):
        assert b'<meta http-equiv="refresh" content="10">' in client.get(path).data
    assert b'http-equiv="refresh"' not in client.get("/ui/login").data


def test_each_range_reads_the_history_tier_that_covers_it(api: Api) -> None:
    now = seed_flows(api)
    api.store.compact_lag(int(now))  # the samples' completed minutes roll up into the minute tier
    client = api.app.test_client()
    tiers = {"15m": "raw", "6h": "minute", "24h": "minute", "7d": "quarter-hour", "31d": "quarter-hour"}
    for chosen, tier in tiers.items():
        page = client.get(f"/ui/flows/lagging-flow?range={chosen}")
        assert page.status_code == 200, chosen
        assert f'data-tier="{tier}"'.encode() in page.data, chosen
    minute = client.get("/ui/flows/lagging-flow?range=6h").get_data(as_text=True)
    embedded = re.search(r'<script type="application/json" id="lag-history">(.*?)</script>', minute, re.S)
    assert embedded is not None
    history = json.loads(embedded.group(1))
    assert history["topics"] == ["payments", "refunds"] and history["times"]
    unknown = client.get("/ui/flows/lagging-flow?range=1y")
    assert unknown.status_code == 302 and unknown.headers["Location"].endswith("/ui/flows/lagging-flow")


def test_an_unknown_flow_is_a_404_page(api: Api) -> None:
    response = api.app.test_client().get("/ui/flows/nope")
    assert response.status_code == 404
    assert b'data-missing-flow="nope"' in response.data
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_names_are_escaped_and_pages_carry_a_content_security_policy(api: Api, store: Store) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    escaped = b"&lt;img src=x onerror=alert(1)&gt;"
    store.put_cluster("a", "a:9092", {}, {}, actor="test")
    store.put_cluster("b", "b:9092", {}, {}, actor="test")
    store.create_flow(
        hostile, "a", "b", {}, connectors=source_connector("x"), target_state=TargetState.RUNNING, actor="t"
    )
    api.report("x-source", "FAILED", {0: "FAILED"}, traces={0: hostile}, connector_trace=hostile)
    sample = FlowLag(
        hostile,
        time.time(),
        (PartitionLag("</script><script>alert(1)</script>", 0, 5, 0, 5, 1.0),),
        (GroupLag(hostile, "t", 0, 1, 1, None, None, None),),
    )
    store.record_lag(sample)
    client = api.app.test_client()
    overview = client.get("/ui")
    flow_page = client.get("/ui/flows/" + quote(hostile))
    missing = client.get("/ui/flows/" + quote("<script>alert(1)<script>"))
    assert missing.status_code == 404 and b"<script>alert" not in missing.data
    for response in (overview, flow_page, missing, client.get("/ui/login"), client.get("/ui/static/ui.js")):
        assert response.status_code in {200, 404}
        assert hostile.encode() not in response.data
        assert b"<script>alert(1)" not in response.data
        policy = response.headers["Content-Security-Policy"]
        assert policy.startswith("default-src 'self';") and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        response.close()
    assert flow_page.status_code == 200
    assert overview.data.count(escaped) >= 4  # flow name, connector trace, task trace, reason
    assert escaped in flow_page.data
    # Inside the embedded JSON, Jinja's tojson escapes "<" so the topic cannot close the script.
    assert b"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in flow_page.data


def login_csrf(client: FlaskClient, base_url: str = "http://localhost") -> str:
    """The CSRF token of the login form (its cookie stays in ``client``)."""
    form = client.get("/ui/login", base_url=base_url)
    assert form.status_code == 200
    (field,) = elements(form.get_data(as_text=True), "input", name="csrf")
    return field.attributes["value"]


def logout_csrf(client: FlaskClient) -> str:
    """The CSRF token of the Log out button on a dashboard page."""
    page = client.get("/ui")
    assert page.status_code == 200
    (field,) = [
        element
        for element in elements(page.get_data(as_text=True), "input", name="csrf")
        if element.within(**{"class": "logout"})
    ]
    return field.attributes["value"]


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("mirror_session", path="/ui")
    assert cookie is not None
    return cookie.value


@pytest.fixture
def secured_ui(store: Store) -> tuple[FlaskClient, str, str]:
    """A client of the app with tokens, the read token's secret and its id."""
    record, token = store.create_token("viewer", Role.READ, actor="cli")
    return build_api(store, auth_required=True).app.test_client(), token, record.id


def test_with_tokens_pages_need_a_login_and_the_cookie_is_locked_down(
    secured_ui: tuple[FlaskClient, str, str],
) -> None:
    client, token, _token_id = secured_ui
    for path in ("/ui", "/ui/flows/anything"):
        page = client.get(path)
        assert page.status_code == 302 and page.headers["Location"].endswith("/ui/login"), path
    assert client.get("/connectors").status_code == 401  # the JSON API answers as before
    with client.get("/ui/static/ui.css") as asset:
        assert asset.status_code == 200
    csrf = login_csrf(client)
    refused = client.post("/ui/login", data={"token": "mirror.wrong-secret", "csrf": csrf})
    assert refused.status_code == 401
    assert b"Invalid or revoked token" in refused.data and b"wrong-secret" not in refused.data
    assert client.get_cookie("mirror_session", path="/ui") is None
    client.set_cookie("mirror_session", "forged", path="/ui")
    assert client.get("/ui").status_code == 302
    client.set_cookie("mirror_token", token, path="/ui")  # what earlier versions kept: no longer a key
    assert client.get("/ui").status_code == 302
    accepted = client.post("/ui/login", data={"token": token, "csrf": csrf})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/ui/")
    cookies = accepted.headers.getlist("Set-Cookie")
    (session,) = [cookie for cookie in cookies if cookie.startswith("mirror_session=")]
    assert all(flag in session for flag in ("HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=43200"))
    assert "Secure" not in session  # plain http here: a Secure cookie would never come back
    assert all(token not in cookie for cookie in cookies)
    assert any(cookie.startswith("mirror_token=;") and "Max-Age=0" in cookie for cookie in cookies)
    viewed = client.get("/ui")
    assert viewed.status_code == 200 and b"<h1>Flows</h1>" in viewed.data  # a read token may view
    assert token.encode() not in viewed.data
    assert client.get("/connectors").status_code == 401  # the cookie is for pages only
    logged_out = client.post("/ui/logout", data={"csrf": logout_csrf(client)})
    assert logged_out.status_code == 302 and logged_out.headers["Location"].endswith("/ui/login")
    cleared = [cookie for cookie in logged_out.headers.getlist("Set-Cookie") if "mirror_session=" in cookie]
    assert (
        cleared[0].startswith("mirror_session=;") and "Max-Age=0" in cleared[0] and "Path=/ui" in cleared[0]
    )
    assert client.get("/ui").status_code == 302


def test_the_cookie_holds_a_session_id_whose_hash_alone_is_stored_and_logout_ends_it(
    store: Store, secured_ui: tuple[FlaskClient, str, str]
) -> None:
    client, token, token_id = secured_ui
    client.post("/ui/login", data={"token": token, "csrf": login_csrf(client)})
    session_id = session_cookie(client)
    assert session_id != token and token_id not in session_id and len(session_id) >= 43
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id_hash, token_id FROM ui_sessions").all()
    assert [tuple(row) for row in rows] == [(hashlib.sha256(session_id.encode()).hexdigest(), token_id)]
    assert store.ui_sessions.authenticate(session_id) is not None
    client.post("/ui/logout", data={"csrf": logout_csrf(client)})
    assert store.ui_sessions.authenticate(session_id) is None  # gone from the server, not only the browser
    replay = build_api(store, auth_required=True).app.test_client()
    replay.set_cookie("mirror_session", session_id, path="/ui")
    assert replay.get("/ui").status_code == 302


def test_a_revoked_tokens_sessions_stop_working_at_once(
    store: Store, secured_ui: tuple[FlaskClient, str, str]
) -> None:
    client, token, token_id = secured_ui
    client.post("/ui/login", data={"token": token, "csrf": login_csrf(client)})
    assert client.get("/ui").status_code == 200
    store.revoke_token(token_id, actor="cli")
    page = client.get("/ui")
    assert page.status_code == 302 and page.headers["Location"].endswith("/ui/login")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM ui_sessions").scalar() == 0


def test_sessions_expire(store: Store, secured_ui: tuple[FlaskClient, str, str]) -> None:
    _client, _token, token_id = secured_ui
    expired = store.ui_sessions.create(token_id, timedelta(seconds=-1))
    live = store.ui_sessions.create(token_id, timedelta(minutes=5))
    assert store.ui_sessions.authenticate(expired) is None
    record = store.ui_sessions.authenticate(live)
    assert record is not None and record.name == "viewer"
    with store.engine.connect() as connection:  # the next login swept the expired one away
        assert connection.exec_driver_sql("SELECT count(*) FROM ui_sessions").scalar() == 1


def test_login_needs_the_forms_csrf_token(store: Store, secured_ui: tuple[FlaskClient, str, str]) -> None:
    client, token, _token_id = secured_ui
    csrf = login_csrf(client)
    for form in ({"token": token}, {"token": token, "csrf": ""}, {"token": token, "csrf": csrf[:-1] + "x"}):
        refused = client.post("/ui/login", data=form)
        assert refused.status_code == 403, form
        assert b"The login form expired or came from another page" in refused.data
        assert client.get_cookie("mirror_session", path="/ui") is None
    # The right value without the cookie: another page that learned a token still cannot use it.
    cookieless = build_api(store, auth_required=True).app.test_client()
    assert cookieless.post("/ui/login", data={"token": token, "csrf": csrf}).status_code == 403
    # A second tab's form carries the same token, so both work.
    assert login_csrf(client) == csrf
    assert client.post("/ui/login", data={"token": token, "csrf": csrf}).status_code == 302


def test_login_and_logout_from_another_site_are_refused(secured_ui: tuple[FlaskClient, str, str]) -> None:
    client, token, _token_id = secured_ui
    csrf = login_csrf(client)
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        login = client.post("/ui/login", data={"token": token, "csrf": csrf}, headers=headers)
        assert login.status_code == 403, headers
        assert client.get_cookie("mirror_session", path="/ui") is None
    own = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/ui/login", data={"token": token, "csrf": csrf}, headers=own).status_code == 302
    logout = logout_csrf(client)
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert client.post("/ui/logout", data={"csrf": logout}, headers=headers).status_code == 403
    assert client.get("/ui").status_code == 200  # still logged in
    assert client.post("/ui/logout", data={"csrf": logout}, headers=own).status_code == 302


def test_logout_needs_the_sessions_csrf_token(secured_ui: tuple[FlaskClient, str, str]) -> None:
    client, token, _token_id = secured_ui
    client.post("/ui/login", data={"token": token, "csrf": login_csrf(client)})
    for form in ({}, {"csrf": "0" * 64}):
        refused = client.post("/ui/logout", data=form)
        assert refused.status_code == 403
        assert b"Log out with the dashboard" in refused.data
    assert client.get("/ui").status_code == 200
    assert client.post("/ui/logout", data={"csrf": logout_csrf(client)}).status_code == 302
    assert client.get("/ui").status_code == 302


def test_failed_logins_are_limited_per_address_and_lock_out_the_right_token_too(
    secured_ui: tuple[FlaskClient, str, str],
) -> None:
    client, token, _token_id = secured_ui
    throttle = client.application.extensions[LOGIN_THROTTLE]
    assert isinstance(throttle, LoginThrottle)
    now = [1000.0]
    throttle.clock = lambda: now[0]
    csrf = login_csrf(client)
    attacker = {"REMOTE_ADDR": "10.0.0.7"}
    for attempt in range(MAX_FAILED_LOGINS):
        wrong = client.post("/ui/login", data={"token": f"x.{attempt}", "csrf": csrf}, environ_base=attacker)
        assert wrong.status_code == 401, attempt
        now[0] += 1
    locked = client.post("/ui/login", data={"token": token, "csrf": csrf}, environ_base=attacker)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == FAILED_LOGIN_WINDOW_S - MAX_FAILED_LOGINS + 1
    assert b"Too many failed logins from 10.0.0.7" in locked.data
    assert client.get_cookie("mirror_session", path="/ui") is None
    now[0] = 1000.0 + FAILED_LOGIN_WINDOW_S - 1  # the first failure is still in the window
    assert (
        client.post("/ui/login", data={"token": token, "csrf": csrf}, environ_base=attacker).status_code
        == 429
    )
    other = {"REMOTE_ADDR": "10.0.0.8"}  # counted per address: a colleague is not locked out
    assert (
        client.post("/ui/login", data={"token": token, "csrf": csrf}, environ_base=other).status_code == 302
    )
    client.post("/ui/logout", data={"csrf": logout_csrf(client)})
    now[0] = 1000.0 + FAILED_LOGIN_WINDOW_S  # the first failure left the window
    csrf = login_csrf(client)
    assert (
        client.post("/ui/login", data={"token": token, "csrf": csrf}, environ_base=attacker).status_code
        == 302
    )


def test_over_https_the_cookie_is_secure_and_hsts_is_sent(secured_ui: tuple[FlaskClient, str, str]) -> None:
    client, token, _token_id = secured_ui
    https = "https://mirror.example"
    csrf = login_csrf(client, base_url=https)
    accepted = client.post("/ui/login", data={"token": token, "csrf": csrf}, base_url=https)
    assert accepted.status_code == 302
    assert all("; Secure" in cookie for cookie in accepted.headers.getlist("Set-Cookie"))
    assert accepted.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/ui/login").headers
