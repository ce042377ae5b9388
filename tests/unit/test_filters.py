"""Regex-list filters: MM2 defaults, Connect LIST parsing, Java regex translation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.config.errors import ConfigError, ConfigErrors
from mirror.filters import (
    ConfigPropertyFilter,
    GroupFilter,
    RegexList,
    TopicFilter,
    java_trim,
    parse_connect_list,
    translate_java_regex,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("   ", ()),
        ("a", ("a",)),
        ("a,b", ("a", "b")),
        ("  a ,\tb  , c ", ("a", "b", "c")),
        ("a,,b,", ("a", "b")),
        ("a\n,\nb", ("a", "b")),
    ],
)
def test_connect_list_parsing(value: str, expected: tuple[str, ...]) -> None:
    assert parse_connect_list(value) == expected


def test_java_trim_strips_control_characters_but_not_unicode_spaces() -> None:
    assert java_trim("\x00\t a \n\x1f") == "a"
    assert java_trim("\u00a0a\u2003") == "\u00a0a\u2003"


class TestTopicFilter:
    def test_defaults_replicate_everything_but_internal_topics(self) -> None:
        topic_filter = TopicFilter.from_config({})
        for topic in ["orders", "A.orders", "heartbeats", "my-topic"]:
            assert topic_filter.accepts(topic)
        for topic in ["__consumer_offsets", "mm2-offsets.A.internal", "x-internal", "orders.replica", "__x"]:
            assert not topic_filter.accepts(topic)

    def test_include_list_is_a_full_match(self) -> None:
        topic_filter = TopicFilter.from_config({"topics": "orders, pay.*"})
        assert topic_filter.accepts("orders")
        assert topic_filter.accepts("payments")
        assert not topic_filter.accepts("orders2")
        assert not topic_filter.accepts("my-orders")

    def test_exclude_wins_over_include(self) -> None:
        topic_filter = TopicFilter.from_config({"topics": ".*", "topics.exclude": "secret.*"})
        assert topic_filter.accepts("orders")
        assert not topic_filter.accepts("secrets")

    def test_empty_include_matches_nothing_and_empty_exclude_excludes_nothing(self) -> None:
        assert not TopicFilter.from_config({"topics": ""}).accepts("orders")
        assert TopicFilter.from_config({"topics.exclude": ""}).accepts("__consumer_offsets")

    def test_legacy_blacklist_is_the_exclude_list(self) -> None:
        topic_filter = TopicFilter.from_config({"topics.blacklist": "hidden"})
        assert not topic_filter.accepts("hidden")
        assert topic_filter.accepts("__consumer_offsets")

    def test_current_key_wins_over_the_legacy_alias(self) -> None:
        topic_filter = TopicFilter.from_config({"topics.exclude": "a", "topics.blacklist": "b"})
        assert not topic_filter.accepts("a")
        assert topic_filter.accepts("b")

    def test_bad_regexes_are_all_reported_with_their_keys(self) -> None:
        with pytest.raises(ConfigErrors) as raised:
            TopicFilter.from_config({"topics": "ok, x(", "topics.blacklist": "[a"})
        errors = raised.value.errors
        assert [error.key for error in errors] == ["topics", "topics.blacklist"]
        assert str(errors[0]) == "topics: bad regex 'x(': missing ), unterminated subpattern"
        assert "unclosed character class" in errors[1].message


class TestGroupFilter:
    def test_defaults(self) -> None:
        group_filter = GroupFilter.from_config({})
        assert group_filter.accepts("billing")
        for group in ["console-consumer-123", "connect-mm2", "__internal"]:
            assert not group_filter.accepts(group)

    def test_configured_and_legacy(self) -> None:
        assert GroupFilter.from_config({"groups": "a.*"}).accepts("abc")
        assert not GroupFilter.from_config({"groups": "a.*"}).accepts("babc")
        assert not GroupFilter.from_config({"groups.blacklist": "x"}).accepts("x")
        assert GroupFilter.from_config({"groups.blacklist": "x"}).accepts("connect-y")


class TestConfigPropertyFilter:
    def test_default_excludes(self) -> None:
        property_filter = ConfigPropertyFilter.from_config({})
        for name in [
            "follower.replication.throttled.replicas",
            "leader.replication.throttled.replicas",
            "message.timestamp.difference.max.ms",
            "message.timestamp.type",
            "unclean.leader.election.enable",
            "min.insync.replicas",
        ]:
            assert not property_filter.accepts(name)
        assert property_filter.accepts("retention.ms")
        assert property_filter.accepts("min_insync_replicas")

    def test_configured_and_legacy(self) -> None:
        assert not ConfigPropertyFilter.from_config({"config.properties.exclude": "retention.*"}).accepts(
            "retention.ms"
        )
        assert ConfigPropertyFilter.from_config({"config.properties.exclude": ""}).accepts(
            "min.insync.replicas"
        )
        legacy = ConfigPropertyFilter.from_config({"config.properties.blacklist": "cleanup.policy"})
        assert not legacy.accepts("cleanup.policy")

    def test_bad_regex(self) -> None:
        with pytest.raises(ConfigErrors) as raised:
            ConfigPropertyFilter.from_config({"config.properties.exclude": "(("})
        assert raised.value.errors[0].key == "config.properties.exclude"


class TestJavaRegexTranslation:
    @pytest.mark.parametrize(
        ("java", "matching", "not_matching"),
        [
            (r"\Qa.b\E", ["a.b"], ["axb"]),
            (r"\Qa.b", ["a.b"], ["axb"]),
            (r"x\Q[*]\Ey", ["x[*]y"], ["x"]),
            (r"a++b", ["aab"], ["b"]),
            (r"a*+a", [], ["aaa"]),
            (r"(?>a|ab)c", ["ac"], ["abc"]),
            (r"(?<name>a)\k<name>", ["aa"], ["ab"]),
            (r"(?i)orders", ["ORDERS", "orders"], ["orderz"]),
            (r"a(?i)b|c", ["aB", "C"], ["AB", "ac"]),
            (r"(?i:a)b", ["Ab"], ["AB"]),
            (r"(?-i:a)", ["a"], ["A"]),
            (r"\p{Lower}+\p{Digit}", ["abc1"], ["Abc1"]),
            (r"\P{Digit}", ["a"], ["1"]),
            (r"[\p{Upper}_]+", ["A_B"], ["a"]),
            (r"\d+", ["123"], ["\u0661"]),
            (r"\w+", ["a_1"], ["\u00e9"]),
            (r"a\z", ["a"], ["a\n"]),
            (r"a\Z", ["a"], ["a\n"]),
            (r"\x41\u0042\0103\x{44}", ["ABCD"], []),
            (r"\e\cA", ["\x1b\x01"], []),
            (r"[]a]", ["]", "a"], ["b"]),
            (r"[a-]", ["-", "a"], ["b"]),
            (r"[-a]", ["-"], ["b"]),
            (r"[a\-z]", ["-"], ["b"]),
            (r"[^a-c]", ["d"], ["b"]),
            (r"[\d\s]", ["1", " "], ["a"]),
            (r"\h\v", [" \n"], ["ab"]),
            (r"\R", ["\r\n", "\n"], ["a"]),
            (r"a&&b", ["a&&b"], []),
            (r"\N{LATIN SMALL LETTER A}", ["a"], []),
            (r"(a)\1", ["aa"], ["ab"]),
        ],
    )
    def test_java_constructs(self, java: str, matching: list[str], not_matching: list[str]) -> None:
        regex = RegexList((java,))
        for name in matching:
            assert regex.matches(name), (java, name)
        for name in not_matching:
            assert not regex.matches(name), (java, name)

    @pytest.mark.parametrize(
        ("java", "reason"),
        [
            (r"\p{L}", r"\p{L} has no Python equivalent"),
            (r"\p{IsLatin}", "has no Python equivalent"),
            (r"[a-z&&[^b]]", "intersection"),
            (r"[a[b]]", "nested character classes"),
            (r"[\P{Digit}]", "cannot be negated"),
            (r"(?U)a", "inline flag"),
            (r"(?d)a", "inline flag"),
            (r"\G", "no Python equivalent"),
            (r"\X", "no Python equivalent"),
            (r"\b{g}", "boundaries"),
            (r"[abc", "unclosed character class"),
            ("a\\", "lone backslash"),
            (r"\y", "no Python equivalent"),
            (r"(?*a)", "unknown group construct"),
        ],
    )
    def test_untranslatable_constructs_raise_with_the_key(self, java: str, reason: str) -> None:
        with pytest.raises(ConfigError) as raised:
            RegexList((java,), key="A->B.topics")
        assert raised.value.key == "A->B.topics"
        assert reason in raised.value.message

    def test_translation_is_plain_python(self) -> None:
        assert translate_java_regex(r"\Qa.b\E|x") == r"a\.b|x"
        assert translate_java_regex(r"a(?i)b|c") == "a(?i:b)|(?i:c)"

    def test_entries_are_compiled_joined_like_java(self) -> None:
        # "(a" and "b)" are invalid alone, but Java compiles the joined "(a|b)".
        assert RegexList.parse("(a, b)").matches("b")

    def test_an_error_only_in_combination_shows_the_whole_pattern(self) -> None:
        with pytest.raises(ConfigError) as raised:
            RegexList.parse("(?<n>a), (?<n>b)", key="topics")
        assert raised.value.message.startswith("bad regex '(?<n>a)|(?<n>b)': ")

    def test_the_first_entry_that_fails_alone_is_blamed(self) -> None:
        with pytest.raises(ConfigError) as raised:
            RegexList.parse("ok, a[, b(", key="topics")
        assert raised.value.message.startswith("bad regex 'a[': ")

    def test_quote_spanning_a_comma_follows_java(self) -> None:
        # Java joins the entries before compiling, so the quote swallows the "|".
        regex = RegexList.parse(r"\Qa, b\E")
        assert regex.matches("a|b")
        assert not regex.matches("a")


class TestRegexList:
    def test_empty_list_matches_nothing(self) -> None:
        assert not RegexList(()).matches("")
        assert not RegexList.parse(" , ").matches("anything")

    def test_java_pattern_and_equality(self) -> None:
        regex = RegexList.parse("a, b.*", key="topics")
        assert regex.java_pattern == "a|b.*"
        assert regex == RegexList(("a", "b.*"))


_SIMPLE_ATOMS = st.sampled_from(["a", "b", "c", ".", "[ab]", "[^a]", "a*", "b?", "(a|b)", "\\.", "c+"])
_simple_regexes = st.lists(_SIMPLE_ATOMS, min_size=1, max_size=4).map("".join)
_names = st.text(st.sampled_from("abc."), max_size=5)


@given(st.lists(_simple_regexes, min_size=1, max_size=4), _names)
def test_regex_list_matches_exactly_the_fullmatch_of_some_entry(entries: list[str], name: str) -> None:
    expected = any(re.fullmatch(entry, name) for entry in entries)
    assert RegexList(tuple(entries)).matches(name) == expected
    assert RegexList.parse(", ".join(entries)).matches(name) == expected


_literal_names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=",\\"), min_size=1, max_size=12
)


@given(st.lists(_literal_names, min_size=1, max_size=5), _literal_names)
def test_quoted_names_match_only_themselves(names: list[str], probe: str) -> None:
    regex = RegexList.parse(", ".join(f"\\Q{name}\\E" for name in names))
    for name in names:
        assert regex.matches(name)
    assert regex.matches(probe) == (probe in names)
