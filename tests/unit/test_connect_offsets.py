"""Connect source-offset records as MirrorMaker 2 writes them (mm2.md section 2.7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.formats.connect_offsets import (
    OffsetRecordError,
    SourceOffsetKey,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
)

topic_names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", min_size=1, max_size=249
)


def test_key_and_value_bytes_match_connect_json() -> None:
    key = SourceOffsetKey("MirrorSourceConnector", "A", "orders", 3)
    assert encode_key(key) == b'["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]'
    assert encode_value(41) == b'{"offset":41}'


def test_decoding_accepts_any_field_order_and_spacing() -> None:
    raw = b'[ "MirrorSourceConnector", {"topic": "t", "partition": 0, "cluster": "B"} ]'
    assert decode_key(raw) == SourceOffsetKey("MirrorSourceConnector", "B", "t", 0)
    assert decode_value(b'{ "offset" : 7 }') == 7


def test_tombstone_means_no_offset() -> None:
    assert decode_value(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"not json",
        b'{"cluster":"A"}',
        b'["c"]',
        b'["c",{"cluster":"A","topic":"t"}]',
        b'["c",{"cluster":"A","topic":"t","partition":-1}]',
        b'["c",{"cluster":"A","topic":"t","partition":true}]',
        b'["c",{"cluster":1,"topic":"t","partition":0}]',
    ],
)
def test_foreign_keys_are_refused(raw: bytes | None) -> None:
    with pytest.raises(OffsetRecordError):
        decode_key(raw)


@pytest.mark.parametrize("raw", [b"[]", b'{"offset":-1}', b'{"offset":"3"}', b'{"position":3}', b"\xff"])
def test_foreign_values_are_refused(raw: bytes) -> None:
    with pytest.raises(OffsetRecordError):
        decode_value(raw)


def test_negative_offsets_are_never_written() -> None:
    with pytest.raises(ValueError, match="never negative"):
        encode_value(-1)


@given(
    connector=st.text(min_size=1, max_size=40),
    cluster=st.text(min_size=1, max_size=40),
    topic=topic_names,
    partition=st.integers(min_value=0, max_value=2**31 - 1),
    offset=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_round_trip(connector: str, cluster: str, topic: str, partition: int, offset: int) -> None:
    key = SourceOffsetKey(connector, cluster, topic, partition)
    assert decode_key(encode_key(key)) == key
    assert decode_value(encode_value(offset)) == offset
