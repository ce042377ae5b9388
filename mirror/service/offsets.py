"""A connector's source offsets, as Connect's offsets endpoints show and change them (KIP-875).

They live in Kafka (the connector's offsets topic on its target cluster), not in the store, so
the API reaches them only through :class:`OffsetsAdmin`; the service runtime implements it
against Kafka and ``mirror.api.app.ApiSettings`` carries the instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from mirror.store.records import ConnectorRecord

OffsetValue = str | int | float | bool | None
"""Connect's partition and offset maps hold JSON primitives only."""


@dataclass(frozen=True)
class ConnectorOffset:
    """One source partition and its offset, e.g. ``{"cluster": "A", "topic": "t", "partition": 0}``
    -> ``{"offset": 41}``."""

    partition: Mapping[str, OffsetValue]
    offset: Mapping[str, OffsetValue] | None
    """None in an alter request: forget this partition's offset (it restarts from its reset policy)."""


class InvalidOffsetsError(ValueError):
    """An alter request the connector cannot apply (a partition it does not know, a bad offset);
    the message says which. The API answers 400."""


class OffsetsUnavailableError(RuntimeError):
    """The offsets cannot be read or written now: a cluster does not answer, or the connector's
    clusters cannot be resolved (no such profile). The message says why and holds no secret; the
    API answers 503."""


class OffsetsAdmin(Protocol):
    """Reads and changes the source offsets of a stored connector.

    Callers ensure ``alter`` and ``reset`` only run for a connector that is STOPPED (Connect's rule),
    so nothing else writes the offsets meanwhile."""

    def get(self, connector: ConnectorRecord) -> list[ConnectorOffset]:
        """Every partition that has a committed offset. Raises OffsetsUnavailableError."""
        ...

    def alter(self, connector: ConnectorRecord, offsets: Sequence[ConnectorOffset]) -> None:
        """Write these offsets (None offsets are removed). Raises InvalidOffsetsError,
        OffsetsUnavailableError."""
        ...

    def reset(self, connector: ConnectorRecord) -> None:
        """Remove every offset of the connector. Raises OffsetsUnavailableError."""
        ...
