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
        assert str(errors[0]) == "topics: bad regex 'x(': missing )"
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
            (r"(?<name>a)b", ["ab"], ["a"]),
            (r"a+?b", ["aab"], ["b"]),
            (r"a{2,3}", ["aa", "aaa"], ["a", "aaaa"]),
            (r"a{2,}?", ["aaaaa"], ["a"]),
            (r"a{1000}", ["a" * 1000], ["a" * 999]),
            (r"orders$", ["orders"], ["orders\n"]),
            (r"(a$|b)", ["a", "b"], ["a\n"]),
            (r"(?:x(?:a$|b$))|c$", ["xa", "xb", "c"], ["xa\n"]),
            (r"(?:a$|[)|]|\)|\Q)|\E)", ["a", ")", "|"], ["a\n"]),
            (r"(?:a$|[]|)])|b", ["a", "]", "b"], ["a)"]),
            (r"a.c", ["abc"], ["a\nc", "a\rc", "a\u2028c"]),
            (r"(?s)a.c", ["a\nc", "a\rc"], []),
            (r"a(?s:.)c(.)", ["a\nc1"], ["a\nc\r"]),
            (r"\s", ["\x0b", " "], ["a"]),
            (r"[\s]\S", ["\x0bx"], ["\x0b\x0b"]),
            (r"(?m)a", ["a"], ["A"]),
            (r"\.\{\}\$", [".{}$"], []),
            (r"\u00e9", ["\u00e9"], ["e"]),
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
            (r"\p{L}", r"\p{L} has no RE2 equivalent"),
            (r"\p{IsLatin}", "has no RE2 equivalent"),
            (r"[a-z&&[^b]]", "intersection"),
            (r"[a[b]]", "nested character classes"),
            (r"[\P{Digit}]", "cannot be negated"),
            (r"(?U)a", "inline flag"),
            (r"(?d)a", "inline flag"),
            (r"\G", "no RE2 equivalent"),
            (r"\X", "no RE2 equivalent"),
            (r"\b{g}", "boundaries"),
            (r"[abc", "unclosed character class"),
            ("a\\", "lone backslash"),
            (r"\y", "no RE2 equivalent"),
            (r"(?x)a b", "inline flag"),
            (r"x{abc}", "illegal repetition"),
            (r"a{3,2}", "illegal repetition range"),
            (r"a{1001}", "repetition count {1001} is over 1000"),
            (r"(a$)b", "supported only at the end"),
            (r"(?:a$|\.)c", "supported only at the end"),
            (r"(?:a$|[)])c", "supported only at the end"),
            (r"(a$)+", "supported only at the end"),
            (r"a\Zb", "supported only at the end"),
            (r"(?*a)", "unknown group construct"),
        ],
    )
    def test_untranslatable_constructs_raise_with_the_key(self, java: str, reason: str) -> None:
        with pytest.raises(ConfigError) as raised:
            RegexList((java,), key="A->B.topics")
        assert raised.value.key == "A->B.topics"
        assert reason in raised.value.message

    def test_translation_is_plain_re2(self) -> None:
        assert translate_java_regex(r"\Qa.b\E|x") == r"a\.b|x"
        assert translate_java_regex(r"a(?i)b|c") == "a(?i:b)|(?i:c)"
        assert translate_java_regex(r"(a+)+$") == r"(a+)+\z"

    @pytest.mark.parametrize(
        ("java", "construct"),
        [
            (r"(a)\1", r"back reference \1"),
            (r"(?<n>a)\k<n>", r"back reference \k"),
            (r"a(?=b)b", "lookahead (?=...)"),
            (r"a(?!b).", "negative lookahead (?!...)"),
            (r".(?<=a)", "lookbehind (?<=...)"),
            (r".(?<!a)", "negative lookbehind (?<!...)"),
            (r"(?>a|ab)c", "atomic group (?>...)"),
            (r"a++b", "possessive quantifier ++"),
            (r"a*+a", "possessive quantifier *+"),
            (r"a?+", "possessive quantifier ?+"),
            (r"a{2}+", "possessive quantifier {2}+"),
        ],
    )
    @pytest.mark.parametrize("key", ["topics", "topics.exclude", "groups", "groups.exclude"])
    def test_backtracking_constructs_are_refused_naming_key_and_construct(
        self, java: str, construct: str, key: str
    ) -> None:
        # RE2 has no backtracking; matching these with a backtracking engine instead would reopen
        # the catastrophic-backtracking hole, so they are refused in words.
        parse = TopicFilter.from_config if key.startswith("topics") else GroupFilter.from_config
        with pytest.raises(ConfigErrors) as raised:
            parse({key: f"ok, {java}"})
        (error,) = raised.value.errors
        assert error.key == key
        assert construct in error.message
        assert "needs a backtracking regex engine" in error.message

    @pytest.mark.parametrize("key", ["topics", "topics.exclude"])
    def test_a_repetition_count_too_large_for_any_engine_is_a_clean_error(self, key: str) -> None:
        # Python's re raised OverflowError here, which escaped as a 500 from the API.
        with pytest.raises(ConfigErrors) as raised:
            TopicFilter.from_config({key: "a{99999999999}"})
        (error,) = raised.value.errors
        assert error.key == key
        assert (
            error.message
            == "bad regex 'a{99999999999}': repetition count {99999999999} is over 1000, the most RE2 allows"
        )

    def test_a_program_too_large_for_re2_is_a_clean_error(self) -> None:
        with pytest.raises(ConfigError) as raised:
            RegexList(("((((a{1000}){1000}){1000}){1000})",), key="groups")
        assert raised.value.key == "groups"
        assert raised.value.message.startswith("bad regex ")

    def test_a_lone_surrogate_in_a_name_does_not_raise(self) -> None:
        assert RegexList(("(?s).*",)).matches("a\udc80")
        assert not RegexList(("a",)).matches("\udc80")

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


# Java, Python's re and RE2 agree on these constructs for names without line terminators, so
# Python's backtracking re (the engine filters used before RE2) is the oracle for "matches as before".
_JAVA_ATOMS = st.sampled_from(
    ["a", "b", "A", "1", "-", ".", "\\.", "[ab]", "[^a]", "[a-c1]", "\\d", "\\w", "\\W", "\\Qa.\\E", "[.-]"]
)
_QUANTIFIERS = st.sampled_from(["", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,2}", "{0,}", "{1,3}?"])


def _java_regexes() -> st.SearchStrategy[str]:
    quantified_atom = st.tuples(_JAVA_ATOMS, _QUANTIFIERS).map("".join)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        groups = st.tuples(st.sampled_from(["(", "(?:", "(?i:"]), inner, _QUANTIFIERS).map(
            lambda parts: f"{parts[0]}{parts[1]}){parts[2]}"
        )
        alternatives = st.lists(inner, min_size=2, max_size=3).map("|".join)
        sequences = st.lists(st.one_of(inner, groups), min_size=1, max_size=3).map("".join)
        return st.one_of(groups, alternatives, sequences)

    return st.recursive(quantified_atom, extend, max_leaves=6)


@given(_java_regexes(), st.sampled_from(["", "$"]), st.text(st.sampled_from("abAB1-._"), max_size=8))
def test_translated_java_patterns_match_exactly_what_the_backtracking_engine_matched(
    java: str, end_anchor: str, name: str
) -> None:
    pattern = java + end_anchor
    python_pattern = pattern.replace("\\Qa.\\E", "a\\.")
    expected = re.fullmatch(python_pattern, name, re.ASCII) is not None
    assert RegexList((pattern,)).matches(name) == expected
