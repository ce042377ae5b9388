"""Reading an mm2.properties file: the one place that turns a path into a resolved config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mirror.config.errors import ConfigError
from mirror.config.mm2 import MirrorMakerConfig, resolve_mm2
from mirror.config.properties import decode_properties, parse_properties

# Real mm2.properties files are a few KiB; the bound keeps /dev/zero or a runaway pipe from
# exhausting memory.
MAX_FILE_BYTES = 10 * 1024 * 1024


def load_mm2_file(path: Path) -> MirrorMakerConfig:
    """Raises ConfigError (an unreadable or oversized file) or ConfigErrors (each problem by key and line)."""
    source = str(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", source=source) from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, or endless: not an mm2.properties file",
            source=source,
        )
    decoded = decode_properties(data)
    properties = parse_properties(decoded.text, source=source)
    config = resolve_mm2(properties, source=source)
    if decoded.latin1_line is None:
        return config
    keys = [prop.key for prop in properties if prop.line == decoded.latin1_line]
    where = f"{source}:{decoded.latin1_line}" + (f": {keys[0]}" if keys else "")
    notice = (
        f"{where}: not UTF-8, so the file was read as ISO-8859-1 (as MirrorMaker 2 reads it); "
        "save it as UTF-8 or write non-ASCII characters as \\uXXXX"
    )
    return dataclasses.replace(config, warnings=(notice, *config.warnings))
