"""wsgi_app(): the app gunicorn builds from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mirror.api.app import settings_from_environment, wsgi_app
from mirror.api.context import ApiContext
from mirror.store.store import Store
from tests.api.harness import MemoryOffsetsAdmin

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    Store.open(url).close()
    return url


def test_wsgi_app_reads_the_environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRROR_DATABASE_URL", database_url)
    monkeypatch.setenv("MIRROR_API_AUTH_REQUIRED", "false")
    monkeypatch.setenv("MIRROR_API_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("MIRROR_API_ADVERTISED_URL", "http://mirror.example:8083/")
    monkeypatch.setenv("MIRROR_API_OFFSETS_ADMIN", "tests.api.harness:memory_offsets_admin")
    app = wsgi_app()
    context = app.extensions["mirror"]
    assert isinstance(context, ApiContext)
    try:
        settings = context.settings
        assert (settings.auth_required, settings.max_body_bytes) == (False, 2048)
        assert isinstance(settings.offsets, MemoryOffsetsAdmin)
        client = app.test_client()
        response = client.put("/clusters/a", json={"bootstrap_servers": "a:9092"})
        assert response.status_code == 201
        assert response.headers["Location"] == "http://mirror.example:8083/clusters/a"
        assert client.post("/clusters", json={"name": "b" * 3000}).status_code == 413
    finally:
        context.store.close()


@pytest.mark.parametrize(
    ("environment", "fragment"),
    [
        ({}, "MIRROR_DATABASE_URL is not set"),
        ({"MIRROR_DATABASE_URL": "sqlite://", "MIRROR_API_AUTH_REQUIRED": "no"}, "MIRROR_API_AUTH_REQUIRED"),
        (
            {"MIRROR_DATABASE_URL": "sqlite://", "MIRROR_API_MAX_BODY_BYTES": "1MB"},
            "MIRROR_API_MAX_BODY_BYTES",
        ),
        ({"MIRROR_DATABASE_URL": "sqlite://", "MIRROR_API_OFFSETS_ADMIN": "nocolon"}, "module:callable"),
    ],
)
def test_bad_environments_are_named(environment: dict[str, str], fragment: str) -> None:
    with pytest.raises(RuntimeError, match=fragment):
        settings_from_environment(environment)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_gunicorn_serves_the_factory(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    environment = {**os.environ, "MIRROR_DATABASE_URL": database_url, "MIRROR_API_AUTH_REQUIRED": "true"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with (tmp_path / "gunicorn.log").open("w") as log:
        process = subprocess.Popen(
            [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "1", "mirror.api.app:wsgi_app()"],
            cwd=REPO,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/connectors", timeout=5)
        with refused.value as error:
            assert error.code == 401
            assert error.headers["Content-Type"] == "application/json"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
