"""The offset-maps topic's record layout: round trips, exact bytes, and refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.formats.mm2_records import RecordFormatError
from mirror.formats.offset_maps import (
    MapsCommitted,
    PartitionMap,
    decode,
    encode_commit,
    encode_partition_map,
)


def test_layout_is_the_documented_bytes() -> None:
    key, value = encode_partition_map(PartitionMap("t", 2, 7, b"\x01\x02"))
    assert key == bytes.fromhex("0001 74 00000002")
    assert value == bytes.fromhex("0000 0000000000000007 0102")
    key, value = encode_commit(MapsCommitted(258))
    assert key == bytes.fromhex("0000 ffffffff")
    assert value == bytes.fromhex("0000 0000000000000102")


@given(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=50),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**63 - 1),
    st.binary(max_size=100),
)
def test_partition_maps_round_trip(topic: str, partition: int, position: int, snapshot: bytes) -> None:
    record = PartitionMap(topic, partition, position, snapshot)
    assert decode(*encode_partition_map(record)) == record


@given(st.integers(0, 2**63 - 1))
def test_commits_round_trip(position: int) -> None:
    assert decode(*encode_commit(MapsCommitted(position))) == MapsCommitted(position)


def test_tombstones_decode_to_nothing() -> None:
    key, _ = encode_partition_map(PartitionMap("t", 0, 0, b""))
    assert decode(key, None) is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (None, b"", "null"),
        (bytes.fromhex("0001 74 00000000"), b"\x00", "shorter than its header"),
        (bytes.fromhex("0001 74 00000000"), bytes.fromhex("0001 0000000000000000"), "version 1"),
        (bytes.fromhex("0001 74 00000000"), bytes.fromhex("0000 ffffffffffffffff"), "negative"),
        (bytes.fromhex("0000 ffffffff"), bytes.fromhex("0000 0000000000000000 00"), "nothing after"),
        (bytes.fromhex("0000 00000000"), bytes.fromhex("0000 0000000000000000"), "names no partition"),
        (bytes.fromhex("0001 74 ffffffff"), bytes.fromhex("0000 0000000000000000"), "names no partition"),
    ],
)
def test_malformed_records_are_refused(key: bytes | None, value: bytes | None, message: str) -> None:
    with pytest.raises(RecordFormatError, match=message):
        decode(key, value)


def test_unrepresentable_records_are_refused() -> None:
    with pytest.raises(RecordFormatError, match="topic"):
        encode_partition_map(PartitionMap("", 0, 0, b""))
    with pytest.raises(RecordFormatError, match="negative"):
        encode_commit(MapsCommitted(-1))
