"""Small response helpers shared by the routes."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, request

from mirror.api.context import api


def location(*segments: str) -> str:
    """Absolute URL of a resource (JAX-RS makes Connect's ``Location`` absolute too)."""
    base = api().settings.advertised_url or request.host_url
    return base.rstrip("/") + "".join("/" + quote(segment, safe="") for segment in segments)


def empty(status: int) -> Response:
    """A 202/204 answer without a body."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    return response
