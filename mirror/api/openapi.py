"""The OpenAPI 3.0 description of every route (served at ``GET /openapi.json``).

Hand-written: the API is small, its shapes are Connect's, and a test keeps this document and
the Flask url map in step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mirror.api.schedules import MAX_INTERVAL_SECONDS, SCHEDULE_ACTIONS

Schema = dict[str, Any]

_STRING: Schema = {"type": "string"}
_INTEGER: Schema = {"type": "integer"}
_BOOLEAN: Schema = {"type": "boolean"}
_TIME: Schema = {"type": "string", "format": "date-time"}
_STRING_MAP: Schema = {"type": "object", "additionalProperties": _STRING}
_CONFIG_VALUE: Schema = {"anyOf": [_STRING, {"type": "number"}, _BOOLEAN]}
_CONFIG_IN: Schema = {
    "type": "object",
    "additionalProperties": _CONFIG_VALUE,
    "description": "Flat map of config keys; numbers and booleans are stored as strings.",
}
_CONFIG_PATCH: Schema = {
    "type": "object",
    "additionalProperties": {**_CONFIG_VALUE, "nullable": True},
    "description": "Keys to set; a null value removes the key.",
}
_PRIMITIVE: Schema = {"nullable": True, "anyOf": [_STRING, {"type": "number"}, _BOOLEAN]}
_PRIMITIVE_MAP: Schema = {"type": "object", "additionalProperties": _PRIMITIVE}
_INITIAL_STATE: Schema = {
    "type": "string",
    "nullable": True,
    "description": "RUNNING (default), PAUSED or STOPPED, in any case.",
}
_NAME_LENGTH = 255
_CLUSTER_NAME: Schema = {
    "type": "string",
    "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$",
    "maxLength": _NAME_LENGTH,
    "description": "An MM2 alias: letters, digits, '_' and '-'.",
}
_SIMPLE_NAME: Schema = {
    "type": "string",
    "nullable": True,
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
    "maxLength": _NAME_LENGTH - len("-checkpoint"),
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], required: Iterable[str] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    wanted = list(required)
    if wanted:
        schema["required"] = wanted
    return schema


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


_OFFSET = _object(
    {"partition": _PRIMITIVE_MAP, "offset": {**_PRIMITIVE_MAP, "nullable": True}}, ["partition"]
)
_TASK_STATE = _object(
    {"id": _INTEGER, "state": _STRING, "worker_id": _STRING, "trace": _STRING}, ["id", "state", "worker_id"]
)
_CONFIG_KEY_INFO = _object(
    {
        "name": _STRING,
        "type": _STRING,
        "required": _BOOLEAN,
        "default_value": {**_STRING, "nullable": True},
        "importance": _STRING,
        "documentation": _STRING,
        "group": _STRING,
        "width": _STRING,
        "display_name": _STRING,
        "dependents": _array(_STRING),
        "order": _INTEGER,
    },
    ["name", "type", "required", "default_value", "importance", "group", "order"],
)

SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {"error_code": _INTEGER, "message": {**_STRING, "nullable": True}}, ["error_code", "message"]
    ),
    "ServerInfo": _object(
        {"version": _STRING, "commit": _STRING, "kafka_cluster_id": {**_STRING, "nullable": True}},
        ["version", "commit", "kafka_cluster_id"],
    ),
    "Health": _object({"status": _STRING, "message": _STRING}, ["status", "message"]),
    "ConnectorInfo": _object(
        {
            "name": _STRING,
            "config": _STRING_MAP,
            "tasks": _array(_object({"connector": _STRING, "task": _INTEGER}, ["connector", "task"])),
            "type": {"type": "string", "enum": ["source", "sink", "unknown"]},
        },
        ["name", "config", "tasks", "type"],
    ),
    "TaskState": _TASK_STATE,
    "ConnectorStateInfo": _object(
        {
            "name": _STRING,
            "connector": _object(
                {"state": _STRING, "worker_id": _STRING, "trace": _STRING}, ["state", "worker_id"]
            ),
            "tasks": _array(_ref("TaskState")),
            "type": {"type": "string", "enum": ["source", "sink", "unknown"]},
        },
        ["name", "connector", "tasks", "type"],
    ),
    "ConnectorExpanded": _object({"info": _ref("ConnectorInfo"), "status": _ref("ConnectorStateInfo")}),
    "CreateConnectorRequest": _object(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": _NAME_LENGTH},
            "config": _CONFIG_IN,
            "initial_state": _INITIAL_STATE,
        },
        ["name", "config"],
    ),
    "TaskInfo": _object(
        {
            "id": _object({"connector": _STRING, "task": _INTEGER}, ["connector", "task"]),
            "config": _STRING_MAP,
        },
        ["id", "config"],
    ),
    "Offsets": _object({"offsets": _array(_OFFSET)}, ["offsets"]),
    "OffsetsRequest": _object({"offsets": {**_array(_OFFSET), "minItems": 1}}, ["offsets"]),
    "Message": _object({"message": _STRING}, ["message"]),
    "PluginInfo": _object({"class": _STRING, "type": _STRING, "version": _STRING}, ["class", "type"]),
    "ConfigKeyInfo": _CONFIG_KEY_INFO,
    "ConfigInfos": _object(
        {
            "name": _STRING,
            "error_count": _INTEGER,
            "groups": _array(_STRING),
            "configs": _array(
                _object(
                    {
                        "definition": {**_CONFIG_KEY_INFO, "nullable": True},
                        "value": _object(
                            {
                                "name": _STRING,
                                "value": {**_STRING, "nullable": True},
                                "recommended_values": _array(_STRING),
                                "errors": _array(_STRING),
                                "visible": _BOOLEAN,
                            },
                            ["name", "value", "recommended_values", "errors", "visible"],
                        ),
                    },
                    ["definition", "value"],
                )
            ),
        },
        ["name", "error_count", "groups", "configs"],
    ),
    "LoggerLevel": _object(
        {"level": _STRING, "last_modified": {**_INTEGER, "nullable": True}}, ["level", "last_modified"]
    ),
    "SetLoggerLevel": _object({"level": _STRING}, ["level"]),
    "Cluster": _object(
        {
            "name": _STRING,
            "bootstrap_servers": _STRING,
            "config": _STRING_MAP,
            "secrets": {
                **_array(_STRING),
                "description": "Names of the secret keys stored; values are never returned.",
            },
            "created_at": _TIME,
            "updated_at": _TIME,
        },
        ["name", "bootstrap_servers", "config", "secrets", "created_at", "updated_at"],
    ),
    "ClusterRequest": _object(
        {
            "name": {
                **_CLUSTER_NAME,
                "description": "Required on POST; an MM2 alias: letters, digits, '_', '-'.",
            },
            "bootstrap_servers": _STRING,
            "config": {
                **_CONFIG_IN,
                "description": "Kafka client keys (Java names). Secret-looking keys are stored apart and "
                "never returned; '[hidden]' keeps a stored secret.",
            },
        },
        ["bootstrap_servers"],
    ),
    "Flow": _object(
        {
            "name": _STRING,
            "source": _STRING,
            "target": _STRING,
            "config": _STRING_MAP,
            "target_state": {"type": "string", "enum": ["RUNNING", "PAUSED", "STOPPED"]},
            "connectors": _array(_ref("ConnectorStateInfo")),
            "created_at": _TIME,
            "updated_at": _TIME,
        },
        ["name", "source", "target", "config", "target_state", "connectors", "created_at", "updated_at"],
    ),
    "FlowRequest": _object(
        {
            "name": {**_SIMPLE_NAME, "description": "Default: '<source>-<target>'."},
            "source": _STRING,
            "target": _STRING,
            "config": {
                **_CONFIG_IN,
                "description": "MM2 flow-level keys, e.g. topics, sync.group.offsets.enabled.",
            },
            "initial_state": _INITIAL_STATE,
        },
        ["source", "target"],
    ),
    "Schedule": _object(
        {
            "id": _STRING,
            "action": _STRING,
            "target": _STRING,
            "trigger": {"type": "string", "enum": ["cron", "interval"]},
            "cron": _STRING,
            "interval_seconds": _INTEGER,
            "enabled": _BOOLEAN,
            "created_at": _TIME,
            "runs": _array(
                _object(
                    {
                        "scheduled_for": _TIME,
                        "worker_id": _STRING,
                        "started_at": _TIME,
                        "finished_at": {**_TIME, "nullable": True},
                        "outcome": {**_STRING, "nullable": True},
                    },
                    ["scheduled_for", "worker_id", "started_at", "finished_at", "outcome"],
                )
            ),
        },
        ["id", "action", "target", "trigger", "enabled", "created_at", "runs"],
    ),
    "ScheduleRequest": _object(
        {
            "id": {**_SIMPLE_NAME, "description": "Default: '<action>-<target>-<random>'."},
            "action": {"type": "string", "enum": list(SCHEDULE_ACTIONS)},
            "target": {
                **_STRING,
                "description": "A flow name; for action 'backup', an S3SinkConnector, STOPPED when it fires: "
                "each firing backs up to the end offsets seen as it starts (outcome 'ok {records, bytes, "
                "objects, ...}').",
            },
            "cron": {**_STRING, "nullable": True, "description": "5-field crontab, e.g. '0 2 * * *' (UTC)."},
            "interval_seconds": {
                "type": "integer",
                "nullable": True,
                "minimum": 1,
                "maximum": MAX_INTERVAL_SECONDS,
            },
            "enabled": _BOOLEAN,
        },
        ["action", "target"],
    ),
    "AuditEntry": _object(
        {
            "id": _INTEGER,
            "at": _TIME,
            "actor": _STRING,
            "action": _STRING,
            "resource": _STRING,
            "detail": _STRING_MAP,
        },
        ["id", "at", "actor", "action", "resource", "detail"],
    ),
}

_NUMBER_OR_NULL: Schema = {"type": "number", "nullable": True}
_INTEGER_OR_NULL: Schema = {"type": "integer", "nullable": True}
SCHEMAS["FlowLag"] = _object(
    {
        "flow": _STRING,
        "sampled_at": {**_TIME, "nullable": True},
        "sample_age_seconds": _NUMBER_OR_NULL,
        "records": _INTEGER_OR_NULL,
        "seconds": _NUMBER_OR_NULL,
        "heartbeat_age_seconds": _NUMBER_OR_NULL,
        "checkpoint_age_seconds": _NUMBER_OR_NULL,
        "rpo_seconds": _NUMBER_OR_NULL,
        "topics": _array(_object({"topic": _STRING, "records": _INTEGER, "seconds": _NUMBER_OR_NULL})),
        "partitions": _array(
            _object(
                {
                    "topic": _STRING,
                    "partition": _INTEGER,
                    "source_end_offset": _INTEGER,
                    "next_offset": _INTEGER_OR_NULL,
                    "records": _INTEGER,
                    "seconds": _NUMBER_OR_NULL,
                }
            )
        ),
        "groups": _array(
            _object(
                {
                    "group": _STRING,
                    "topic": _STRING,
                    "partition": _INTEGER,
                    "committed_offset": _INTEGER,
                    "source_lag": _INTEGER,
                    "checkpoint_upstream_offset": _INTEGER_OR_NULL,
                    "target_lag": _INTEGER_OR_NULL,
                    "checkpoint_age_seconds": _NUMBER_OR_NULL,
                }
            )
        ),
    },
    ["flow", "sampled_at", "records", "seconds", "topics", "partitions", "groups"],
)
SCHEMAS["LagHistory"] = _object(
    {
        "since": _INTEGER,
        "until": _INTEGER,
        "tier": {"type": "string", "enum": ["raw", "minute", "quarter-hour"]},
        "step_seconds": _INTEGER,
        "series": _array(
            _object(
                {
                    "flow": _STRING,
                    "topic": _STRING,
                    "points": _array(
                        _object(
                            {"at": _INTEGER, "records": _INTEGER, "seconds": _NUMBER_OR_NULL},
                            ["at", "records", "seconds"],
                        )
                    ),
                },
                ["flow", "topic", "points"],
            )
        ),
    },
    ["since", "until", "tier", "step_seconds", "series"],
)
_TIME_QUERY: Schema = {"type": "string", "description": "seconds since the epoch, or ISO 8601 with a zone"}

_ERROR_TEXT = {
    400: "Bad request (the message says what is wrong and where: a field, a NUL or lone surrogate in "
    "a string or the URL, an integer of over 4,300 digits)",
    401: "No valid token",
    403: "The token's role does not allow this",
    404: "Not found",
    409: "Conflict (exists already, or in use)",
    413: "Request body too large",
    415: "Request body is not JSON",
    500: "Internal error (the message carries an incident id, never a stack trace)",
    503: "Offsets not available: no offsets service in this process, or a cluster did not answer within "
    "the request's deadline (MIRROR_API_OFFSETS_DEADLINE_S, default 10 s); the message names the cluster",
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _no_body(description: str) -> Schema:
    return {"description": description}


def _path(name: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema or _STRING}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_NAME = _path("name")
_TASK_ID = _path("task_id", {"type": "integer", "minimum": 0})


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[int, Schema],
    *,
    errors: Iterable[int] = (),
    parameters: Iterable[Schema] = (),
    body: Schema | None = None,
    public: bool = False,
) -> Schema:
    parameters = list(parameters)
    codes = set(errors) | {500}
    if not public:
        codes |= {401, 403}
    if body is not None:
        codes |= {400, 413, 415}
    if parameters:  # a NUL in a path or query value, which nothing stored can hold
        codes |= {400}
    all_responses = {str(status): response for status, response in responses.items()}
    for code in sorted(codes):
        all_responses[str(code)] = _json(_ref("Error"), _ERROR_TEXT[code])
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": all_responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if public:
        operation["security"] = []
    return operation


def _paths() -> dict[str, dict[str, Schema]]:
    info = _json(_ref("ConnectorInfo"), "The connector")
    status = _json(_ref("ConnectorStateInfo"), "The connector's observed state")
    flow = _json(_ref("Flow"), "The flow with its connectors' states")
    connect, ours = "Kafka Connect", "mirror"
    return {
        "/": {
            "get": _operation(
                "serverInfo",
                "Version (Connect's ServerInfo)",
                connect,
                {200: _json(_ref("ServerInfo"), "Server info")},
            )
        },
        "/health": {
            "get": _operation(
                "health",
                "Health (KIP-1017)",
                connect,
                {200: _json(_ref("Health"), "Healthy")},
                public=True,
            )
        },
        "/openapi.json": {
            "get": _operation(
                "openapi",
                "This document",
                ours,
                {200: _json({"type": "object"}, "OpenAPI 3.0 document")},
                public=True,
            )
        },
        "/connectors": {
            "get": _operation(
                "listConnectors",
                "Connector names, or with expand a map of name -> {info, status}",
                connect,
                {
                    200: _json(
                        {
                            "anyOf": [
                                _array(_STRING),
                                {"type": "object", "additionalProperties": _ref("ConnectorExpanded")},
                            ]
                        },
                        "Names, or the expanded map",
                    )
                },
                parameters=[
                    {
                        **_query(
                            "expand",
                            _array(_STRING),
                            "Repeatable: status, info (comma lists work too; other values are ignored)",
                        ),
                        "style": "form",
                        "explode": True,
                    }
                ],
            ),
            "post": _operation(
                "createConnector",
                "Create a connector",
                connect,
                {201: {**info, "headers": {"Location": {"schema": _STRING}}}},
                errors=[409],
                body=_ref("CreateConnectorRequest"),
            ),
        },
        "/connectors/{name}": {
            "get": _operation(
                "getConnector", "A connector", connect, {200: info}, errors=[404], parameters=[_NAME]
            ),
            "delete": _operation(
                "deleteConnector",
                "Delete a connector",
                connect,
                {204: _no_body("Deleted")},
                errors=[400, 404],
                parameters=[_NAME],
            ),
        },
        "/connectors/{name}/config": {
            "get": _operation(
                "getConnectorConfig",
                "Its config (secrets shown as [hidden])",
                connect,
                {200: _json(_STRING_MAP, "Config")},
                errors=[404],
                parameters=[_NAME],
            ),
            "put": _operation(
                "putConnectorConfig",
                "Create or replace its config ([hidden] keeps a stored secret)",
                connect,
                {200: info, 201: {**info, "headers": {"Location": {"schema": _STRING}}}},
                errors=[404],
                parameters=[_NAME],
                body=_CONFIG_IN,
            ),
            "patch": _operation(
                "patchConnectorConfig",
                "Change some keys (null removes a key)",
                connect,
                {200: info},
                errors=[404],
                parameters=[_NAME],
                body=_CONFIG_PATCH,
            ),
        },
        "/connectors/{name}/status": {
            "get": _operation(
                "getConnectorStatus",
                "Observed state",
                connect,
                {200: status},
                errors=[404],
                parameters=[_NAME],
            )
        },
        "/connectors/{name}/restart": {
            "post": _operation(
                "restartConnector",
                "Ask for a restart (204 for the connector alone, else 202 with the plan)",
                connect,
                {
                    204: _no_body("Restart requested"),
                    202: _json(_ref("ConnectorStateInfo"), "What will restart"),
                },
                errors=[400, 404],
                parameters=[
                    _NAME,
                    _query("includeTasks", _BOOLEAN, "Restart the tasks too"),
                    _query("onlyFailed", _BOOLEAN, "Only FAILED instances"),
                ],
            )
        },
        "/connectors/{name}/pause": {
            "put": _operation(
                "pauseConnector",
                "Pause",
                connect,
                {202: _no_body("Accepted")},
                errors=[404],
                parameters=[_NAME],
            )
        },
        "/connectors/{name}/resume": {
            "put": _operation(
                "resumeConnector",
                "Resume",
                connect,
                {202: _no_body("Accepted")},
                errors=[404],
                parameters=[_NAME],
            )
        },
        "/connectors/{name}/stop": {
            "put": _operation(
                "stopConnector", "Stop", connect, {204: _no_body("Stopped")}, errors=[404], parameters=[_NAME]
            )
        },
        "/connectors/{name}/tasks": {
            "get": _operation(
                "listTasks",
                "Its tasks (the connector config they start from)",
                connect,
                {200: _json(_array(_ref("TaskInfo")), "Tasks")},
                errors=[404],
                parameters=[_NAME],
            )
        },
        "/connectors/{name}/tasks-config": {
            "get": _operation(
                "tasksConfig",
                "Task configs by task id (deprecated in Connect)",
                connect,
                {200: _json({"type": "object", "additionalProperties": _STRING_MAP}, "Task configs")},
                errors=[404],
                parameters=[_NAME],
            )
        },
        "/connectors/{name}/tasks/{task_id}/status": {
            "get": _operation(
                "getTaskStatus",
                "A task's observed state",
                connect,
                {200: _json(_ref("TaskState"), "Task state")},
                errors=[404],
                parameters=[_NAME, _TASK_ID],
            )
        },
        "/connectors/{name}/tasks/{task_id}/restart": {
            "post": _operation(
                "restartTask",
                "Ask for a task restart",
                connect,
                {204: _no_body("Restart requested")},
                errors=[404],
                parameters=[_NAME, _TASK_ID],
            )
        },
        "/connectors/{name}/topics": {
            "get": _operation(
                "activeTopics",
                "Topic tracking is disabled: always 403",
                connect,
                {},
                errors=[],
                parameters=[_NAME],
            )
        },
        "/connectors/{name}/topics/reset": {
            "put": _operation(
                "resetTopics",
                "Topic tracking is disabled: always 403",
                connect,
                {},
                errors=[],
                parameters=[_NAME],
            )
        },
        "/connectors/{name}/offsets": {
            "get": _operation(
                "getOffsets",
                "Its source offsets (from Kafka)",
                connect,
                {200: _json(_ref("Offsets"), "Offsets")},
                errors=[404, 503],
                parameters=[_NAME],
            ),
            "patch": _operation(
                "alterOffsets",
                "Change offsets of a STOPPED connector (offset null resets a partition)",
                connect,
                {200: _json(_ref("Message"), "Altered")},
                errors=[404, 503],
                parameters=[_NAME],
                body=_ref("OffsetsRequest"),
            ),
            "delete": _operation(
                "resetOffsets",
                "Reset every offset of a STOPPED connector",
                connect,
                {200: _json(_ref("Message"), "Reset")},
                errors=[400, 404, 503],
                parameters=[_NAME],
            ),
        },
        "/connector-plugins": {
            "get": _operation(
                "listPlugins",
                "Connector plugins",
                connect,
                {200: _json(_array(_ref("PluginInfo")), "Plugins")},
                errors=[400],
                parameters=[_query("connectorsOnly", _BOOLEAN, "Only connectors (the only kind here)")],
            )
        },
        "/connector-plugins/{plugin}/config": {
            "get": _operation(
                "pluginConfig",
                "The plugin's config keys",
                connect,
                {200: _json(_array(_ref("ConfigKeyInfo")), "Config keys")},
                errors=[404],
                parameters=[_path("plugin")],
            )
        },
        "/connector-plugins/{plugin}/config/validate": {
            "put": _operation(
                "validateConfig",
                "Validate a config (errors are in the body, status 200)",
                connect,
                {200: _json(_ref("ConfigInfos"), "Validation")},
                parameters=[_path("plugin")],
                body=_CONFIG_PATCH,
            )
        },
        "/admin/loggers": {
            "get": _operation(
                "listLoggers",
                "Loggers with a level of their own",
                connect,
                {200: _json({"type": "object", "additionalProperties": _ref("LoggerLevel")}, "Levels")},
            )
        },
        "/admin/loggers/{logger}": {
            "get": _operation(
                "getLogger",
                "A logger's effective level",
                connect,
                {200: _json(_ref("LoggerLevel"), "Level")},
                errors=[404],
                parameters=[_path("logger")],
            ),
            "put": _operation(
                "setLoggerLevel",
                "Set a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF) in this process",
                connect,
                {200: _json(_array(_STRING), "Loggers changed"), 204: _no_body("Changed (scope=cluster)")},
                errors=[404],
                parameters=[_path("logger"), _query("scope", _STRING, "worker (default) or cluster")],
                body=_ref("SetLoggerLevel"),
            ),
        },
        "/clusters": {
            "get": _operation(
                "listClusters", "Cluster profiles", ours, {200: _json(_array(_ref("Cluster")), "Clusters")}
            ),
            "post": _operation(
                "createCluster",
                "Create a cluster profile",
                ours,
                {201: {**_json(_ref("Cluster"), "Created"), "headers": {"Location": {"schema": _STRING}}}},
                errors=[409],
                body=_ref("ClusterRequest"),
            ),
        },
        "/clusters/{name}": {
            "get": _operation(
                "getCluster",
                "A cluster profile",
                ours,
                {200: _json(_ref("Cluster"), "Cluster")},
                errors=[404],
                parameters=[_NAME],
            ),
            "put": _operation(
                "putCluster",
                "Create or replace (omitted or [hidden] secrets keep their stored value)",
                ours,
                {
                    200: _json(_ref("Cluster"), "Replaced"),
                    201: {**_json(_ref("Cluster"), "Created"), "headers": {"Location": {"schema": _STRING}}},
                },
                parameters=[_NAME],
                body=_ref("ClusterRequest"),
            ),
            "delete": _operation(
                "deleteCluster",
                "Delete (409 while a flow uses it)",
                ours,
                {204: _no_body("Deleted")},
                errors=[404, 409],
                parameters=[_NAME],
            ),
        },
        "/flows": {
            "get": _operation("listFlows", "Flows", ours, {200: _json(_array(_ref("Flow")), "Flows")}),
            "post": _operation(
                "createFlow",
                "Create a flow and its source, checkpoint and heartbeat connectors",
                ours,
                {201: {**flow, "headers": {"Location": {"schema": _STRING}}}},
                errors=[409],
                body=_ref("FlowRequest"),
            ),
        },
        "/flows/{name}": {
            "get": _operation("getFlow", "A flow", ours, {200: flow}, errors=[404], parameters=[_NAME]),
            "delete": _operation(
                "deleteFlow",
                "Delete a flow and its connectors",
                ours,
                {204: _no_body("Deleted")},
                errors=[404],
                parameters=[_NAME],
            ),
        },
        "/flows/{name}/config": {
            "put": _operation(
                "putFlowConfig",
                "Replace the flow's config",
                ours,
                {200: flow},
                errors=[404],
                parameters=[_NAME],
                body=_CONFIG_IN,
            ),
            "patch": _operation(
                "patchFlowConfig",
                "Change some keys (null removes a key)",
                ours,
                {200: flow},
                errors=[404],
                parameters=[_NAME],
                body=_CONFIG_PATCH,
            ),
        },
        **{
            f"/flows/{{name}}/{verb}": {
                "put": _operation(
                    f"{verb}Flow",
                    f"{verb.capitalize()} the flow's connectors",
                    ours,
                    {202: _json(_ref("Flow"), "Accepted")},
                    errors=[404],
                    parameters=[_NAME],
                )
            }
            for verb in ("pause", "resume", "stop")
        },
        "/flows/{name}/lag": {
            "get": _operation(
                "getFlowLag",
                "The flow's newest lag sample: per topic, partition and consumer group, with failover "
                "readiness (heartbeat and checkpoint age, RPO estimate)",
                ours,
                {200: _json(_ref("FlowLag"), "Lag (fields null before the first sample)")},
                errors=[404],
                parameters=[_NAME],
            )
        },
        "/lag": {
            "get": _operation(
                "lagHistory",
                "Lag history per flow and topic, from the finest tier that still covers since",
                ours,
                {200: _json(_ref("LagHistory"), "History")},
                errors=[400],
                parameters=[
                    _query("since", _TIME_QUERY, "Start (default: an hour before until)"),
                    _query("until", _TIME_QUERY, "End (default: now)"),
                    _query("flow", _STRING, "Only this flow"),
                    _query("topic", _STRING, "Only this source topic"),
                ],
            )
        },
        "/metrics": {
            "get": _operation(
                "metrics",
                "Prometheus metrics (text exposition format)",
                ours,
                {200: {"description": "Metrics", "content": {"text/plain": {"schema": _STRING}}}},
            )
        },
        "/schedules": {
            "get": _operation(
                "listSchedules",
                "Schedules with their recent runs",
                ours,
                {200: _json(_array(_ref("Schedule")), "Schedules")},
            ),
            "post": _operation(
                "createSchedule",
                "Create a schedule (exactly one of cron and interval_seconds)",
                ours,
                {201: {**_json(_ref("Schedule"), "Created"), "headers": {"Location": {"schema": _STRING}}}},
                errors=[409],
                body=_ref("ScheduleRequest"),
            ),
        },
        "/schedules/{schedule_id}": {
            "get": _operation(
                "getSchedule",
                "A schedule with its recent runs",
                ours,
                {200: _json(_ref("Schedule"), "Schedule")},
                errors=[404],
                parameters=[_path("schedule_id")],
            ),
            "delete": _operation(
                "deleteSchedule",
                "Delete a schedule",
                ours,
                {204: _no_body("Deleted")},
                errors=[404],
                parameters=[_path("schedule_id")],
            ),
        },
        "/audit": {
            "get": _operation(
                "auditLog",
                "Audit log, newest first (admin tokens only)",
                ours,
                {200: _json(_array(_ref("AuditEntry")), "Entries")},
                errors=[400],
                parameters=[
                    _query(
                        "limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most this many (100)"
                    )
                ],
            )
        },
    }


def openapi_document(version: str) -> Schema:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mirror",
            "version": version,
            "description": "Kafka Connect's REST API for MirrorMaker 2 connectors, plus clusters, flows, "
            "schedules and the audit log. Errors are {error_code, message}. "
            "Secret config values are never returned.",
        },
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
