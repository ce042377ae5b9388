"""/connectors/{name}/offsets: Connect's rules in front of the offsets service."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence

from mirror.api.app import ApiSettings, create_app
from mirror.service.offsets import ConnectorOffset, OffsetValue
from mirror.store.records import ConnectorRecord
from mirror.store.store import Store
from tests.api.harness import Api, MemoryOffsetsAdmin, RecordingClient, build_api, mm2_source_config

PARTITION: dict[str, OffsetValue] = {"cluster": "A", "topic": "orders", "partition": 0}
NOT_STOPPED = "Connectors must be in the STOPPED state before their offsets can be modified."


def create(api: Api, name: str = "c", initial_state: str = "RUNNING") -> None:
    response = api.client.post(
        "/connectors", json={"name": name, "config": mm2_source_config(), "initial_state": initial_state}
    )
    assert response.status_code == 201


def test_get_offsets_in_any_state(api: Api) -> None:
    create(api)
    assert api.client.get("/connectors/c/offsets").json == {"offsets": []}
    api.offsets.offsets["c"] = [ConnectorOffset(PARTITION, {"offset": 41})]
    assert api.client.get("/connectors/c/offsets").json == {
        "offsets": [{"partition": PARTITION, "offset": {"offset": 41}}]
    }
    missing = api.client.get("/connectors/nope/offsets")
    assert missing.status_code == 404
    assert missing.json["message"] == "Connector nope not found"


def test_alter_and_reset_need_a_stopped_connector(api: Api) -> None:
    create(api)
    body = {"offsets": [{"partition": PARTITION, "offset": {"offset": 10}}]}
    running = api.client.patch("/connectors/c/offsets", json=body)
    assert running.status_code == 400
    assert running.json["message"].startswith(NOT_STOPPED)
    assert "'/connectors/c/stop'" in running.json["message"]
    assert api.client.delete("/connectors/c/offsets").status_code == 400

    api.client.put("/connectors/c/stop")
    api.report("c", "RUNNING", {0: "RUNNING"})  # the runtime has not stopped the tasks yet
    assert api.client.patch("/connectors/c/offsets", json=body).status_code == 400
    api.report("c", "STOPPED", {})
    assert [call for call in api.offsets.calls if call[0] != "get"] == []

    altered = api.client.patch("/connectors/c/offsets", json=body)
    assert altered.status_code == 200
    assert altered.json == {"message": "The offsets for this connector have been altered successfully"}
    assert api.offsets.offsets["c"] == [ConnectorOffset(PARTITION, {"offset": 10})]
    forget = api.client.patch(
        "/connectors/c/offsets", json={"offsets": [{"partition": PARTITION, "offset": None}]}
    )
    assert forget.status_code == 200
    assert api.offsets.offsets["c"] == []

    reset = api.client.delete("/connectors/c/offsets")
    assert reset.status_code == 200
    assert reset.json == {"message": "The offsets for this connector have been reset successfully"}
    actions = [entry.action for entry in api.store.audit_log(limit=3)]
    assert actions == ["connector.offsets.reset", "connector.offsets.alter", "connector.offsets.alter"]


def test_a_connector_created_stopped_may_be_altered_at_once(api: Api) -> None:
    create(api, initial_state="STOPPED")
    body = {"offsets": [{"partition": PARTITION, "offset": {"offset": 3}}]}
    assert api.client.patch("/connectors/c/offsets", json=body).status_code == 200


def test_malformed_alter_requests(api: Api) -> None:
    create(api, initial_state="STOPPED")
    cases: list[tuple[object, str]] = [
        ({}, "Partitions / offsets need to be provided for an alter offsets request"),
        ({"offsets": []}, "Partitions / offsets need to be provided for an alter offsets request"),
        ({"offsets": {}}, "'offsets' must be a JSON array"),
        ({"offsets": [1]}, "offsets[0] must be a JSON object"),
        (
            {"offsets": [{"offset": {"offset": 1}}]},
            "The partition for a source connector offset cannot be null",
        ),
        ({"offsets": [{"partition": [1], "offset": None}]}, "offsets[0].partition must be a JSON object"),
        ({"offsets": [{"partition": {"topic": {"x": 1}}}]}, "offsets[0].partition.topic must be a string"),
        ({"offsets": [{"partition": PARTITION, "offset": 5}]}, "offsets[0].offset must be a JSON object"),
        ({"offsets": [{"partition": {"cluster": "A"}, "offset": {"offset": 1}}]}, "has no 'topic'"),
    ]
    for body, fragment in cases:
        response = api.client.patch("/connectors/c/offsets", json=body)
        assert response.status_code == 400, body
        assert fragment in response.json["message"], (body, response.json)
    assert api.store.audit_log(limit=1)[0].action == "connector.create"


def test_without_an_offsets_service_the_endpoints_answer_503(store: Store) -> None:
    api = build_api(store, with_offsets=False, auth_required=False)
    create(api, initial_state="STOPPED")
    for method in ("GET", "DELETE"):
        response = api.client.open("/connectors/c/offsets", method=method)
        assert response.status_code == 503
        assert response.json["error_code"] == 503
        assert "not available" in response.json["message"]


def test_unreachable_offsets_are_a_503_saying_why(api: Api) -> None:
    create(api)
    api.offsets.unreachable.add("c")
    response = api.client.get("/connectors/c/offsets")
    assert response.status_code == 503
    assert response.json == {
        "error_code": 503,
        "message": "Connector offsets are not available: the target cluster of c does not answer",
    }


class TimingOutOffsetsAdmin(MemoryOffsetsAdmin):
    """An offsets service whose Kafka client gives up waiting, as ``Future.result(timeout)`` does."""

    def get(self, connector: ConnectorRecord) -> list[ConnectorOffset]:
        raise concurrent.futures.TimeoutError

    def alter(self, connector: ConnectorRecord, offsets: Sequence[ConnectorOffset]) -> None:
        raise concurrent.futures.TimeoutError

    def reset(self, connector: ConnectorRecord) -> None:
        raise TimeoutError("no answer in 10s")


def test_a_timeout_in_the_offsets_service_is_a_503(store_url: str) -> None:
    """Before: the TimeoutError escaped, and PATCH answered 500 (security probe M5, L1 d)."""
    with Store.open(store_url) as store:
        admin = TimingOutOffsetsAdmin()
        app = create_app(ApiSettings(store=store, offsets=admin, auth_required=False))
        api = Api(store=store, app=app, client=RecordingClient(app), offsets=admin)
        create(api, initial_state="STOPPED")
        body = {"offsets": [{"partition": PARTITION, "offset": {"offset": 3}}]}
        for method in ("GET", "PATCH", "DELETE"):
            response = api.client.open("/connectors/c/offsets", method=method, json=body)
            assert response.status_code == 503, (method, response.json)
            assert response.json["message"].startswith(
                "Connector offsets are not available: Kafka did not answer in time"
            )
        assert [entry.action for entry in store.audit_log(limit=5)] == ["connector.create"]
