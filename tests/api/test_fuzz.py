"""Any JSON at all sent to the create endpoints: never a 500, and a refusal changes nothing; on
SQLite and on PostgreSQL, which refuses NUL and over-long values that SQLite keeps."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.harness import MM2_SOURCE, Api, mm2_source_config, snapshot

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=20,
)
config_keys = st.sampled_from(
    [
        "connector.class",
        "source.cluster.alias",
        "target.cluster.alias",
        "tasks.max",
        "topics",
        "name",
        "sasl.jaas.config",
    ]
) | st.text(max_size=30)
config_values = st.sampled_from([MM2_SOURCE, "MirrorHeartbeat", "A", "1", "0", "[hidden]", ""]) | json_values
connector_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=20) | json_values,
        "config": st.dictionaries(config_keys, config_values, max_size=6) | json_values,
        "initial_state": st.sampled_from(["RUNNING", "paused", "STOPPED", "nope"]) | json_values,
    },
)
client_keys = st.sampled_from(
    ["source.consumer.", "target.producer.", "producer.override.", "source.cluster.", "admin.", ""]
).flatmap(
    lambda prefix: st.sampled_from(["fetch.min.bytes", "acks", "sasl.mechanism", "linger.ms", "x"]).map(
        prefix.__add__
    )
)
nearly_valid_connectors = st.builds(
    lambda name, extra: {"name": name, "config": {**mm2_source_config(), **extra}},
    st.text(min_size=1, max_size=10),
    st.dictionaries(
        client_keys | config_keys, st.sampled_from(["1", "all", "-1", "PLAIN", "x"]) | json_values, max_size=4
    ),
)
cluster_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["a", "b-2", "x.y", ""]) | st.text(max_size=20) | json_values,
        "bootstrap_servers": st.sampled_from(["127.0.0.1:9092", " "]) | json_values,
        "config": st.dictionaries(
            st.sampled_from(
                ["security.protocol", "sasl.mechanism", "sasl.jaas.config", "acks", "bootstrap.servers"]
            )
            | st.text(max_size=20),
            st.sampled_from(["SASL_SSL", "PLAIN", "[hidden]", "all"]) | json_values,
            max_size=4,
        )
        | json_values,
    },
)


@pytest.fixture
def api(api_on_each_backend: Api) -> Api:
    """These tests run over SQLite and PostgreSQL."""
    return api_on_each_backend


fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check(api: Api, path: str, body: object) -> None:
    before = snapshot(api.store)
    response = api.client.post(path, data=json.dumps(body), content_type="application/json")
    assert response.status_code < 500, response.json
    assert response.is_json
    if response.status_code >= 400:
        assert response.json["error_code"] == response.status_code
        assert isinstance(response.json["message"], str)
        assert snapshot(api.store) == before
    else:
        assert response.status_code == 201


@fuzz
@given(body=connector_bodies | nearly_valid_connectors | json_values)
def test_any_json_to_post_connectors(api: Api, body: object) -> None:
    check(api, "/connectors", body)


@fuzz
@given(body=cluster_bodies | json_values)
def test_any_json_to_post_clusters(api: Api, body: object) -> None:
    check(api, "/clusters", body)


@pytest.mark.parametrize("path", ["/flows", "/schedules", "/connector-plugins/MirrorSource/config/validate"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["name", "source", "target", "config", "action", "cron", "connector.class"]),
        json_values,
    )
    | json_values
)
def test_any_json_elsewhere_is_never_a_500(api: Api, path: str, body: object) -> None:
    method = "PUT" if path.endswith("validate") else "POST"
    response = api.client.open(path, method=method, data=json.dumps(body), content_type="application/json")
    assert response.status_code < 500, response.json
