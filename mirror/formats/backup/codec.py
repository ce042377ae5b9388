"""Encode and decode one object's records as JSON lines, Avro or Parquet, compressed or not.

* ``jsonl``: one JSON object per line, ``{"partition", "offset", "timestamp", "timestamp_type",
  "key", "value", "headers"}``; key, value and header values are base64 strings or ``null``;
  headers are ``[[name, value], ...]`` in order. The whole object is compressed (gzip, zstd, or
  snappy's framing format).
* ``avro``: an Avro object container file of :data:`AVRO_SCHEMA` records; gzip is written as
  Avro's ``deflate`` codec (the same algorithm without gzip's wrapper), zstd as ``zstandard``.
* ``parquet``: one row per record, columns as in :data:`PARQUET_SCHEMA`; compression is
  Parquet's own per-page codec.

Headers are a list of (name, nullable bytes) pairs in every format, never a map, so order,
duplicate names and null values survive, and any header name is legal.

Decoding is bounded: a restore reads objects named by a manifest anyone with write access to the
bucket can edit, so a few kilobytes must not be able to claim gigabytes. JSON lines are
decompressed as a stream that stops one byte past ``max_decoded_bytes``; Parquet's footer must
not promise more than that; snappy's framing states each chunk's length, summed before decoding.
"""

from __future__ import annotations

import binascii
import gzip
import io
import itertools
import json
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal, Protocol, cast

import cramjam
import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
from backports import zstd

from mirror.formats.backup.records import (
    COMPRESSIONS,
    DEFAULT_MAX_DECODED_BYTES,
    FORMATS,
    TIMESTAMP_TYPES,
    Header,
    RecordColumns,
    RecordFormatError,
)

_JSONL_EXTENSIONS: Mapping[str, str] = {
    "none": "jsonl",
    "gzip": "jsonl.gz",
    "zstd": "jsonl.zst",
    "snappy": "jsonl.sz",
}
_AVRO_CODECS: Mapping[str, str] = {"none": "null", "gzip": "deflate", "zstd": "zstandard", "snappy": "snappy"}
_ParquetCodec = Literal["none", "gzip", "zstd", "snappy"]
_PARQUET_CODECS: Mapping[str, _ParquetCodec] = {
    "none": "none",
    "gzip": "gzip",
    "zstd": "zstd",
    "snappy": "snappy",
}
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 3


class DecodedSizeError(RecordFormatError):
    """An object that decodes (or says it decodes) to more bytes than the caller allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"decodes to more than {limit} bytes, the most this restore reads per object")
        self.limit = limit


AVRO_SCHEMA: Final[dict[str, Any]] = {
    "type": "record",
    "name": "KafkaRecord",
    "namespace": "mirror.backup",
    "fields": [
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp", "type": "long"},
        {"name": "timestamp_type", "type": "int"},
        {"name": "key", "type": ["null", "bytes"]},
        {"name": "value", "type": ["null", "bytes"]},
        {
            "name": "headers",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Header",
                    "fields": [
                        {"name": "key", "type": "string"},
                        {"name": "value", "type": ["null", "bytes"]},
                    ],
                },
            },
        },
    ],
}
_PARSED_AVRO_SCHEMA = fastavro.parse_schema(AVRO_SCHEMA)

_HEADER_TYPE = pa.list_(
    pa.struct([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.binary())])
)
_PARQUET_FIELDS: list[pa.Field[Any]] = [
    pa.field("partition", pa.int32(), nullable=False),
    pa.field("offset", pa.int64(), nullable=False),
    pa.field("timestamp", pa.int64(), nullable=False),
    pa.field("timestamp_type", pa.int8(), nullable=False),
    pa.field("key", pa.binary()),
    pa.field("value", pa.binary()),
    pa.field("headers", _HEADER_TYPE, nullable=False),
]
PARQUET_SCHEMA: Final = pa.schema(_PARQUET_FIELDS)


def check_format(format_name: str, compression: str) -> None:
    if format_name not in FORMATS:
        raise ValueError(f"unknown format {format_name!r}; expected one of {', '.join(FORMATS)}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r}; expected one of {', '.join(COMPRESSIONS)}")


def extension(format_name: str, compression: str) -> str:
    """The object key's extension, e.g. ``jsonl.zst``; Avro and Parquet name their codec inside."""
    check_format(format_name, compression)
    if format_name == "jsonl":
        return _JSONL_EXTENSIONS[compression]
    return format_name


