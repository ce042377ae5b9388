"""Java client properties -> librdkafka properties."""

from __future__ import annotations

import confluent_kafka
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.config.errors import ConfigErrors
from mirror.config.librdkafka import (
    JAVA_CLIENT_KEYS,
    LIBRDKAFKA_PROPERTIES,
    MM2_CLIENT_CONFIG_KEYS,
    SHARED_CONNECTION_KEYS,
    ClientSettings,
    Role,
    applies_to,
    is_known_client_key,
    is_secret_key,
    to_librdkafka,
)
from tests import made_up

PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
OAUTH = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
PASSWORD, OTHER_PASSWORD = made_up.secret(), made_up.secret()


def translate(props: dict[str, str], role: Role = "consumer") -> dict[str, str]:
    return dict(to_librdkafka(props, role).librdkafka)


def errors_of(props: dict[str, str], role: Role = "consumer") -> list[tuple[str | None, str]]:
    with pytest.raises(ConfigErrors) as raised:
        to_librdkafka(props, role)
    return [(error.key, error.message) for error in raised.value.errors]


class TestPassThrough:
    @pytest.mark.parametrize(
        ("role", "props"),
        [
            (
                "consumer",
                {
                    "bootstrap.servers": "a:9092,b:9092",
                    "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "SCRAM-SHA-512",
                    "sasl.username": "u",
                    "ssl.ca.location": "/ca.pem",
                    "ssl.keystore.location": "/client.p12",
                    "client.id": "me",
                    "isolation.level": "read_committed",
                    "fetch.max.bytes": "1000",
                    "max.partition.fetch.bytes": "500",
                    "fetch.min.bytes": "1",
                    "group.id": "g",
                    "auto.offset.reset": "latest",
                    "client.rack": "r1",
                },
            ),
            (
                "producer",
                {
                    "linger.ms": "5",
                    "batch.size": "100000",
                    "compression.type": "zstd",
                    "acks": "all",
                    "enable.idempotence": "true",
                    "max.in.flight.requests.per.connection": "5",
                    "delivery.timeout.ms": "120000",
                    "request.timeout.ms": "30000",
                    "retries": "10",
                    "transactional.id": "t",
                },
            ),
            ("admin", {"bootstrap.servers": "a:9092", "client.id": "admin", "retry.backoff.ms": "100"}),
        ],
    )
    def test_shared_names_pass_unchanged(self, role: Role, props: dict[str, str]) -> None:
        assert translate(props, role) == props

    @pytest.mark.parametrize(
        ("alias", "canonical", "role"),
        [
            ("sasl.mechanisms", "sasl.mechanism", "consumer"),
            ("metadata.broker.list", "bootstrap.servers", "admin"),
            ("queue.buffering.max.ms", "linger.ms", "producer"),
            ("message.timeout.ms", "delivery.timeout.ms", "producer"),
            ("request.required.acks", "acks", "producer"),
            ("compression.codec", "compression.type", "producer"),
            ("fetch.message.max.bytes", "max.partition.fetch.bytes", "consumer"),
        ],
    )
    def test_librdkafka_aliases_use_the_java_spelling(self, alias: str, canonical: str, role: Role) -> None:
        value = {"sasl.mechanisms": "PLAIN", "compression.codec": "lz4"}.get(alias, "1")
        assert translate({alias: value}, role) == {canonical: value}

    def test_conflicting_aliases_are_an_error(self) -> None:
        assert errors_of({"linger.ms": "5", "queue.buffering.max.ms": "10"}, "producer") == [
            (
                "queue.buffering.max.ms",
                "conflicts with linger.ms: both set librdkafka's linger.ms to different values",
            )
        ]
        assert translate({"linger.ms": "5", "queue.buffering.max.ms": "5"}, "producer") == {"linger.ms": "5"}

    def test_settings_of_another_role_are_ignored_with_a_reason(self) -> None:
        settings = to_librdkafka({"linger.ms": "5", "group.id": "g", "isolation.level": "x"}, "producer")
        assert dict(settings.librdkafka) == {"linger.ms": "5"}
        assert dict(settings.ignored) == {
            "group.id": "a consumer setting; a producer ignores it",
            "isolation.level": "a consumer setting; a producer ignores it",
        }

    def test_a_consumer_ignores_producer_settings(self) -> None:
        settings = to_librdkafka({"linger.ms": "5", "buffer.memory": "1"}, "consumer")
        assert dict(settings.librdkafka) == {}
        assert set(settings.ignored) == {"linger.ms", "buffer.memory"}


