"""Cluster profiles: create or replace, secrets kept when omitted, never in the audit log."""

from __future__ import annotations

from datetime import UTC

import pytest

from mirror.store.records import TargetState
from mirror.store.store import InUseError, NotFoundError, Store
from tests.made_up import secret


def test_put_cluster_creates_then_replaces(store: Store) -> None:
    created, was_created = store.put_cluster("primary", "127.0.0.1:9092", {"client.id": "a"}, {}, "cli")
    assert was_created
    assert created.created_at.tzinfo is UTC
    assert created.created_at == created.updated_at

    replaced, was_created = store.put_cluster("primary", "127.0.0.1:9093", {"client.id": "b"}, {}, "cli")
    assert not was_created
    assert replaced.bootstrap_servers == "127.0.0.1:9093"
    assert replaced.config == {"client.id": "b"}
    assert replaced.created_at == created.created_at
    assert replaced.updated_at > created.updated_at
    assert store.get_cluster("primary") == replaced


def test_put_cluster_without_change_keeps_updated_at(store: Store) -> None:
    first, _ = store.put_cluster("primary", "127.0.0.1:9092", {"client.id": "a"}, {}, "cli")
    again, created = store.put_cluster("primary", "127.0.0.1:9092", {"client.id": "a"}, {}, "cli")
    assert not created
    assert again == first


def test_omitted_secrets_keep_their_stored_value(store: Store) -> None:
    jaas, key_password = secret(), secret()
    store.put_cluster(
        "primary",
        "127.0.0.1:9092",
        {"security.protocol": "SASL_SSL"},
        {"sasl.jaas.config": jaas, "ssl.key.password": key_password},
        "cli",
    )
    new_key_password = secret()
    profile, _ = store.put_cluster(
        "primary",
        "127.0.0.1:9092",
        {"security.protocol": "SASL_SSL"},
        {"ssl.key.password": new_key_password},
        "cli",
    )
    assert profile.secrets == {"sasl.jaas.config": jaas, "ssl.key.password": new_key_password}
    stored = store.get_cluster("primary")
    assert stored is not None
    assert stored.secrets == profile.secrets


def test_key_moved_to_config_is_no_longer_a_secret(store: Store) -> None:
    store.put_cluster("primary", "127.0.0.1:9092", {}, {"sasl.username": secret()}, "cli")
    profile, _ = store.put_cluster("primary", "127.0.0.1:9092", {"sasl.username": "mirror"}, {}, "cli")
    assert profile.secrets == {}
    assert profile.config == {"sasl.username": "mirror"}


def test_key_given_as_config_and_secret_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match=r"sasl\.jaas\.config"):
        store.put_cluster(
            "primary", "127.0.0.1:9092", {"sasl.jaas.config": "x"}, {"sasl.jaas.config": "y"}, "cli"
        )
    assert store.get_cluster("primary") is None


@pytest.mark.parametrize(
    ("name", "bootstrap", "config", "message"),
    [
        ("", "127.0.0.1:9092", {}, "cluster name"),
        ("x" * 256, "127.0.0.1:9092", {}, "cluster name"),
        ("primary", " ", {}, "bootstrap_servers"),
        ("primary", "127.0.0.1:9092", {"retries": 3}, "retries"),
    ],
)
def test_bad_cluster_input_names_the_field(
    store: Store, name: str, bootstrap: str, config: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.put_cluster(name, bootstrap, config, {}, "cli")  # type: ignore[arg-type]  # a non-str value on purpose
    assert store.list_clusters() == []
    assert store.audit_log() == []


def test_list_clusters_sorted_and_get_missing(store: Store) -> None:
    for name in ("west", "east", "north"):
        store.put_cluster(name, "127.0.0.1:9092", {}, {}, "cli")
    assert [profile.name for profile in store.list_clusters()] == ["east", "north", "west"]
    assert store.get_cluster("south") is None


def test_delete_cluster(store: Store) -> None:
    store.put_cluster("primary", "127.0.0.1:9092", {}, {}, "cli")
    store.delete_cluster("primary", "cli")
    assert store.get_cluster("primary") is None
    with pytest.raises(NotFoundError):
        store.delete_cluster("primary", "cli")


def test_cluster_used_by_a_flow_cannot_be_deleted(store: Store) -> None:
    store.put_cluster("primary", "127.0.0.1:9092", {}, {}, "cli")
    store.put_cluster("backup", "127.0.0.1:9093", {}, {}, "cli")
    store.create_flow("primary->backup", "primary", "backup", {}, {}, TargetState.RUNNING, "cli")
    for name in ("primary", "backup"):
        with pytest.raises(InUseError, match="primary->backup"):
            store.delete_cluster(name, "cli")
    store.delete_flow("primary->backup", "cli")
    store.delete_cluster("primary", "cli")
    assert [profile.name for profile in store.list_clusters()] == ["backup"]


def test_cluster_audit_names_changed_keys_never_secret_values(store: Store) -> None:
    jaas, new_jaas = secret(), secret()
    store.put_cluster(
        "primary", "127.0.0.1:9092", {"security.protocol": "SASL_SSL"}, {"sasl.jaas.config": jaas}, "ops"
    )
    store.put_cluster(
        "primary", "127.0.0.1:9092", {"security.protocol": "SASL_SSL"}, {"sasl.jaas.config": new_jaas}, "ops"
    )
    store.delete_cluster("primary", "ops")

    entries = store.audit_log()
    assert [(entry.action, entry.actor, entry.resource) for entry in entries] == [
        ("cluster.delete", "ops", "clusters/primary"),
        ("cluster.update", "ops", "clusters/primary"),
        ("cluster.create", "ops", "clusters/primary"),
    ]
    assert entries[1].detail["changed_secret_keys"] == "sasl.jaas.config"
    assert entries[1].detail["changed_config_keys"] == ""
    assert entries[2].detail["secret_keys"] == "sasl.jaas.config"
    for entry in entries:
        for value in entry.detail.values():
            assert jaas not in value
            assert new_jaas not in value
