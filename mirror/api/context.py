"""The per-app objects every route needs, and the actor of the current request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app, g

from mirror.api.settings import ApiSettings
from mirror.store.records import Role
from mirror.store.store import Store

EXTENSION = "mirror"


@dataclass(frozen=True)
class ApiContext:
    settings: ApiSettings
    store: Store


def api() -> ApiContext:
    return cast(ApiContext, current_app.extensions[EXTENSION])


def store() -> Store:
    return api().store


@dataclass(frozen=True)
class Caller:
    actor: str
    """Audit actor: the token's name, or ``local`` when no authentication is required."""
    role: Role


def set_caller(caller: Caller) -> None:
    g.mirror_caller = caller


def actor() -> str:
    return cast(Caller, g.mirror_caller).actor
