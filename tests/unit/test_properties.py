"""java.util.Properties parsing: separators, comments, continuations, escapes, line numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.config.errors import ConfigError
from mirror.config.properties import DecodedText, Property, decode_properties, parse_properties


def pairs(text: str) -> list[tuple[str, str]]:
    return [(prop.key, prop.value) for prop in parse_properties(text)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a=b", ("a", "b")),
        ("a:b", ("a", "b")),
        ("a b", ("a", "b")),
        ("a = b", ("a", "b")),
        ("a   :   b", ("a", "b")),
        ("a\t=\tb", ("a", "b")),
        ("a=", ("a", "")),
        ("a", ("a", "")),
        ("a=b=c", ("a", "b=c")),
        ("a:=b", ("a", "=b")),
        ("a = = b", ("a", "= b")),
        ("a b c", ("a", "b c")),
        ("   indented.key = v", ("indented.key", "v")),
        ("a = trailing   ", ("a", "trailing   ")),
        ("a=\\ leading", ("a", " leading")),
        ("\fkey\fvalue", ("key", "value")),
    ],
)
def test_separators_and_whitespace(line: str, expected: tuple[str, str]) -> None:
    assert pairs(line) == [expected]


def test_comments_and_blank_lines_are_skipped() -> None:
    text = "# comment\n! also a comment\n   # indented comment\n\n   \t\nkey = value # not a comment\n"
    assert pairs(text) == [("key", "value # not a comment")]


def test_a_comment_line_ending_in_backslash_does_not_continue() -> None:
    assert pairs("# comment \\\nkey = value") == [("key", "value")]


def test_continuation_strips_leading_whitespace_of_the_next_line() -> None:
    text = "topics = orders, \\\n         payments, \\\n\t\tinvoices\nnext = 1\n"
    assert parse_properties(text) == (
        Property("topics", "orders, payments, invoices", 1),
        Property("next", "1", 4),
    )


def test_continuation_line_starting_with_hash_is_content() -> None:
    assert pairs("a = x\\\n  #y") == [("a", "x#y")]


def test_even_number_of_backslashes_is_not_a_continuation() -> None:
    assert pairs("a = b\\\\\nc = d") == [("a", "b\\"), ("c", "d")]


def test_three_backslashes_continue_after_an_escaped_backslash() -> None:
    assert pairs("a = b\\\\\\\n  c") == [("a", "b\\c")]


def test_continuation_at_end_of_input_drops_the_backslash() -> None:
    assert pairs("a = b\\") == [("a", "b")]


def test_continuation_into_an_empty_line_ends_the_value() -> None:
    assert pairs("a = b\\\n\nc = d") == [("a", "b"), ("c", "d")]


def test_continuation_can_split_a_key() -> None:
    assert pairs("boot\\\n  strap.servers = x") == [("bootstrap.servers", "x")]


@pytest.mark.parametrize(
    ("escaped", "expected"),
    [
        ("\\t", "\t"),
        ("\\n", "\n"),
        ("\\r", "\r"),
        ("\\f", "\f"),
        ("\\\\", "\\"),
        ("\\u0041", "A"),
        ("\\u00e9", "\u00e9"),
        ("\\x", "x"),
        ("\\b", "b"),
        ("\\=", "="),
        ("\\:", ":"),
        ("\\#", "#"),
        ("\\ud83d\\ude00", "\U0001f600"),
    ],
)
def test_value_escapes(escaped: str, expected: str) -> None:
    assert pairs(f"k = {escaped}") == [("k", expected)]


def test_keys_may_contain_escaped_separators_and_spaces() -> None:
    assert pairs("a\\=b\\:c\\ d = e") == [("a=b:c d", "e")]


@pytest.mark.parametrize("bad", ["\\u12", "\\u12G4", "\\u"])
def test_malformed_unicode_escape_reports_line_and_source(bad: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_properties(f"a = 1\n\nb = {bad}\n", source="mm2.properties")
    assert raised.value.line == 3
    assert raised.value.source == "mm2.properties"
    assert str(raised.value).startswith("mm2.properties:3: ")


def test_line_numbers_follow_every_line_ending_style() -> None:
    text = "a=1\r\nb=2\rc=3\n\r\nd=4"
    assert [(prop.key, prop.line) for prop in parse_properties(text)] == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
        ("d", 5),
    ]


def test_duplicate_keys_are_all_kept_in_order() -> None:
    assert parse_properties("a=1\nb=2\na=3") == (
        Property("a", "1", 1),
        Property("b", "2", 2),
        Property("a", "3", 3),
    )


def test_byte_order_mark_is_ignored() -> None:
    assert pairs("\ufeffclusters = A") == [("clusters", "A")]


def test_empty_input() -> None:
    assert parse_properties("") == ()
    assert parse_properties("\n\n# only comments\n") == ()


# -- round trip against an escaper that writes what java.util.Properties.store writes -----------------


def _escape_char(char: str, *, is_key: bool, at_start: bool) -> str:
    specials = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f", "\\": "\\\\"}
    if char in specials:
        return specials[char]
    if char == " " and (is_key or at_start):
        return "\\ "
    if char in "=:#!":
        return "\\" + char
    code = ord(char)
    if code < 0x20 or code > 0x7E:
        encoded = char.encode("utf-16-be", "surrogatepass")
        units = [int.from_bytes(encoded[index : index + 2], "big") for index in range(0, len(encoded), 2)]
        return "".join(f"\\u{unit:04x}" for unit in units)
    return char


def _escape(text: str, *, is_key: bool) -> list[str]:
    return [_escape_char(char, is_key=is_key, at_start=index == 0) for index, char in enumerate(text)]


_text = st.text(st.characters(codec="utf-8"), max_size=20)


@st.composite
def properties_documents(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    entries = draw(st.lists(st.tuples(_text.filter(bool), _text), max_size=6))
    lines: list[str] = []
    for key, value in entries:
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["# a comment", "! another", "", "   "])))
        separator = draw(st.sampled_from(["=", ":", " ", " = ", "\t:\t", "  "]))
        value_tokens = _escape(value, is_key=False)
        # A continuation may go between tokens, but not before an unescaped blank, which the
        # continuation would swallow.
        rendered = ""
        for index, token in enumerate(value_tokens):
            if index and token[0] not in " \t\f" and draw(st.booleans()):
                rendered += "\\\n" + draw(st.sampled_from(["", " ", "\t  "]))
            rendered += token
        lines.append("".join(_escape(key, is_key=True)) + separator + rendered)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(lines), entries


@given(properties_documents())
def test_round_trip_of_escaped_entries(document: tuple[str, list[tuple[str, str]]]) -> None:
    text, entries = document
    assert pairs(text) == entries


class TestDecoding:
    """Bytes to text: UTF-8, else ISO-8859-1 as MM2's ``Properties.load(InputStream)`` reads them."""

    def test_utf8(self) -> None:
        assert decode_properties("a = caf\u00e9 \u20ac\n".encode()) == DecodedText("a = caf\u00e9 \u20ac\n")

    def test_a_latin1_byte_makes_the_whole_file_iso_8859_1_and_names_its_line(self) -> None:
        decoded = decode_properties(b"a = \xe9t\xe9\nb = x\n")
        assert decoded == DecodedText("a = \u00e9t\u00e9\nb = x\n", latin1_line=1)

    @pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"])
    def test_the_line_counts_every_java_line_ending(self, newline: bytes) -> None:
        data = newline.join([b"# one", b"a = 1", b"", b"b = caf\xe9"])
        assert decode_properties(data).latin1_line == 4

    @given(st.text(st.characters(max_codepoint=0xFF)))
    def test_any_latin1_text_decodes_to_itself_or_to_its_utf8_reading(self, text: str) -> None:
        data = text.encode("iso-8859-1")
        decoded = decode_properties(data)
        try:
            expected = data.decode("utf-8")
        except UnicodeDecodeError:
            expected = text
        assert decoded.text == expected