def encode(columns: RecordColumns, format_name: str, compression: str) -> bytes:
    check_format(format_name, compression)
    if format_name == "jsonl":
        return _compress(_encode_jsonl(columns), compression)
    if format_name == "avro":
        return _encode_avro(columns, compression)
    return _encode_parquet(columns, compression)


def decode(
    data: bytes, format_name: str, compression: str, *, max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES
) -> RecordColumns:
    """Raises RecordFormatError when ``data`` is not what the format and compression promise, and
    DecodedSizeError, before allocating past the bound, when it decodes to over ``max_decoded_bytes``."""
    check_format(format_name, compression)
    if len(data) > max_decoded_bytes:
        raise DecodedSizeError(max_decoded_bytes)
    try:
        if format_name == "jsonl":
            return _decode_jsonl(_decompress(data, compression, max_decoded_bytes))
        if format_name == "avro":
            return _decode_avro(_uncompressed_avro(data, max_decoded_bytes))
        return _decode_parquet(data, max_decoded_bytes)
    except RecordFormatError:
        raise
    except Exception as exc:
        raise RecordFormatError(f"not a {format_name} object ({compression}): {exc}") from exc


# ---- compression of whole objects (JSON lines) ---------------------------------------------------


def _compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
    if compression == "zstd":
        return zstd.compress(data, level=_ZSTD_LEVEL)
    if compression == "snappy":
        return bytes(cramjam.snappy.compress(data))
    return data


def _decompress(data: bytes, compression: str, limit: int) -> bytes:
    if compression == "gzip":
        return _bounded_stream(data, limit, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), "gzip")
    if compression == "zstd":
        return _bounded_stream(data, limit, zstd.ZstdDecompressor, "zstd")
    if compression == "snappy":
        if _snappy_framed_length(data) > limit:
            raise DecodedSizeError(limit)
        return bytes(cramjam.snappy.decompress(data))
    return data


_PIECE = 4 * 1024 * 1024


class _StreamDecompressor(Protocol):
    """What zlib's and zstd's incremental decompressors share."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


def _bounded_stream(
    data: bytes,
    limit: int,
    start: Callable[[], _StreamDecompressor],
    name: str,
    *,
    already: int = 0,
    one_stream: bool = False,
) -> bytes:
    """Every member/frame of ``data`` decompressed (only the first with ``one_stream``), refused once
    ``already`` plus the output passes ``limit``. Output comes in pieces of at most
    :data:`_PIECE` bytes, joined only when complete: a refused bomb has held at most the limit."""
    parts: list[bytes] = []
    produced = already
    rest = data
    while rest:
        decompressor = start()
        feed = rest
        while True:
            part = decompressor.decompress(feed, min(_PIECE, limit - produced + 1))
            produced += len(part)
            if produced > limit:
                raise DecodedSizeError(limit)
            parts.append(part)
            if decompressor.eof:
                break
            # zlib hands back the input it did not take yet; zstd keeps it for the next call.
            feed = getattr(decompressor, "unconsumed_tail", b"")
            if not part and not feed and getattr(decompressor, "needs_input", True):
                raise RecordFormatError(f"truncated {name} data")
        # gzip members and zstd frames may follow one another; an Avro block holds one stream
        # (fastavro leaves 3 bytes of zlib's checksum after a deflate stream).
        rest = b"" if one_stream else decompressor.unused_data
    return parts[0] if len(parts) == 1 else b"".join(parts)


_SNAPPY_COMPRESSED = 0x00
_SNAPPY_UNCOMPRESSED = 0x01
_SNAPPY_SKIPPABLE = range(0x80, 0x100)  # padding, the stream identifier and reserved chunks


def _snappy_framed_length(data: bytes) -> int:
    """How many bytes snappy's framing format decodes to, read from its chunk headers alone."""
    view = memoryview(data)
    total = 0
    position = 0
    while position < len(view):
        header = view[position : position + 4]
        length = int.from_bytes(header[1:], "little")
        body = view[position + 4 : position + 4 + length]
        if len(header) < 4 or len(body) < length:
            raise RecordFormatError("truncated snappy frame")
        kind = header[0]
        if kind == _SNAPPY_COMPRESSED:
            total += cramjam.snappy.decompress_raw_len(body[4:])  # after the CRC: the raw header
        elif kind == _SNAPPY_UNCOMPRESSED:
            total += max(0, length - 4)
        elif kind not in _SNAPPY_SKIPPABLE:
            raise RecordFormatError(f"unknown snappy chunk type {kind:#04x}")
        position += 4 + length
    return total


