"""Reading request bodies and parameters, with errors that say what is wrong and where."""

from __future__ import annotations

import json
import math
import re
import sys
import unicodedata
from collections.abc import Mapping

from flask import request

from mirror.api.errors import ApiError, bad_request
from mirror.store.models import NAME_LENGTH

JsonObject = dict[str, object]

_SIMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ALIAS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Neither can be stored: PostgreSQL text refuses NUL, and a lone surrogate has no UTF-8 encoding
# (so no database, Kafka client or log line takes it either).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def json_body() -> object:
    """The request's JSON document; 415 unless sent as JSON, 400 if missing or malformed."""
    if not request.is_json:
        shown = request.mimetype or "none"
        raise ApiError(415, f"Content-Type must be application/json, not {shown}")
    data = request.get_data(cache=False)
    if not data.strip():
        raise bad_request("Request body is missing: a JSON document is required")
    try:
        document = json.loads(data, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except UnicodeDecodeError:
        raise bad_request("Request body is not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise bad_request(f"Request body is not valid JSON: {error}") from None
    except RecursionError:
        raise bad_request("Request body is not valid JSON: nested too deeply") from None
    check_storable(document)
    return document


def _bounded_int(digits: str) -> int:
    # Python refuses longer integers with a ValueError (its guard against quadratic conversion).
    limit = sys.get_int_max_str_digits()
    if limit and len(digits.lstrip("-")) > limit:
        raise bad_request(f"Request body holds an integer of more than {limit} digits")
    return int(digits)


def unstorable(text: str) -> str | None:
    """What makes ``text`` impossible to store, or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000)"
    return f"contains a lone surrogate ({found.group()!a}), which is not valid Unicode"


def check_storable(document: object) -> None:
    """400 naming the field (``config.topics``, ``offsets[0].partition``) of a string, key or value,
    that cannot be stored. Walked with a list, not recursion: the document may be nested
    as deeply as the JSON parser allows."""
    pending: list[tuple[str, object]] = [("", document)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            problem = unstorable(value)
            if problem is not None:
                raise bad_request(f"{where or 'Request body'} {problem}")
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = unstorable(key)
                if problem is not None:
                    raise bad_request(f"a key in {where or 'the request body'} {problem}")
                pending.append((f"{where}.{key}" if where else key, item))


def refuse_unstorable_url() -> None:
    """The same rule for the URL, before any route runs: a name in the path or a query value that
    cannot be stored cannot name anything stored either, and PostgreSQL refuses to even compare it.
    400 rather than 404, so the answer says what is wrong with the request."""
    problem = unstorable(request.path)
    if problem is not None:
        raise bad_request(f"URL path {problem}")
    for name, value in request.args.items(multi=True):
        problem = unstorable(name) or unstorable(value)
        if problem is not None:
            raise bad_request(f"query parameter {name!a} {problem}")


def _refuse_constant(name: str) -> object:
    raise bad_request(f"Request body is not valid JSON: {name} is not a JSON value")


def json_object(what: str = "Request body") -> JsonObject:
    body = json_body()
    if not isinstance(body, dict):
        raise bad_request(f"{what} must be a JSON object, not {_json_type(body)}")
    return body


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def config_value(field: str, key: str, value: object) -> str:
    """A config value as Connect stores it: strings as they are, numbers and booleans as strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise bad_request(f"{field}: value of {key!r} is not a finite number")
        return repr(value)
    if value is None:
        raise bad_request(
            f"{field}: value of {key!r} is null; Null value can not be supplied as the configuration value."
        )
    raise bad_request(
        f"{field}: value of {key!r} must be a string, number or boolean, not {_json_type(value)}"
    )


def config_map(field: str, value: object) -> dict[str, str]:
    """A flat config object; nested objects, arrays and nulls are refused, naming the key."""
    if not isinstance(value, dict):
        raise bad_request(f"{field} must be a JSON object of strings, not {_json_type(value)}")
    return {key: config_value(field, key, item) for key, item in value.items()}


def config_patch(field: str, value: object) -> dict[str, str | None]:
    """A partial config object: like :func:`config_map`, but null means "remove this key"."""
    if not isinstance(value, dict):
        raise bad_request(f"{field} must be a JSON object of strings, not {_json_type(value)}")
    return {key: None if item is None else config_value(field, key, item) for key, item in value.items()}


def optional_string(body: Mapping[str, object], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{field!r} must be a string, not {_json_type(value)}")
    return value


def required_string(body: Mapping[str, object], field: str) -> str:
    value = optional_string(body, field)
    if value is None:
        raise bad_request(f"{field!r} is required")
    return value


def optional_bool(body: Mapping[str, object], field: str, default: bool) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise bad_request(f"{field!r} must be true or false, not {_json_type(value)}")
    return value


def check_connector_name(name: str) -> None:
    """Connect's rules (non-empty, no control characters) plus: no surrounding whitespace, no ``/``
    (a name with a slash could not be addressed in a URL)."""
    if not name.strip():
        raise bad_request("Connector name is empty")
    if name != name.strip():
        raise bad_request(f"Connector name {name!r} has leading or trailing whitespace")
    if name in {".", ".."}:
        # Clients that normalise paths (browsers, curl, most HTTP libraries) would address /connectors.
        raise bad_request(f"Connector name {name!r} cannot be addressed in a URL")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise bad_request(f"Connector name {name!r} contains control characters")
    if "/" in name:
        raise bad_request(f"Connector name {name!r} contains '/'")
    if len(name) > NAME_LENGTH:
        raise bad_request(f"Connector name is longer than {NAME_LENGTH} characters")


def check_simple_name(kind: str, name: str) -> None:
    """Flow and schedule names: letters, digits, ``.``, ``_`` and ``-`` (they end up in connector
    names and URLs)."""
    if not _SIMPLE_NAME.fullmatch(name) or len(name) > NAME_LENGTH - len("-checkpoint"):
        raise bad_request(
            f"{kind} name {name!r} must start with a letter or digit and hold only letters, digits, "
            f"'.', '_' and '-' (at most {NAME_LENGTH - len('-checkpoint')} characters)"
        )


def check_cluster_name(name: str) -> None:
    """Cluster names are MM2 aliases: they prefix remote topic names, so no ``.`` (the default
    replication policy's separator) and only characters a topic name allows."""
    if not _ALIAS_NAME.fullmatch(name) or len(name) > NAME_LENGTH:
        raise bad_request(
            f"cluster name {name!r} must start with a letter or digit and hold only letters, digits, "
            f"'_' and '-' (at most {NAME_LENGTH} characters)"
        )


def bool_param(name: str, default: bool = False) -> bool:
    """A ``true``/``false`` query parameter (any case), as JAX-RS reads Connect's."""
    raw = request.args.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    raise bad_request(f"query parameter {name!r} must be true or false, not {raw!r}")
