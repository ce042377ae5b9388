"""The allow-list of librdkafka properties (pure): what a replication client may be given, whatever
the source of the config, and the values librdkafka would refuse when a client starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions
import confluent_kafka
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.config.backup import BackupSinkConfig
from mirror.config.connectors import MirrorCheckpointConfig, MirrorHeartbeatConfig, MirrorSourceConfig
from mirror.config.errors import ConfigErrors
from mirror.config.librdkafka import (
    _CHOICES,
    _EXACT_CHOICES,
    _UNSETTABLE_LIBRDKAFKA_PROPERTIES,
    LIBRDKAFKA_PROPERTIES,
    REFUSED_PROPERTIES,
    ROLES,
    Role,
    describe_value,
    hide_url_credentials,
    is_known_client_key,
    to_librdkafka,
)
from mirror.config.mm2 import resolve_mm2
from mirror.config.properties import parse_properties
from mirror.kafka import KafkaClientError, make_admin, make_consumer, make_producer
from mirror.s3.store import ObjectStore, S3StorageError
from mirror.service.effective import resolve
from mirror.store.records import ClusterProfile
from tests import made_up


def errors_of(props: dict[str, str], role: Role) -> list[tuple[str | None, str]]:
    with pytest.raises(ConfigErrors) as raised:
        to_librdkafka(props, role)
    return [(error.key, error.message) for error in raised.value.errors]


class TestRefusedProperties:
    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("name", sorted(REFUSED_PROPERTIES))
    def test_refused_for_every_role_naming_the_key(self, name: str, role: Role) -> None:
        assert errors_of({name: "./evil.so"}, role) == [(name, f"may not be set: {REFUSED_PROPERTIES[name]}")]

    @pytest.mark.parametrize(
        "name", ["plugin.library.paths", "ssl.engine.location", "ssl.providers", "sasl.kerberos.kinit.cmd"]
    )
    def test_the_code_loading_ones_are_refused(self, name: str) -> None:
        assert name in REFUSED_PROPERTIES
        assert name not in LIBRDKAFKA_PROPERTIES

    def test_kinit_left_at_the_java_default_is_ignored_not_passed_on(self) -> None:
        settings = to_librdkafka({"sasl.kerberos.kinit.cmd": "/usr/bin/kinit"}, "consumer")
        assert dict(settings.librdkafka) == {}
        assert "sasl.kerberos.kinit.cmd" in settings.ignored
        assert errors_of({"sasl.kerberos.kinit.cmd": "/bin/sh -c 'touch /tmp/x'"}, "consumer")[0][0] == (
            "sasl.kerberos.kinit.cmd"
        )

    @pytest.mark.parametrize(
        "name",
        ["interceptors", "ssl_engine_callback_data", "oauthbearer_token_refresh_cb", "error_cb", "open_cb"],
    )
    def test_callbacks_and_pointers_are_refused(self, name: str) -> None:
        [(key, _message)] = errors_of({name: "x"}, "admin")
        assert key == name

    @given(st.from_regex(r"[a-z]{2,8}(\.[a-z]{2,8}){1,3}", fullmatch=True))
    def test_whatever_is_not_on_the_list_never_reaches_librdkafka(self, name: str) -> None:
        for role in ROLES:
            try:
                settings = to_librdkafka({name: "1"}, role)
            except ConfigErrors as failure:
                assert [error.key for error in failure.errors] == [name]
                continue
            assert set(settings.librdkafka) <= set(LIBRDKAFKA_PROPERTIES)

    @pytest.mark.parametrize("role", ROLES)
    def test_every_output_is_on_the_list(self, role: Role) -> None:
        names = set(LIBRDKAFKA_PROPERTIES) | set(REFUSED_PROPERTIES) | _UNSETTABLE_LIBRDKAFKA_PROPERTIES
        for name in sorted(names):
            try:
                settings = to_librdkafka({name: "1"}, role)
            except ConfigErrors:
                continue
            assert set(settings.librdkafka) <= set(LIBRDKAFKA_PROPERTIES) - set(REFUSED_PROPERTIES), name

    def test_refused_keys_count_as_known_so_they_are_reported_once(self) -> None:
        assert all(is_known_client_key(name) for name in REFUSED_PROPERTIES)


class TestLastGate:
    """Client construction refuses a property off the allow-list even from a path that skipped the
    translation, before librdkafka sees it."""

    @pytest.mark.parametrize("make", [make_consumer, make_producer, make_admin])
    def test_unlisted_properties_never_reach_librdkafka(self, make: Callable[..., object]) -> None:
        with pytest.raises(KafkaClientError) as raised:
            make({"bootstrap.servers": "127.0.0.1:1", "plugin.library.paths": "./evil.so"}, "gate")
        assert raised.value.code == "_UNLISTED_PROPERTY"
        assert "plugin.library.paths" in str(raised.value)


class TestEnumeratedValues:
    def test_security_protocol_nope(self) -> None:
        assert errors_of({"security.protocol": "NOPE"}, "admin") == [
            ("security.protocol", "expected one of plaintext, sasl_plaintext, sasl_ssl, ssl, got 'NOPE'")
        ]
        assert to_librdkafka({"security.protocol": " SASL_SSL "}, "admin").librdkafka == {
            "security.protocol": "SASL_SSL"
        }

    def test_sasl_mechanism_is_case_sensitive_as_in_librdkafka(self) -> None:
        assert errors_of({"sasl.mechanism": "plain"}, "producer")[0][0] == "sasl.mechanism"
        assert errors_of({"sasl.mechanisms": "plain"}, "producer")[0][0] == "sasl.mechanisms"
        assert to_librdkafka({"sasl.mechanism": "SCRAM-SHA-512"}, "producer").librdkafka == {
            "sasl.mechanism": "SCRAM-SHA-512"
        }

    def test_choices_match_the_installed_librdkafka(self) -> None:
        """Every value we accept, librdkafka accepts; a value we refuse, it refuses too."""

        def complaint(name: str, value: str) -> str:
            config = {name: value, "log_level": "0", "group.id": "g"}
            if name == "sasl.mechanism":  # librdkafka checks it only when SASL is on
                config["security.protocol"] = "sasl_plaintext"
            try:
                if LIBRDKAFKA_PROPERTIES[name] == "C":
                    confluent_kafka.Consumer(config).close()
                else:
                    confluent_kafka.Producer({key: v for key, v in config.items() if key != "group.id"})
            except confluent_kafka.KafkaException as error:
                return str(error)
            return ""

        for name, choices in {**_CHOICES, **_EXACT_CHOICES}.items():
            for value in sorted(choices):
                shown = complaint(name, value)
                assert "Invalid value" not in shown and "Unsupported SASL mechanism" not in shown, shown
            assert complaint(name, "no-such-value") != ""

    def test_connector_keys_name_the_connector_key(self) -> None:
        config = {
            "source.cluster.alias": "A",
            "source.cluster.bootstrap.servers": "a:9092",
            "target.cluster.bootstrap.servers": "b:9092",
            "source.cluster.security.protocol": "NOPE",
        }
        for parse in (MirrorSourceConfig.parse, MirrorCheckpointConfig.parse):
            with pytest.raises(ConfigErrors) as raised:
                parse(config)
            assert [error.key for error in raised.value.errors] == ["source.cluster.security.protocol"]


TWO_CLUSTERS = (
    "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n"
)


class TestMm2Properties:
    @pytest.mark.parametrize(
        "line",
        [
            "A.plugin.library.paths = ./evil.so",
            "A.consumer.plugin.library.paths = ./evil.so",
            "plugin.library.paths = ./evil.so",
            "B.ssl.engine.location = ./engine.so",
            "A->B.plugin.library.paths = ./evil.so",
            "A->B.target.admin.plugin.library.paths = ./evil.so",
            "A->B.producer.override.ssl.providers = legacy",
            "A->B.source.cluster.sasl.kerberos.kinit.cmd = sh -c id",
            "A.security.protocol = NOPE",
            "A->B.source.cluster.security.protocol = NOPE",
            "A.bootstrap.servers = alice:pw@a:9092",
        ],
    )
    def test_refused_naming_key_and_line(self, line: str) -> None:
        with pytest.raises(ConfigErrors) as raised:
            resolve_mm2(parse_properties(TWO_CLUSTERS + line + "\n"))
        key = line.split(" = ", maxsplit=1)[0]
        assert {(error.key, error.line) for error in raised.value.errors} == {(key, 5)}


class TestStoredProfiles:
    """A profile stored before the allow-list existed is refused where the runtime resolves a
    connector that uses it, before any client is built."""

    @staticmethod
    def profile(name: str, config: dict[str, str]) -> ClusterProfile:
        now = datetime.now(UTC)
        return ClusterProfile(name, f"{name}:9092", config, {}, now, now)

    def test_s3_connectors_through_kafka_cluster_alias(self) -> None:
        clusters = {"k": self.profile("k", {"plugin.library.paths": "./evil.so"})}
        config = {"kafka.cluster.alias": "k", "s3.bucket.name": "backups"}
        with pytest.raises(ConfigErrors) as raised:
            resolve("backup", "S3SinkConnector", config, clusters)
        assert {error.key for error in raised.value.errors} == {
            "consumer.plugin.library.paths",
            "admin.plugin.library.paths",
        }
        assert all("may not be set" in error.message for error in raised.value.errors)

    def test_mm2_connectors_through_their_cluster_aliases(self) -> None:
        clusters = {
            "A": self.profile("A", {"ssl.engine.location": "./engine.so"}),
            "B": self.profile("B", {}),
        }
        config = {"source.cluster.alias": "A", "target.cluster.alias": "B"}
        with pytest.raises(ConfigErrors) as raised:
            resolve("flow", "MirrorSourceConnector", config, clusters)
        assert {error.key for error in raised.value.errors} == {"source.cluster.ssl.engine.location"}


class TestCommandLine:
    """Every command that reads a config file refuses a code-loading key with exit 2, naming the file,
    the line and the key, before it connects anywhere (the clusters here do not exist)."""

    @pytest.mark.parametrize(
        "command",
        [
            ["run", "{mm2}"],
            ["failover", "--config", "{mm2}", "--from", "A", "--to", "B"],
            ["lag", "--config", "{mm2}", "--once"],
            [
                "backup",
                "--bootstrap-servers",
                "127.0.0.1:1",
                "--client-config",
                "{client}",
                "--to",
                "s3://bkt/p",
            ],
            [
                "restore",
                "--bootstrap-servers",
                "127.0.0.1:1",
                "--client-config",
                "{client}",
                "--from",
                "s3://bkt/p",
            ],
        ],
    )
    def test_exit_2_naming_file_line_and_key(self, command: list[str], tmp_path: Path) -> None:
        mm2 = tmp_path / "mm2.properties"
        mm2.write_text(
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = 127.0.0.1:2\n"
            "A->B.enabled = true\nA->B.target.admin.plugin.library.paths = ./evil.so\n"
        )
        client = tmp_path / "client.properties"
        client.write_text("security.protocol = PLAINTEXT\nconsumer.plugin.library.paths = ./evil.so\n")
        argv = [part.format(mm2=mm2, client=client) for part in command]
        result = subprocess.run(
            [sys.executable, "-m", "mirror.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        expected = (
            f"{mm2}:5: A->B.target.admin.plugin.library.paths: may not be set"
            if "{mm2}" in command
            else f"{client}:2: consumer.plugin.library.paths: may not be set"
        )
        assert expected in result.stderr


class TestUrlCredentials:
    def test_userinfo_is_hidden_anywhere_in_a_text(self) -> None:
        text = 'Could not connect to the endpoint URL: "http://AKIA:SECRET@127.0.0.1/bkt" (or https://u@h)'
        assert hide_url_credentials(text) == (
            'Could not connect to the endpoint URL: "http://***@127.0.0.1/bkt" (or https://***@h)'
        )
        assert hide_url_credentials("http://host/path@x a@b") == "http://host/path@x a@b"

    def test_error_messages_hide_it(self) -> None:
        assert describe_value("s3.endpoint", "ftp://AKIA:SECRET@h") == "'ftp://***@h'"

    def test_bootstrap_servers_may_not_carry_it(self) -> None:
        assert errors_of({"bootstrap.servers": "SASL_SSL://alice:pw@h:9092"}, "admin") == [
            (
                "bootstrap.servers",
                "must not hold credentials (user:password@host); use sasl.username and sasl.password",
            )
        ]

    def test_s3_endpoint_may_not_carry_it(self) -> None:
        secret = made_up.secret()
        config = {
            "connector.class": "S3SinkConnector",
            "bootstrap.servers": "k:9092",
            "s3.bucket.name": "backups",
            "s3.endpoint": f"http://AKIA:{secret}@127.0.0.1:9000",
        }
        with pytest.raises(ConfigErrors) as raised:
            BackupSinkConfig.parse(config)
        assert [error.key for error in raised.value.errors] == ["s3.endpoint"]
        assert "aws.access.key.id" in str(raised.value)
        assert secret not in str(raised.value)
        config["s3.endpoint"] = f"ftp://AKIA:{secret}@127.0.0.1:9000"
        with pytest.raises(ConfigErrors) as raised:
            BackupSinkConfig.parse(config)
        assert secret not in str(raised.value)

    def test_s3_errors_hide_it(self) -> None:
        secret = made_up.secret()

        class Unreachable:
            def head_bucket(self, **_kwargs: object) -> None:
                raise botocore.exceptions.EndpointConnectionError(
                    endpoint_url=f"http://AKIA:{secret}@127.0.0.1:1/bkt"
                )

        settings = BackupSinkConfig.parse(
            {"connector.class": "S3SinkConnector", "bootstrap.servers": "k:9092", "s3.bucket.name": "bkt"}
        ).s3
        store = ObjectStore(settings, client=Unreachable())  # type: ignore[arg-type]  # a stand-in client
        with pytest.raises(S3StorageError) as raised:
            store.check_bucket()
        assert "http://***@127.0.0.1:1/bkt" in str(raised.value)
        assert secret not in str(raised.value) and secret not in repr(raised.value.args)
        # The connector's trace, shown by the status endpoints and logged, holds the cause too.
        assert secret not in "".join(traceback.format_exception(raised.value))


def test_heartbeat_connector_refuses_top_level_refused_keys() -> None:
    config = textwrap.dedent(
        """
        source.cluster.alias = A
        target.cluster.bootstrap.servers = b:9092
        ssl.engine.location = ./engine.so
        """
    )
    with pytest.raises(ConfigErrors) as raised:
        MirrorHeartbeatConfig.parse({prop.key: prop.value for prop in parse_properties(config)})
    assert [error.key for error in raised.value.errors] == ["ssl.engine.location"]
