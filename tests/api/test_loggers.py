"""/admin/loggers over Python logging, with Connect's level names."""

from __future__ import annotations

import logging
import time

import pytest

from mirror.api.loggers import connect_level, python_level
from tests.api.harness import Api

pytestmark = pytest.mark.usefixtures("restore_log_levels")


def test_level_names_map_both_ways() -> None:
    assert [connect_level(level) for level in (1, 5, 10, 15, 20, 30, 40, 50, 60)] == [
        "TRACE",
        "TRACE",
        "DEBUG",
        "DEBUG",
        "INFO",
        "WARN",
        "ERROR",
        "FATAL",
        "OFF",
    ]
    for name in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"):
        level = python_level(name)
        assert level is not None
        assert connect_level(level) == name
    assert python_level("warning") is None
    assert python_level("debug") == logging.DEBUG


def test_set_then_read_levels(api: Api) -> None:
    logging.getLogger("mirror.api.test.child").setLevel(logging.ERROR)
    logging.getLogger("mirror.api.test.other")  # inherits: not changed explicitly
    before = int(time.time() * 1000)
    response = api.client.put("/admin/loggers/mirror.api.test", json={"level": "debug"})
    assert response.status_code == 200
    assert response.json == ["mirror.api.test", "mirror.api.test.child"]
    assert logging.getLogger("mirror.api.test").level == logging.DEBUG
    assert logging.getLogger("mirror.api.test.child").level == logging.DEBUG
    assert logging.getLogger("mirror.api.test.other").getEffectiveLevel() == logging.DEBUG

    listed = api.client.get("/admin/loggers").json
    assert listed["mirror.api.test"]["level"] == "DEBUG"
    assert listed["mirror.api.test"]["last_modified"] >= before
    assert "mirror.api.test.other" not in listed
    assert listed["root"]["last_modified"] is None

    inherited = api.client.get("/admin/loggers/mirror.api.test.other")
    assert inherited.json == {"level": "DEBUG", "last_modified": None}


def test_root_and_cluster_scope(api: Api) -> None:
    response = api.client.put("/admin/loggers/root?scope=cluster", json={"level": "WARN"})
    assert response.status_code == 204
    assert logging.root.level == logging.WARNING
    assert api.client.get("/admin/loggers/root").json["level"] == "WARN"


def test_logger_errors(api: Api) -> None:
    missing = api.client.get("/admin/loggers/no.such.logger.anywhere")
    assert missing.status_code == 404
    assert missing.json == {"error_code": 404, "message": "Logger no.such.logger.anywhere not found."}
    no_level = api.client.put("/admin/loggers/mirror", json={})
    assert no_level.status_code == 400
    assert no_level.json["message"] == "Desired 'level' parameter was not specified in request."
    bad_level = api.client.put("/admin/loggers/mirror", json={"level": "LOUD"})
    assert bad_level.status_code == 404
    assert bad_level.json["message"] == "invalid log level 'LOUD'."
    assert api.client.put("/admin/loggers/mirror", json={"level": 10}).status_code == 404
