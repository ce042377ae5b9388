"""``mirror serve`` while its SQLite file is read-only for a while, or deleted: clients get 503,
``/health`` says why, and after a read-only window the service carries on by itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from mirror.store.store import Store
from tests.kafka_io import wait_until
from tests.service_harness import ServeProcess, serving
from tests.store.test_store_database import read_only

READ_ONLY_S = 5.0
RECOVERY_BOUND_S = 15.0
UNREACHABLE = {
    "connector.class": "MirrorHeartbeatConnector",
    "source.cluster.alias": "A",
    "target.cluster.alias": "B",
    "source.cluster.bootstrap.servers": "127.0.0.1:1",
    "target.cluster.bootstrap.servers": "127.0.0.1:1",
}


def post_connector(service: ServeProcess, name: str) -> requests.Response:
    body = {"name": name, "config": UNREACHABLE, "initial_state": "STOPPED"}
    return requests.post(f"{service.url}/connectors", json=body, timeout=60)


def health(service: ServeProcess) -> requests.Response:
    return requests.get(f"{service.url}/health", timeout=60)


def assigned(store: Store, name: str) -> bool:
    record = store.get_connector(name)
    return record is not None and record.assigned_worker == "w1"


def test_a_read_only_window_answers_503_and_the_service_recovers_by_itself(tmp_path: Path) -> None:
    database = tmp_path / "mirror.db"
    url = f"sqlite:///{database}"
    with serving(url, tmp_path / "serve.log", "w1") as service, Store(url) as store:
        assert post_connector(service, "before").status_code == 201
        wait_until(lambda: assigned(store, "before"), timeout=10, what="the first connector assigned")

        with read_only(database, Path(f"{database}-wal")):
            window_ends = time.monotonic() + READ_ONLY_S
            refused = post_connector(service, "during")
            unhealthy = health(service)
            time.sleep(max(0.0, window_ends - time.monotonic()))
        writable_at = datetime.now(UTC)

        assert refused.status_code == 503, refused.text
        assert refused.json()["error_code"] == 503
        assert "database is unavailable" in refused.json()["message"]
        assert unhealthy.status_code == 503, unhealthy.text
        assert unhealthy.json()["status"] == "unhealthy"
        assert "cannot be written" in unhealthy.json()["message"]

        def heartbeat_after_window() -> bool:
            return any(
                worker.worker_id == "w1" and worker.last_heartbeat > writable_at
                for worker in store.live_workers(60)
            )

        wait_until(heartbeat_after_window, timeout=RECOVERY_BOUND_S, what="a heartbeat after the window")
        assert post_connector(service, "after").status_code == 201
        wait_until(
            lambda: assigned(store, "after"), timeout=RECOVERY_BOUND_S, what="the new connector assigned"
        )
        assert health(service).status_code == 200
        assert "heartbeat works again" in service.log
        wait_until(
            lambda: "scheduler tick works again" in service.log,
            timeout=RECOVERY_BOUND_S,
            what="the scheduler after the window",
        )
        assert store.get_connector("during") is None
        assert service.stop() == 0


def test_a_deleted_database_file_answers_503_and_is_not_recreated(tmp_path: Path) -> None:
    database = tmp_path / "mirror.db"
    url = f"sqlite:///{database}"
    with serving(url, tmp_path / "serve.log", "w1") as service:
        assert post_connector(service, "before").status_code == 201
        database.unlink()

        refused = post_connector(service, "lost")
        unhealthy = health(service)

        assert refused.status_code == 503, refused.text
        assert "the database file was deleted while in use" in refused.json()["message"]
        assert unhealthy.status_code == 503, unhealthy.text
        assert unhealthy.json()["status"] == "unhealthy"
        assert "the database file was deleted while in use" in unhealthy.json()["message"]
        wait_until(lambda: "heartbeat failed" in service.log, timeout=10, what="the runtime to notice")
        assert not database.exists(), "the service made a new, empty database"
