"""The Flask app of ``mirror serve``; gunicorn loads it with ``gunicorn 'mirror.api.app:wsgi_app()'``."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping

from flask import Flask

from mirror.api import audit, clusters, connectors, flows, lag, loggers, metrics, plugins, root, schedules, ui
from mirror.api.auth import install_authentication, install_browser_guards
from mirror.api.context import EXTENSION, ApiContext
from mirror.api.errors import register_error_handlers
from mirror.api.settings import DEFAULT_MAX_BODY_BYTES, ApiSettings, is_base_url
from mirror.service.offsets import OffsetsAdmin
from mirror.store.store import Store

__all__ = ["ApiSettings", "create_app", "wsgi_app"]

BLUEPRINTS = (root, connectors, plugins, loggers, clusters, flows, lag, schedules, audit, metrics, ui)


def create_app(settings: ApiSettings) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.url_map.strict_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined] # DefaultJSONProvider has it; keep configs in order
    store = settings.store if settings.store is not None else Store(_required(settings.database_url))
    app.extensions[EXTENSION] = ApiContext(settings=settings, store=store)
    register_error_handlers(app)
    install_browser_guards(app)
    install_authentication(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    return app


def _required(url: str | None) -> str:
    if url is None:  # pragma: no cover - ApiSettings guarantees a url when there is no store
        raise ValueError("no database url")
    return url


def wsgi_app() -> Flask:
    """The app as configured by the environment (for gunicorn):

    * ``MIRROR_DATABASE_URL`` (required): the store, already migrated (``mirror serve`` does that);
    * ``MIRROR_API_AUTH_REQUIRED``: ``false`` allows requests without a token (default ``true``);
    * ``MIRROR_API_MAX_BODY_BYTES`` (default 1 MiB);
    * ``MIRROR_API_ADVERTISED_URL``: the URL clients reach the API at (``Location`` headers; its
      host is served, and its origin may send requests, with authentication off too);
    * ``MIRROR_API_OFFSETS_ADMIN``: ``module:callable`` returning an ``OffsetsAdmin`` for a Store.
    """
    return create_app(settings_from_environment(os.environ))


def settings_from_environment(environment: Mapping[str, str]) -> ApiSettings:
    url = environment.get("MIRROR_DATABASE_URL", "").strip()
    if not url:
        raise RuntimeError("MIRROR_DATABASE_URL is not set: the API needs the control-plane database")
    auth = environment.get("MIRROR_API_AUTH_REQUIRED", "true").strip().lower()
    if auth not in {"true", "false"}:
        raise RuntimeError(f"MIRROR_API_AUTH_REQUIRED must be true or false, not {auth!r}")
    raw_limit = environment.get("MIRROR_API_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES)).strip()
    if not raw_limit.isascii() or not raw_limit.isdigit() or int(raw_limit) < 1:
        raise RuntimeError(f"MIRROR_API_MAX_BODY_BYTES must be a positive integer, not {raw_limit!r}")
    advertised = environment.get("MIRROR_API_ADVERTISED_URL", "").strip() or None
    if advertised is not None and not is_base_url(advertised):
        raise RuntimeError(f"MIRROR_API_ADVERTISED_URL must be http(s)://HOST[:PORT], not {advertised!r}")
    store = Store(url)
    factory = environment.get("MIRROR_API_OFFSETS_ADMIN", "").strip()
    return ApiSettings(
        store=store,
        auth_required=auth == "true",
        max_body_bytes=int(raw_limit),
        advertised_url=advertised,
        offsets=_load_offsets_admin(factory, store) if factory else None,
    )


def _load_offsets_admin(reference: str, store: Store) -> OffsetsAdmin:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise RuntimeError(f"MIRROR_API_OFFSETS_ADMIN must be 'module:callable', not {reference!r}")
    factory: Callable[[Store], OffsetsAdmin] = getattr(importlib.import_module(module_name), attribute)
    return factory(store)
