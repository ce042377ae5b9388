"""Input a store cannot hold is refused with a 400 naming the field, on SQLite and PostgreSQL alike.

Each of these was a 500 before (security probe L1, L2, L7): Python's integer-digit limit, lone
surrogates (no UTF-8 encoding), NUL (PostgreSQL text refuses it) and names longer than a column.
"""

from __future__ import annotations

import json

import pytest

from mirror.service.offsets import ConnectorOffset, OffsetValue
from tests.api.harness import Api, mm2_source_config, snapshot

HUGE = "9" * 5000
SURROGATE = "\udc80"


@pytest.fixture
def api(api_on_each_backend: Api) -> Api:
    """These tests run over SQLite and PostgreSQL."""
    return api_on_each_backend


def send(api: Api, method: str, path: str, body: str) -> tuple[int, str]:
    """``body`` as raw JSON text (json.dumps writes a lone surrogate as its ``\\udc80`` escape)."""
    response = api.client.open(path, method=method, data=body, content_type="application/json")
    assert response.json["error_code"] == response.status_code, response.json
    return response.status_code, response.json["message"]


def refused(api: Api, method: str, path: str, body: object, fragment: str) -> None:
    before = snapshot(api.store)
    status, message = send(api, method, path, json.dumps(body))
    assert (status, fragment in message) == (400, True), message
    assert snapshot(api.store) == before


def seed(api: Api) -> None:
    for name in ("primary", "backup"):
        assert (
            api.client.post("/clusters", json={"name": name, "bootstrap_servers": "h:9092"}).status_code
            == 201
        )
    assert api.client.post("/flows", json={"source": "primary", "target": "backup"}).status_code == 201
    created = api.client.post(
        "/connectors", json={"name": "c", "config": mm2_source_config(), "initial_state": "STOPPED"}
    )
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/connectors", '{"name": "w", "config": {"tasks.max": %s}}'),
        (
            "POST",
            "/schedules",
            '{"action": "lag_sample", "target": "primary-backup", "interval_seconds": %s}',
        ),
        ("PATCH", "/connectors/c/offsets", '{"offsets": [{"partition": {"p": %s}, "offset": null}]}'),
        ("PUT", "/clusters/x", '{"bootstrap_servers": "h:9092", "config": {"k": -%s}}'),
    ],
)
def test_an_integer_of_thousands_of_digits_is_a_400(api: Api, method: str, path: str, template: str) -> None:
    seed(api)
    before = snapshot(api.store)
    status, message = send(api, method, path, template % HUGE)
    assert (status, message) == (400, "Request body holds an integer of more than 4300 digits")
    assert snapshot(api.store) == before


SOURCE = mm2_source_config()
UNSTORABLE_CASES = [
    ("POST /connectors", {"name": "n{}", "config": SOURCE}, "name"),
    ("POST /connectors", {"name": "n", "config": {**SOURCE, "topics": "t{}"}}, "config.topics"),
    ("POST /connectors", {"name": "n", "config": {**SOURCE, "x{}": "1"}}, "a key in config"),
    ("PUT /connectors/c/config", {**SOURCE, "sasl.jaas.config": "{}"}, "sasl.jaas.config"),
    ("PUT /connectors/n/config", {"x{}": "1"}, "a key in the request body"),
    ("POST /schedules", {"action": "lag_sample", "target": "f{}", "cron": "0 2 * * *"}, "target"),
    ("POST /clusters", {"name": "k", "bootstrap_servers": "h{}:9092"}, "bootstrap_servers"),
    ("PUT /clusters/primary", {"bootstrap_servers": "h:9092", "config": {"acks": "{}"}}, "config.acks"),
    ("POST /flows", {"source": "primary", "target": "backup", "config": {"topics": "{}"}}, "config.topics"),
    ("PUT /flows/primary-backup/config", {"groups": "g{}"}, "groups"),
    (
        "PATCH /connectors/c/offsets",
        {"offsets": [{"partition": {"topic": "{}"}, "offset": None}]},
        "offsets[0].partition.topic",
    ),
]