class TestMappedJavaSettings:
    def test_plain_and_scram_jaas(self) -> None:
        for module in (PLAIN, SCRAM):
            # An escaped quote inside the quoted value must come through as a plain quote.
            jaas = f'{module} required username="alice" password="{PASSWORD}\\"{OTHER_PASSWORD}";'
            assert translate({"sasl.jaas.config": jaas}) == {
                "sasl.username": "alice",
                "sasl.password": f'{PASSWORD}"{OTHER_PASSWORD}',
            }

    def test_jaas_with_unquoted_values_and_extra_whitespace(self) -> None:
        jaas = f"\n  {PLAIN}  required\n  username=alice\n  password={PASSWORD} ;"
        assert translate({"sasl.jaas.config": jaas}) == {"sasl.username": "alice", "sasl.password": PASSWORD}

    def test_scram_delegation_tokens_are_rejected(self) -> None:
        jaas = f'{SCRAM} required username="a" password="{PASSWORD}" tokenauth="true";'
        assert errors_of({"sasl.jaas.config": jaas})[0][0] == "sasl.jaas.config"

    def test_oauth_client_credentials(self) -> None:
        jaas = (
            f'{OAUTH} required clientId="id" clientSecret="{PASSWORD}" scope="s" '
            'extension_logicalCluster="lkc";'
        )
        props = {
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.jaas.config": jaas,
            "sasl.login.callback.handler.class": (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
            ),
            "sasl.oauthbearer.token.endpoint.url": "https://idp/token",
        }
        assert translate(props) == {
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.oauthbearer.method": "oidc",
            "sasl.oauthbearer.client.id": "id",
            "sasl.oauthbearer.client.secret": PASSWORD,
            "sasl.oauthbearer.scope": "s",
            "sasl.oauthbearer.extensions": "logicalCluster=lkc",
            "sasl.oauthbearer.token.endpoint.url": "https://idp/token",
        }

    def test_oauth_unsecured_jwt(self) -> None:
        jaas = f'{OAUTH} required unsecuredLoginStringClaim_sub="admin" unsecuredLoginLifetimeSeconds="60";'
        assert translate({"sasl.jaas.config": jaas}) == {
            "enable.sasl.oauthbearer.unsecure.jwt": "true",
            "sasl.oauthbearer.config": "principal=admin lifeSeconds=60",
        }

    def test_kerberos(self) -> None:
        jaas = (
            "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true "
            'keyTab="/etc/mm2.keytab" principal="mm2@EXAMPLE.COM";'
        )
        assert translate({"sasl.jaas.config": jaas, "sasl.kerberos.service.name": "kafka"}) == {
            "sasl.kerberos.keytab": "/etc/mm2.keytab",
            "sasl.kerberos.principal": "mm2@EXAMPLE.COM",
            "sasl.kerberos.service.name": "kafka",
        }

    @pytest.mark.parametrize(
        "jaas",
        [
            "garbage",
            f'{PLAIN} required username="a" password="unterminated;',
            f'{PLAIN} username="a";',
            f'{PLAIN} required username="a"; {PLAIN} required username="b";',
            f'com.example.Custom required password="{PASSWORD}";',
            f'{PLAIN} required username="a" password="{PASSWORD}" unknownOption="x";',
        ],
    )
    def test_bad_jaas_is_reported_without_its_text(self, jaas: str) -> None:
        with pytest.raises(ConfigErrors) as raised:
            to_librdkafka({"sasl.jaas.config": jaas}, "consumer")
        rendered = str(raised.value)
        assert rendered.startswith("sasl.jaas.config: ")
        assert PASSWORD not in rendered
        assert "unterminated;" not in rendered

    @pytest.mark.parametrize(
        ("props", "expected"),
        [
            (
                {"ssl.truststore.location": "/ca.pem", "ssl.truststore.type": "PEM"},
                {"ssl.ca.location": "/ca.pem"},
            ),
            (
                {"ssl.truststore.location": "/ca.pem", "ssl.truststore.type": "pem"},
                {"ssl.ca.location": "/ca.pem"},
            ),
            ({"ssl.truststore.location": "/certs/ca.crt"}, {"ssl.ca.location": "/certs/ca.crt"}),
            (
                {"ssl.truststore.certificates": "-----BEGIN CERTIFICATE-----", "ssl.truststore.type": "PEM"},
                {"ssl.ca.pem": "-----BEGIN CERTIFICATE-----"},
            ),
            (
                {
                    "ssl.keystore.location": "/client.p12",
                    "ssl.keystore.type": "PKCS12",
                    "ssl.keystore.password": PASSWORD,
                    "ssl.key.password": PASSWORD,
                },
                {"ssl.keystore.location": "/client.p12", "ssl.keystore.password": PASSWORD},
            ),
            (
                {
                    "ssl.keystore.location": "/client.pfx",
                    "ssl.keystore.type": "JKS",
                    "ssl.keystore.password": PASSWORD,
                },
                {"ssl.keystore.location": "/client.pfx", "ssl.keystore.password": PASSWORD},
            ),
            (
                {
                    "ssl.keystore.location": "/client.pem",
                    "ssl.keystore.type": "PEM",
                    "ssl.key.password": OTHER_PASSWORD,
                },
                {
                    "ssl.certificate.location": "/client.pem",
                    "ssl.key.location": "/client.pem",
                    "ssl.key.password": OTHER_PASSWORD,
                },
            ),
            (
                {
                    "ssl.keystore.key": "KEY",
                    "ssl.keystore.certificate.chain": "CHAIN",
                    "ssl.keystore.type": "PEM",
                },
                {"ssl.key.pem": "KEY", "ssl.certificate.pem": "CHAIN"},
            ),
            (
                {"ssl.key.password": OTHER_PASSWORD, "ssl.key.location": "/k.pem"},
                {"ssl.key.password": OTHER_PASSWORD, "ssl.key.location": "/k.pem"},
            ),
            (
                {"ssl.endpoint.identification.algorithm": ""},
                {"ssl.endpoint.identification.algorithm": "none"},
            ),
            (
                {"ssl.endpoint.identification.algorithm": "HTTPS"},
                {"ssl.endpoint.identification.algorithm": "https"},
            ),
            (
                {"send.buffer.bytes": "-1", "receive.buffer.bytes": "65536"},
                {"socket.send.buffer.bytes": "0", "socket.receive.buffer.bytes": "65536"},
            ),
            ({"request.timeout.ms": "40000"}, {"socket.timeout.ms": "40000"}),
            ({"fetch.max.wait.ms": "100"}, {"fetch.wait.max.ms": "100"}),
            ({"auto.offset.reset": "none"}, {"auto.offset.reset": "error"}),
            (
                {
                    "partition.assignment.strategy": (
                        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
                    )
                },
                {"partition.assignment.strategy": "cooperative-sticky"},
            ),
            (
                {
                    "partition.assignment.strategy": (
                        "org.apache.kafka.clients.consumer.RangeAssignor, "
                        "org.apache.kafka.clients.consumer.RoundRobinAssignor"
                    )
                },
                {"partition.assignment.strategy": "range,roundrobin"},
            ),
            (
                {"ssl.cipher.suites": "ECDHE-RSA-AES256-GCM-SHA384"},
                {"ssl.cipher.suites": "ECDHE-RSA-AES256-GCM-SHA384"},
            ),
        ],
    )
    def test_consumer_translations(self, props: dict[str, str], expected: dict[str, str]) -> None:
        assert translate(props) == expected

    @pytest.mark.parametrize(
        ("props", "expected"),
        [
            ({"max.request.size": "2000000"}, {"message.max.bytes": "2000000"}),
            (
                {"compression.type": "zstd", "compression.zstd.level": "5"},
                {"compression.type": "zstd", "compression.level": "5"},
            ),
            ({"compression.type": "lz4", "compression.zstd.level": "5"}, {"compression.type": "lz4"}),
            ({"request.timeout.ms": "40000"}, {"request.timeout.ms": "40000"}),
        ],
    )
    def test_producer_translations(self, props: dict[str, str], expected: dict[str, str]) -> None:
        assert translate(props, "producer") == expected


