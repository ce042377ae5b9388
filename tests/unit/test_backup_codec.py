"""Backup record objects: every format and compression gives back exactly the records it was given."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirror.formats.backup.codec import decode, encode, extension
from mirror.formats.backup.records import COMPRESSIONS, FORMATS, RecordColumns, RecordFormatError, offset_gaps

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
