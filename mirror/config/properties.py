"""A reader for java.util.Properties text, faithful to ``Properties.load(Reader)``.

MM2 reads ``mm2.properties`` with ``Properties.load``; users copy files between the two tools, so every
quirk that changes a key or value (separators, escapes, continuations, comments) is reproduced here.
Bytes become text by :func:`decode_properties`: UTF-8, else ISO-8859-1 as MM2 reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mirror.config.errors import ConfigError

_WHITESPACE = " \t\f"
_KEY_TERMINATORS = "=:"
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Property:
    """One ``key=value`` entry; ``line`` is the 1-based line where its logical line starts."""

    key: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class DecodedText:
    """A file's text; ``latin1_line``: the line of its first non-UTF-8 byte, if it was read as ISO-8859-1."""

    text: str
    latin1_line: int | None = None


def decode_properties(data: bytes) -> DecodedText:
    """The text of a properties file's bytes; never fails.

    MM2 reads its file with ``Properties.load(InputStream)``, which is ISO-8859-1, while files written
    today are UTF-8. UTF-8 is tried first (as Java 9+'s PropertyResourceBundle does): a Latin-1 text is
    practically never valid UTF-8 unless it is ASCII, where both agree. A file that is not UTF-8 is read
    as ISO-8859-1, exactly as MM2 reads it.
    """
    try:
        return DecodedText(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        text = data.decode("iso-8859-1")
        line = sum(1 for _ in _natural_lines(text[: error.start] + "x"))
        return DecodedText(text, latin1_line=line)


def parse_properties(text: str, source: str = "<string>") -> tuple[Property, ...]:
    """Parse Properties text into entries in file order.

    Duplicate keys are all kept (the last one wins when resolved), so a resolver can warn about them.
    A leading byte-order mark is ignored: Java would fold it into the first key, which is never what a
    user meant.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    return tuple(_split_entry(logical, line_number, source) for line_number, logical in _logical_lines(text))


def _natural_lines(text: str) -> Iterator[str]:
    """Lines ended by ``\\n``, ``\\r`` or ``\\r\\n``, as Properties' LineReader sees them."""
    start = 0
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char in "\n\r":
            yield text[start:index]
            if char == "\r" and index + 1 < length and text[index + 1] == "\n":
                index += 1
            start = index + 1
        index += 1
    if start < length:
        yield text[start:]


def _ends_with_odd_backslashes(segment: str) -> bool:
    count = len(segment) - len(segment.rstrip("\\"))
    return count % 2 == 1


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    lines = list(_natural_lines(text))
    index = 0
    while index < len(lines):
        start_line = index + 1
        segment = lines[index].lstrip(_WHITESPACE)
        index += 1
        if not segment or segment[0] in "#!":
            continue
        parts: list[str] = []
        # Only the backslashes of the segment just read count: the one removed at a join resets
        # Java's "preceding backslash" state, so the next segment starts fresh.
        while _ends_with_odd_backslashes(segment):
            parts.append(segment[:-1])
            if index >= len(lines):
                segment = ""
                break
            segment = lines[index].lstrip(_WHITESPACE)
            index += 1
        parts.append(segment)
        yield start_line, "".join(parts)


def _split_entry(logical: str, line: int, source: str) -> Property:
    length = len(logical)
    key_end = 0
    value_start = length
    has_separator = False
    preceding_backslash = False
    while key_end < length:
        char = logical[key_end]
        if not preceding_backslash and char in _KEY_TERMINATORS:
            value_start = key_end + 1
            has_separator = True
            break
        if not preceding_backslash and char in _WHITESPACE:
            value_start = key_end + 1
            break
        preceding_backslash = not preceding_backslash if char == "\\" else False
        key_end += 1
    while value_start < length:
        char = logical[value_start]
        if char not in _WHITESPACE:
            if not has_separator and char in _KEY_TERMINATORS:
                has_separator = True
            else:
                break
        value_start += 1
    key = _unescape(logical[:key_end], line, source)
    value = _unescape(logical[value_start:], line, source)
    return Property(key=key, value=value, line=line)


def _unescape(raw: str, line: int, source: str) -> str:
    if "\\" not in raw:
        return raw
    out: list[str] = []
    index = 0
    length = len(raw)
    while index < length:
        char = raw[index]
        index += 1
        if char != "\\":
            out.append(char)
            continue
        if index >= length:
            break
        escaped = raw[index]
        index += 1
        if escaped == "u":
            digits = raw[index : index + 4]
            if len(digits) < 4 or not all(digit in _HEX_DIGITS for digit in digits):
                raise ConfigError(
                    "malformed \\uxxxx escape (needs exactly four hex digits)", line=line, source=source
                )
            code_unit = int(digits, 16)
            index += 4
            # Java strings are UTF-16: an escaped surrogate pair is one character.
            if 0xDC00 <= code_unit <= 0xDFFF and out and 0xD800 <= ord(out[-1]) <= 0xDBFF:
                high = ord(out.pop())
                out.append(chr(0x10000 + ((high - 0xD800) << 10) + (code_unit - 0xDC00)))
            else:
                out.append(chr(code_unit))
        else:
            out.append(_SIMPLE_ESCAPES.get(escaped, escaped))
    return "".join(out)
