"""The records of one backed-up object, held column by column.

Columns, not one object per record: the sink fills plain lists straight from the consumed
messages and the encoders hand whole columns to pyarrow / fastavro, so the hot path builds no
Python object of ours per record. Everything Kafka stores about a record is kept as it was:
raw key and value (``None`` is not ``b""``), headers in order with duplicate keys and ``None``
values, timestamp and its type, partition and offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Header = tuple[str, bytes | None]

FORMATS = ("jsonl", "avro", "parquet")
COMPRESSIONS = ("none", "gzip", "zstd", "snappy")
"""Object formats and compressions (``mirror.formats.backup.codec`` encodes them)."""

DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024
"""The most one object may decode to unless a restore says otherwise (``restore.object.max.bytes``):
4x the sink's default ``rotate.bytes``, so the JSON lines of an object a backup with default
settings writes (64 MiB of values, base64 and per-record overhead included) fit, while a crafted
one cannot hold more memory than this."""

TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1
TIMESTAMP_LOG_APPEND_TIME = 2
TIMESTAMP_TYPES = (TIMESTAMP_NOT_AVAILABLE, TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME)
"""confluent_kafka's ``TIMESTAMP_*`` codes (Kafka's -1/0/1 shifted by one)."""


class RecordFormatError(ValueError):
    """Bytes that do not decode as the format and compression an object claims."""


@dataclass(frozen=True)
class RecordColumns:
    """Records of one partition, in offset order."""

    partition: int
    offsets: Sequence[int]
    timestamp_types: Sequence[int]
    timestamps: Sequence[int]
    keys: Sequence[bytes | None]
    values: Sequence[bytes | None]
    headers: Sequence[Sequence[Header]]
    """Each record's headers; an empty sequence when it has none."""

    def __post_init__(self) -> None:
        count = len(self.offsets)
        columns = (self.timestamp_types, self.timestamps, self.keys, self.values, self.headers)
        if any(len(column) != count for column in columns):
            raise ValueError("every column of RecordColumns must have one entry per record")

    def __len__(self) -> int:
        return len(self.offsets)

    def select(self, indexes: Sequence[int]) -> RecordColumns:
        """The records at ``indexes`` (in that order)."""
        return RecordColumns(
            self.partition,
            [self.offsets[i] for i in indexes],
            [self.timestamp_types[i] for i in indexes],
            [self.timestamps[i] for i in indexes],
            [self.keys[i] for i in indexes],
            [self.values[i] for i in indexes],
            [self.headers[i] for i in indexes],
        )


def offset_gaps(offsets: Sequence[int]) -> list[tuple[int, int]]:
    """Inclusive ranges of offsets missing between the first and the last (compaction, markers)."""
    if not offsets or offsets[-1] - offsets[0] == len(offsets) - 1:
        return []  # consecutive: the common case, decided without a pass over the records
    gaps: list[tuple[int, int]] = []
    previous: int | None = None
    for offset in offsets:
        if previous is not None and offset > previous + 1:
            gaps.append((previous + 1, offset - 1))
        previous = offset
    return gaps