# ---- JSON lines --------------------------------------------------------------------------------

_b64 = binascii.b2a_base64


def _b64_or_null(raw: bytes | None) -> str:
    return "null" if raw is None else '"' + _b64(raw, newline=False).decode("ascii") + '"'


def _encode_jsonl(columns: RecordColumns) -> bytes:
    # Each line is assembled from pieces whose JSON form is known (numbers, base64 strings):
    # only header names need json.dumps, so the per-record cost stays a few string joins.
    partition = columns.partition
    dumps = json.dumps
    lines = []
    for offset, timestamp_type, timestamp, key, value, headers in zip(
        columns.offsets,
        columns.timestamp_types,
        columns.timestamps,
        columns.keys,
        columns.values,
        columns.headers,
        strict=True,
    ):
        rendered_headers = ",".join(
            f"[{dumps(name)},{_b64_or_null(header_value)}]" for name, header_value in headers
        )
        lines.append(
            f'{{"partition":{partition},"offset":{offset},"timestamp":{timestamp},'
            f'"timestamp_type":{timestamp_type},"key":{_b64_or_null(key)},"value":{_b64_or_null(value)},'
            f'"headers":[{rendered_headers}]}}\n'
        )
    return "".join(lines).encode("utf-8")


def _unb64(text: object) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise RecordFormatError(f"expected a base64 string or null, got {type(text).__name__}")
    return binascii.a2b_base64(text, strict_mode=True)


_INT32_MAX = 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _int(record: Mapping[str, Any], field: str, low: int = _INT64_MIN, high: int = _INT64_MAX) -> int:
    """An integer field within what Kafka stores there (JSON integers have no bound of their own)."""
    value = record.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordFormatError(f"field {field!r} must be an integer")
    if not low <= value <= high:
        raise RecordFormatError(f"field {field!r} is {value}, outside {low}..{high}")
    return value


def _decode_jsonl(data: bytes) -> RecordColumns:
    offsets: list[int] = []
    timestamp_types: list[int] = []
    timestamps: list[int] = []
    keys: list[bytes | None] = []
    values: list[bytes | None] = []
    headers: list[list[Header]] = []
    partition: int | None = None
    # One line at a time: splitlines() would hold a second copy of the whole object.
    for number, line in enumerate(io.BytesIO(data), start=1):
        if line in (b"\n", b"\r\n"):
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise RecordFormatError("a line must hold a JSON object")
            record_partition = _int(record, "partition", 0, _INT32_MAX)
            if partition is None:
                partition = record_partition
            elif record_partition != partition:
                raise RecordFormatError("records of several partitions in one object")
            offsets.append(_int(record, "offset", 0))
            timestamps.append(_int(record, "timestamp"))
            timestamp_types.append(_int(record, "timestamp_type", min(TIMESTAMP_TYPES), max(TIMESTAMP_TYPES)))
            keys.append(_unb64(record.get("key")))
            values.append(_unb64(record.get("value")))
            raw_headers = record.get("headers")
            if not isinstance(raw_headers, list):
                raise RecordFormatError("'headers' must be a list of [name, value] pairs")
            headers.append([_header(pair) for pair in raw_headers])
        except (ValueError, binascii.Error) as exc:
            raise RecordFormatError(f"line {number}: {exc}") from exc
    return RecordColumns(
        partition if partition is not None else 0, offsets, timestamp_types, timestamps, keys, values, headers
    )


def _header(pair: object) -> Header:
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
        raise RecordFormatError("a header must be [name, base64 value or null]")
    return (pair[0], _unb64(pair[1]))


# ---- Avro --------------------------------------------------------------------------------------


