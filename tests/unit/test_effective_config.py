"""A stored connector's effective config: connections from cluster profiles, errors naming keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mirror.config.errors import ConfigErrors
from mirror.service.effective import effective_config, offsets_location, resolve
from mirror.store.records import ClusterProfile
from tests.made_up import secret

SOURCE_CLASS = "org.apache.kafka.connect.mirror.MirrorSourceConnector"


def profile(name: str, servers: str, secrets: dict[str, str] | None = None) -> ClusterProfile:
    now = datetime.now(UTC)
    return ClusterProfile(name, servers, {"security.protocol": "SASL_PLAINTEXT"}, secrets or {}, now, now)


def test_profiles_supply_connections_the_config_does_not_give() -> None:
    password = secret()
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="u" password="{password}";'
    )
    clusters = {"A": profile("A", "a:9092"), "B": profile("B", "b:9092", {"sasl.jaas.config": jaas})}
    config = {
        "source.cluster.alias": "A",
        "target.cluster.alias": "B",
        "source.cluster.bootstrap.servers": "own:9092",
        "target.cluster.security.protocol": "SASL_SSL",
    }
    effective = effective_config(config, clusters)
    assert effective["source.cluster.bootstrap.servers"] == "own:9092"
    assert "source.cluster.security.protocol" not in effective
    assert effective["target.cluster.bootstrap.servers"] == "b:9092"
    assert effective["target.cluster.sasl.jaas.config"] == jaas
    assert effective["target.cluster.security.protocol"] == "SASL_SSL"  # the connector's own key wins


def test_offsets_live_on_the_target_in_the_source_named_topic() -> None:
    settings = offsets_location(
        {
            "source.cluster.alias": "A",
            "target.cluster.bootstrap.servers": "b:9092",
            "offset.storage.replication.factor": "1",
        }
    )
    assert settings.topic == "mm2-offsets.A.internal"
    assert settings.replication_factor == 1
    assert settings.admin["bootstrap.servers"] == "b:9092"
    assert offsets_location({"source.cluster.alias": "A", "offsets.storage.topic": "own"}).topic == "own"
    assert offsets_location({"source.cluster.alias": "A"}).replication_factor == -1


def test_bad_offsets_settings_name_the_connector_key() -> None:
    with pytest.raises(ConfigErrors) as failure:
        offsets_location({"source.cluster.alias": "A", "target.cluster.ssl.keymanager.algorithm": "X"})
    assert [error.key for error in failure.value.errors] == ["target.cluster.ssl.keymanager.algorithm"]


def test_resolve_names_every_key_at_fault() -> None:
    config = {"connector.class": SOURCE_CLASS, "source.cluster.alias": "A", "tasks.max": "many"}
    with pytest.raises(ConfigErrors) as failure:
        resolve("c", SOURCE_CLASS, config, {})
    keys = {error.key for error in failure.value.errors}
    assert {"tasks.max", "source.cluster.bootstrap.servers", "target.cluster.bootstrap.servers"} <= keys
    assert "no cluster profile named 'A'" in str(failure.value)


def test_resolve_refuses_an_unknown_class() -> None:
    with pytest.raises(ConfigErrors) as failure:
        resolve("c", "com.example.Nope", {}, {})
    assert failure.value.errors[0].key == "connector.class"


def test_resolved_connector_runs_with_the_effective_config() -> None:
    clusters = {"A": profile("A", "a:9092"), "B": profile("B", "b:9092")}
    config = {"source.cluster.alias": "A", "target.cluster.alias": "B", "topics": "t"}
    resolved = resolve("c", "MirrorSource", config, clusters)
    assert resolved.plugin.java_class == SOURCE_CLASS
    assert resolved.source_alias == "A"
    assert resolved.config["name"] == "c"
    assert resolved.config["connector.class"] == "MirrorSource"
    assert resolved.offsets is not None
    assert resolved.offsets.consumer["bootstrap.servers"] == "b:9092"
