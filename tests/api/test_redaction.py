"""mirror.service.redaction: which keys are secrets (pure)."""

from __future__ import annotations

import pytest

from mirror.service.redaction import HIDDEN, hidden_keys, is_secret_key, redact


@pytest.mark.parametrize(
    "key",
    [
        "sasl.jaas.config",
        "source.cluster.sasl.jaas.config",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "ssl.keystore.key",
        "ssl.key.pem",
        "target.cluster.ssl.keystore.key",
        "sasl.oauthbearer.client.secret",
        "sasl.password",
        "basic.auth.user.info",
        "api_key",
        "aws.credentials",
        "consumer.override.sasl.login.token",
        "Some.Password",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "topics",
        "sasl.mechanism",
        "security.protocol",
        "ssl.keystore.location",
        "ssl.key.location",
        "ssl.truststore.type",
        "key.converter",
        "bootstrap.servers",
        "replication.policy.separator",
        "monkey",
    ],
)
def test_plain_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_redact_and_hidden_keys() -> None:
    config = {"topics": "[hidden]", "sasl.jaas.config": "real", "ssl.key.password": "[hidden]"}
    assert redact(config) == {"topics": "[hidden]", "sasl.jaas.config": HIDDEN, "ssl.key.password": HIDDEN}
    assert hidden_keys(config) == ["ssl.key.password"]
