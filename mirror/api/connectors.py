"""Kafka Connect's ``/connectors`` endpoints over the store.

Writes change desired state only (configs, target states, restart requests); the service runtime
reconciles the running connectors and reports their states back, which ``/status`` reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from flask import Blueprint, Response, jsonify, request

from mirror.api import views
from mirror.api.bodies import (
    JsonObject,
    bool_param,
    check_connector_name,
    config_map,
    config_patch,
    json_body,
    json_object,
    optional_string,
    refuse_unstorable_url,
    required_string,
)
from mirror.api.context import actor, api, store
from mirror.api.errors import ApiError, bad_request, not_found
from mirror.api.responses import empty, location
from mirror.runtime.status import State
from mirror.service.offsets import (
    ConnectorOffset,
    InvalidOffsetsError,
    OffsetsAdmin,
    OffsetValue,
)
from mirror.service.plugins import PLUGINS, Plugin, find_plugin, validate_config
from mirror.service.redaction import HIDDEN, hidden_keys, redact
from mirror.store.records import ConnectorRecord, ConnectorState, TargetState, TaskState

blueprint = Blueprint("connectors", __name__)
# Every route's URL, not only this blueprint's (bodies are checked where they are parsed).
blueprint.before_app_request(refuse_unstorable_url)

INITIAL_STATES = {
    "RUNNING": TargetState.RUNNING,
    "PAUSED": TargetState.PAUSED,
    "STOPPED": TargetState.STOPPED,
}
OFFSETS_ALTERED = "The offsets for this connector have been altered successfully"
OFFSETS_RESET = "The offsets for this connector have been reset successfully"


# ---- helpers --------------------------------------------------------------------------------------
def connector_or_404(name: str, message: str | None = None) -> ConnectorRecord:
    record = store().get_connector(name)
    if record is None:
        raise not_found(message or f"Connector {name} not found")
    return record


def observed(name: str) -> tuple[ConnectorState | None, list[TaskState]]:
    return store().connector_state(name), store().task_states(name)


def info_of(record: ConnectorRecord) -> JsonObject:
    return views.connector_info(record, *observed(record.name))


def status_of(record: ConnectorRecord) -> JsonObject:
    return views.connector_status(record, *observed(record.name))


def not_owned_by_flow(record: ConnectorRecord) -> None:
    if record.flow is not None:
        raise bad_request(
            f"Connector {record.name} belongs to flow {record.flow}: change it through /flows/{record.flow}"
        )


def unhide(config: Mapping[str, str], stored: Mapping[str, str] | None) -> dict[str, str]:
    """``[hidden]`` sent back for a secret key keeps the stored value."""
    restored = dict(config)
    for key in hidden_keys(config):
        if stored is None or key not in stored:
            raise bad_request(
                f"{key}: {HIDDEN} stands for a stored secret, but none is stored; send the value"
            )
        restored[key] = stored[key]
    return restored


def plugin_of(config: Mapping[str, str]) -> tuple[str, Plugin]:
    connector_class = config.get("connector.class")
    if connector_class is None or not connector_class.strip():
        raise bad_request(f"Connector config {redact(config)} contains no connector type")
    plugin = find_plugin(connector_class)
    if plugin is None:
        available = ", ".join(plugin.java_class for plugin in PLUGINS)
        raise bad_request(
            f"Failed to find any class that implements Connector and which name matches "
            f"{connector_class}, available connectors are: {available}"
        )
    return connector_class, plugin


def checked_config(name: str, config: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The config to store (``name`` set) and its ``connector.class``; 400 naming every problem."""
    if "name" in config and config["name"] != name:
        raise bad_request(
            f"Connector name configuration ({config['name']}) doesn't match connector name "
            f"in the URL ({name})"
        )
    complete = {**config, "name": name}
    connector_class, plugin = plugin_of(complete)
    validation = validate_config(plugin, complete)
    if validation.error_count:
        lines = "\n".join(validation.messages())
        raise bad_request(
            "Connector configuration is invalid and contains the following "
            f"{validation.error_count} error(s):\n"
            f"{lines}\nYou can also find the above list of errors at the endpoint "
            f"`/connector-plugins/{plugin.java_class}/config/validate`"
        )
    return connector_class, complete


