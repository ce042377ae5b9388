"""Backup record objects: every format and compression gives back exactly the records it was given."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from backports import zstd
from hypothesis import given, settings
from hypothesis import strategies as st

from mirror.formats.backup.codec import DecodedSizeError, decode, encode, extension
from mirror.formats.backup.records import (
    COMPRESSIONS,
    DEFAULT_MAX_DECODED_BYTES,
    FORMATS,
    RecordColumns,
    RecordFormatError,
    offset_gaps,
)

nullable_bytes = st.none() | st.binary(max_size=64)
headers = st.lists(st.tuples(st.text(max_size=12), nullable_bytes), max_size=4)


@st.composite
def record_columns(draw: st.DrawFn) -> RecordColumns:
    count = draw(st.integers(min_value=0, max_value=12))
    start = draw(st.integers(min_value=0, max_value=2**62))
    steps = draw(st.lists(st.integers(min_value=1, max_value=5), min_size=count, max_size=count))
    offsets = []
    offset = start
    for step in steps:
        offsets.append(offset)
        offset += step
    return RecordColumns(
        partition=draw(st.integers(min_value=0, max_value=2**31 - 1)),
        offsets=offsets,
        timestamp_types=draw(st.lists(st.sampled_from([0, 1, 2]), min_size=count, max_size=count)),
        timestamps=draw(st.lists(st.integers(-1, 2**62), min_size=count, max_size=count)),
        keys=draw(st.lists(nullable_bytes, min_size=count, max_size=count)),
        values=draw(st.lists(nullable_bytes, min_size=count, max_size=count)),
        headers=draw(st.lists(headers, min_size=count, max_size=count)),
    )


def as_rows(columns: RecordColumns) -> list[tuple[object, ...]]:
    return [
        (columns.partition, o, tt, ts, k, v, [tuple(h) for h in hs])
        for o, tt, ts, k, v, hs in zip(
            columns.offsets,
            columns.timestamp_types,
            columns.timestamps,
            columns.keys,
            columns.values,
            columns.headers,
            strict=True,
        )
    ]


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("format_name", FORMATS)
@settings(max_examples=40, deadline=None)
@given(columns=record_columns())
def test_round_trip_is_exact(format_name: str, compression: str, columns: RecordColumns) -> None:
    decoded = decode(encode(columns, format_name, compression), format_name, compression)
    assert as_rows(decoded) == as_rows(columns)
    if len(columns):
        assert decoded.partition == columns.partition


@pytest.mark.parametrize("format_name", FORMATS)
def test_null_and_empty_stay_distinct_and_headers_keep_order_duplicates_and_nulls(format_name: str) -> None:
    columns = RecordColumns(
        partition=3,
        offsets=[10, 11, 15],
        timestamp_types=[1, 2, 1],
        timestamps=[1_700_000_000_000, 1_700_000_000_001, 5],
        keys=[None, b"", b"k"],
        values=[b"", None, b"\x00\xff"],
        headers=[[("a", b"1"), ("a", None), ("b", b""), ("a", b"2")], [], [("\u00e9 x", None)]],
    )
    decoded = decode(encode(columns, format_name, "zstd"), format_name, "zstd")
    assert as_rows(decoded) == as_rows(columns)
    assert decoded.keys[0] is None and decoded.keys[1] == b""
    assert decoded.values[1] is None and decoded.values[0] == b""


def test_extensions_name_format_and_compression() -> None:
    assert extension("jsonl", "gzip") == "jsonl.gz"
    assert extension("jsonl", "none") == "jsonl"
    assert extension("parquet", "snappy") == "parquet"
    with pytest.raises(ValueError, match="unknown format"):
        extension("csv", "none")


@pytest.mark.parametrize("format_name", FORMATS)
def test_garbage_is_refused_with_a_format_error(format_name: str) -> None:
    with pytest.raises(RecordFormatError):
        decode(b"\x01not an object at all", format_name, "none")


def test_truncated_compressed_object_is_refused() -> None:
    columns = RecordColumns(0, [0, 1], [1, 1], [5, 6], [b"a", b"b"], [b"c", b"d"], [[], []])
    data = encode(columns, "jsonl", "gzip")
    with pytest.raises(RecordFormatError):
        decode(data[: len(data) // 2], "jsonl", "gzip")


def test_offset_gaps() -> None:
    assert offset_gaps([]) == []
    assert offset_gaps([4, 5, 6]) == []
    assert offset_gaps([4, 6, 7, 10]) == [(5, 5), (8, 9)]


# ---- bounded decoding: a manifest can name any object, so none may decode past the bound ---------

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("format_name", "compression"),
    [(f, c) for f in FORMATS for c in COMPRESSIONS],
)
def test_an_object_decoding_past_the_bound_is_refused(format_name: str, compression: str) -> None:
    # 2 MiB of zeros compresses to a few KiB in every codec: the bound must hold on the output.
    columns = RecordColumns(0, [0, 1], [1, 1], [5, 6], [None, None], [bytes(MIB), bytes(MIB)], [[], []])
    data = encode(columns, format_name, compression)
    with pytest.raises(DecodedSizeError, match=f"more than {MIB} bytes"):
        decode(data, format_name, compression, max_decoded_bytes=MIB)
    assert decode(data, format_name, compression, max_decoded_bytes=8 * MIB).values == columns.values


def test_a_snappy_chunk_claiming_gigabytes_is_refused_from_its_header() -> None:
    # A framed stream whose one compressed chunk's raw header (a varint) says 3.75 GiB: refused by
    # reading the header, before anything is decompressed or allocated.
    raw = b"\x80\x80\x80\x80\x0f" + b"\x00" * 16
    body = b"\x00\x00\x00\x00" + raw  # CRC, then the raw snappy block
    stream = b"\xff\x06\x00\x00sNaPpY" + b"\x00" + len(body).to_bytes(3, "little") + body
    with pytest.raises(DecodedSizeError):
        decode(stream, "jsonl", "snappy")


def test_trailing_frames_are_decoded_and_count_towards_the_bound() -> None:
    line = (
        b'{"partition":0,"offset":7,"timestamp":1,"timestamp_type":1,"key":null,"value":null,"headers":[]}\n'
    )
    two_frames = zstd.compress(line) + zstd.compress(bytes(2 * MIB))
    with pytest.raises(DecodedSizeError):
        decode(two_frames, "jsonl", "zstd", max_decoded_bytes=MIB)
    assert list(decode(zstd.compress(line) + zstd.compress(b"\n"), "jsonl", "zstd").offsets) == [7]


@pytest.mark.parametrize(
    ("field", "value"),
    [("offset", -1), ("offset", 2**63), ("partition", 2**31), ("timestamp", 2**63), ("timestamp_type", 3)],
)
def test_json_lines_numbers_outside_kafkas_ranges_are_refused(field: str, value: int) -> None:
    record = {"partition": 0, "offset": 7, "timestamp": 1, "timestamp_type": 1, "key": None, "value": None}
    line = json.dumps({**record, field: value, "headers": []}).encode()
    with pytest.raises(RecordFormatError, match=f"field '{field}'"):
        decode(line, "jsonl", "none")


_BOMB_SCRIPT = """
import resource, sys
from backports import zstd
from mirror.formats.backup.codec import decode
from mirror.formats.backup.records import DEFAULT_MAX_DECODED_BYTES, RecordFormatError

