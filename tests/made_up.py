"""Credentials for tests, made up at run time: the repository holds no secret, not even a pretend one."""

from __future__ import annotations

import secrets


def secret() -> str:
    """A fresh random value, safe inside a quoted JAAS option and a properties file."""
    return "t" + secrets.token_hex(8)
