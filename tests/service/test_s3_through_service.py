"""S3 backup and restore connectors run by ``mirror serve``: created through REST, scheduled through
``/schedules``, against the real Kafka clusters and the real S3 server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from connectors.s3_source import read_manifests
from mirror.config.backup import S3Settings
from mirror.formats.backup.codec import decode
from mirror.formats.backup.layout import normalise_prefix
from mirror.formats.backup.manifest import TopicManifest
from mirror.s3 import ObjectStore
from mirror.store.store import Store
from tests.integration.s3_backup_io import Stored, json_summary, mirror_cli, read_topic
from tests.kafka_harness import KafkaClusters
from tests.kafka_io import Record, create_topic, end_offsets_total, produce, wait_until
from tests.s3_harness import S3Endpoint
from tests.service_harness import ServeProcess, serving


@dataclass
class Rest:
    """The service's REST API; keeps every response so the test can prove no secret left it."""

    service: ServeProcess
    store: Store
    """The service's own database, for what the REST API does not show (task details)."""
    seen: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: object = None) -> requests.Response:
        response = requests.request(
            method, self.service.url + path, json=body, headers=self.service.headers, timeout=30
        )
        self.seen.append(f"{response.headers}\n{response.text}")
        return response

    def json(self, method: str, path: str, body: object = None, expect: int = 200) -> Any:
        response = self.call(method, path, body)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def shows(self, name: str, state: str, tasks: int) -> bool:
        status = self.json("GET", f"/connectors/{name}/status")
        return (
            status["connector"]["state"] == state
            and [task["state"] for task in status["tasks"]] == [state] * tasks
        )

    def wait_for(self, name: str, state: str, tasks: int) -> None:
        wait_until(lambda: self.shows(name, state, tasks), timeout=60, interval=0.2, what=f"{name} {state}")


@pytest.fixture(scope="module")
def rest(
    tmp_path_factory: pytest.TempPathFactory, kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint
) -> Iterator[Rest]:
    """One ``mirror serve`` for the module, with the test clusters as profiles ``primary`` and ``backup``.
    After the module, neither a response nor the service's log may hold the S3 secret key."""
    directory = tmp_path_factory.mktemp("s3-serve")
    database_url = f"sqlite:///{directory / 'mirror.db'}"
    with (
        serving(database_url, directory / "serve.log", "s3-worker") as service,
        Store.open(database_url) as store,
    ):
        api = Rest(service, store)
        for cluster in (kafka_clusters.primary, kafka_clusters.backup):
            body = {"name": cluster.name, "bootstrap_servers": cluster.bootstrap_servers}
            api.json("POST", "/clusters", body, expect=201)
        yield api
        assert [text for text in api.seen if s3_endpoint.secret_key in text] == []
        assert s3_endpoint.secret_key not in service.log


def _records(count: int, partitions: int, first: int = 0) -> list[Record]:
    """Headers with duplicate keys and null values, tombstones, empty keys; recent timestamps."""
    now_ms = int(time.time() * 1000)
    records = []
    for n in range(first, first + count):
        headers: tuple[tuple[str, bytes | None], ...] = ()
        if n % 3 == 0:
            headers = (("dup", b"1"), ("dup", None), ("other", b""), ("dup", b"2"))
        key = None if n % 5 == 0 else (b"" if n % 5 == 1 else f"key-{n}".encode())
        value = None if n % 4 == 0 else f"value-{n}".encode()
        records.append(Record(n % partitions, key, value, headers, now_ms + n))
    return records


def _sink_config(s3: S3Endpoint, topic: str, bucket: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "S3SinkConnector",
        "kafka.cluster.alias": "primary",
        "topics": topic,
        "s3.bucket.name": bucket,
        "s3.prefix": prefix,
        "rotate.interval.ms": "300",
        "group.offsets.interval.ms": "1000",
        **s3.connector_config(),
        **extra,
    }


def _store(s3: S3Endpoint, bucket: str, prefix: str) -> ObjectStore:
    return ObjectStore(
        S3Settings(
            bucket=bucket,
            prefix=normalise_prefix(prefix),
            endpoint=s3.url,
            region=s3.region,
            access_key_id=s3.access_key,
            secret_access_key=s3.secret_key,
        )
    )


