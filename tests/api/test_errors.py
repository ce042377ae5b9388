"""Every error is Connect's JSON error body: unknown routes, wrong methods, media types, body
limits, malformed JSON and internal failures alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror.store.store import Store
from tests.api.harness import Api, build_api, mm2_source_config


def test_unknown_routes_and_methods(api: Api) -> None:
    for path in ("/nope", "/connectors/c/nope", "/connectors/c/tasks/x/status", "/connectors/a/b/c/d/e"):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert response.json == {"error_code": 404, "message": "HTTP 404 Not Found"}
        assert response.headers["Content-Type"] == "application/json"
    wrong = api.client.delete("/connectors")
    assert wrong.status_code == 405
    assert wrong.json == {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_bodies_must_be_json(api: Api) -> None:
    form = api.client.post("/connectors", data={"name": "c"})
    assert form.status_code == 415
    assert form.json == {
        "error_code": 415,
        "message": "Content-Type must be application/json, not application/x-www-form-urlencoded",
    }
    text = api.client.put("/connectors/c/config", data="{}", content_type="text/plain")
    assert text.status_code == 415
    none = api.client.put("/connectors/c/config", data="{}")
    assert none.status_code == 415
    assert api.store.list_connectors() == []


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "Request body is missing"),
        (
            b"{",
            "Request body is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2",
        ),
        (b'{"name": "c",}', "Request body is not valid JSON"),
        (b"\xff\xfe", "Request body is not valid"),
        (b'{"name": NaN}', "NaN is not a JSON value"),
        (b"[" * 100_000, "Request body is not valid JSON"),
        (b'"just a string"', "Request body must be a JSON object, not a string"),
    ],
)
def test_malformed_json_is_a_400_saying_what_is_wrong(api: Api, data: bytes, fragment: str) -> None:
    response = api.client.post("/connectors", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error_code"] == 400
    assert fragment in response.json["message"]


def test_bodies_over_the_limit_get_413(store: Store) -> None:
    api = build_api(store, auth_required=False, max_body_bytes=1024)
    config = {**mm2_source_config(), "topics": "t" * 2000}
    response = api.client.post("/connectors", json={"name": "c", "config": config})
    assert response.status_code == 413
    assert response.json == {
        "error_code": 413,
        "message": "Request body is larger than the limit of this server",
    }
    small = api.client.post("/connectors", json={"name": "c", "config": mm2_source_config()})
    assert small.status_code == 201
    assert store.list_connectors()[0].config["topics"] == "orders.*"


def test_internal_errors_are_json_without_a_stack_trace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A store on a database that was never migrated: every query fails inside SQLAlchemy.
    with Store(f"sqlite:///{tmp_path / 'empty.db'}") as store:
        api = build_api(store, auth_required=False)
        response = api.client.get("/connectors")
        assert response.status_code == 500
        message = response.json["message"]
        assert response.json["error_code"] == 500
        assert message.startswith("Internal server error (incident ")
        assert "Traceback" not in response.get_data(as_text=True)
        assert "sqlite" not in message.lower()
        incident = message.split("incident ")[1].split(";")[0]
        assert f"incident {incident}" in caplog.text
        assert "no such table" in caplog.text

        health = api.client.get("/health")
        assert health.status_code == 500
        assert health.json["status"] == "unhealthy"
