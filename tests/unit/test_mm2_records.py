"""MM2 internal records: the reference's worked examples byte for byte, round trips, and robustness."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.formats.mm2_records import (
    MAX_STRING_BYTES,
    Checkpoint,
    Heartbeat,
    Mm2Record,
    OffsetSync,
    RecordFormatError,
    decode_checkpoint,
    decode_heartbeat,
    decode_offset_sync,
    encode_key,
    encode_value,
)


def hex_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace("|", " "))


# ---- worked examples of mm2.md §2.2-2.4


def test_heartbeat_worked_example() -> None:
    heartbeat = Heartbeat("A", "B", 1700000000000)
    assert encode_key(heartbeat) == hex_bytes("00 01 41 00 01 42")
    assert encode_value(heartbeat) == hex_bytes("00 00 00 00 01 8b cf e5 68 00")
    assert decode_heartbeat(encode_key(heartbeat), encode_value(heartbeat)) == heartbeat


def test_checkpoint_worked_example() -> None:
    checkpoint = Checkpoint("g1", "A.t1", 0, 100, 95, "")
    assert encode_key(checkpoint) == hex_bytes("00 02 67 31 00 04 41 2e 74 31 00 00 00 00")
    assert encode_value(checkpoint) == hex_bytes(
        "00 00 | 00 00 00 00 00 00 00 64 | 00 00 00 00 00 00 00 5f | 00 00"
    )
    assert len(encode_value(checkpoint)) == 20
    assert decode_checkpoint(encode_key(checkpoint), encode_value(checkpoint)) == checkpoint


def test_offset_sync_worked_example() -> None:
    sync = OffsetSync("t1", 0, 100, 95)
    assert encode_key(sync) == hex_bytes("00 02 74 31 00 00 00 00")
    assert encode_value(sync) == hex_bytes("00 00 00 00 00 00 00 64 00 00 00 00 00 00 00 5f")
    assert decode_offset_sync(encode_key(sync), encode_value(sync)) == sync


def test_checkpoint_value_length_counts_metadata_bytes() -> None:
    checkpoint = Checkpoint("g", "t", 3, 1, 2, "é")
    assert len(encode_value(checkpoint)) == 20 + 2
    assert encode_value(checkpoint)[-4:] == b"\x00\x02\xc3\xa9"


# ---- console formatter renderings (§2.5)


def test_describe_matches_java_formatters() -> None:
    assert Heartbeat("A", "B", 1700000000000).describe() == (
        "Heartbeat{sourceClusterAlias=A, targetClusterAlias=B, timestamp=1700000000000}"
    )
    assert Checkpoint("g1", "A.t1", 0, 100, 95, "").describe() == (
        "Checkpoint{consumerGroupId=g1, topicPartition=A.t1-0, upstreamOffset=100, "
        "downstreamOffset=95, metadata=}"
    )
    assert OffsetSync("t1", 0, 100, 95).describe() == (
        "OffsetSync{topicPartition=t1-0, upstreamOffset=100, downstreamOffset=95}"
    )


# ---- Java reader leniency


def test_trailing_bytes_are_ignored() -> None:
    heartbeat = Heartbeat("A", "B", 7)
    assert decode_heartbeat(encode_key(heartbeat) + b"xx", encode_value(heartbeat) + b"\x00\x01") == heartbeat
    sync = OffsetSync("t", 1, 2, 3)
    assert decode_offset_sync(encode_key(sync) + b"\xff", encode_value(sync) + b"future") == sync


def test_version_value_is_not_checked() -> None:
    checkpoint = Checkpoint("g", "t", 0, 5, 4, "m")
    value = b"\x00\x07" + encode_value(checkpoint)[2:]
    assert decode_checkpoint(encode_key(checkpoint), value) == checkpoint


# ---- malformed input


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (None, b"\x00" * 10, "null"),
        (b"\x00\x01A\x00\x01B", None, "null"),
        (b"\x00\x01A", b"\x00" * 10, "ends before"),
        (b"\x00\x01A\x00\x01B", b"\x00" * 9, "ends before"),
        (b"\xff\xff\x00\x01B", b"\x00" * 10, "negative length"),
        (b"\x00\x02A", b"\x00" * 10, "ends before"),
        (b"\x00\x01\xff\x00\x01B", b"\x00" * 10, "not UTF-8"),
    ],
)
def test_malformed_heartbeats_raise(key: bytes | None, value: bytes | None, message: str) -> None:
    with pytest.raises(RecordFormatError, match=message):
        decode_heartbeat(key, value)


def test_malformed_checkpoint_and_offset_sync_raise() -> None:
    checkpoint = Checkpoint("g", "t", 0, 5, 4, "meta")
    key, value = encode_key(checkpoint), encode_value(checkpoint)
    with pytest.raises(RecordFormatError, match="metadata"):
        decode_checkpoint(key, value[:-1])
    with pytest.raises(RecordFormatError, match="partition"):
        decode_checkpoint(key[:-1], value)
    sync = OffsetSync("t", 0, 1, 2)
    with pytest.raises(RecordFormatError, match="offset"):
        decode_offset_sync(encode_key(sync), encode_value(sync)[:15])
    with pytest.raises(RecordFormatError, match="null"):
        decode_offset_sync(encode_key(sync), None)


def test_record_format_error_is_a_value_error() -> None:
    assert issubclass(RecordFormatError, ValueError)


# ---- encoding limits


def test_longest_string_encodes_and_one_more_byte_refuses() -> None:
    longest = "x" * MAX_STRING_BYTES
    sync = OffsetSync(longest, 0, 1, 2)
    assert decode_offset_sync(encode_key(sync), encode_value(sync)) == sync
    with pytest.raises(RecordFormatError, match="32767"):
        encode_key(OffsetSync(longest + "y", 0, 1, 2))
    # The limit is in UTF-8 bytes, not characters.
    with pytest.raises(RecordFormatError, match="UTF-8 bytes"):
        encode_value(Checkpoint("g", "t", 0, 1, 2, "é" * (MAX_STRING_BYTES // 2 + 1)))


def test_unencodable_fields_refuse() -> None:
    with pytest.raises(RecordFormatError, match="Unicode"):
        encode_key(Heartbeat("\ud800", "B", 0))
    with pytest.raises(RecordFormatError, match="partition"):
        encode_key(OffsetSync("t", 2**31, 0, 0))
    with pytest.raises(RecordFormatError, match="timestamp"):
        encode_value(Heartbeat("A", "B", 2**63))


# ---- properties

names = st.text(max_size=40)
int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)


@given(names, names, int64s)
def test_heartbeat_round_trip(source: str, target: str, timestamp: int) -> None:
    heartbeat = Heartbeat(source, target, timestamp)
    assert decode_heartbeat(encode_key(heartbeat), encode_value(heartbeat)) == heartbeat
    assert len(encode_value(heartbeat)) == 10


@given(st.builds(Checkpoint, names, names, int32s, int64s, int64s, names))
def test_checkpoint_round_trip(checkpoint: Checkpoint) -> None:
    assert decode_checkpoint(encode_key(checkpoint), encode_value(checkpoint)) == checkpoint


@given(names, int32s, int64s, int64s)
def test_offset_sync_round_trip(topic: str, partition: int, upstream: int, downstream: int) -> None:
    sync = OffsetSync(topic, partition, upstream, downstream)
    assert decode_offset_sync(encode_key(sync), encode_value(sync)) == sync
    assert len(encode_value(sync)) == 16


maybe_bytes = st.none() | st.binary(max_size=40)


Decoder = Callable[[bytes | None, bytes | None], Mm2Record]


@pytest.mark.parametrize("decode", [decode_heartbeat, decode_checkpoint, decode_offset_sync])
@given(key=maybe_bytes, value=maybe_bytes)
def test_any_bytes_decode_or_raise_record_format_error(
    decode: Decoder, key: bytes | None, value: bytes | None
) -> None:
    try:
        decoded = decode(key, value)
    except RecordFormatError:
        return
    # Whatever decodes re-encodes to a prefix of the input (the rest was trailing bytes), except
    # for the value version, which readers ignore and writers always set to 0.
    assert key is not None
    assert value is not None
    assert key.startswith(encode_key(decoded))
    encoded = encode_value(decoded)
    if isinstance(decoded, OffsetSync):
        assert value.startswith(encoded)
    else:
        assert value[2:].startswith(encoded[2:])
