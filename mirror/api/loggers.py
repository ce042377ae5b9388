"""Kafka Connect's ``/admin/loggers`` endpoints over Python's logging, with Connect's level names.

Levels change in this process only: under gunicorn with several workers, and for the runtime in
its own process, each process keeps its own levels (Connect's ``scope=worker`` semantics).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, Response, jsonify, request

from mirror.api.bodies import json_object
from mirror.api.errors import bad_request, not_found

blueprint = Blueprint("loggers", __name__)

ROOT = "root"
TRACE = 5
"""Python has no TRACE; below DEBUG is where libraries put it."""
OFF = logging.CRITICAL + 10

_TO_PYTHON = {
    "ALL": 1,
    "TRACE": TRACE,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "OFF": OFF,
}

_modified_lock = threading.Lock()
_last_modified: dict[str, int] = {}
"""Logger name -> when this API last set its level (ms since the epoch)."""


_FROM_PYTHON = (
    (logging.CRITICAL + 1, "OFF"),
    (logging.CRITICAL, "FATAL"),
    (logging.ERROR, "ERROR"),
    (logging.WARNING, "WARN"),
    (logging.INFO, "INFO"),
    (logging.DEBUG, "DEBUG"),
)


def connect_level(level: int) -> str:
    """A Python level under Connect's (log4j's) name; anything below DEBUG is TRACE."""
    return next((name for floor, name in _FROM_PYTHON if level >= floor), "TRACE")


def python_level(name: str) -> int | None:
    return _TO_PYTHON.get(name.strip().upper())


def _existing_loggers() -> dict[str, logging.Logger]:
    found = {
        name: logger
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    found[ROOT] = logging.root
    return found


def _entry(name: str, level: int) -> dict[str, object]:
    with _modified_lock:
        modified = _last_modified.get(name)
    return {"level": connect_level(level), "last_modified": modified}


@blueprint.get("/admin/loggers")
def list_loggers() -> Response:
    """Loggers with a level of their own (others inherit theirs)."""
    loggers = _existing_loggers()
    return jsonify(
        {
            name: _entry(name, logger.level)
            for name, logger in sorted(loggers.items())
            if logger.level != logging.NOTSET
        }
    )


@blueprint.get("/admin/loggers/<logger>")
def get_logger(logger: str) -> Response:
    found = _existing_loggers().get(logger)
    if found is None:
        raise not_found(f"Logger {logger} not found.")
    return jsonify(_entry(logger, found.getEffectiveLevel()))


@blueprint.put("/admin/loggers/<logger>")
def set_level(logger: str) -> Response:
    body = json_object()
    wanted = body.get("level")
    if wanted is None:
        raise bad_request("Desired 'level' parameter was not specified in request.")
    level = python_level(wanted) if isinstance(wanted, str) else None
    if level is None:
        raise not_found(f"invalid log level '{wanted}'.")
    affected = _apply(logger, level)
    if request.args.get("scope", "worker").lower() == "cluster":
        return Response(status=204)
    return jsonify(affected)


def _apply(name: str, level: int) -> list[str]:
    """Set the level of the logger and of its descendants that have their own (log4j's rule:
    the whole subtree ends up at the new level)."""
    loggers = _existing_loggers()
    target = logging.root if name == ROOT else logging.getLogger(name)
    prefix = "" if name == ROOT else name + "."
    affected = [name]
    for other, logger in loggers.items():
        if other not in {ROOT, name} and other.startswith(prefix) and logger.level != logging.NOTSET:
            affected.append(other)
    now = int(time.time() * 1000)
    with _modified_lock:
        for other in affected:
            (target if other == name else loggers[other]).setLevel(level)
            _last_modified[other] = now
    return sorted(affected)
