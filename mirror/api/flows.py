"""``/flows``: an A->B replication as one resource owning its source, checkpoint and heartbeat
connectors (``mirror.service.flows`` expands it)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, jsonify

from mirror.api import views
from mirror.api.bodies import (
    JsonObject,
    check_simple_name,
    config_map,
    config_patch,
    json_body,
    json_object,
    optional_string,
    required_string,
)
from mirror.api.connectors import INITIAL_STATES
from mirror.api.context import actor, store
from mirror.api.errors import ApiError, bad_request, not_found
from mirror.api.responses import empty, location
from mirror.service.flows import default_flow_name, expand_flow, flow_config_errors
from mirror.store.records import FlowRecord, TargetState

blueprint = Blueprint("flows", __name__)


def _flow_or_404(name: str) -> FlowRecord:
    record = store().get_flow(name)
    if record is None:
        raise not_found(f"Flow {name} not found")
    return record


def _view(record: FlowRecord) -> JsonObject:
    statuses = []
    for name in record.connectors:
        connector = store().get_connector(name)
        if connector is not None:
            statuses.append(
                views.connector_status(connector, store().connector_state(name), store().task_states(name))
            )
    return views.flow(record, statuses)


def _members(
    name: str, source: str, target: str, config: Mapping[str, str]
) -> dict[str, tuple[str, Mapping[str, str]]]:
    errors = flow_config_errors(name, source, target, config)
    if errors:
        lines = "\n".join(str(error) for error in errors)
        raise bad_request(
            f"Flow configuration is invalid and contains the following {len(errors)} error(s):\n{lines}"
        )
    return {
        connector.name: (connector.connector_class, connector.config)
        for connector in expand_flow(name, source, target, config)
    }


def _cluster_name(body: Mapping[str, object], field: str) -> str:
    name = required_string(body, field)
    if store().get_cluster(name) is None:
        raise bad_request(f"{field!r}: cluster {name} does not exist; create it with POST /clusters first")
    return name


@blueprint.get("/flows")
def list_flows() -> Response:
    return jsonify([_view(record) for record in store().list_flows()])


@blueprint.post("/flows")
def create_flow() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    source = _cluster_name(body, "source")
    target = _cluster_name(body, "target")
    if source == target:
        raise bad_request(f"'source' and 'target' are the same cluster ({source})")
    name = optional_string(body, "name") or default_flow_name(source, target)
    check_simple_name("flow", name)
    config = config_map("config", body.get("config", {}))
    initial = optional_string(body, "initial_state") or "RUNNING"
    target_state = INITIAL_STATES.get(initial.upper())
    if target_state is None:
        raise bad_request(f"initial_state must be one of RUNNING, PAUSED, STOPPED, not {initial!r}")
    members = _members(name, source, target, config)
    if store().get_flow(name) is not None:
        raise ApiError(409, f"Flow {name} already exists")
    taken = sorted(member for member in members if store().get_connector(member) is not None)
    if taken:
        raise ApiError(409, f"Flow {name} needs connector names that exist already: {', '.join(taken)}")
    record = store().create_flow(
        name, source, target, config, connectors=members, target_state=target_state, actor=actor()
    )
    return jsonify(_view(record)), 201, {"Location": location("flows", name)}


@blueprint.get("/flows/<name>")
def get_flow(name: str) -> Response:
    return jsonify(_view(_flow_or_404(name)))


@blueprint.delete("/flows/<name>")
def delete_flow(name: str) -> Response:
    _flow_or_404(name)
    store().delete_flow(name, actor=actor())
    return empty(204)


def _replace_config(record: FlowRecord, config: Mapping[str, str]) -> Response:
    members = _members(record.name, record.source_cluster, record.target_cluster, config)
    updated = store().update_flow(record.name, config, connectors=members, actor=actor())
    return jsonify(_view(updated))


@blueprint.put("/flows/<name>/config")
def put_config(name: str) -> Response:
    config = config_map("Request body", json_body())
    return _replace_config(_flow_or_404(name), config)


@blueprint.patch("/flows/<name>/config")
def patch_config(name: str) -> Response:
    patch = config_patch("Request body", json_body())
    record = _flow_or_404(name)
    merged = dict(record.config)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return _replace_config(record, merged)


def _set_state(name: str, state: TargetState) -> tuple[Response, int]:
    _flow_or_404(name)
    return jsonify(_view(store().set_flow_state(name, state, actor=actor()))), 202


@blueprint.put("/flows/<name>/pause")
def pause_flow(name: str) -> tuple[Response, int]:
    return _set_state(name, TargetState.PAUSED)


@blueprint.put("/flows/<name>/resume")
def resume_flow(name: str) -> tuple[Response, int]:
    return _set_state(name, TargetState.RUNNING)


@blueprint.put("/flows/<name>/stop")
def stop_flow(name: str) -> tuple[Response, int]:
    return _set_state(name, TargetState.STOPPED)
