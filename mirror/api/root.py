"""``GET /`` (Connect's ServerInfo), ``GET /health`` (KIP-1017) and ``GET /openapi.json``."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from mirror.api.context import api
from mirror.api.openapi import openapi_document

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
    """Healthy when the store answers; Connect's ``status``/``message`` body, not the error body."""
    try:
        api().store.has_tokens()
    except Exception as error:
        log.warning("health check: the store does not answer: %s", type(error).__name__)
        body = {
            "status": "unhealthy",
            "message": "Worker was unable to handle this request and may be unable to handle other requests: "
            "the control-plane database does not answer.",
        }
        return jsonify(body), 500
    return jsonify(
        {"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}
    ), 200


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(api().settings.version))
