"""Schemathesis against the live API: every documented operation, generated requests (valid and
invalid), every check but positive_data_acceptance, over real HTTP on 127.0.0.1.

positive_data_acceptance is left out on purpose: a request can match the schema and still be
refused, because a config is checked by its plugin's rules and bodies name other resources
(clusters, flows) that must exist. Those rules are tested in the other API tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from mirror.api.openapi import openapi_document
from mirror.service.offsets import ConnectorOffset
from mirror.store.records import Role
from mirror.store.store import Store
from tests.api.harness import MM2_SOURCE, build_api, mm2_source_config

KNOWN_NAMES = ["orders", "primary", "backup", "primary-backup", "primary-backup-source", "nightly", "mirror"]
PLUGINS = ["MirrorSource", MM2_SOURCE, "MirrorHeartbeatConnector"]


def seed(store: Store, token: str) -> None:
    """Resources with the names the run's dictionaries offer, so operations reach past 404."""
    api = build_api(store, auth_required=True)
    client = api.client
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    for name in ("primary", "backup"):
        assert (
            client.post("/clusters", json={"name": name, "bootstrap_servers": f"{name}:9092"}).status_code
            == 201
        )
    assert client.post("/flows", json={"source": "primary", "target": "backup"}).status_code == 201
    assert (
        client.post("/connectors", json={"name": "orders", "config": mm2_source_config()}).status_code == 201
    )
    body = {"id": "nightly", "action": "pause_flow", "target": "primary-backup", "cron": "0 2 * * *"}
    assert client.post("/schedules", json=body).status_code == 201
    api.report("orders", "RUNNING", {0: "RUNNING", 1: "FAILED"}, traces={1: "trace"})
    api.report("primary-backup-source", "RUNNING", {0: "RUNNING"})


@pytest.fixture
def live_server(store_url: str) -> Iterator[tuple[str, str, Store]]:
    """The app on a free port of 127.0.0.1, served by a werkzeug server thread; stopped after. Once
    over SQLite and once over PostgreSQL, which refuses more (NUL, lengths) than SQLite does."""
    store = Store.open(store_url)
    _record, token = store.create_token("schemathesis", Role.ADMIN, actor="cli")
    api = build_api(store, auth_required=True)
    api.offsets.offsets["orders"] = [
        ConnectorOffset({"cluster": "A", "topic": "orders", "partition": 0}, {"offset": 7})
    ]
    server: BaseWSGIServer = make_server("127.0.0.1", 0, api.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="api-under-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", token, store
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        store.close()


def config_file(path: Path) -> Path:
    """Path parameters drawn mostly from the seeded names, so operations reach their real work."""
    path.write_text(
        f"""
[dictionaries.names]
values = {json.dumps(KNOWN_NAMES)}

[dictionaries.plugins]
values = {json.dumps(PLUGINS)}

[dictionaries.tasks]
values = [0, 1]

[dictionaries.schedules]
values = ["nightly"]

[parameters]
"path.name" = {{ dictionary = "names", probability = 0.8 }}
"path.logger" = {{ dictionary = "names", probability = 0.5 }}
"path.plugin" = {{ dictionary = "plugins", probability = 0.8 }}
"path.task_id" = {{ dictionary = "tasks", probability = 0.8 }}
"path.schedule_id" = {{ dictionary = "schedules", probability = 0.8 }}
"""
    )
    return path


@pytest.mark.usefixtures("restore_log_levels")  # the run sets levels of loggers in this process
def test_schemathesis_finds_no_failure(live_server: tuple[str, str, Store], tmp_path: Path) -> None:
    base, token, store = live_server
    seed(store, token)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config_file(tmp_path / "schemathesis.toml")),
        "--no-color",
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        "20",
        "--header",
        f"Authorization: Bearer {token}",
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--request-timeout",
        "10",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path, check=False)
    assert token not in result.stdout
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", result.stdout)
    assert selected is not None, result.stdout[-5000:]
    # Every operation but GET /openapi.json itself, which schemathesis leaves out.
    operations = sum(len(methods) for methods in openapi_document("test")["paths"].values())
    assert {int(count) for count in selected.groups()} == {operations - 1}