class TestMaxPollRecords:
    def test_is_surfaced_and_not_given_to_librdkafka(self) -> None:
        settings = to_librdkafka({"max.poll.records": " 250 ", "bootstrap.servers": "a:1"}, "consumer")
        assert settings.max_poll_records == 250
        assert dict(settings.librdkafka) == {"bootstrap.servers": "a:1"}

    @pytest.mark.parametrize("bad", ["0", "-1", "lots", "1e3", "99999999999"])
    def test_must_be_a_positive_int(self, bad: str) -> None:
        assert errors_of({"max.poll.records": bad})[0][0] == "max.poll.records"

    def test_absent(self) -> None:
        assert to_librdkafka({}, "consumer").max_poll_records is None

    def test_other_roles_ignore_it(self) -> None:
        assert "max.poll.records" in to_librdkafka({"max.poll.records": "5"}, "producer").ignored


class TestRejectedJavaSettings:
    @pytest.mark.parametrize(
        ("key", "value", "role"),
        [
            ("buffer.memory", "67108864", "producer"),
            ("max.block.ms", "1000", "producer"),
            ("key.serializer", "org.apache.kafka.common.serialization.StringSerializer", "producer"),
            ("value.deserializer", "com.example.AvroDeserializer", "consumer"),
            ("interceptor.classes", "com.example.Interceptor", "consumer"),
            ("partitioner.class", "com.example.Partitioner", "producer"),
            ("sasl.login.callback.handler.class", "com.example.Handler", "consumer"),
            ("sasl.client.callback.handler.class", "com.example.Handler", "consumer"),
            ("ssl.engine.factory.class", "com.example.Engine", "admin"),
            ("default.api.timeout.ms", "1000", "admin"),
            ("retries", "3", "admin"),
            ("bootstrap.controllers", "c:9093", "admin"),
            ("security.providers", "com.example.Provider", "consumer"),
        ],
    )
    def test_java_only_settings_name_the_key(self, key: str, value: str, role: Role) -> None:
        [(error_key, message)] = errors_of({key: value}, role)
        assert error_key == key
        assert message.startswith(f"{key} is a Java client setting with no librdkafka equivalent")

    def test_hint_is_given_where_one_exists(self) -> None:
        [(_, message)] = errors_of({"buffer.memory": "1"}, "producer")
        assert "queue.buffering.max.kbytes" in message

    @pytest.mark.parametrize(
        ("key", "value", "role"),
        [
            ("buffer.memory", "33554432", "producer"),
            ("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer", "producer"),
            ("exclude.internal.topics", "true", "consumer"),
            ("ssl.keymanager.algorithm", "SunX509", "consumer"),
            ("ssl.protocol", "TLSv1.2", "consumer"),
            ("ssl.enabled.protocols", "TLSv1.2,TLSv1.3", "consumer"),
            ("sasl.kerberos.kinit.cmd", "/usr/bin/kinit", "consumer"),
            ("sasl.kerberos.ticket.renew.window.factor", "0.80", "consumer"),
            ("metric.reporters", "com.example.Reporter", "consumer"),
            ("interceptor.classes", "", "producer"),
        ],
    )
    def test_harmless_java_settings_are_ignored(self, key: str, value: str, role: Role) -> None:
        settings = to_librdkafka({key: value}, role)
        assert dict(settings.librdkafka) == {}
        assert key in settings.ignored

    @pytest.mark.parametrize(
        ("props", "key"),
        [
            ({"ssl.truststore.location": "/truststore.jks"}, "ssl.truststore.location"),
            (
                {"ssl.truststore.location": "/ts.p12", "ssl.truststore.type": "PKCS12"},
                "ssl.truststore.location",
            ),
            ({"ssl.keystore.location": "/ks.jks", "ssl.keystore.type": "JKS"}, "ssl.keystore.location"),
            (
                {
                    "ssl.keystore.location": "/k.p12",
                    "ssl.keystore.password": PASSWORD,
                    "ssl.key.password": OTHER_PASSWORD,
                },
                "ssl.key.password",
            ),
            ({"partition.assignment.strategy": "org.apache.kafka.clients.consumer.StickyAssignor"}, None),
            ({"auto.offset.reset": "by_duration:PT1H"}, None),
            ({"ssl.cipher.suites": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, None),
            ({"ssl.protocol": "TLSv1.1"}, None),
            ({"ssl.endpoint.identification.algorithm": "dns"}, None),
            ({"sasl.kerberos.kinit.cmd": "/opt/kinit"}, None),
        ],
    )
    def test_settings_that_cannot_be_honoured(self, props: dict[str, str], key: str | None) -> None:
        errors = errors_of(props)
        expected_key = key if key is not None else next(iter(props))
        assert [error_key for error_key, _ in errors] == [expected_key]

    def test_unknown_keys_get_a_suggestion(self) -> None:
        [(key, message)] = errors_of({"isolation.levl": "read_committed"})
        assert key == "isolation.levl"
        assert message == (
            "unknown consumer setting: neither a Java client nor a librdkafka property "
            "(did you mean isolation.level?)"
        )

    @pytest.mark.parametrize("key", ["error_cb", "delivery.report.only.error", "log.queue", "interceptors"])
    def test_librdkafka_properties_that_a_file_cannot_set(self, key: str) -> None:
        assert is_known_client_key(key)
        [(error_key, message)] = errors_of({key: "x"}, "producer")
        assert error_key == key
        assert "cannot be set in a properties file" in message

    def test_every_problem_is_reported(self) -> None:
        errors = errors_of({"buffer.memory": "1", "max.block.ms": "2", "nonsense": "3"}, "producer")
        assert [key for key, _ in errors] == ["buffer.memory", "max.block.ms", "nonsense"]


class TestSecrets:
    @pytest.mark.parametrize(
        "key",
        [
            "sasl.password",
            "sasl.jaas.config",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.truststore.password",
            "ssl.key.pem",
            "ssl.keystore.key",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.assertion.private.key.pem",
            "sasl.oauthbearer.config",
        ],
    )
    def test_secret_keys(self, key: str) -> None:
        assert is_secret_key(key)

    @pytest.mark.parametrize("key", ["bootstrap.servers", "ssl.key.location", "sasl.username", "linger.ms"])
    def test_non_secret_keys(self, key: str) -> None:
        assert not is_secret_key(key)

    def test_repr_hides_secret_values(self) -> None:
        settings = to_librdkafka({"sasl.username": "alice", "sasl.password": PASSWORD}, "consumer")
        assert PASSWORD not in repr(settings)
        assert "alice" in repr(settings)

    @given(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\;='), min_size=6)
    )
    def test_secrets_never_reach_error_messages(self, secret: str) -> None:
        """The messages do not depend on the secret values at all (a secret may still spell a word
        the message holds anyway, like the login module's class name)."""

        def message(value: str) -> str:
            props = {
                "sasl.jaas.config": f'com.example.Unknown required password="{value}";',
                "ssl.truststore.location": "/ts.jks",
                "ssl.truststore.password": value,
                "ssl.keystore.location": "/ks.p12",
                "ssl.keystore.password": value,
                "ssl.key.password": value + "x",
            }
            with pytest.raises(ConfigErrors) as raised:
                to_librdkafka(props, "consumer")
            return str(raised.value)

        assert message(secret) == message("#" * len(secret))


class TestClientSettings:
    def test_immutable_with_defaults_and_overrides(self) -> None:
        settings = ClientSettings({"a": "1"})
        assert dict(settings.with_defaults({"a": "0", "b": "2"}).librdkafka) == {"a": "1", "b": "2"}
        assert dict(settings.with_overrides({"a": "3"}).librdkafka) == {"a": "3"}
        with pytest.raises(TypeError):
            settings.librdkafka["a"] = "x"  # type: ignore[index]


class TestPropertyTable:
    def test_applicability_and_roles(self) -> None:
        assert set(LIBRDKAFKA_PROPERTIES.values()) == {"*", "C", "P"}
        assert applies_to("bootstrap.servers", "admin")
        assert applies_to("isolation.level", "consumer")
        assert not applies_to("isolation.level", "producer")
        assert applies_to("linger.ms", "producer")
        assert not applies_to("linger.ms", "admin")
        assert "max.poll.records" not in LIBRDKAFKA_PROPERTIES
        assert not any(name.endswith("_cb") for name in LIBRDKAFKA_PROPERTIES)

    def test_known_keys(self) -> None:
        assert is_known_client_key("max.poll.records")
        assert is_known_client_key("queued.max.messages.kbytes")
        assert is_known_client_key("buffer.memory")
        assert not is_known_client_key("isolation.levl")

    def test_connection_key_sets(self) -> None:
        assert "ssl.truststore.location" in MM2_CLIENT_CONFIG_KEYS
        assert "client.id" not in MM2_CLIENT_CONFIG_KEYS
        assert "sasl.username" in SHARED_CONNECTION_KEYS
        assert "sasl.username" not in MM2_CLIENT_CONFIG_KEYS
        assert "max.poll.records" in JAVA_CLIENT_KEYS["consumer"]

    def test_table_matches_the_installed_librdkafka(self) -> None:
        # Creating a client with no brokers does no I/O; an unknown name fails at once.
        unknown = []
        for name in LIBRDKAFKA_PROPERTIES:
            if name in {"bootstrap.servers", "metadata.broker.list"}:
                continue
            try:
                confluent_kafka.Producer({name: "\x01not-a-valid-value", "log_level": "0"})
            except (confluent_kafka.KafkaException, ValueError, TypeError) as error:
                if "No such configuration property" in str(error):
                    unknown.append(name)
        assert unknown == []
