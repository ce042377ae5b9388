"""``GET /audit``: who changed what, newest first (admin tokens only)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request

from mirror.api import views
from mirror.api.context import store
from mirror.api.errors import bad_request

blueprint = Blueprint("audit", __name__)

MAX_LIMIT = 1000


@blueprint.get("/audit")
def list_entries() -> Response:
    raw = request.args.get("limit", "100")
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_request(f"query parameter 'limit' must be an integer from 1 to {MAX_LIMIT}, not {raw!r}")
    return jsonify([views.audit_entry(entry) for entry in store().audit_log(limit=int(raw))])
