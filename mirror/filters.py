"""Topic, group and topic-config filters with MirrorMaker 2's regex-list semantics.

MM2 reads each filter as a Connect LIST, joins the entries with ``|``, compiles the result as a
*Java* regex and applies it with ``Matcher.matches()`` (a full match). An empty list matches nothing.

Filters are matched with RE2 (google-re2), whose time is linear in the name's length, never with a
backtracking engine: a name is matched while the GIL is held, so one pathological pattern such as
``(a+)+$`` against a 249-character topic name would otherwise freeze every thread of the process.
Java syntax is translated to RE2's here. Constructs that need backtracking (back references,
lookahead and lookbehind, possessive quantifiers, atomic groups) and constructs RE2 cannot express
exactly are refused with a ConfigError naming the key, never matched by a slower engine or silently
matched differently. Two narrow differences remain, both outside the characters a topic name may
hold: ``(?i)`` also folds non-ASCII letters (Java folds ASCII only), and in ``(?m)`` mode ``^``
and ``$`` see only ``\\n`` as a line end.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# google-re2 ships no type stubs or py.typed marker; _LinearPattern below is the one typed door to it.
import re2  # type: ignore[import-untyped]

from mirror.config.errors import ConfigError, ConfigErrors

TOPICS_KEY = "topics"
TOPICS_EXCLUDE_KEY = "topics.exclude"
TOPICS_EXCLUDE_LEGACY_KEY = "topics.blacklist"
GROUPS_KEY = "groups"
GROUPS_EXCLUDE_KEY = "groups.exclude"
GROUPS_EXCLUDE_LEGACY_KEY = "groups.blacklist"
CONFIG_PROPERTIES_EXCLUDE_KEY = "config.properties.exclude"
CONFIG_PROPERTIES_EXCLUDE_LEGACY_KEY = "config.properties.blacklist"

TOPICS_DEFAULT = ".*"
TOPICS_EXCLUDE_DEFAULT = r".*[\-\.]internal, .*\.replica, __.*"
GROUPS_DEFAULT = ".*"
GROUPS_EXCLUDE_DEFAULT = "console-consumer-.*, connect-.*, __.*"
CONFIG_PROPERTIES_EXCLUDE_DEFAULT = (
    r"follower\.replication\.throttled\.replicas, "
    r"leader\.replication\.throttled\.replicas, "
    r"message\.timestamp\.difference\.max\.ms, "
    r"message\.timestamp\.type, "
    r"unclean\.leader\.election\.enable, "
    r"min\.insync\.replicas"
)

_JAVA_WHITESPACE_COMMA = re.compile(r"[ \t\n\x0b\f\r]*,[ \t\n\x0b\f\r]*")


def java_trim(value: str) -> str:
    """``String.trim()``: strips every character up to U+0020, and nothing else."""
    start = 0
    end = len(value)
    while start < end and value[start] <= " ":
        start += 1
    while end > start and value[end - 1] <= " ":
        end -= 1
    return value[start:end]


def parse_connect_list(value: str) -> tuple[str, ...]:
    """A Connect ``LIST`` value: comma separated, whitespace around entries ignored.

    Empty entries are dropped; for names they could only ever match the empty string.
    """
    trimmed = java_trim(value)
    if not trimmed:
        return ()
    return tuple(entry for entry in _JAVA_WHITESPACE_COMMA.split(trimmed) if entry)


class _UnsupportedRegexError(Exception):
    """A Java regex construct with no exact RE2 equivalent."""


# POSIX classes are ASCII-only in Java unless UNICODE_CHARACTER_CLASS is set, so they translate exactly.
_POSIX_CLASS_BODIES = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
# Java's \s includes \x0b, RE2's does not; so \s and \S are spelled out.
_JAVA_SPACE_BODY = _POSIX_CLASS_BODIES["Space"]
_HORIZONTAL_SPACE_BODY = " \\t\\x{a0}\\x{1680}\\x{180e}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}"
_VERTICAL_SPACE_BODY = "\\n\\x0b\\f\\r\\x{85}\\x{2028}\\x{2029}"
_LINEBREAK = "(?:\\r\\n|[" + _VERTICAL_SPACE_BODY + "])"
# Java's "." stops at every line terminator unless DOTALL; RE2's only at "\n".
_JAVA_DOT = "[^\\n\\r\\x{85}\\x{2028}\\x{2029}]"
_OUTSIDE_CLASS_ESCAPES = {"R": _LINEBREAK, "z": "\\z", "b": "\\b", "B": "\\B", "A": "\\A"}
_NEGATABLE_SHORTHANDS = frozenset("dDwW")
_SIMPLE_CONTROL_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "a": "\x07", "e": "\x1b"}
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_NAMED_GROUP = re.compile(r"\(\?<([a-zA-Z][a-zA-Z0-9]*)>")
_REPETITION = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
# RE2 refuses larger counts (its program would grow with the count); Java would accept them.
_MAX_REPETITION = 1000
# RE2 has no (?x): Java's comment mode is refused rather than read as literal blanks.
_SUPPORTED_FLAGS = frozenset("ims")
_BACKTRACKING_GROUPS = {
    "(?=": "lookahead (?=...)",
    "(?!": "negative lookahead (?!...)",
    "(?<=": "lookbehind (?<=...)",
    "(?<!": "negative lookbehind (?<!...)",
    "(?>": "atomic group (?>...)",
}
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


def _needs_backtracking(construct: str) -> _UnsupportedRegexError:
    return _UnsupportedRegexError(
        f"{construct} needs a backtracking regex engine; mirror matches filters in linear time "
        "(RE2) so that no name can stall the process"
    )


def _literal(char: str) -> str:
    """``char`` as an RE2 atom that matches exactly it, in or outside a character class."""
    if char.isascii() and (char.isalnum() or char == "_"):
        return char
    if char.isascii() and char.isprintable() and char != " ":
        return "\\" + char  # RE2 reads any escaped ASCII punctuation as itself
    return f"\\x{{{ord(char):x}}}"


@dataclass
class _GroupFrame:
    # Java lets "(?i)" appear anywhere and apply to the rest of the enclosing group; each one becomes a
    # scoped "(?i:" group that is closed (and reopened after every "|") within the enclosing group.
    scoped_flags: list[str] = field(default_factory=list)
    # Whether DOTALL is on at this point of the group: it decides what "." translates to.
    dotall: bool = False


def _with_flags(dotall: bool, enabled: str, disabled: str) -> bool:
    if "s" in disabled:
        return False
    return dotall or "s" in enabled


class _JavaRegexTranslator:
    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        self._index = 0
        self._out: list[str] = []
        self._frames: list[_GroupFrame] = [_GroupFrame()]
        self._group_names: set[str] = set()

    def translate(self) -> str:
        pattern = self._pattern
        while self._index < len(pattern):
            char = pattern[self._index]
            if char == "\\":
                self._out.append(self._escape(in_class=False))
            elif char == "[":
                self._out.append(self._character_class())
            elif char == "(":
                self._open_group()
            elif char == ")":
                self._close_group()
            elif char == "|":
                frame = self._frames[-1]
                self._out.append(")" * len(frame.scoped_flags) + "|")
                self._out.extend(f"(?{flags}:" for flags in frame.scoped_flags)
                self._index += 1
            elif char in "*+?{":
                self._out.append(self._quantifier())
            elif char == "$":
                self._index += 1
                self._out.append(self._end_anchor("$"))
            elif char == ".":
                self._index += 1
                self._out.append("(?s:.)" if self._frames[-1].dotall else _JAVA_DOT)
            else:
                self._out.append(char if char == "^" else _literal(char))
                self._index += 1
        self._out.append(")" * len(self._frames[0].scoped_flags))
        return "".join(self._out)

    def _quantifier(self) -> str:
        pattern = self._pattern
        if pattern[self._index] == "{":
            repetition = _REPETITION.match(pattern, self._index)
            if repetition is None:
                raise _UnsupportedRegexError(
                    f"illegal repetition at index {self._index} (write \\{{ for a brace)"
                )
            low = int(repetition.group(1))
            high = int(repetition.group(3)) if repetition.group(3) else low
            if max(low, high) > _MAX_REPETITION:
                raise _UnsupportedRegexError(
                    f"repetition count {repetition.group(0)} is over {_MAX_REPETITION}, the most RE2 allows"
                )
            if repetition.group(2) and repetition.group(3) and high < low:
                raise _UnsupportedRegexError(f"illegal repetition range {repetition.group(0)}")
            quantifier = repetition.group(0)
            self._index = repetition.end()
        else:
            quantifier = pattern[self._index]
            self._index += 1
        if pattern.startswith("+", self._index):
            raise _needs_backtracking(f"possessive quantifier {quantifier}+")
        if pattern.startswith("?", self._index):
            self._index += 1
            return quantifier + "?"
        return quantifier

    def _end_anchor(self, spelled: str) -> str:
        # Java's "$" and "\Z" also match before a final line terminator, which a full match can then
        # only consume if more pattern follows; RE2 has no lookahead for that. Where the anchor ends
        # the whole match, it means exactly "end of name", so it is accepted there only.
        if not self._ends_the_match(self._index):
            raise _UnsupportedRegexError(
                f"{spelled} is supported only at the end of the pattern or of a top-level alternative"
            )
        return "\\z"

    def _ends_the_match(self, index: int) -> bool:
        pattern = self._pattern
        depth = len(self._frames) - 1
        while index < len(pattern):
            char = pattern[index]
            if char == ")":
                depth -= 1
                index += 1
            elif char == "|" and depth <= 0:
                return True
            elif char == "|":
                index = self._skip_to_group_end(index + 1)
            else:
                return False
        return True

    def _skip_to_group_end(self, index: int) -> int:
        """Index of the ``)`` closing the group that ``index`` is in (or the pattern's end)."""
        pattern = self._pattern
        depth = 0
        while index < len(pattern):
            char = pattern[index]
            if pattern.startswith("\\Q", index):
                quoted_end = pattern.find("\\E", index)
                index = len(pattern) if quoted_end < 0 else quoted_end + 2
                continue
            if char == "\\":
                index += 2
                continue
            if char == "[":
                # The class reader knows Java's rules for "]" and escapes inside a class.
                skipper = _JavaRegexTranslator(pattern)
                skipper._index = index
                skipper._character_class()
                index = skipper._index
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    return index
                depth -= 1
            index += 1
        return len(pattern)

    def _open_group(self) -> None:
        pattern = self._pattern
        rest = pattern[self._index :]
        current = self._frames[-1]
        if not rest.startswith("(?"):
            self._out.append("(")
            self._frames.append(_GroupFrame(dotall=current.dotall))
            self._index += 1
            return
        for opening, construct in _BACKTRACKING_GROUPS.items():
            if rest.startswith(opening):
                raise _needs_backtracking(construct)
        if rest.startswith("(?:"):
            self._out.append("(?:")
            self._frames.append(_GroupFrame(dotall=current.dotall))
            self._index += 3
            return
        named = _NAMED_GROUP.match(rest)
        if named:
            name = named.group(1)
            if name in self._group_names:
                raise _UnsupportedRegexError(f"named capturing group <{name}> is already defined")
            self._group_names.add(name)
            # Without back references, what a group captures never matters: it only groups.
            self._out.append("(?:")
            self._frames.append(_GroupFrame(dotall=current.dotall))
            self._index += named.end()
            return
        flags = _INLINE_FLAGS.match(rest)
        if not flags:
            raise _UnsupportedRegexError(f"unknown group construct at index {self._index}")
        enabled, disabled, terminator = flags.group(1), flags.group(2) or "", flags.group(3)
        unsupported = sorted(set(enabled + disabled) - _SUPPORTED_FLAGS)
        if unsupported:
            raise _UnsupportedRegexError(
                f"inline flag(s) {''.join(unsupported)!r} are not supported (supported: i, m, s)"
            )
        dotall = _with_flags(current.dotall, enabled, disabled)
        flag_text = enabled + (f"-{disabled}" if disabled else "")
        if not flag_text:
            flag_text = "-" if terminator == ")" else ""
        self._index += flags.end()
        if terminator == ":":
            self._out.append(f"(?{flag_text}:" if flag_text and flag_text != "-" else "(?:")
            self._frames.append(_GroupFrame(dotall=dotall))
        elif flag_text != "-":
            self._out.append(f"(?{flag_text}:")
            current.scoped_flags.append(flag_text)
            current.dotall = dotall

    def _close_group(self) -> None:
        self._index += 1
        if len(self._frames) == 1:
            # Unbalanced: let RE2 report it in its own words.
            self._out.append(")")
            return
        frame = self._frames.pop()
        self._out.append(")" * len(frame.scoped_flags) + ")")

    def _escape(self, *, in_class: bool) -> str:
        pattern = self._pattern
        if self._index + 1 >= len(pattern):
            raise _UnsupportedRegexError("pattern ends with a lone backslash")
        code = pattern[self._index + 1]
        self._index += 2
        if code in _SIMPLE_CONTROL_ESCAPES:
            return _literal(_SIMPLE_CONTROL_ESCAPES[code])
        if code in _NEGATABLE_SHORTHANDS:
            return "\\" + code
        handler = _ESCAPE_HANDLERS.get(code)
        if handler is not None:
            return handler(self, code, in_class)
        if code.isascii() and code.isalpha():
            raise _UnsupportedRegexError(f"\\{code} has no RE2 equivalent")
        return _literal(code)

    def _quoted(self, _code: str, _in_class: bool) -> str:
        pattern = self._pattern
        end = pattern.find("\\E", self._index)
        quoted = pattern[self._index :] if end < 0 else pattern[self._index : end]
        self._index = len(pattern) if end < 0 else end + 2
        return "".join(_literal(char) for char in quoted)

    def _escaped_char(self, code: str, _in_class: bool) -> str:
        readers = {"0": self._octal, "x": self._hex_escape, "u": self._unicode_escape, "c": self._control}
        return _literal(chr(readers[code]()))

    def _control(self) -> int:
        if self._index >= len(self._pattern):
            raise _UnsupportedRegexError("\\c needs a control letter")
        self._index += 1
        return ord(self._pattern[self._index - 1]) ^ 64

    def _character_name(self, _code: str, _in_class: bool) -> str:
        pattern = self._pattern
        end = pattern.find("}", self._index)
        if not pattern.startswith("{", self._index) or end < 0:
            raise _UnsupportedRegexError("\\N needs a {character name}")
        name = pattern[self._index + 1 : end]
        self._index = end + 1
        try:
            return _literal(unicodedata.lookup(name))
        except KeyError:
            raise _UnsupportedRegexError(f"unknown character name \\N{{{name}}}") from None

    def _java_space(self, code: str, in_class: bool) -> str:
        return self._spelled_class(code, _JAVA_SPACE_BODY, in_class)

    def _space_class(self, code: str, in_class: bool) -> str:
        body = _HORIZONTAL_SPACE_BODY if code in "hH" else _VERTICAL_SPACE_BODY
        return self._spelled_class(code, body, in_class)

    @staticmethod
    def _spelled_class(code: str, body: str, in_class: bool) -> str:
        if code.islower():
            return body if in_class else f"[{body}]"
        if in_class:
            raise _UnsupportedRegexError(f"\\{code} is not supported inside a character class")
        return f"[^{body}]"

    def _outside_class_only(self, code: str, in_class: bool) -> str:
        if in_class:
            raise _UnsupportedRegexError(f"\\{code} is not supported inside a character class")
        if code == "b" and self._pattern.startswith("{", self._index):
            raise _UnsupportedRegexError("\\b{...} boundaries have no RE2 equivalent")
        if code == "Z":
            return self._end_anchor("\\Z")
        return _OUTSIDE_CLASS_ESCAPES[code]

    def _backreference(self, code: str, _in_class: bool) -> str:
        raise _needs_backtracking(f"back reference \\{code}")

    def _property(self, code: str, in_class: bool) -> str:
        return self._property_class(negated=code == "P", in_class=in_class)

    def _octal(self) -> int:
        pattern = self._pattern
        digits = ""
        limit = 3
        while len(digits) < limit and self._index < len(pattern) and pattern[self._index] in _OCTAL:
            digits += pattern[self._index]
            if len(digits) == 1 and digits > "3":
                limit = 2
            self._index += 1
        if not digits:
            raise _UnsupportedRegexError("illegal octal escape")
        return int(digits, 8)

    def _hex_escape(self) -> int:
        pattern = self._pattern
        if pattern.startswith("{", self._index):
            end = pattern.find("}", self._index)
            digits = pattern[self._index + 1 : end] if end > 0 else ""
            if not digits or not all(char in _HEX for char in digits) or int(digits, 16) > 0x10FFFF:
                raise _UnsupportedRegexError("illegal \\x{...} escape")
            self._index = end + 1
            return int(digits, 16)
        digits = pattern[self._index : self._index + 2]
        if len(digits) != 2 or not all(char in _HEX for char in digits):
            raise _UnsupportedRegexError("illegal hexadecimal escape")
        self._index += 2
        return int(digits, 16)

    def _unicode_escape(self) -> int:
        pattern = self._pattern
        digits = pattern[self._index : self._index + 4]
        if len(digits) != 4 or not all(char in _HEX for char in digits):
            raise _UnsupportedRegexError("illegal unicode escape")
        self._index += 4
        code_unit = int(digits, 16)
        low = pattern[self._index + 2 : self._index + 6]
        is_pair = (
            0xD800 <= code_unit <= 0xDBFF
            and pattern.startswith("\\u", self._index)
            and len(low) == 4
            and all(char in _HEX for char in low)
            and 0xDC00 <= int(low, 16) <= 0xDFFF
        )
        if is_pair:
            self._index += 6
            return 0x10000 + ((code_unit - 0xD800) << 10) + (int(low, 16) - 0xDC00)
        return code_unit

    def _property_class(self, *, negated: bool, in_class: bool) -> str:
        pattern = self._pattern
        if pattern.startswith("{", self._index):
            end = pattern.find("}", self._index)
            if end < 0:
                raise _UnsupportedRegexError("unclosed \\p{...} character property")
            name = pattern[self._index + 1 : end]
            self._index = end + 1
        elif self._index < len(pattern):
            name = pattern[self._index]
            self._index += 1
        else:
            raise _UnsupportedRegexError("\\p needs a property name")
        body = _POSIX_CLASS_BODIES.get(name)
        spelled = f"\\{'P' if negated else 'p'}{{{name}}}"
        if body is None:
            raise _UnsupportedRegexError(
                f"{spelled} has no RE2 equivalent (only POSIX classes are supported)"
            )
        if not negated:
            return body if in_class else f"[{body}]"
        if in_class:
            raise _UnsupportedRegexError(f"{spelled} cannot be negated inside a character class")
        return f"[^{body}]"

    def _character_class(self) -> str:
        pattern = self._pattern
        self._index += 1
        out = ["["]
        if pattern.startswith("^", self._index):
            out.append("^")
            self._index += 1
        first = True
        previous_is_single_char = False
        while True:
            if self._index >= len(pattern):
                raise _UnsupportedRegexError("unclosed character class")
            char = pattern[self._index]
            if char == "]" and not first:
                self._index += 1
                break
            first = False
            if char == "[":
                raise _UnsupportedRegexError("nested character classes (class union) are not supported")
            if pattern.startswith("&&", self._index):
                raise _UnsupportedRegexError("character class intersection (&&) is not supported")
            if char == "\\":
                code = pattern[self._index + 1 : self._index + 2]
                translated = self._escape(in_class=True)
                out.append(translated)
                previous_is_single_char = code not in _NEGATABLE_SHORTHANDS and code not in "sSpPhvQ"
            elif char == "-":
                ends_class = pattern.startswith("]", self._index + 1)
                is_range = previous_is_single_char and not ends_class
                out.append("-" if is_range else "\\-")
                self._index += 1
                previous_is_single_char = False
            else:
                out.append(_literal(char))
                self._index += 1
                previous_is_single_char = True
        out.append("]")
        return "".join(out)


_EscapeHandler = Callable[[_JavaRegexTranslator, str, bool], str]
_ESCAPE_HANDLERS: Mapping[str, _EscapeHandler] = {
    "Q": _JavaRegexTranslator._quoted,
    "0": _JavaRegexTranslator._escaped_char,
    "x": _JavaRegexTranslator._escaped_char,
    "u": _JavaRegexTranslator._escaped_char,
    "c": _JavaRegexTranslator._escaped_char,
    "N": _JavaRegexTranslator._character_name,
    "p": _JavaRegexTranslator._property,
    "P": _JavaRegexTranslator._property,
    "s": _JavaRegexTranslator._java_space,
    "S": _JavaRegexTranslator._java_space,
    "h": _JavaRegexTranslator._space_class,
    "H": _JavaRegexTranslator._space_class,
    "v": _JavaRegexTranslator._space_class,
    "V": _JavaRegexTranslator._space_class,
    "k": _JavaRegexTranslator._backreference,
    **dict.fromkeys("123456789", _JavaRegexTranslator._backreference),
    **dict.fromkeys("RzZbBA", _JavaRegexTranslator._outside_class_only),
}


def translate_java_regex(pattern: str) -> str:
    """Translate a Java regex to an equivalent RE2 one (matched as UTF-8).

    Raises ValueError for constructs RE2 cannot express exactly, backtracking ones included.
    """
    try:
        return _JavaRegexTranslator(pattern).translate()
    except _UnsupportedRegexError as error:
        raise ValueError(str(error)) from None


class _LinearPattern:
    """A compiled RE2 pattern matched against whole names: the typed wrapper around ``re2``."""

    __slots__ = ("_regexp",)

    def __init__(self, translated: str) -> None:
        options = re2.Options()
        # Errors are raised to the caller with the key; RE2 must not also print them to stderr.
        options.log_errors = False
        # Nothing reads submatches, and without them RE2 can always use its fastest (DFA) matcher.
        options.never_capture = True
        try:
            self._regexp = re2.compile(translated, options)
        except re2.error as error:
            message = _re2_message(error)
            # RE2 quotes the translated pattern, which is not what the user wrote: the key's own
            # value is shown by the caller instead.
            raise ValueError(message.removesuffix(f": {translated}")) from None

    def fullmatch(self, name: str) -> bool:
        # "surrogatepass": a lone surrogate (which Java strings may hold) must not raise here.
        return self._regexp.fullmatch(name.encode("utf-8", "surrogatepass")) is not None


def _re2_message(error: Exception) -> str:
    reason = error.args[0] if error.args else ""
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _compile_java(pattern: str) -> _LinearPattern:
    return _LinearPattern(translate_java_regex(pattern))


@dataclass(frozen=True)
class RegexList:
    """A Connect LIST of Java regexes, matched as one ``a|b|c`` pattern with a full match."""

    entries: tuple[str, ...]
    key: str | None = field(default=None, compare=False)
    _compiled: _LinearPattern | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled: _LinearPattern | None = None
        if self.entries:
            joined = "|".join(self.entries)
            try:
                compiled = _compile_java(joined)
            except ValueError as error:
                raise ConfigError(self._describe_failure(joined, str(error)), key=self.key) from None
        object.__setattr__(self, "_compiled", compiled)

    def _describe_failure(self, joined: str, reason: str) -> str:
        # Blame the first entry that fails on its own; an entry can also break only in combination
        # (an unbalanced parenthesis or \Q spanning a comma), and then the whole list is shown.
        for entry in self.entries:
            try:
                _compile_java(entry)
            except ValueError as error:
                return f"bad regex {entry!r}: {error}"
        return f"bad regex {joined!r}: {reason}"

    @classmethod
    def parse(cls, value: str, *, key: str | None = None) -> RegexList:
        """Build from a Connect LIST string such as ``"orders.*, payments"``."""
        return cls(parse_connect_list(value), key=key)

    @property
    def java_pattern(self) -> str:
        """The pattern as MM2 would compile it."""
        return "|".join(self.entries)

    def matches(self, name: str) -> bool:
        """True if some entry fully matches ``name``; an empty list matches nothing."""
        return self._compiled is not None and self._compiled.fullmatch(name)


def _exclude_value(cfg: Mapping[str, str], key: str, legacy_key: str, default: str) -> tuple[str, str]:
    # Kafka's translateDeprecatedConfigs: the current key wins; the legacy alias is used only alone.
    if key in cfg:
        return key, cfg[key]
    if legacy_key in cfg:
        return legacy_key, cfg[legacy_key]
    return key, default


def _parse_pair(
    cfg: Mapping[str, str],
    *,
    include_key: str,
    include_default: str,
    exclude_key: str,
    exclude_legacy_key: str,
    exclude_default: str,
) -> tuple[RegexList, RegexList]:
    errors: list[ConfigError] = []
    include = exclude = RegexList(())
    try:
        include = RegexList.parse(cfg.get(include_key, include_default), key=include_key)
    except ConfigError as error:
        errors.append(error)
    used_key, value = _exclude_value(cfg, exclude_key, exclude_legacy_key, exclude_default)
    try:
        exclude = RegexList.parse(value, key=used_key)
    except ConfigError as error:
        errors.append(error)
    if errors:
        raise ConfigErrors(errors)
    return include, exclude


@dataclass(frozen=True)
class TopicFilter:
    """MM2's DefaultTopicFilter: included and not excluded."""

    include: RegexList
    exclude: RegexList

    def accepts(self, topic: str) -> bool:
        return self.include.matches(topic) and not self.exclude.matches(topic)

    @classmethod
    def from_config(cls, cfg: Mapping[str, str]) -> TopicFilter:
        """Read ``topics`` / ``topics.exclude`` (or legacy ``topics.blacklist``); raises ConfigErrors."""
        include, exclude = _parse_pair(
            cfg,
            include_key=TOPICS_KEY,
            include_default=TOPICS_DEFAULT,
            exclude_key=TOPICS_EXCLUDE_KEY,
            exclude_legacy_key=TOPICS_EXCLUDE_LEGACY_KEY,
            exclude_default=TOPICS_EXCLUDE_DEFAULT,
        )
        return cls(include, exclude)


@dataclass(frozen=True)
class GroupFilter:
    """MM2's DefaultGroupFilter: included and not excluded."""

    include: RegexList
    exclude: RegexList

    def accepts(self, group: str) -> bool:
        return self.include.matches(group) and not self.exclude.matches(group)

    @classmethod
    def from_config(cls, cfg: Mapping[str, str]) -> GroupFilter:
        """Read ``groups`` / ``groups.exclude`` (or legacy ``groups.blacklist``); raises ConfigErrors."""
        include, exclude = _parse_pair(
            cfg,
            include_key=GROUPS_KEY,
            include_default=GROUPS_DEFAULT,
            exclude_key=GROUPS_EXCLUDE_KEY,
            exclude_legacy_key=GROUPS_EXCLUDE_LEGACY_KEY,
            exclude_default=GROUPS_EXCLUDE_DEFAULT,
        )
        return cls(include, exclude)


@dataclass(frozen=True)
class ConfigPropertyFilter:
    """The regex part of MM2's DefaultConfigPropertyFilter.

    Read-only, sensitive and static-broker properties are excluded by the caller, which has the
    DescribeConfigs metadata this pure filter does not.
    """

    exclude: RegexList

    def accepts(self, property_name: str) -> bool:
        return not self.exclude.matches(property_name)

    @classmethod
    def from_config(cls, cfg: Mapping[str, str]) -> ConfigPropertyFilter:
        """Read ``config.properties.exclude`` (or legacy ``config.properties.blacklist``)."""
        used_key, value = _exclude_value(
            cfg,
            CONFIG_PROPERTIES_EXCLUDE_KEY,
            CONFIG_PROPERTIES_EXCLUDE_LEGACY_KEY,
            CONFIG_PROPERTIES_EXCLUDE_DEFAULT,
        )
        try:
            return cls(RegexList.parse(value, key=used_key))
        except ConfigError as error:
            raise ConfigErrors([error]) from None
