"""/clusters: profiles whose secret keys are stored apart and never returned."""

from __future__ import annotations

from typing import Any

from tests.api.harness import Api, jaas, snapshot


def sasl_config(api: Api) -> dict[str, str]:
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": jaas(api.secret()),
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": "/etc/kafka/client.p12",
        "ssl.keystore.password": api.secret(),
    }


def create(api: Api, name: str, config: dict[str, str] | None = None) -> Any:
    response = api.client.post(
        "/clusters", json={"name": name, "bootstrap_servers": f"{name}.local:9092", "config": config or {}}
    )
    assert response.status_code == 201, response.json
    return response


def test_create_splits_secrets_and_never_returns_them(api: Api) -> None:
    config = sasl_config(api)
    response = create(api, "primary", config)
    assert response.headers["Location"] == "http://localhost/clusters/primary"
    body = response.json
    assert body["name"] == "primary"
    assert body["bootstrap_servers"] == "primary.local:9092"
    assert body["config"] == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": "/etc/kafka/client.p12",
    }
    assert body["secrets"] == ["sasl.jaas.config", "ssl.keystore.password"]
    stored = api.store.get_cluster("primary")
    assert stored is not None
    assert stored.secrets == {key: config[key] for key in ("sasl.jaas.config", "ssl.keystore.password")}
    for path in ("/clusters", "/clusters/primary", "/clusters/primary/", "/audit"):
        assert api.client.get(path).status_code == 200
    assert api.client.get("/clusters").json == [api.client.get("/clusters/primary").json]


def test_put_replaces_and_keeps_secrets_sent_back_hidden_or_omitted(api: Api) -> None:
    config = sasl_config(api)
    create(api, "primary", config)
    shown = api.client.get("/clusters/primary").json
    echoed = {**shown["config"], "sasl.jaas.config": "[hidden]", "sasl.mechanism": "SCRAM-SHA-512"}
    response = api.client.put("/clusters/primary", json={"bootstrap_servers": "other:9092", "config": echoed})
    assert response.status_code == 200
    assert response.json["bootstrap_servers"] == "other:9092"
    assert response.json["config"]["sasl.mechanism"] == "SCRAM-SHA-512"
    stored = api.store.get_cluster("primary")
    assert stored is not None
    assert stored.secrets == {key: config[key] for key in ("sasl.jaas.config", "ssl.keystore.password")}

    replaced = api.secret()
    api.client.put(
        "/clusters/primary",
        json={"bootstrap_servers": "other:9092", "config": {"ssl.keystore.password": replaced}},
    )
    stored = api.store.get_cluster("primary")
    assert stored is not None
    assert stored.secrets["ssl.keystore.password"] == replaced

    created = api.client.put("/clusters/backup/", json={"bootstrap_servers": "backup:9092"})
    assert created.status_code == 201
    assert created.headers["Location"] == "http://localhost/clusters/backup"


def test_refused_profiles_change_nothing(api: Api) -> None:
    create(api, "primary")
    before = snapshot(api.store)
    cases: list[tuple[str, str, object, int, str]] = [
        (
            "POST",
            "/clusters",
            {"name": "primary", "bootstrap_servers": "x:1"},
            409,
            "Cluster primary already exists",
        ),
        ("POST", "/clusters", {"bootstrap_servers": "x:1"}, 400, "'name' is required"),
        ("POST", "/clusters", {"name": "a.b", "bootstrap_servers": "x:1"}, 400, "cluster name 'a.b'"),
        ("POST", "/clusters", {"name": "", "bootstrap_servers": "x:1"}, 400, "cluster name ''"),
        ("POST", "/clusters", {"name": "c"}, 400, "'bootstrap_servers' is required"),
        ("POST", "/clusters", {"name": "c", "bootstrap_servers": " "}, 400, "must not be empty"),
        (
            "POST",
            "/clusters",
            {"name": "c", "bootstrap_servers": "x:1", "config": {"no.such.key": "1"}},
            400,
            "no.such.key",
        ),
        (
            "POST",
            "/clusters",
            {"name": "c", "bootstrap_servers": "x:1", "config": {"bootstrap.servers": "y:1"}},
            400,
            "give it as bootstrap_servers",
        ),
        (
            "POST",
            "/clusters",
            {"name": "c", "bootstrap_servers": "x:1", "config": {"sasl.jaas.config": "[hidden]"}},
            400,
            "none is stored",
        ),
        (
            "POST",
            "/clusters",
            {"name": "c", "bootstrap_servers": "x:1", "config": {"a": {"b": 1}}},
            400,
            "'a' must be a string",
        ),
        (
            "POST",
            "/clusters",
            {"name": "c", "bootstrap_servers": "x:1", "config": "x"},
            400,
            "config must be a JSON object",
        ),
        (
            "PUT",
            "/clusters/primary",
            {"name": "other", "bootstrap_servers": "x:1"},
            400,
            "doesn't match the name in the URL",
        ),
        ("PUT", "/clusters/a.b", {"bootstrap_servers": "x:1"}, 400, "cluster name 'a.b'"),
        ("DELETE", "/clusters/nope", None, 404, "Cluster nope not found"),
        ("GET", "/clusters/nope", None, 404, "Cluster nope not found"),
    ]
    for method, path, body, status, fragment in cases:
        response = api.client.open(path, method=method, json=body)
        assert response.status_code == status, (path, body, response.json)
        assert fragment in response.json["message"], (body, response.json)
    assert snapshot(api.store) == before


def test_bad_jaas_is_refused_without_quoting_it(api: Api) -> None:
    password = api.secret()
    response = api.client.post(
        "/clusters",
        json={
            "name": "c",
            "bootstrap_servers": "x:1",
            "config": {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": f"garbage {password}",
            },
        },
    )
    assert response.status_code == 400
    assert "sasl.jaas.config" in response.json["message"]


def test_delete_refuses_while_a_flow_uses_it(api: Api) -> None:
    create(api, "a")
    create(api, "b")
    assert api.client.post("/flows", json={"source": "a", "target": "b"}).status_code == 201
    in_use = api.client.delete("/clusters/a")
    assert in_use.status_code == 409
    assert "a-b" in in_use.json["message"]
    assert api.client.delete("/flows/a-b").status_code == 204
    deleted = api.client.delete("/clusters/a")
    assert deleted.status_code == 204
    assert deleted.get_data() == b""
    assert api.store.get_cluster("a") is None


def test_credentials_in_servers_stored_before_they_were_refused_are_never_shown(api: Api) -> None:
    password = api.secret()
    api.store.put_cluster("old", f"SASL_SSL://alice:{password}@broker:9092", {}, {}, actor="test")
    assert api.client.get("/clusters/old").json["bootstrap_servers"] == "SASL_SSL://***@broker:9092"
    assert api.client.get("/clusters").status_code == 200
    assert api.client.get("/audit").status_code == 200  # the api fixture checks no response held it
