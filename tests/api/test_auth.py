"""Bearer tokens: read tokens may GET, admin tokens may do everything; 401/403 are JSON."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mirror.store.records import Role
from mirror.store.store import Store
from tests.api.harness import Api, build_api, mm2_source_config


@pytest.fixture
def secured(
    store: Store, caplog: pytest.LogCaptureFixture
) -> Iterator[tuple[Api, dict[str, str], dict[str, str]]]:
    caplog.set_level(logging.DEBUG)
    api = build_api(store, auth_required=True)
    _admin, admin_token = store.create_token("ops", Role.ADMIN, actor="cli")
    _reader, read_token = store.create_token("dashboard", Role.READ, actor="cli")
    api.secrets.extend([admin_token, read_token])
    yield api, {"Authorization": f"Bearer {admin_token}"}, {"Authorization": f"Bearer {read_token}"}
    assert api.leaks() == []
    assert [value for value in api.secrets if value in caplog.text] == []


def test_requests_without_a_valid_token_get_401(secured: tuple[Api, dict[str, str], dict[str, str]]) -> None:
    api, admin, _read = secured
    token = admin["Authorization"].removeprefix("Bearer ")
    token_id = token.partition(".")[0]
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {token_id}.wrong"},
    ):
        for method, path in (("GET", "/connectors"), ("POST", "/connectors"), ("GET", "/nope"), ("GET", "/")):
            response = api.client.open(path, method=method, headers=headers)
            assert response.status_code == 401, (headers, path)
            assert response.json["error_code"] == 401
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="mirror"'
    assert api.store.list_connectors() == []


def test_health_and_openapi_need_no_token(secured: tuple[Api, dict[str, str], dict[str, str]]) -> None:
    api, _admin, _read = secured
    assert api.client.get("/health").status_code == 200
    assert api.client.get("/openapi.json").status_code == 200


def test_read_tokens_read_and_nothing_else(secured: tuple[Api, dict[str, str], dict[str, str]]) -> None:
    api, admin, read = secured
    created = api.client.post("/connectors", json={"name": "c", "config": mm2_source_config()}, headers=admin)
    assert created.status_code == 201
    for path in (
        "/",
        "/connectors",
        "/connectors/c",
        "/connectors/c/status",
        "/connector-plugins",
        "/clusters",
        "/flows",
    ):
        assert api.client.get(path, headers=read).status_code == 200, path
    for method, path in (
        ("PUT", "/connectors/c/pause"),
        ("DELETE", "/connectors/c"),
        ("POST", "/connectors/c/restart"),
        ("PUT", "/admin/loggers/mirror"),
        ("POST", "/clusters"),
    ):
        response = api.client.open(path, method=method, headers=read, json={})
        assert response.status_code == 403, path
        assert response.json == {
            "error_code": 403,
            "message": "Token 'dashboard' has role read; this request needs role admin",
        }
    audit = api.client.get("/audit", headers=read)
    assert audit.status_code == 403
    record = api.store.get_connector("c")
    assert record is not None
    assert record.target_state.value == "RUNNING"


def test_admin_actions_are_audited_under_the_token_name(
    secured: tuple[Api, dict[str, str], dict[str, str]],
) -> None:
    api, admin, _read = secured
    api.client.post("/connectors", json={"name": "c", "config": mm2_source_config()}, headers=admin)
    api.client.put("/connectors/c/stop", headers=admin)
    entries = api.client.get("/audit?limit=2", headers=admin).json
    assert [(entry["actor"], entry["action"]) for entry in entries] == [
        ("ops", "connector.set_state"),
        ("ops", "connector.create"),
    ]
    assert api.client.get("/audit?limit=0", headers=admin).status_code == 400
    assert api.client.get("/audit?limit=²", headers=admin).status_code == 400


def test_without_required_auth_every_request_acts_as_local(api: Api) -> None:
    assert (
        api.client.post("/connectors", json={"name": "c", "config": mm2_source_config()}).status_code == 201
    )
    assert api.client.get("/audit").json[0]["actor"] == "local"


def test_a_token_created_while_auth_is_off_turns_it_on_without_a_restart(store: Store) -> None:
    api = build_api(store, auth_required=False)  # a loopback service started with no token
    assert api.client.get("/connectors").status_code == 200
    _record, token = store.create_token("first", Role.READ, actor="cli")
    api.secrets.append(token)
    assert api.client.get("/connectors").status_code == 401
    assert api.client.get("/connectors", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert api.client.get("/health").status_code == 200
    assert api.leaks() == []
