"""Kafka Connect's ``/connector-plugins`` endpoints: the plugin list, their config definitions and
config validation (Connect's ConfigInfos)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from mirror.api.bodies import JsonObject, bool_param, config_value, json_object
from mirror.api.errors import bad_request, not_found
from mirror.service.plugins import (
    PLUGINS,
    ConfigKeyDefinition,
    Plugin,
    config_definitions,
    find_plugin,
    validate_config,
)
from mirror.service.redaction import HIDDEN, is_secret_key, redact

blueprint = Blueprint("plugins", __name__)

_NULL_VALUE = "Null value can not be supplied as the configuration value."


def _plugin_or_404(name: str) -> Plugin:
    plugin = find_plugin(name)
    if plugin is None:
        raise not_found(f"Unknown plugin {name}.")
    return plugin


def _definition(definition: ConfigKeyDefinition) -> JsonObject:
    default = definition.default_value
    if default is not None and (definition.type == "PASSWORD" or is_secret_key(definition.name)):
        default = HIDDEN
    return {
        "name": definition.name,
        "type": definition.type,
        "required": definition.required,
        "default_value": default,
        "importance": definition.importance,
        "documentation": "",
        "group": definition.group,
        "width": "NONE",
        "display_name": definition.display_name,
        "dependents": [],
        "order": definition.order,
    }


def _same_plugin(included: str, requested: str) -> bool:
    """Connect's rule (the body's class ends with the path's name, ``Connector`` suffixes dropped),
    or both names resolve to the same plugin (a Java name in the path, a short one in the body)."""
    found = find_plugin(included)
    if found is not None and found is find_plugin(requested):
        return True
    return included.strip().removesuffix("Connector").endswith(requested.strip().removesuffix("Connector"))


@blueprint.get("/connector-plugins")
def list_plugins() -> Response:
    # Only connectors exist here: connectorsOnly=false (converters, transforms...) lists the same.
    bool_param("connectorsOnly", default=True)
    return jsonify(
        [{"class": plugin.java_class, "type": plugin.type, "version": plugin.version} for plugin in PLUGINS]
    )


@blueprint.get("/connector-plugins/<plugin>/config")
def plugin_config(plugin: str) -> Response:
    found = _plugin_or_404(plugin)
    return jsonify([_definition(definition) for definition in config_definitions(found)])


@blueprint.put("/connector-plugins/<plugin>/config/validate")
def validate(plugin: str) -> Response:
    body = json_object()
    nulls = [key for key, value in body.items() if value is None]
    config = {
        key: config_value("Request body", key, value) for key, value in body.items() if value is not None
    }
    connector_class = config.get("connector.class")
    if connector_class is None or not connector_class.strip():
        raise bad_request(f"Connector config {redact(config)} contains no connector type")
    if not _same_plugin(connector_class, plugin):
        raise bad_request(f"Included connector type {connector_class} does not match request type {plugin}")
    included = find_plugin(connector_class)
    if included is None:
        raise bad_request(
            f"Failed to find any class that implements Connector and which name matches {connector_class}"
        )
    validation = validate_config(included, config)
    configs = [
        _config_info(
            key.name, key.definition, key.value, [*key.errors, *([_NULL_VALUE] if key.name in nulls else [])]
        )
        for key in validation.keys
    ]
    reported = {key.name for key in validation.keys}
    configs.extend(_config_info(key, None, None, [_NULL_VALUE]) for key in nulls if key not in reported)
    error_count = validation.error_count + len(nulls)
    return jsonify(
        {
            "name": connector_class,
            "error_count": error_count,
            "groups": list(validation.groups),
            "configs": configs,
        }
    )


def _config_info(
    name: str, definition: ConfigKeyDefinition | None, value: str | None, errors: list[str]
) -> JsonObject:
    return {
        "definition": None if definition is None else _definition(definition),
        "value": {
            "name": name,
            "value": value,
            "recommended_values": [] if definition is None else list(definition.recommended_values),
            "errors": errors,
            "visible": True,
        },
    }
