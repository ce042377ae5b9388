"""Configuration errors that point at the offending key and line."""

from __future__ import annotations

from collections.abc import Iterable


class ConfigError(ValueError):
    """One problem with one configuration key.

    Rendered as ``source:line: key: message`` with absent parts left out, so editors can jump to it.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        line: int | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.line = line
        self.source = source

    def __str__(self) -> str:
        location = ""
        if self.source is not None:
            location = self.source if self.line is None else f"{self.source}:{self.line}"
        elif self.line is not None:
            location = f"line {self.line}"
        parts = [part for part in (location, self.key) if part]
        parts.append(self.message)
        return ": ".join(parts)

    def __repr__(self) -> str:
        return f"ConfigError({self.message!r}, key={self.key!r}, line={self.line!r}, source={self.source!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigError):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple[str, str | None, int | None, str | None]:
        return (self.message, self.key, self.line, self.source)

    def relocated(
        self,
        *,
        key: str | None = None,
        line: int | None = None,
        source: str | None = None,
    ) -> ConfigError:
        """A copy pointing at another key/line/file; parts not given are kept."""
        return ConfigError(
            self.message,
            key=self.key if key is None else key,
            line=self.line if line is None else line,
            source=self.source if source is None else source,
        )


class ConfigErrors(ValueError):  # noqa: N818 - the plural names the aggregate; each item is a ConfigError
    """Several configuration problems reported together, so a user can fix them all in one pass."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        unique = tuple(dict.fromkeys(errors))
        if not unique:
            raise ValueError("ConfigErrors needs at least one ConfigError")
        super().__init__("\n".join(str(error) for error in unique))
        self.errors: tuple[ConfigError, ...] = unique

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def raise_if_any(errors: Iterable[ConfigError]) -> None:
    """Raise ConfigErrors when ``errors`` is not empty."""
    collected = tuple(errors)
    if collected:
        raise ConfigErrors(collected)