def _manifest(store: ObjectStore, topic: str) -> TopicManifest | None:
    return read_manifests(store, topic.__eq__).get(topic)


def _stored_through(store: ObjectStore, topic: str, ends: dict[int, int]) -> bool:
    manifest = _manifest(store, topic)
    return manifest is not None and all(manifest.next_offsets.get(p, 0) >= end for p, end in ends.items())


def _backed_up(store: ObjectStore, topic: str) -> list[Stored]:
    """Every record in the topic's objects, read back with the project's own decoder."""
    manifest = _manifest(store, topic)
    assert manifest is not None
    found = []
    for entry in manifest.objects:
        columns = decode(store.get(entry.name), entry.format, entry.compression)
        for index, offset in enumerate(columns.offsets):
            headers = tuple((str(name), value) for name, value in columns.headers[index])
            found.append(
                Stored(
                    columns.partition,
                    offset,
                    columns.keys[index],
                    columns.values[index],
                    headers,
                    columns.timestamps[index],
                )
            )
    return sorted(found, key=lambda record: (record.partition, record.offset))


def _ends(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    records = read_topic(bootstrap, topic)
    return {p: max((r.offset + 1 for r in records if r.partition == p), default=0) for p in range(partitions)}


def test_a_backup_connector_created_through_rest(
    rest: Rest, kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, unique_name: str
) -> None:
    primary = kafka_clusters.primary.bootstrap_servers
    create_topic(primary, unique_name, 2)
    produce(primary, unique_name, _records(40, 2))
    bucket = s3_endpoint.new_bucket(unique_name)
    store = _store(s3_endpoint, bucket, "live")
    config = _sink_config(s3_endpoint, unique_name, bucket, "live")
    created = rest.json("POST", "/connectors", {"name": unique_name, "config": config}, expect=201)
    assert created["type"] == "sink"
    assert created["config"]["aws.secret.access.key"] == "[hidden]"
    rest.wait_for(unique_name, "RUNNING", 1)

    wait_until(lambda: _stored_through(store, unique_name, _ends(primary, unique_name, 2)), what="the backup")
    assert _backed_up(store, unique_name) == read_topic(primary, unique_name)
    wait_until(
        lambda: (
            sorted(
                (o["partition"]["kafka_partition"], o["offset"]["kafka_offset"])
                for o in rest.json("GET", f"/connectors/{unique_name}/offsets")["offsets"]
            )
            == sorted(_ends(primary, unique_name, 2).items())
        ),
        what="the sink's group offsets",
    )

    rest.json("PUT", f"/connectors/{unique_name}/pause", expect=202)
    rest.wait_for(unique_name, "PAUSED", 1)
    stored_before = _manifest(store, unique_name)
    produce(primary, unique_name, _records(10, 2, first=40))
    time.sleep(2)  # several rotation intervals: a running backup would have stored the new records
    assert _manifest(store, unique_name) == stored_before

    rest.json("PUT", f"/connectors/{unique_name}/resume", expect=202)
    rest.wait_for(unique_name, "RUNNING", 1)
    wait_until(lambda: _stored_through(store, unique_name, _ends(primary, unique_name, 2)), what="the rest")
    assert _backed_up(store, unique_name) == read_topic(primary, unique_name)

    rest.json("DELETE", f"/connectors/{unique_name}", expect=204)
    assert rest.call("GET", f"/connectors/{unique_name}").status_code == 404
    wait_until(
        lambda: f"connector removed from this worker connector={unique_name}" in rest.service.log,
        what="the tasks to stop",
    )


def test_a_restore_connector_created_through_rest(
    rest: Rest, kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, unique_name: str
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name, 3)
    produce(primary, unique_name, _records(60, 3))
    bucket = s3_endpoint.new_bucket(unique_name)
    made = mirror_cli(
        s3_endpoint,
        *("backup", "--bootstrap-servers", primary, "--topics", unique_name),
        *("--to", f"s3://{bucket}/cli", "--once", "--json"),
    )
    assert json_summary(made)["records"] == 60
    renamed = f"{unique_name}-restored"
    config = {
        "connector.class": "io.mirror.connect.s3.S3SourceConnector",
        "bootstrap.servers": backup,
        "s3.bucket.name": bucket,
        "s3.prefix": "cli",
        "topics.rename": f"{unique_name}={renamed}",
        **s3_endpoint.connector_config(),
    }
    rest.json("POST", "/connectors", {"name": unique_name, "config": config}, expect=201)
    wait_until(lambda: end_offsets_total(backup, renamed) >= 60, what="the restored records")
    originals, restored = read_topic(primary, unique_name), read_topic(backup, renamed)
    assert [r.without_offset_header() for r in restored] == [r.without_offset_header() for r in originals]
    assert [r.original_offset for r in restored] == [r.offset for r in originals]

    rest.wait_for(unique_name, "RUNNING", 1)
    wait_until(
        lambda: (
            [task.detail for task in rest.store.task_states(unique_name)]
            == ["finished: 60 records restored, 0 groups committed"]
        ),
        what="the restore task to say it is done",
    )
    progress = rest.json("GET", f"/connectors/{unique_name}/offsets")["offsets"]
    assert {item["partition"]["cluster"] for item in progress} == {"s3"}
    assert sorted((item["partition"]["partition"], item["offset"]["offset"]) for item in progress) == [
        (p, max(r.offset for r in originals if r.partition == p)) for p in range(3)
    ]
    rest.json("DELETE", f"/connectors/{unique_name}", expect=204)


def _runs(rest: Rest, schedule: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = rest.json("GET", f"/schedules/{schedule}")["runs"]
    return [run for run in runs if run["outcome"] is not None]


def _outcome(run: dict[str, Any]) -> dict[str, Any]:
    assert run["outcome"].startswith("ok "), run["outcome"]
    summary: dict[str, Any] = json.loads(run["outcome"].removeprefix("ok "))
    return summary


def test_an_interval_schedule_backs_up_a_stopped_connector(
    rest: Rest, kafka_clusters: KafkaClusters, s3_endpoint: S3Endpoint, unique_name: str
) -> None:
    primary = kafka_clusters.primary.bootstrap_servers
    create_topic(primary, unique_name, 2)
    produce(primary, unique_name, _records(30, 2))
    bucket = s3_endpoint.new_bucket(unique_name)
    store = _store(s3_endpoint, bucket, "nightly")
    config = _sink_config(s3_endpoint, unique_name, bucket, "nightly")
    body = {"name": unique_name, "config": config, "initial_state": "STOPPED"}
    rest.json("POST", "/connectors", body, expect=201)
    rest.wait_for(unique_name, "STOPPED", 0)
    schedule = {"id": unique_name, "action": "backup", "target": unique_name, "interval_seconds": 2}
    rest.json("POST", "/schedules", schedule, expect=201)

    first = wait_until(lambda: _runs(rest, unique_name), timeout=30, what="the first firing")
    assert _outcome(first[-1])["records"] == 30
    assert _backed_up(store, unique_name) == read_topic(primary, unique_name)

    produce(primary, unique_name, _records(12, 2, first=30))
    wait_until(
        lambda: sum(_outcome(run)["records"] for run in _runs(rest, unique_name)) >= 42,
        timeout=30,
        what="a firing that backs up the new records",
    )
    runs = _runs(rest, unique_name)
    assert sum(_outcome(run)["records"] for run in runs) == 42  # each firing stores only what is new
    assert len({run["scheduled_for"] for run in runs}) == len(runs)
    assert _backed_up(store, unique_name) == read_topic(primary, unique_name)
    assert rest.json("GET", f"/connectors/{unique_name}/status")["connector"]["state"] == "STOPPED"

    # A RUNNING connector already backs up continuously: firings then refuse to write beside it.
    rest.json("PUT", f"/connectors/{unique_name}/resume", expect=202)
    wait_until(
        lambda: any(run["outcome"].startswith("error: connector ") for run in _runs(rest, unique_name)),
        timeout=30,
        what="a refused firing",
    )
    rest.json("DELETE", f"/schedules/{unique_name}", expect=204)
    rest.json("DELETE", f"/connectors/{unique_name}", expect=204)