def _avro_records(columns: RecordColumns) -> Iterator[dict[str, Any]]:
    partition = columns.partition
    for offset, timestamp_type, timestamp, key, value, headers in zip(
        columns.offsets,
        columns.timestamp_types,
        columns.timestamps,
        columns.keys,
        columns.values,
        columns.headers,
        strict=True,
    ):
        yield {
            "partition": partition,
            "offset": offset,
            "timestamp": timestamp,
            "timestamp_type": timestamp_type,
            "key": key,
            "value": value,
            "headers": [{"key": name, "value": header_value} for name, header_value in headers],
        }


def _encode_avro(columns: RecordColumns, compression: str) -> bytes:
    out = io.BytesIO()
    fastavro.writer(
        out,
        _PARSED_AVRO_SCHEMA,
        _avro_records(columns),
        codec=_AVRO_CODECS[compression],
        sync_interval=1 << 20,
    )
    return out.getvalue()


_AVRO_MAGIC = b"Obj\x01"
_AVRO_SYNC_SIZE = 16


def _uncompressed_avro(data: bytes, limit: int) -> bytes:
    """The same Avro container with every block decompressed here, under ``limit``, and the codec set
    to ``null``: fastavro would otherwise decompress each block with no bound."""
    view = memoryview(data)
    if view[:4] != _AVRO_MAGIC:
        raise RecordFormatError("not an Avro object container file")
    metadata: dict[bytes, bytes] = {}
    position = 4
    while True:
        count, position = _read_avro_long(view, position)
        if count == 0:
            break
        if count < 0:  # a negative count is followed by the block's size in bytes
            count = -count
            _size, position = _read_avro_long(view, position)
        for _ in range(count):
            key, position = _read_avro_bytes(view, position)
            metadata[key], position = _read_avro_bytes(view, position)
    sync = bytes(view[position : position + _AVRO_SYNC_SIZE])
    position += _AVRO_SYNC_SIZE
    codec = metadata.get(b"avro.codec", b"null").decode("utf-8")
    metadata[b"avro.codec"] = b"null"
    out = [_AVRO_MAGIC, _avro_long(len(metadata))]
    out += [_avro_long(len(k)) + k + _avro_long(len(v)) + v for k, v in metadata.items()]
    out += [_avro_long(0), sync]
    produced = 0
    while position < len(view):
        count, position = _read_avro_long(view, position)
        block, position = _read_avro_bytes(view, position)
        if view[position : position + _AVRO_SYNC_SIZE] != sync:
            raise RecordFormatError("Avro block not followed by the file's sync marker")
        position += _AVRO_SYNC_SIZE
        raw = _avro_block(block, codec, limit, produced)
        produced += len(raw)
        out += [_avro_long(count), _avro_long(len(raw)), raw, sync]
    return b"".join(out)


def _avro_block(block: bytes, codec: str, limit: int, already: int) -> bytes:
    if codec == "null":
        return block  # within the limit: the whole object is
    if codec == "deflate":
        return _bounded_stream(
            block, limit, lambda: zlib.decompressobj(-zlib.MAX_WBITS), codec, already=already, one_stream=True
        )
    if codec == "zstandard":
        return _bounded_stream(block, limit, zstd.ZstdDecompressor, codec, already=already, one_stream=True)
    if codec == "snappy":  # raw snappy, then a CRC32 (integrity is the manifest's sha256)
        compressed = block[:-4]
        if already + cramjam.snappy.decompress_raw_len(compressed) > limit:
            raise DecodedSizeError(limit)
        return bytes(cramjam.snappy.decompress_raw(compressed))
    raise RecordFormatError(f"Avro codec {codec!r} is not one a backup writes")


def _read_avro_long(view: memoryview, position: int) -> tuple[int, int]:
    """Avro's zig-zag varint at ``position``, and the position after it."""
    result = shift = 0
    while True:
        if position >= len(view) or shift > 63:
            raise RecordFormatError("truncated or overlong Avro integer")
        byte = view[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), position
        shift += 7


def _read_avro_bytes(view: memoryview, position: int) -> tuple[bytes, int]:
    length, position = _read_avro_long(view, position)
    if length < 0 or position + length > len(view):
        raise RecordFormatError("truncated Avro data")
    return bytes(view[position : position + length]), position + length


