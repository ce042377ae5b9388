"""Client keys that would let an API caller run code in the service are refused on every route that
takes a config, by name; values librdkafka would refuse at start fail here instead; and credentials
in URLs or sensitive OAuth settings never come back."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mirror.config.errors import ConfigErrors
from mirror.service.plugins import find_plugin
from tests.api.harness import MM2_SOURCE, Api, mm2_source_config, snapshot

S3_SINK = "io.mirror.connect.s3.S3SinkConnector"

# (connector key, connector class): a refused librdkafka property under every prefix that reaches a client.
REFUSED_CONNECTOR_KEYS = [
    ("target.admin.plugin.library.paths", MM2_SOURCE),
    ("source.consumer.ssl.engine.location", MM2_SOURCE),
    ("producer.override.plugin.library.paths", MM2_SOURCE),
    ("consumer.ssl.providers", MM2_SOURCE),
    ("source.cluster.ssl.engine.location", MM2_SOURCE),
    ("target.cluster.sasl.kerberos.kinit.cmd", MM2_SOURCE),
    ("plugin.library.paths", MM2_SOURCE),
    ("consumer.plugin.library.paths", S3_SINK),
    ("admin.ssl.engine.id", S3_SINK),
    ("ssl.engine.location", S3_SINK),
]


def connector_config(key: str, connector_class: str, value: str = "./evil.so") -> dict[str, str]:
    if connector_class == S3_SINK:
        return {
            "connector.class": S3_SINK,
            "bootstrap.servers": "127.0.0.1:9092",
            "s3.bucket.name": "backups",
            key: value,
        }
    return mm2_source_config(**{key: value})


def make_profile(api: Api, name: str) -> None:
    response = api.client.post("/clusters", json={"name": name, "bootstrap_servers": f"{name}:9092"})
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(("key", "connector_class"), REFUSED_CONNECTOR_KEYS)
def test_connector_routes_refuse_code_loading_keys_by_name(api: Api, key: str, connector_class: str) -> None:
    config = connector_config(key, connector_class)
    assert (
        api.client.put(
            "/connectors/kept/config", json=connector_config("topics", connector_class)
        ).status_code
        == 201
    )
    before = snapshot(api.store)

    created = api.client.post("/connectors", json={"name": "c", "config": config})
    updated = api.client.put("/connectors/kept/config", json=config)
    for response in (created, updated):
        assert response.status_code == 400, response.json
        assert f"{key}: may not be set" in response.json["message"]
    assert snapshot(api.store) == before

    # Connect's validate answers 200 with the errors it found; the key carries its error.
    validated = api.client.put(f"/connector-plugins/{connector_class}/config/validate", json=config).json
    assert validated["error_count"] >= 1
    [report] = [item for item in validated["configs"] if item["value"]["name"] == key]
    assert any(error.startswith("may not be set") for error in report["value"]["errors"])


@pytest.mark.parametrize(
    "key",
    ["source.consumer.plugin.library.paths", "target.producer.ssl.engine.location", "plugin.library.paths"],
)
def test_flows_refuse_code_loading_keys_by_name(api: Api, key: str) -> None:
    for name in ("primary", "backup"):
        make_profile(api, name)
    before = snapshot(api.store)
    created = api.client.post(
        "/flows", json={"source": "primary", "target": "backup", "config": {key: "./evil.so"}}
    )
    assert created.status_code == 400, created.json
    assert f"{key}: may not be set" in created.json["message"]
    assert snapshot(api.store) == before


@pytest.mark.parametrize(
    "key",
    [
        "plugin.library.paths",
        "ssl.engine.location",
        "ssl.engine.id",
        "ssl.providers",
        "sasl.kerberos.kinit.cmd",
        "offset.store.path",
        "sasl.oauthbearer.metadata.authentication.type",
        "sasl.oauthbearer.assertion.file",
        "interceptors",
        "oauthbearer_token_refresh_cb",
        "ssl_engine_callback_data",
    ],
)
def test_cluster_profiles_refuse_keys_off_the_allow_list(api: Api, key: str) -> None:
    make_profile(api, "primary")
    before = snapshot(api.store)
    body = {"bootstrap_servers": "h:9092", "config": {key: "./evil.so"}}
    created = api.client.post("/clusters", json={"name": "other", **body})
    replaced = api.client.put("/clusters/primary", json=body)
    for response in (created, replaced):
        assert response.status_code == 400, response.json
        assert f"config: {key}: " in response.json["message"]
    assert snapshot(api.store) == before


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "source.cluster.security.protocol",
            "NOPE",
            "expected one of plaintext, sasl_plaintext, sasl_ssl, ssl",
        ),
        ("target.cluster.sasl.mechanism", "plain", "expected one of GSSAPI, OAUTHBEARER, PLAIN"),
        ("source.consumer.isolation.level", "dirty", "expected one of read_committed, read_uncommitted"),
        ("producer.override.compression.type", "brotli", "expected one of gzip, lz4, none, snappy, zstd"),
    ],
)
def test_enumerated_values_librdkafka_would_refuse_are_refused_now(
    api: Api, key: str, value: str, expected: str
) -> None:
    response = api.client.post("/connectors", json={"name": "c", "config": mm2_source_config(**{key: value})})
    assert response.status_code == 400, response.json
    assert f"{key}: {expected}" in response.json["message"]
    assert (
        api.client.post("/connectors", json={"name": "c", "config": mm2_source_config()}).status_code == 201
    )


def test_profile_values_are_checked_for_every_client_role(api: Api) -> None:
    # isolation.level means nothing to an admin client, but the S3 connectors' consumers use it.
    response = api.client.post(
        "/clusters",
        json={"name": "c", "bootstrap_servers": "h:9092", "config": {"isolation.level": "dirty"}},
    )
    assert response.status_code == 400
    assert (
        "config: isolation.level: expected one of read_committed, read_uncommitted"
        in response.json["message"]
    )


def test_sasl_oauthbearer_config_is_a_write_only_secret(api: Api) -> None:
    secret = api.secret()
    config = {
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.config": f"principal=x clientSecret={secret}",
    }
    response = api.client.post(
        "/clusters", json={"name": "o", "bootstrap_servers": "h:9092", "config": config}
    )
    assert response.status_code == 201, response.json
    assert response.json["secrets"] == ["sasl.oauthbearer.config"]
    assert "sasl.oauthbearer.config" not in api.client.get("/clusters/o").json["config"]
    stored = api.store.get_cluster("o")
    assert stored is not None
    assert stored.secrets == {"sasl.oauthbearer.config": config["sasl.oauthbearer.config"]}
    created = api.client.post(
        "/connectors",
        json={
            "name": "c",
            "config": mm2_source_config(**{"source.consumer.sasl.oauthbearer.config": secret}),
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["config"]["source.consumer.sasl.oauthbearer.config"] == "[hidden]"
    assert api.client.get("/audit").status_code == 200  # the api fixture checks no response held it


def test_credentials_in_urls_are_refused_and_never_echoed(api: Api) -> None:
    password = api.secret()
    before = snapshot(api.store)
    profile = api.client.post(
        "/clusters", json={"name": "c", "bootstrap_servers": f"SASL_SSL://alice:{password}@broker:9092"}
    )
    assert profile.status_code == 400
    assert profile.json["message"].startswith("bootstrap_servers: must not hold credentials")
    endpoint = f"http://AKIA:{password}@127.0.0.1:9000"
    sink = connector_config("s3.endpoint", S3_SINK, endpoint)
    created = api.client.post("/connectors", json={"name": "s", "config": sink})
    assert created.status_code == 400
    assert "s3.endpoint: must not hold credentials" in created.json["message"]
    assert "aws.access.key.id" in created.json["message"]
    client_key = mm2_source_config(**{"source.cluster.bootstrap.servers": f"alice:{password}@broker:9092"})
    refused = api.client.post("/connectors", json={"name": "m", "config": client_key})
    assert refused.status_code == 400
    assert "source.cluster.bootstrap.servers: must not hold credentials" in refused.json["message"]
    validated = api.client.put(f"/connector-plugins/{S3_SINK}/config/validate", json=sink).json
    assert validated["error_count"] >= 1
    assert snapshot(api.store) == before


def test_the_probes_shared_library_is_refused_and_never_loaded(api: Api, tmp_path: Path) -> None:
    """The finding as it was proven: a library whose constructor writes a marker file, POSTed as
    target.admin.plugin.library.paths. The control run shows the library does write the marker
    once librdkafka is handed it, so its absence means nothing loaded it."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the probe's shared library")
    marker = tmp_path / "loaded"
    source = tmp_path / "evil.c"
    library = tmp_path / "evil.so"
    source.write_text(
        textwrap.dedent(
            f"""
            #include <stdio.h>
            __attribute__((constructor)) static void mark(void) {{
                FILE *f = fopen("{marker}", "a");
                if (f) {{ fputs("loaded\\n", f); fclose(f); }}
            }}
            """
        )
    )
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    config = mm2_source_config(**{"target.admin.plugin.library.paths": str(library)})

    response = api.client.post("/connectors", json={"name": "evil", "config": config})
    assert response.status_code == 400
    assert "target.admin.plugin.library.paths: may not be set" in response.json["message"]
    assert api.store.get_connector("evil") is None
    # A config stored before the fix is refused where the runtime parses it, before any client exists.
    plugin = find_plugin(MM2_SOURCE)
    assert plugin is not None
    with pytest.raises(ConfigErrors, match=r"target\.admin\.plugin\.library\.paths: may not be set"):
        plugin.parse_config(config)
    assert not marker.exists()

    control = "import confluent_kafka, sys; confluent_kafka.Producer({'plugin.library.paths': sys.argv[1]})"
    subprocess.run(
        [sys.executable, "-c", control, str(library)], capture_output=True, check=False, timeout=60
    )
    assert marker.read_text() == "loaded\n"
