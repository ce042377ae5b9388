"""Browser-borne attacks on the API: DNS rebinding (a foreign ``Host``) while authentication is off,
and cross-site requests (a foreign ``Origin`` or ``Sec-Fetch-Site``) in every mode."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from mirror.api.app import settings_from_environment
from mirror.api.settings import ApiSettings
from mirror.store.records import Role
from mirror.store.store import Store
from tests.api.harness import Api, build_api, mm2_source_config, snapshot
from tests.browser import render

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

REBOUND = "rebind.evil.example:18410"
"""The probe's rebound name: an attacker's DNS name that resolves to 127.0.0.1 after the page loaded."""


def create_body(name: str = "rebound") -> dict[str, object]:
    return {"name": name, "config": mm2_source_config(), "initial_state": "STOPPED"}


def test_the_probes_rebound_request_is_refused_and_names_the_host(api: Api) -> None:
    before = snapshot(api.store)
    created = api.client.post(
        "/connectors",
        json=create_body(),
        headers={"Host": REBOUND, "Origin": f"http://{REBOUND}"},
    )
    assert created.status_code == 403
    assert created.json["error_code"] == 403
    assert f"Host '{REBOUND}' is not served here" in created.json["message"]
    # Reads too: a rebound page must not learn the configs either.
    for method, path in (("GET", "/connectors"), ("GET", "/health"), ("DELETE", "/connectors/x")):
        assert api.client.open(path, method=method, headers={"Host": REBOUND}).status_code == 403, path
    assert snapshot(api.store) == before


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:8083", "127.0.0.1", "127.0.0.1:18410", "127.8.9.10:1", "[::1]:8083", "[::1]"],
)
def test_loopback_hosts_are_served_without_auth(api: Api, host: str) -> None:
    assert api.client.get("/connectors", headers={"Host": host}).status_code == 200
    created = api.client.post("/connectors", json=create_body(), headers={"Host": host})
    assert created.status_code == 201


@pytest.mark.parametrize(
    "host",
    ["localhost.evil.example", "127.0.0.1.nip.io:8083", "2130706433", "[::2]:8083", "10.0.0.1", "0.0.0.0"],
)
def test_names_that_only_look_local_are_refused(api: Api, host: str) -> None:
    assert api.client.get("/connectors", headers={"Host": host}).status_code == 403


def test_the_advertised_url_host_is_served_and_its_origin_may_write(store: Store) -> None:
    api = build_api(store, auth_required=False, advertised_url="https://mirror.internal:8443")
    headers = {"Host": "mirror.internal:8443", "Origin": "https://mirror.internal:8443"}
    assert api.client.get("/connectors", headers={"Host": "mirror.internal:8443"}).status_code == 200
    assert api.client.post("/connectors", json=create_body(), headers=headers).status_code == 201
    # A TLS-terminating proxy forwards to plain http on another port: the advertised origin still counts.
    behind_proxy = {"Host": "mirror.internal", "Origin": "https://mirror.internal:8443"}
    assert api.client.post("/connectors/rebound/restart", headers=behind_proxy).status_code == 204
    assert api.client.get("/connectors", headers={"Host": "other.internal:8443"}).status_code == 403


def test_with_tokens_any_host_is_served(store: Store) -> None:
    """Behind a proxy or on a DNS name: the token, not the name, decides (a rebound page has none)."""
    _record, token = store.create_token("ops", Role.ADMIN, actor="cli")
    api = build_api(store, auth_required=True)
    api.secrets.append(token)
    headers = {"Host": "mirror.example.com", "Authorization": f"Bearer {token}"}
    assert api.client.get("/connectors", headers=headers).status_code == 200
    assert api.client.get("/connectors", headers={"Host": REBOUND}).status_code == 401
    assert api.leaks() == []


@pytest.mark.parametrize("auth_required", [False, True])
def test_a_foreign_origin_may_not_change_anything_in_any_mode(store: Store, auth_required: bool) -> None:
    _record, token = store.create_token("ops", Role.ADMIN, actor="cli") if auth_required else (None, "")
    api = build_api(store, auth_required=auth_required)
    api.secrets.extend([token] if token else [])
    bearer = {"Authorization": f"Bearer {token}"} if token else {}
    assert api.client.post("/connectors", json=create_body("c"), headers=bearer).status_code == 201
    before = snapshot(api.store)
    foreign = (
        "http://evil.example",
        "http://localhost:9999",
        "http://localhost.evil.example",
        "null",
        "garbage",
    )
    for origin in foreign:
        for method, path, body in (
            ("POST", "/connectors", create_body("d")),
            ("PUT", "/connectors/c/pause", None),
            ("POST", "/connectors/c/restart", None),
            ("DELETE", "/connectors/c", None),
            ("PUT", "/clusters/k", {"bootstrap_servers": "127.0.0.1:1"}),
        ):
            response = api.client.open(path, method=method, json=body, headers={**bearer, "Origin": origin})
            assert response.status_code == 403, (origin, method, path)
            assert response.json["error_code"] == 403
            assert "is not this service's" in response.json["message"]
    assert snapshot(api.store) == before
    # Reading is not a change: the browser's same-origin policy keeps the answer from the page.
    assert (
        api.client.get("/connectors", headers={**bearer, "Origin": "http://evil.example"}).status_code == 200
    )
    assert api.leaks() == []


def test_the_probes_cross_site_text_plain_restart_is_refused(api: Api) -> None:
    api.client.post("/connectors", json=create_body("c0"))
    before = snapshot(api.store)
    restart = api.client.post(
        "/connectors/c0/restart",
        data="x",
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert restart.status_code == 403
    assert restart.json == {
        "error_code": 403,
        "message": "Refused a POST request from origin 'http://evil.example': it is not this service's",
    }
    # A browser that sends Sec-Fetch-Site but no Origin is refused on that alone.
    for site in ("cross-site", "same-site"):
        response = api.client.post("/connectors/c0/restart", headers={"Sec-Fetch-Site": site})
        assert response.status_code == 403, site
        assert response.json["message"] == f"Refused a {site} POST request: it came from another site's page"
    assert snapshot(api.store) == before
    assert api.store.pending_restarts(["c0"]) == []


def test_same_origin_and_origin_less_requests_work(api: Api) -> None:
    # curl, Connect clients and kcctl send no Origin; the dashboard's own page sends its own.
    assert api.client.post("/connectors", json=create_body("a")).status_code == 201
    own = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert api.client.post("/connectors", json=create_body("b"), headers=own).status_code == 201
    on_port = {"Host": "127.0.0.1:8083", "Origin": "http://127.0.0.1:8083"}
    assert api.client.post("/connectors/a/restart", headers=on_port).status_code == 204
    typed = {"Sec-Fetch-Site": "none"}  # the user typed or bookmarked it
    assert api.client.delete("/connectors/b", headers=typed).status_code == 204
    assert [record.name for record in api.store.list_connectors()] == ["a"]


def test_hsts_is_sent_over_https_only(api: Api) -> None:
    secure = api.client.get("/connectors", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in api.client.get("/connectors").headers
    refused = api.client.get("/connectors", base_url="https://localhost", headers={"Host": REBOUND})
    assert refused.status_code == 403 and "Strict-Transport-Security" in refused.headers


@pytest.mark.parametrize(
    "url", ["mirror.example:8083", "ftp://mirror.example", "http://", "http://m.example:port"]
)
def test_an_advertised_url_that_is_not_a_base_url_is_refused(store: Store, url: str) -> None:
    with pytest.raises(ValueError, match="advertised URL must be http"):
        ApiSettings(store=store, advertised_url=url)


def attacker_page(target: str) -> Callable[[dict[str, Any], Callable[..., object]], list[bytes]]:
    """Another site's page that, once opened, posts a text/plain form to ``target`` (what the
    probe did with curl, done by a real browser here)."""
    page = (
        "<!doctype html><iframe name=sink></iframe><form method=post enctype=text/plain target=sink "
        f'action="{target}"><input name=x value=y></form><script>document.forms[0].submit()</script>'
    ).encode()

    def app(environ: dict[str, Any], start_response: Callable[..., object]) -> list[bytes]:
        del environ
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(page)))])
        return [page]

    return app


@contextlib.contextmanager
def serving(app: Any, host: str) -> Iterator[str]:
    server: BaseWSGIServer = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"origin-test-{host}", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_chromium_cannot_restart_a_connector_from_another_sites_page(api: Api) -> None:
    api.client.post("/connectors", json=create_body("c0"))
    seen: list[tuple[dict[str, str], str]] = []
    """Headers the service got from the browser, and its answer's status line."""

    def recording(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = {key: str(value) for key, value in environ.items() if key.startswith("HTTP_")}

        def start(
            status: str, response_headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            seen.append((headers, status))
            return start_response(status, response_headers, exc_info)

        return api.app(environ, start)

    # 127.0.0.2 is another site than 127.0.0.1 to the browser, and loopback to the kernel.
    with (
        serving(recording, "127.0.0.1") as service,
        serving(attacker_page(f"{service}/connectors/c0/restart"), "127.0.0.2") as attacker,
    ):
        render(f"{attacker}/", "cross-site-restart")
    posts = [(headers, status) for headers, status in seen if headers.get("HTTP_ORIGIN")]
    assert posts, "the browser did not send the form"
    for headers, status in posts:
        assert (headers["HTTP_ORIGIN"], headers["HTTP_SEC_FETCH_SITE"]) == (attacker, "cross-site")
        assert status.startswith("403 ")
    assert api.store.pending_restarts(["c0"]) == []


def test_gunicorns_app_refuses_an_advertised_url_that_is_not_a_base_url() -> None:
    environment = {"MIRROR_DATABASE_URL": "sqlite://", "MIRROR_API_ADVERTISED_URL": "mirror.example:8083"}
    with pytest.raises(RuntimeError, match="MIRROR_API_ADVERTISED_URL must be http"):
        settings_from_environment(environment)
