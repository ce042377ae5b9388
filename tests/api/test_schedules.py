"""/schedules: timed pause/resume/lag sampling of flows, checked before they are stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.harness import Api, snapshot


@pytest.fixture
def flow(api: Api) -> str:
    for name in ("a", "b"):
        api.client.post("/clusters", json={"name": name, "bootstrap_servers": f"{name}:9092"})
    assert api.client.post("/flows", json={"source": "a", "target": "b"}).status_code == 201
    return "a-b"


def test_cron_and_interval_schedules(api: Api, flow: str) -> None:
    nightly = api.client.post(
        "/schedules", json={"id": "nightly", "action": "pause_flow", "target": flow, "cron": "0 2 * * *"}
    )
    assert nightly.status_code == 201
    assert nightly.headers["Location"] == "http://localhost/schedules/nightly"
    body = nightly.json
    assert {key: body[key] for key in ("id", "action", "target", "trigger", "cron", "enabled", "runs")} == {
        "id": "nightly",
        "action": "pause_flow",
        "target": flow,
        "trigger": "cron",
        "cron": "0 2 * * *",
        "enabled": True,
        "runs": [],
    }
    sampled = api.client.post(
        "/schedules", json={"action": "lag_sample", "target": flow, "interval_seconds": 30, "enabled": False}
    )
    assert sampled.status_code == 201
    generated = sampled.json["id"]
    assert generated.startswith("lag_sample-a-b-")
    assert (sampled.json["trigger"], sampled.json["interval_seconds"], sampled.json["enabled"]) == (
        "interval",
        30,
        False,
    )
    record = api.store.get_schedule(generated)
    assert record is not None
    assert (record.trigger, record.spec) == ("interval", "30")
    assert [schedule["id"] for schedule in api.client.get("/schedules/").json] == sorted(
        ["nightly", generated]
    )


def test_recent_runs_are_shown(api: Api, flow: str) -> None:
    api.client.post(
        "/schedules", json={"id": "s", "action": "resume_flow", "target": flow, "interval_seconds": 60}
    )
    first = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    for index in range(12):
        moment = first + timedelta(minutes=index)
        assert api.store.claim_run("s", moment, "w1")
        api.store.finish_run("s", moment, "ok")
    runs = api.client.get("/schedules/s").json["runs"]
    assert len(runs) == 10
    assert runs[0]["scheduled_for"] == (first + timedelta(minutes=11)).isoformat()
    assert runs[0]["outcome"] == "ok"
    assert runs[0]["worker_id"] == "w1"
    assert api.client.get("/schedules").json[0]["runs"] == runs


def test_refused_schedules_change_nothing(api: Api, flow: str) -> None:
    api.client.post(
        "/schedules", json={"id": "taken", "action": "pause_flow", "target": flow, "cron": "0 2 * * *"}
    )
    before = snapshot(api.store)
    base = {"action": "pause_flow", "target": flow}
    cases: list[tuple[object, int, str]] = [
        ({**base, "cron": "0 2 * *"}, 400, "Wrong number of fields"),
        ({**base, "cron": "61 * * * *"}, 400, "is not a crontab expression"),
        ({**base, "cron": "0 0 31 2 *"}, 400, "never fires"),
        (base, 400, "exactly one of 'cron' and 'interval_seconds'"),
        ({**base, "cron": "0 2 * * *", "interval_seconds": 5}, 400, "exactly one of"),
        ({**base, "interval_seconds": 0}, 400, "'interval_seconds' must be an integer"),
        ({**base, "interval_seconds": "60"}, 400, "'interval_seconds' must be an integer"),
        ({**base, "interval_seconds": True}, 400, "'interval_seconds' must be an integer"),
        ({**base, "interval_seconds": 60, "enabled": "yes"}, 400, "'enabled' must be true or false"),
        ({"action": "explode", "target": flow, "interval_seconds": 5}, 400, "'action' must be one of"),
        ({"action": "pause_flow", "target": "nope", "interval_seconds": 5}, 400, "flow nope does not exist"),
        ({**base, "id": "a b", "interval_seconds": 5}, 400, "schedule name 'a b'"),
        ({**base, "id": "taken", "interval_seconds": 5}, 409, "Schedule taken already exists"),
    ]
    for body, status, fragment in cases:
        response = api.client.post("/schedules", json=body)
        assert response.status_code == status, body
        assert fragment in response.json["message"], (body, response.json)
    assert snapshot(api.store) == before


def test_delete(api: Api, flow: str) -> None:
    api.client.post(
        "/schedules", json={"id": "s", "action": "pause_flow", "target": flow, "cron": "0 2 * * *"}
    )
    assert api.client.delete("/schedules/s").status_code == 204
    assert api.store.get_schedule("s") is None
    missing = api.client.delete("/schedules/s")
    assert missing.status_code == 404
    assert missing.json == {"error_code": 404, "message": "Schedule s not found"}
    assert api.client.get("/schedules/s").status_code == 404
