"""Which config values are secrets, and how responses hide them.

Connect masks only PASSWORD-typed values in its validate endpoint; we hide every secret-looking
value in every response, and read the placeholder back as "keep the stored value". Credentials in
the userinfo of a URL (``http://key:secret@host``) are hidden in every other value, whatever its key.
"""

from __future__ import annotations

from collections.abc import Mapping

from mirror.config.librdkafka import hide_url_credentials
from mirror.config.librdkafka import is_secret_key as is_client_secret_key

HIDDEN = "[hidden]"
"""What a secret value looks like in a response (Kafka's ``Password.HIDDEN``)."""

_SECRET_SUFFIXES = ("password", "jaas.config", "secret", "token", "credentials", "user.info")


def is_secret_key(key: str) -> bool:
    """Passwords, JAAS configs, secrets, tokens, credentials and private keys (``ssl.key*``, ``*.key``)."""
    lowered = key.strip().lower()
    if is_client_secret_key(lowered) or lowered.endswith(_SECRET_SUFFIXES):
        return True
    last = lowered.replace("_", ".").replace("-", ".").rsplit(".", 1)[-1]
    return last == "key" or ("ssl.key." in lowered and not lowered.endswith(".location"))


def redact(config: Mapping[str, str]) -> dict[str, str]:
    """A copy with every secret value replaced by ``[hidden]``, and URL credentials by ``***``."""
    return {key: shown_value(key, value) for key, value in config.items()}


def shown_value(key: str, value: str) -> str:
    """What a response may show of one config value."""
    return HIDDEN if is_secret_key(key) else hide_url_credentials(value)


def hidden_keys(config: Mapping[str, str | None]) -> list[str]:
    """Secret keys whose value is the ``[hidden]`` placeholder (a client sent a response back)."""
    return [key for key, value in config.items() if value == HIDDEN and is_secret_key(key)]
