"""Every error the API answers is Connect's error body: ``{"error_code": N, "message": "..."}``."""

from __future__ import annotations

import logging
import secrets
import traceback

from flask import Flask, Response, jsonify
from sqlalchemy.exc import StatementError
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from mirror.service.offsets import OffsetsUnavailableError
from mirror.store.database import DatabaseUnavailableError, is_unavailable
from mirror.store.store import AlreadyExistsError, InUseError, NotFoundError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer with a status and a message, raised anywhere in a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def error_response(status: int, message: str) -> Response:
    response = jsonify({"error_code": status, "message": message})
    response.status_code = status
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, RequestEntityTooLarge):
        message = "Request body is larger than the limit of this server"
    elif isinstance(error, NotFound) or error.description is None or status == 405:
        message = f"HTTP {status} {error.name}"
    else:
        message = error.description
    response = error_response(status, message)
    # 405 answers say which methods the resource has.
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _api_error(error: ApiError) -> Response:
    response = error_response(error.status, error.message)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mirror"'
    return response


def _store_not_found(error: NotFoundError) -> Response:
    return error_response(404, str(error))


def _store_conflict(error: AlreadyExistsError | InUseError) -> Response:
    return error_response(409, str(error))


def _offsets_unavailable(error: OffsetsUnavailableError) -> Response:
    return error_response(503, f"Connector offsets are not available: {error}")


def _driver_error(error: BaseException) -> BaseException:
    # SQLAlchemy quotes a failed statement's parameters (config values, secrets) in its message:
    # show the driver's own message instead.
    return error.orig if isinstance(error, StatementError) and error.orig else error


def store_unavailable_reason(error: BaseException) -> str:
    """What is wrong with the store, in one line that holds no statement or value."""
    if isinstance(error, DatabaseUnavailableError):
        return str(error)
    return (str(_driver_error(error)).strip().splitlines() or [type(error).__name__])[0]


def _unexpected(error: Exception) -> Response:
    if is_unavailable(error):
        # The database is out of reach or cannot write for now (read-only, locked, deleted, a
        # lost connection): the request may succeed later, and the store reconnects by itself.
        reason = store_unavailable_reason(error)
        log.warning("request refused: the control-plane database is unavailable: %s", reason)
        response = error_response(503, f"The control-plane database is unavailable; retry later: {reason}")
        response.headers["Retry-After"] = "5"
        return response
    incident = secrets.token_hex(4)
    shown = _driver_error(error)
    stack = "".join(traceback.format_tb(error.__traceback__))
    log.error(
        "request failed (incident %s): %s: %s\n%s", incident, type(shown).__name__, shown, stack.rstrip()
    )
    return error_response(500, f"Internal server error (incident {incident}; details are in the server log)")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(NotFoundError, _store_not_found)
    app.register_error_handler(AlreadyExistsError, _store_conflict)
    app.register_error_handler(InUseError, _store_conflict)
    app.register_error_handler(OffsetsUnavailableError, _offsets_unavailable)
    app.register_error_handler(Exception, _unexpected)
