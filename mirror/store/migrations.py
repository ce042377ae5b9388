"""Alembic, driven from code: the store's schema is made and changed only by these migrations."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

import mirror

SCRIPT_LOCATION = Path(mirror.__file__).resolve().parents[1] / "alembic"
CONNECTION_ATTRIBUTE = "connection"
"""``Config.attributes`` key under which env.py finds an open connection to migrate."""

# Alembic announces each of its own plugins at INFO on every start; only migrations are news.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

_ALEMBIC_IN_USE = threading.Lock()
"""Alembic keeps its running environment in module globals: one migration per process at a time."""


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """A Config for ``url`` without alembic.ini; env.py migrates ``connection`` if given."""
    if not (SCRIPT_LOCATION / "env.py").is_file():
        raise FileNotFoundError(f"Alembic scripts not found at {SCRIPT_LOCATION} (install mirror editable)")
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # '%' is ConfigParser's interpolation character; a password may contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes[CONNECTION_ATTRIBUTE] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    url = engine.url.render_as_string(hide_password=False)
    with _ALEMBIC_IN_USE, engine.connect() as connection:
        command.upgrade(alembic_config(url, connection), "head")
        connection.commit()
