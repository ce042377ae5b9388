"""Reading an mm2.properties file: the one place that turns a path into a resolved config."""

from __future__ import annotations

from pathlib import Path

from mirror.config.errors import ConfigError
from mirror.config.mm2 import MirrorMakerConfig, resolve_mm2
from mirror.config.properties import parse_properties


def load_mm2_file(path: Path) -> MirrorMakerConfig:
    """Raises ConfigError (an unreadable file) or ConfigErrors (every problem, by key and line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from exc
    return resolve_mm2(parse_properties(text, source=str(path)), source=str(path))