@pytest.mark.parametrize("bad", [SURROGATE, "a\x00b"])
@pytest.mark.parametrize(("request_line", "body", "field"), UNSTORABLE_CASES)
def test_strings_that_cannot_be_stored_are_a_400_naming_the_field(
    api: Api, bad: str, request_line: str, body: dict[str, object], field: str
) -> None:
    seed(api)
    # Put the bad text where the template has {} (keys included), through JSON so nesting is kept.
    filled = json.loads(json.dumps(body).replace("{}", json.dumps(bad)[1:-1]))
    what = "NUL character" if "\x00" in bad else r"lone surrogate ('\udc80')"
    method, path = request_line.split(" ")
    refused(api, method, path, filled, f"{field} contains a {what}")


@pytest.mark.parametrize(
    "path", ["/connectors/a%00b", "/flows/a%00b", "/lag?flow=a%00b", "/connectors/c/offsets?x=%00"]
)
def test_nul_in_the_url_is_a_400(api: Api, path: str) -> None:
    seed(api)
    response = api.client.get(path)
    assert response.status_code == 400, response.json
    where = "URL path" if "?" not in path else "query parameter"
    assert response.json["message"].startswith(f"{where} "), response.json
    assert "contains a NUL character (U+0000)" in response.json["message"]


def test_names_as_long_as_their_columns_allow_are_stored(api: Api) -> None:
    """The audit log's resource (``connectors/<name>``) was VARCHAR(255): 500 on PostgreSQL."""
    longest = "n" * 255
    created = api.client.post("/connectors", json={"name": longest, "config": mm2_source_config()})
    assert created.status_code == 201, created.json
    assert api.client.get(f"/connectors/{longest}").json["name"] == longest
    cluster = api.client.post("/clusters", json={"name": "k" * 255, "bootstrap_servers": "h:9092"})
    assert cluster.status_code == 201, cluster.json
    resources = {entry.resource for entry in api.store.audit_log(limit=10)}
    assert {f"connectors/{longest}", f"clusters/{'k' * 255}"} <= resources
    too_long = api.client.post("/connectors", json={"name": "n" * 256, "config": mm2_source_config()})
    assert too_long.status_code == 400
    assert too_long.json["message"] == "Connector name is longer than 255 characters"


def test_a_cron_longer_than_its_column_is_a_400(api: Api) -> None:
    seed(api)
    cron = "0 2 * * " + ",".join(["1"] * 130)  # a valid crontab of 267 characters
    body = {"action": "lag_sample", "target": "primary-backup", "cron": cron}
    refused(api, "POST", "/schedules", body, "'cron' is longer than 255 characters")


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_names_are_refused(api: Api, name: str) -> None:
    refused(api, "POST", "/connectors", {"name": name, "config": mm2_source_config()}, "cannot be addressed")


@pytest.mark.parametrize(
    ("value", "field"), [(2**63, "offset.offset"), (2**70, "offset.offset"), (-(2**63) - 1, "partition.p")]
)
def test_offsets_outside_a_long_are_a_400(api: Api, value: int, field: str) -> None:
    seed(api)
    entry: dict[str, object] = {
        "partition": {"cluster": "A", "topic": "t", "partition": 0},
        "offset": {"offset": 1},
    }
    if field == "partition.p":
        entry["partition"] = {"p": value}
    else:
        entry["offset"] = {"offset": value}
    refused(
        api,
        "PATCH",
        "/connectors/c/offsets",
        {"offsets": [entry]},
        f"offsets[0].{field} is outside the range",
    )
    assert api.offsets.calls == []
    partition: dict[str, OffsetValue] = {"cluster": "A", "topic": "t", "partition": 0}
    largest: dict[str, OffsetValue] = {"offset": 2**63 - 1}
    body = {"offsets": [{"partition": partition, "offset": largest}]}
    assert api.client.patch("/connectors/c/offsets", json=body).status_code == 200
    assert api.offsets.offsets["c"] == [ConnectorOffset(partition, largest)]