def expand_values() -> list[str]:
    """Repeated ``expand`` parameters, each possibly a comma list (Confluent Cloud's style)."""
    return [
        part.strip() for value in request.args.getlist("expand") for part in value.split(",") if part.strip()
    ]


# ---- collection -----------------------------------------------------------------------------------
@blueprint.get("/connectors")
def list_connectors() -> Response:
    records = store().list_connectors()
    if "expand" not in request.args:
        return jsonify([record.name for record in records])
    wanted = expand_values()
    expanded: dict[str, JsonObject] = {}
    statuses = store().all_statuses()
    for record in records:
        state, tasks = statuses.of(record.name)
        entry: JsonObject = {}
        if "status" in wanted:
            entry["status"] = views.connector_status(record, state, tasks)
        if "info" in wanted:
            entry["info"] = views.connector_info(record, state, tasks)
        expanded[record.name] = entry
    return jsonify(expanded)


@blueprint.post("/connectors")
def create_connector() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    name = required_string(body, "name")
    check_connector_name(name)
    if "config" not in body:
        raise bad_request("'config' is required")
    config = config_map("config", body["config"])
    initial = optional_string(body, "initial_state") or "RUNNING"
    target_state = INITIAL_STATES.get(initial.upper())
    if target_state is None:
        raise bad_request(f"initial_state must be one of RUNNING, PAUSED, STOPPED, not {initial!r}")
    connector_class, complete = checked_config(name, unhide(config, None))
    if store().get_connector(name) is not None:
        raise ApiError(409, f"Connector {name} already exists")
    record = store().create_connector(
        name, connector_class, complete, target_state=target_state, actor=actor(), flow=None
    )
    return jsonify(info_of(record)), 201, {"Location": location("connectors", name)}


# ---- one connector --------------------------------------------------------------------------------
@blueprint.get("/connectors/<name>")
def get_connector(name: str) -> Response:
    return jsonify(info_of(connector_or_404(name)))


@blueprint.delete("/connectors/<name>")
def delete_connector(name: str) -> Response:
    record = connector_or_404(name)
    not_owned_by_flow(record)
    store().delete_connector(name, actor=actor())
    return empty(204)


@blueprint.get("/connectors/<name>/config")
def get_config(name: str) -> Response:
    return jsonify(views.connector_config(connector_or_404(name)))


@blueprint.put("/connectors/<name>/config")
def put_config(name: str) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    config = config_map("Request body", json_body())
    existing = store().get_connector(name)
    if existing is None:
        check_connector_name(name)
    else:
        not_owned_by_flow(existing)
    connector_class, complete = checked_config(
        name, unhide(config, None if existing is None else existing.config)
    )
    record, created = store().put_connector_config(name, connector_class, complete, actor=actor())
    if created:
        return jsonify(info_of(record)), 201, {"Location": location("connectors", name)}
    return jsonify(info_of(record)), 200


@blueprint.patch("/connectors/<name>/config")
def patch_config(name: str) -> Response:
    patch = config_patch("Request body", json_body())
    existing = connector_or_404(name)
    not_owned_by_flow(existing)
    removed = {key for key, value in patch.items() if value is None}
    updates = unhide({key: value for key, value in patch.items() if value is not None}, existing.config)
    merged = {key: value for key, value in existing.config.items() if key not in removed} | updates
    connector_class, complete = checked_config(name, merged)
    record, _created = store().put_connector_config(name, connector_class, complete, actor=actor())
    return jsonify(info_of(record))


@blueprint.get("/connectors/<name>/status")
def get_status(name: str) -> Response:
    return jsonify(status_of(connector_or_404(name)))


