"""``/clusters``: connection profiles of Kafka clusters. Secret keys of a profile's config are
stored apart and never returned: responses list their names under ``secrets``."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, jsonify

from mirror.api import views
from mirror.api.bodies import check_cluster_name, config_map, json_object, required_string
from mirror.api.context import actor, store
from mirror.api.errors import ApiError, bad_request, not_found
from mirror.api.responses import empty, location
from mirror.config.errors import ConfigErrors
from mirror.config.librdkafka import ROLES, client_value_problem, to_librdkafka
from mirror.service.redaction import HIDDEN, is_secret_key
from mirror.store.records import ClusterProfile

blueprint = Blueprint("clusters", __name__)

_NOT_IN_CONFIG = {
    "bootstrap.servers": "give it as bootstrap_servers",
    "client.id": "the service names its clients",
}


def _split(config: Mapping[str, str], stored: ClusterProfile | None) -> tuple[dict[str, str], dict[str, str]]:
    """(plain config, secrets); a secret sent back as ``[hidden]`` keeps its stored value."""
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for key, value in config.items():
        if not is_secret_key(key):
            plain[key] = value
        elif value != HIDDEN:
            secrets[key] = value
        elif stored is None or key not in stored.secrets:
            raise bad_request(
                f"config: {key}: {HIDDEN} stands for a stored secret, but none is stored; send the value"
            )
    return plain, secrets


def _check_client_config(config: Mapping[str, str]) -> None:
    """Every key must be a Kafka client setting the clients may use, checked for each client role a
    profile serves (the S3 connectors hand it to consumers and producers too); errors never quote
    secrets."""
    for key, reason in _NOT_IN_CONFIG.items():
        if key in config:
            raise bad_request(f"config: {key}: not allowed here: {reason}")
    first_error_of_key: dict[str | None, str] = {}
    for role in ROLES:
        try:
            to_librdkafka(config, role)
        except ConfigErrors as failure:
            for error in failure.errors:
                first_error_of_key.setdefault(error.key, str(error))
    if first_error_of_key:
        raise bad_request("config: " + "; ".join(first_error_of_key.values()))


def _check_bootstrap_servers(body: Mapping[str, object]) -> str:
    bootstrap = required_string(body, "bootstrap_servers").strip()
    if not bootstrap:
        raise bad_request("'bootstrap_servers' must not be empty")
    problem = client_value_problem("bootstrap.servers", bootstrap)
    if problem is not None:
        raise bad_request(f"bootstrap_servers: {problem}")
    return bootstrap


def _profile_body(name: str, body: Mapping[str, object], stored: ClusterProfile | None) -> ClusterProfile:
    bootstrap = _check_bootstrap_servers(body)
    config = config_map("config", body.get("config", {}))
    _check_client_config({key: value for key, value in config.items() if value != HIDDEN})
    plain, secrets = _split(config, stored)
    profile, _created = store().put_cluster(name, bootstrap, plain, secrets, actor=actor())
    return profile


@blueprint.get("/clusters")
def list_clusters() -> Response:
    return jsonify([views.cluster(profile) for profile in store().list_clusters()])


@blueprint.post("/clusters")
def create_cluster() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    name = required_string(body, "name")
    check_cluster_name(name)
    if store().get_cluster(name) is not None:
        raise ApiError(409, f"Cluster {name} already exists")
    profile = _profile_body(name, body, None)
    return jsonify(views.cluster(profile)), 201, {"Location": location("clusters", name)}


@blueprint.get("/clusters/<name>")
def get_cluster(name: str) -> Response:
    profile = store().get_cluster(name)
    if profile is None:
        raise not_found(f"Cluster {name} not found")
    return jsonify(views.cluster(profile))


@blueprint.put("/clusters/<name>")
def put_cluster(name: str) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    body = json_object()
    if "name" in body and body["name"] != name:
        raise bad_request(
            f"Cluster name in the body ({body['name']}) doesn't match the name in the URL ({name})"
        )
    stored = store().get_cluster(name)
    if stored is None:
        check_cluster_name(name)
    profile = _profile_body(name, body, stored)
    if stored is None:
        return jsonify(views.cluster(profile)), 201, {"Location": location("clusters", name)}
    return jsonify(views.cluster(profile)), 200


@blueprint.delete("/clusters/<name>")
def delete_cluster(name: str) -> Response:
    if store().get_cluster(name) is None:
        raise not_found(f"Cluster {name} not found")
    store().delete_cluster(name, actor=actor())
    return empty(204)
