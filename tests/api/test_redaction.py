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
        "sasl.oauthbearer.config",
        "source.cluster.sasl.oauthbearer.config",
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


def test_redact_hides_url_credentials_whatever_the_key() -> None:
    config = {
        "s3.endpoint": "http://AKIA:SECRET@127.0.0.1:9000/bkt",
        "source.cluster.bootstrap.servers": "SASL_SSL://alice:pw@broker:9092,SASL_SSL://broker2:9092",
        "some.url": "https://client:pw@idp.example/token",
        "topics": "a@b,http://example.com/x@y",
    }
    assert redact(config) == {
        "s3.endpoint": "http://***@127.0.0.1:9000/bkt",
        "source.cluster.bootstrap.servers": "SASL_SSL://***@broker:9092,SASL_SSL://broker2:9092",
        "some.url": "https://***@idp.example/token",
        "topics": "a@b,http://example.com/x@y",
    }
