"""``GET /`` (Connect's ServerInfo), ``GET /health`` (KIP-1017) and ``GET /openapi.json``."""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Response, jsonify

from mirror.api.context import api
from mirror.api.errors import store_unavailable_reason
from mirror.api.metrics import WORKER_TIMEOUT_S
from mirror.api.openapi import openapi_document
from mirror.service.serve import WORKER_ID_ENV
from mirror.store.database import is_unavailable
from mirror.store.store import Store

blueprint = Blueprint("root", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/")
def server_info() -> Response:
    settings = api().settings
    return jsonify(
        {
            "version": settings.version,
            "commit": settings.commit,
            "kafka_cluster_id": settings.kafka_cluster_id,
        }
    )


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    """Healthy when the store takes a write and this process's reconciler keeps its heartbeat
    fresh; Connect's ``status``/``message`` body, not the error body.

    A write, not a read: a read-only or deleted database file still answers reads. 503 when the
    database is unavailable for now or the reconciler is silent, 500 for anything else."""
    store = api().store
    try:
        store.check_writable()
        silent = _silent_runtime(store)
    except Exception as error:
        unavailable = is_unavailable(error)
        reason = store_unavailable_reason(error) if unavailable else "it does not answer"
        log.warning("health check: the store cannot write: %s: %s", type(error).__name__, reason)
        return _unhealthy(
            f"the control-plane database cannot be written: {reason}", 503 if unavailable else 500
        )
    if silent is not None:
        log.warning("health check: %s", silent)
        return _unhealthy(silent, 503)
    return jsonify(
        {"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}
    ), 200


def _silent_runtime(store: Store) -> str | None:
    """Why the reconciler of the ``mirror serve`` that runs this API looks dead, if it does: its
    worker heartbeat is older than other workers accept (it cannot write, or it is stuck)."""
    worker_id = os.environ.get(WORKER_ID_ENV)
    if not worker_id:
        return None  # not under mirror serve: no runtime of its own
    if any(worker.worker_id == worker_id for worker in store.live_workers(WORKER_TIMEOUT_S)):
        return None
    return (
        f"the runtime of worker {worker_id} has not recorded a heartbeat for over {WORKER_TIMEOUT_S:g} s, "
        "so other workers take its connectors over"
    )


def _unhealthy(reason: str, status: int) -> tuple[Response, int]:
    body = {
        "status": "unhealthy",
        "message": "Worker was unable to handle this request and may be unable to handle other requests: "
        + reason,
    }
    return jsonify(body), status


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(api().settings.version))