def _restart_plan(record: ConnectorRecord, include_tasks: bool, only_failed: bool) -> JsonObject:
    """Connect's 202 body: what will restart shows RESTARTING, the rest keeps its state."""
    state, tasks = observed(record.name)
    connector = views.connector_state(record, state)
    if not only_failed or connector["state"] == State.FAILED:
        connector["state"] = State.RESTARTING.value
        connector.pop("trace", None)
    planned = []
    for task in views.visible_tasks(state, tasks):
        shown = views.task_state(task)
        if include_tasks and (not only_failed or task.state == State.FAILED):
            shown["state"] = State.RESTARTING.value
            shown.pop("trace", None)
        planned.append(shown)
    return {
        "name": record.name,
        "connector": connector,
        "tasks": planned,
        "type": views.connector_type(record),
    }


@blueprint.post("/connectors/<name>/restart")
def restart_connector(name: str) -> Response | tuple[Response, int]:
    include_tasks = bool_param("includeTasks")
    only_failed = bool_param("onlyFailed")
    record = connector_or_404(name, f"Unknown connector: {name}")
    plan = _restart_plan(record, include_tasks, only_failed)
    store().request_restart(name, None, include_tasks=include_tasks, only_failed=only_failed, actor=actor())
    if not include_tasks and not only_failed:
        return empty(204)
    return jsonify(plan), 202


@blueprint.put("/connectors/<name>/pause")
def pause_connector(name: str) -> Response:
    connector_or_404(name, f"Unknown connector {name}")
    store().set_target_state(name, TargetState.PAUSED, actor=actor())
    return empty(202)


@blueprint.put("/connectors/<name>/resume")
def resume_connector(name: str) -> Response:
    connector_or_404(name, f"Unknown connector {name}")
    store().set_target_state(name, TargetState.RUNNING, actor=actor())
    return empty(202)


@blueprint.put("/connectors/<name>/stop")
def stop_connector(name: str) -> Response:
    connector_or_404(name, f"Unknown connector {name}")
    store().set_target_state(name, TargetState.STOPPED, actor=actor())
    return empty(204)


# ---- tasks ----------------------------------------------------------------------------------------
def _task_config(record: ConnectorRecord) -> dict[str, str]:
    """Task configs are computed by the running connector and not stored: this shows the connector
    config the tasks start from, with the task class Connect adds."""
    plugin = find_plugin(record.connector_class)
    config = views.connector_config(record)
    if plugin is not None:
        config["task.class"] = plugin.task_class
    return config


@blueprint.get("/connectors/<name>/tasks")
def list_tasks(name: str) -> Response:
    record = connector_or_404(name)
    state, tasks = observed(name)
    config = _task_config(record)
    return jsonify(
        [
            {"id": {"connector": name, "task": task.task_id}, "config": config}
            for task in views.visible_tasks(state, tasks)
        ]
    )


@blueprint.get("/connectors/<name>/tasks-config")
def tasks_config(name: str) -> Response:
    """Deprecated in Connect 3.7 and removed in 4.0; older kcctl versions still call it."""
    record = connector_or_404(name)
    state, tasks = observed(name)
    config = _task_config(record)
    return jsonify({f"{name}-{task.task_id}": config for task in views.visible_tasks(state, tasks)})


def _task_or_404(name: str, task_id: int, message: str) -> TaskState:
    for task in store().task_states(name):
        if task.task_id == task_id:
            return task
    raise not_found(message)


@blueprint.get("/connectors/<name>/tasks/<int:task_id>/status")
def task_status(name: str, task_id: int) -> Response:
    connector_or_404(name, f"No status found for task {name}-{task_id}")
    return jsonify(
        views.task_state(_task_or_404(name, task_id, f"No status found for task {name}-{task_id}"))
    )


@blueprint.post("/connectors/<name>/tasks/<int:task_id>/restart")
def restart_task(name: str, task_id: int) -> Response:
    connector_or_404(name, f"Unknown connector: {name}")
    _task_or_404(name, task_id, f"Unknown task: {name}-{task_id}")
    store().request_restart(name, task_id, include_tasks=False, only_failed=False, actor=actor())
    return empty(204)


# ---- topics: not tracked (Connect's answer with topic.tracking.enable=false) ---------------------
@blueprint.get("/connectors/<name>/topics")
def active_topics(name: str) -> Response:
    raise ApiError(403, "Topic tracking is disabled.")


