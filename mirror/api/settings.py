"""What the API is built from."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from mirror.service.offsets import OffsetsAdmin
from mirror.service.plugins import PLUGIN_VERSION
from mirror.store.store import Store

DEFAULT_MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class ApiSettings:
    """Give ``database_url`` (the app opens its own Store) or ``store`` (shared with the caller)."""

    database_url: str | None = None
    store: Store | None = None
    auth_required: bool = True
    """False: every request is allowed, as actor ``local`` (only for a loopback bind with no tokens)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    advertised_url: str | None = None
    """Base of ``Location`` headers (e.g. ``http://mirror.example:8083``); None: the request's own host.
    Its host is served even with authentication off, and its origin may send state-changing
    requests (``mirror.api.auth``)."""
    version: str = PLUGIN_VERSION
    """Shown by ``GET /``; clients read it as the Kafka Connect version they talk to."""
    commit: str = "0000000000000000"
    kafka_cluster_id: str | None = None
    offsets: OffsetsAdmin | None = None
    """Reads and changes connector offsets in Kafka; None: the offsets endpoints answer 503."""

    def __post_init__(self) -> None:
        if (self.database_url is None) == (self.store is None):
            raise ValueError("ApiSettings needs exactly one of database_url and store")
        if self.advertised_url is not None and not is_base_url(self.advertised_url):
            raise ValueError(f"advertised URL must be http(s)://HOST[:PORT], not {self.advertised_url!r}")
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, not {self.max_body_bytes}")


def is_base_url(url: str) -> bool:
    """``http(s)://HOST[:PORT][/path]``, as ``advertised_url`` must be."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"} and bool(parts.hostname) and not parts.query and not parts.fragment
    )