def _avro_long(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def _decode_avro(data: bytes) -> RecordColumns:
    offsets: list[int] = []
    timestamp_types: list[int] = []
    timestamps: list[int] = []
    keys: list[bytes | None] = []
    values: list[bytes | None] = []
    headers: list[list[Header]] = []
    partition = 0
    for record in fastavro.reader(io.BytesIO(data)):
        if not isinstance(record, dict):
            raise RecordFormatError("an Avro record must be a record")
        partition = record["partition"]
        offsets.append(record["offset"])
        timestamps.append(record["timestamp"])
        timestamp_types.append(record["timestamp_type"])
        keys.append(record["key"])
        values.append(record["value"])
        headers.append([(header["key"], header["value"]) for header in record["headers"]])
    return RecordColumns(partition, offsets, timestamp_types, timestamps, keys, values, headers)


# ---- Parquet -----------------------------------------------------------------------------------


def _encode_parquet(columns: RecordColumns, compression: str) -> bytes:
    count = len(columns)
    table = pa.Table.from_arrays(
        [
            pa.array([columns.partition] * count, pa.int32()),
            pa.array(columns.offsets, pa.int64()),
            pa.array(columns.timestamps, pa.int64()),
            pa.array(columns.timestamp_types, pa.int8()),
            _binary_array(columns.keys),
            _binary_array(columns.values),
            pa.array(columns.headers, _HEADER_TYPE),
        ],
        schema=PARQUET_SCHEMA,
    )
    out = pa.BufferOutputStream()
    pq.write_table(
        table,
        out,
        compression=_PARQUET_CODECS[compression],
        row_group_size=1 << 16,
        use_dictionary=False,
        write_statistics=["offset", "timestamp"],
    )
    return bytes(out.getvalue())


def _binary_array(values: Sequence[bytes | None]) -> pa.Array[Any]:
    """A Parquet binary column built from one joined buffer: ``pa.array`` converts item by item."""
    if len(values) == 0:
        return pa.array([], pa.binary())
    validity = None
    present: Sequence[bytes] = values  # type: ignore[assignment]  # narrowed just below when None occurs
    if None in values:
        validity = pa.array([value is not None for value in values], pa.bool_()).buffers()[1]
        present = [b"" if value is None else value for value in values]
    ends = list(itertools.accumulate(map(len, present), initial=0))
    if ends[-1] >= 2**31:
        return pa.array(values, pa.binary())  # too big for 32-bit offsets: let pyarrow refuse it clearly
    offsets = pa.array(ends, pa.int32()).buffers()[1]
    return pa.Array.from_buffers(
        pa.binary(), len(values), [validity, offsets, pa.py_buffer(b"".join(present))]
    )


def _decode_parquet(data: bytes, limit: int) -> RecordColumns:
    metadata = pq.ParquetFile(pa.BufferReader(data)).metadata
    promised = sum(
        metadata.row_group(group).column(column).total_uncompressed_size
        for group in range(metadata.num_row_groups)
        for column in range(metadata.num_columns)
    )
    if promised > limit:
        raise DecodedSizeError(limit)
    table = pq.read_table(pa.BufferReader(data))
    if not table.schema.equals(PARQUET_SCHEMA):
        raise RecordFormatError(f"unexpected Parquet schema: {table.schema}")
    partitions = _ints(table.column("partition").to_pylist())
    headers_column = cast("pa.ListArray[Any]", table.column("headers").combine_chunks())
    return RecordColumns(
        partitions[0] if partitions else 0,
        _ints(table.column("offset").to_pylist()),
        _ints(table.column("timestamp_type").to_pylist()),
        _ints(table.column("timestamp").to_pylist()),
        table.column("key").to_pylist(),
        table.column("value").to_pylist(),
        _parquet_headers(headers_column),
    )


def _ints(values: Sequence[object]) -> list[int]:
    if any(value is None for value in values):
        raise RecordFormatError("null in a non-nullable Parquet column")
    return values  # type: ignore[return-value]  # checked above: every entry is an int


def _parquet_headers(column: pa.ListArray[Any]) -> list[list[Header]]:
    ends = column.offsets.to_pylist()
    if ends[-1] == 0:
        return [[] for _ in range(len(column))]  # no record has headers: skip the per-record zip
    flat = cast("pa.StructArray", column.flatten())
    names = cast("list[str]", flat.field("key").to_pylist())
    header_values: list[bytes | None] = flat.field("value").to_pylist()
    return [
        list(zip(names[start:end], header_values[start:end], strict=True))
        for start, end in itertools.pairwise(ends)
    ]