# 1.5 GiB of zeros, compressed as a stream so the bomb is made without holding what it expands to.
compressor = zstd.ZstdCompressor()
zeros = bytes(1 << 20)
bomb = b"".join(compressor.compress(zeros) for _ in range(1536)) + compressor.flush()
assert DEFAULT_MAX_DECODED_BYTES < 1536 << 20
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
try:
    decode(bomb, "jsonl", "zstd")
except RecordFormatError as exc:
    outcome = f"refused: {exc}"
else:
    outcome = "decoded"
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(len(bomb), after - before, outcome)
"""


def test_a_zstd_bomb_is_refused_within_a_fixed_memory_bound() -> None:
    # In a fresh interpreter, so the peak resident size measures this decode alone.
    result = subprocess.run(
        [sys.executable, "-c", _BOMB_SCRIPT], capture_output=True, text=True, timeout=300, check=True
    )
    size, growth, outcome = result.stdout.split(" ", 2)
    assert int(size) < 64 * 1024  # tens of kilobytes that claim 1.5 GiB
    assert outcome.startswith("refused: ") and "decodes to more than" in outcome
    # The bound's worth of output at most, plus slack for the allocator; unbounded it was 1.5 GiB.
    assert int(growth) < DEFAULT_MAX_DECODED_BYTES + 64 * MIB