@blueprint.put("/connectors/<name>/topics/reset")
def reset_topics(name: str) -> Response:
    raise ApiError(403, "Topic tracking is disabled.")


# ---- offsets --------------------------------------------------------------------------------------
def _offsets_admin() -> OffsetsAdmin:
    admin = api().settings.offsets
    if admin is None:
        raise ApiError(503, "Connector offsets are not available in this process (no Kafka offsets service)")
    return admin


def _require_stopped(record: ConnectorRecord) -> None:
    if record.target_state != TargetState.STOPPED or store().task_states(record.name):
        raise bad_request(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done "
            f"for the specified connector by issuing a 'PUT' request to the '/connectors/{record.name}/stop' "
            "endpoint"
        )


def _primitive_map(what: str, index: int, value: object) -> dict[str, OffsetValue]:
    if not isinstance(value, dict):
        raise bad_request(f"offsets[{index}].{what} must be a JSON object")
    for key, item in value.items():
        if item is not None and not isinstance(item, str | int | float | bool):
            raise bad_request(f"offsets[{index}].{what}.{key} must be a string, number, boolean or null")
        if isinstance(item, int) and not -(2**63) <= item < 2**63:
            # Connect reads these numbers as Java longs; Kafka offsets are longs too.
            raise bad_request(f"offsets[{index}].{what}.{key} is outside the range of a 64-bit integer")
    return dict(value)


def _offsets_request() -> list[ConnectorOffset]:
    body = json_object()
    entries = body.get("offsets")
    if entries is None or (isinstance(entries, list) and not entries):
        raise bad_request("Partitions / offsets need to be provided for an alter offsets request")
    if not isinstance(entries, list):
        raise bad_request("'offsets' must be a JSON array")
    offsets = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise bad_request(f"offsets[{index}] must be a JSON object with 'partition' and 'offset'")
        if entry.get("partition") is None:
            raise bad_request(
                f"offsets[{index}]: The partition for a source connector offset cannot be null or missing"
            )
        partition = _primitive_map("partition", index, entry["partition"])
        raw_offset = entry.get("offset")
        offset = None if raw_offset is None else _primitive_map("offset", index, raw_offset)
        offsets.append(ConnectorOffset(partition=partition, offset=offset))
    return offsets


@contextmanager
def _timeout_is_unavailable() -> Iterator[None]:
    """An offsets service that gives up waiting on Kafka makes a 503, like any other outage."""
    try:
        yield
    except TimeoutError as error:  # concurrent.futures.TimeoutError is this class since Python 3.11
        raise ApiError(
            503, f"Connector offsets are not available: Kafka did not answer in time ({error})"
        ) from None


@blueprint.get("/connectors/<name>/offsets")
def get_offsets(name: str) -> Response:
    record = connector_or_404(name)
    with _timeout_is_unavailable():
        offsets = _offsets_admin().get(record)
    return jsonify(
        {
            "offsets": [
                {"partition": dict(item.partition), "offset": item.offset and dict(item.offset)}
                for item in offsets
            ]
        }
    )


@blueprint.patch("/connectors/<name>/offsets")
def alter_offsets(name: str) -> Response:
    offsets = _offsets_request()
    record = connector_or_404(name)
    admin = _offsets_admin()
    _require_stopped(record)
    try:
        with _timeout_is_unavailable():
            admin.alter(record, offsets)
    except InvalidOffsetsError as error:
        raise bad_request(str(error)) from None
    store().audit(actor(), "connector.offsets.alter", f"connectors/{name}", {"partitions": str(len(offsets))})
    return jsonify({"message": OFFSETS_ALTERED})


@blueprint.delete("/connectors/<name>/offsets")
def reset_offsets(name: str) -> Response:
    record = connector_or_404(name)
    admin = _offsets_admin()
    _require_stopped(record)
    try:
        with _timeout_is_unavailable():
            admin.reset(record)
    except InvalidOffsetsError as error:
        raise bad_request(str(error)) from None
    store().audit(actor(), "connector.offsets.reset", f"connectors/{name}", {})
    return jsonify({"message": OFFSETS_RESET})
