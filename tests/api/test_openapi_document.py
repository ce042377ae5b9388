"""GET /openapi.json describes exactly the routes the app has."""

from __future__ import annotations

import re

from tests.api.harness import Api

_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


def test_every_route_is_documented_and_nothing_else(api: Api) -> None:
    document = api.client.get("/openapi.json").json
    assert document["openapi"].startswith("3.0")
    documented = {
        (path, method.upper()) for path, operations in document["paths"].items() for method in operations
    }
    routed = {
        (_CONVERTER.sub(r"{\1}", rule.rule), method)
        for rule in api.app.url_map.iter_rules()
        for method in rule.methods or ()
        # The dashboard's pages and assets are HTML for browsers, not operations of the API.
        if method not in _IGNORED_METHODS and not rule.endpoint.startswith("ui.")
    }
    assert routed == documented
    assert {("/connectors", "POST"), ("/connectors/{name}/tasks/{task_id}/status", "GET")} <= routed
    assert {rule.rule for rule in api.app.url_map.iter_rules() if rule.endpoint.startswith("ui.")} == {
        "/ui/",
        "/ui/flows/<name>",
        "/ui/login",
        "/ui/logout",
        "/ui/static/<path:filename>",
    }


def test_every_operation_documents_its_errors_and_parameters(api: Api) -> None:
    document = api.client.get("/openapi.json").json
    operation_ids = []
    for path, operations in document["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            assert "500" in operation["responses"], (path, method)
            assert any(status.startswith("2") for status in operation["responses"]) or path.endswith(
                ("topics", "reset")
            )
            declared = {
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "path"
            }
            assert declared == names, (path, method)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(operation["responses"]), (path, method)
            if operation.get("security") != []:
                assert {"401", "403"} <= set(operation["responses"]), (path, method)
    assert len(operation_ids) == len(set(operation_ids))
