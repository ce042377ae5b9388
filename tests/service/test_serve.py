"""``mirror serve`` as users run it: a real process, its REST API, the real clusters."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psutil
import pytest
import requests
from kafka_connect import KafkaConnect  # type: ignore[import-untyped]  # ships no type information

from mirror.store.records import TargetState
from mirror.store.store import Store
from tests import postgres_harness
from tests.kafka_harness import REPO, KafkaClusters
from tests.kafka_io import create_topic, end_offsets_total, produce, wait_until
from tests.made_up import secret
from tests.service_harness import (
    ServeProcess,
    arrived,
    recent_records,
    self_signed_certificate,
    serving,
    source_connector_config,
)

STATE_DEADLINE_S = 2.0


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mirror.db'}"


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    url = postgres_harness.create_database(postgres_url)
    try:
        yield url
    finally:
        postgres_harness.drop_database(url)


def status(service: ServeProcess, name: str) -> dict[str, object]:
    response = requests.get(f"{service.url}/connectors/{name}/status", headers=service.headers, timeout=10)
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


def shows(service: ServeProcess, name: str, state: str, tasks: int) -> bool:
    body = status(service, name)
    connector = body["connector"]
    shown_tasks = body["tasks"]
    assert isinstance(connector, dict) and isinstance(shown_tasks, list)
    return (
        connector["state"] == state
        and len(shown_tasks) == tasks
        and all(task["state"] == state for task in shown_tasks)
    )


def seconds_until(service: ServeProcess, name: str, state: str, tasks: int, timeout: float = 60) -> float:
    began = time.monotonic()
    wait_until(
        lambda: shows(service, name, state, tasks), timeout=timeout, interval=0.05, what=f"{name} {state}"
    )
    return time.monotonic() - began


def create(service: ServeProcess, name: str, config: dict[str, str]) -> None:
    response = requests.post(
        f"{service.url}/connectors",
        json={"name": name, "config": config},
        headers=service.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text


def put(service: ServeProcess, path: str) -> requests.Response:
    return requests.put(f"{service.url}{path}", headers=service.headers, timeout=10)


def test_rest_creates_pauses_resumes_restarts_and_deletes_a_source_connector(
    kafka_clusters: KafkaClusters, unique_name: str, database_url: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    remote = f"primary.{unique_name}"
    create_topic(primary, unique_name)
    produce(primary, unique_name, recent_records(0, 20))
    with serving(database_url, tmp_path / "serve.log", "w1") as service:
        name = f"{unique_name}-mm2"
        create(service, name, source_connector_config(name, unique_name, primary, backup))
        wait_until(arrived(backup, remote, 20), what="records on the target")
        seconds_until(service, name, "RUNNING", 1)

        assert put(service, f"/connectors/{name}/pause").status_code == 202
        assert seconds_until(service, name, "PAUSED", 1, timeout=STATE_DEADLINE_S) < STATE_DEADLINE_S
        produce(primary, unique_name, recent_records(20, 10))
        time.sleep(3)
        assert end_offsets_total(backup, remote) == 20, "records arrived while paused"

        assert put(service, f"/connectors/{name}/resume").status_code == 202
        assert seconds_until(service, name, "RUNNING", 1, timeout=STATE_DEADLINE_S) < STATE_DEADLINE_S
        wait_until(arrived(backup, remote, 30), what="records after resume")

        restart = requests.post(
            f"{service.url}/connectors/{name}/restart?includeTasks=true", headers=service.headers, timeout=10
        )
        assert restart.status_code == 202, restart.text
        with Store(database_url) as store:
            wait_until(lambda: not store.pending_restarts([name]), timeout=5, what="the restart")
        seconds_until(service, name, "RUNNING", 1)
        produce(primary, unique_name, recent_records(30, 5))
        wait_until(arrived(backup, remote, 35), what="records after the restart")

        assert requests.delete(f"{service.url}/connectors/{name}", timeout=10).status_code == 204
        with Store(database_url) as store:
            assert store.task_states(name) == []
        assert requests.get(f"{service.url}/connectors/{name}/status", timeout=10).status_code == 404
        wait_until(lambda: "connector removed from this worker" in service.log, timeout=STATE_DEADLINE_S)
        produce(primary, unique_name, recent_records(35, 5))
        time.sleep(3)
        assert end_offsets_total(backup, remote) == 35, "a deleted connector's task still replicates"
        assert service.stop() == 0
    assert "worker left" in service.log


def test_after_a_sigkill_every_connector_comes_back_to_its_target_state(
    kafka_clusters: KafkaClusters, unique_name: str, database_url: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    running_topic, paused_topic = f"{unique_name}-run", f"{unique_name}-pause"
    for topic in (running_topic, paused_topic):
        create_topic(primary, topic)
        produce(primary, topic, recent_records(0, 10))
    log = tmp_path / "serve.log"
    with serving(database_url, log, "w1") as service:
        create(service, running_topic, source_connector_config(running_topic, running_topic, primary, backup))
        create(service, paused_topic, source_connector_config(paused_topic, paused_topic, primary, backup))
        for topic in (running_topic, paused_topic):
            wait_until(arrived(backup, f"primary.{topic}", 10), what=f"{topic} replicated")
        assert put(service, f"/connectors/{paused_topic}/pause").status_code == 202
        seconds_until(service, paused_topic, "PAUSED", 1)
        gunicorn = service.children()
        assert gunicorn, "no API server child"
        assert service.process is not None
        service.process.kill()  # the service only: its API server must not outlive it
        service.process.wait(10)
        _gone, alive = psutil.wait_procs(gunicorn, timeout=10)
        assert not alive, f"API server processes outlived the service: {alive}"

    for topic in (running_topic, paused_topic):
        produce(primary, topic, recent_records(10, 5))
    with serving(database_url, log, "w1") as service:
        seconds_until(service, running_topic, "RUNNING", 1)
        seconds_until(service, paused_topic, "PAUSED", 1)
        wait_until(
            arrived(backup, f"primary.{running_topic}", 15), what="the running connector after restart"
        )
        time.sleep(3)
        assert end_offsets_total(backup, f"primary.{paused_topic}") == 10, "the paused connector replicated"


def test_two_services_run_each_scheduled_firing_once_and_hand_over(
    postgres_database: str, tmp_path: Path
) -> None:
    with Store.open(postgres_database) as store:
        store.put_cluster("A", "127.0.0.1:1", {}, {}, actor="test")
        store.put_cluster("B", "127.0.0.1:2", {}, {}, actor="test")
        store.create_flow("A-B", "A", "B", {}, connectors={}, target_state=TargetState.RUNNING, actor="test")
    with (
        serving(postgres_database, tmp_path / "w1.log", "w1") as first,
        serving(postgres_database, tmp_path / "w2.log", "w2") as second,
    ):
        response = requests.post(
            f"{first.url}/schedules",
            json={"id": "every-second", "action": "pause_flow", "target": "A-B", "interval_seconds": 1},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        with Store(postgres_database) as store:

            def runs() -> list[tuple[datetime, str]]:
                return [
                    (run.scheduled_for, run.worker_id) for run in store.schedule_runs("every-second", 1000)
                ]

            wait_until(lambda: len(runs()) >= 4, timeout=20, what="four firings")
            leaders = {worker for _at, worker in runs()}
            assert len(leaders) == 1, f"firings ran on both services: {runs()}"
            leader, follower = (first, second) if leaders == {"w1"} else (second, first)
            leader.kill()
            wait_until(
                lambda: any(worker == follower.worker_id for _at, worker in runs()),
                timeout=30,
                what="the other service to take the schedules over",
            )
            time.sleep(3)
            seen = runs()
            firing_times = [at for at, _worker in seen]
            assert len(firing_times) == len(set(firing_times)), "a firing ran twice"
            # Before the handover only the leader ran firings, after it only the follower.
            ordered = [worker for _at, worker in sorted(seen)]
            handover = ordered.index(follower.worker_id)
            assert set(ordered[:handover]) == {leader.worker_id}
            assert set(ordered[handover:]) == {follower.worker_id}
            assert all(
                run.outcome == "ok" for run in store.schedule_runs("every-second", 1000) if run.finished_at
            )


def test_secrets_never_appear_in_responses_or_logs(
    kafka_clusters: KafkaClusters, unique_name: str, database_url: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    password, inline_password = secret(), secret()
    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="mirror" password="{}";'
    create_topic(primary, unique_name)
    with serving(database_url, tmp_path / "serve.log", "w1") as service:
        profile = {
            "name": "guarded",
            "bootstrap_servers": backup,
            "config": {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": jaas.format(password),
            },
        }
        assert requests.post(f"{service.url}/clusters", json=profile, timeout=10).status_code == 201
        through_profile = f"{unique_name}-profile"
        config = source_connector_config(through_profile, unique_name, primary, backup)
        config["admin.timeout.ms"] = "2000"
        del config["target.cluster.bootstrap.servers"]
        config["target.cluster.alias"] = "guarded"
        create(service, through_profile, config)
        inline = f"{unique_name}-inline"
        inline_config = source_connector_config(inline, unique_name, primary, backup)
        inline_config["target.cluster.security.protocol"] = "SASL_PLAINTEXT"
        inline_config["target.cluster.sasl.mechanism"] = "PLAIN"
        inline_config["target.cluster.sasl.jaas.config"] = jaas.format(inline_password)
        inline_config["admin.timeout.ms"] = "2000"
        create(service, inline, inline_config)
        # The target refuses SASL on its plaintext listener: both fail, and log why, again and again.
        wait_until(lambda: status(service, inline)["connector"]["state"] == "FAILED", timeout=60)  # type: ignore[index]
        wait_until(lambda: status(service, through_profile)["connector"]["state"] == "FAILED", timeout=60)  # type: ignore[index]
        paths = [
            "/clusters",
            "/clusters/guarded",
            "/connectors?expand=info&expand=status",
            "/audit",
            *(
                f"/connectors/{name}{suffix}"
                for name in (inline, through_profile)
                for suffix in ("", "/config", "/status", "/tasks", "/tasks-config", "/offsets")
            ),
        ]
        for path in paths:
            response = requests.get(f"{service.url}{path}", timeout=30)
            # Reading offsets needs the target, which refuses these credentials: an error, but no leak.
            assert response.status_code < 500 or path.endswith("/offsets"), (path, response.status_code)
            for value in (password, inline_password):
                assert value not in response.text, f"{path} shows a secret"
        assert service.stop() == 0
    log = service.log
    assert "connector could not start" in log, "the failures were not logged at all"
    for value in (password, inline_password):
        assert value not in log, "the service logged a secret"


def test_an_independent_kafka_connect_client_drives_the_service(
    kafka_clusters: KafkaClusters, unique_name: str, database_url: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    create_topic(primary, unique_name)
    produce(primary, unique_name, recent_records(0, 5))
    with serving(database_url, tmp_path / "serve.log", "w1") as service:
        client = KafkaConnect(url=service.url)
        name = f"{unique_name}-client"
        created = client.create_connector(
            {"name": name, "config": source_connector_config(name, unique_name, primary, backup)}
        )
        assert created["name"] == name
        assert name in client.list_connectors()
        wait_until(lambda: client.get_connector_status(name)["connector"]["state"] == "RUNNING", timeout=60)
        wait_until(
            arrived(backup, f"primary.{unique_name}", 5), what="records through the client's connector"
        )
        client.pause_connector(name)
        wait_until(lambda: client.get_connector_status(name)["connector"]["state"] == "PAUSED", timeout=5)
        client.resume_connector(name)
        wait_until(lambda: client.get_connector_status(name)["connector"]["state"] == "RUNNING", timeout=5)
        client.delete_connector(name)
        assert name not in client.list_connectors()


def test_a_public_address_needs_a_token_and_tokens_are_managed_from_the_cli(
    database_url: str, tmp_path: Path
) -> None:
    def mirror(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mirror.cli", *args],
            check=False,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused = mirror("serve", "--db", database_url, "--bind", "0.0.0.0:1")
    assert refused.returncode == 2
    assert "no API token exists" in refused.stderr

    created = mirror("token", "create", "--role", "admin", "--name", "ops", "--db", database_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    listed = mirror("token", "list", "--db", database_url)
    token_id = token.split(".")[0]
    assert token_id in listed.stdout and "ops" in listed.stdout and token not in listed.stdout

    with serving(database_url, tmp_path / "serve.log", "w1") as service:
        assert requests.get(f"{service.url}/connectors", timeout=10).status_code == 401
        service.token = token
        assert (
            requests.get(f"{service.url}/connectors", headers=service.headers, timeout=10).status_code == 200
        )
        assert service.stop(signal.SIGINT) == 0
    assert "authentication off" not in service.log
    assert token.split(".")[1] not in service.log

    revoked = mirror("token", "revoke", token_id, "--db", database_url)
    assert revoked.returncode == 0, revoked.stderr
    assert token_id not in mirror("token", "list", "--db", database_url).stdout


def test_tls_serves_https_with_the_given_certificate(database_url: str, tmp_path: Path) -> None:
    cert = self_signed_certificate(tmp_path)
    with serving(database_url, tmp_path / "serve.log", "w1", tls_cert=cert) as service:
        assert service.url.startswith("https://")
        response = requests.get(f"{service.url}/connectors", verify=service.verify, timeout=10)
        assert response.status_code == 200 and response.json() == []
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{service.url}/connectors", timeout=10)  # not trusted by default
        assert service.stop() == 0


UNREACHABLE_CONFIG = {
    "connector.class": "MirrorSourceConnector",
    "source.cluster.alias": "A",
    "target.cluster.alias": "B",
    "source.cluster.bootstrap.servers": "127.0.0.1:1",
    "target.cluster.bootstrap.servers": "127.0.0.1:1",
    "topics": "t",
}


def test_the_database_files_are_private_under_a_permissive_umask(database_url: str, tmp_path: Path) -> None:
    database = Path(database_url.removeprefix("sqlite:///"))
    previous = os.umask(0o022)  # inherited by mirror serve: what it would make readable to all
    try:
        with serving(database_url, tmp_path / "serve.log", "w1") as service:
            profile = {
                "bootstrap_servers": "127.0.0.1:1",
                "config": {"security.protocol": "SSL", "ssl.key.password": secret()},
            }
            response = requests.put(f"{service.url}/clusters/sec", json=profile, timeout=10)
            assert response.status_code in {200, 201}, response.text
            create(service, "c1", UNREACHABLE_CONFIG)
            modes = {
                file.name: stat.S_IMODE(file.stat().st_mode)
                for file in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
            }
            assert modes == {"mirror.db": 0o600, "mirror.db-wal": 0o600, "mirror.db-shm": 0o600}
    finally:
        os.umask(previous)


def test_a_second_process_with_a_live_worker_id_is_refused(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "first.log", "w1") as first:
        second = ServeProcess(database_url, tmp_path / "second.log", "w1")
        command = [
            sys.executable, "-m", "mirror.cli", "serve", "--db", database_url,
            "--bind", f"127.0.0.1:{second.port}", "--workers", "1", "--worker-id", "w1",
        ]  # fmt: skip
        refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2, refused.stderr
        assert f"worker id 'w1' is in use by a live process (API at 127.0.0.1:{first.port}" in refused.stderr
        with Store(database_url) as store:
            [worker] = store.live_workers(60)
            assert worker.address == f"127.0.0.1:{first.port}", "the refused process took the row"
        assert requests.get(f"{first.url}/health", timeout=10).status_code == 200

        first.kill()  # a crash leaves its row behind: a restart waits until its heartbeat is stale
        began = time.monotonic()
        with serving(database_url, tmp_path / "restarted.log", "w1") as restarted:
            assert time.monotonic() - began < 30
            with Store(database_url) as store:
                [worker] = store.live_workers(60)
                assert worker.address == f"127.0.0.1:{restarted.port}"
            assert restarted.stop() == 0


def test_sigterm_stops_many_unreachable_connectors_within_ten_seconds(
    database_url: str, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "serve.log", "w1") as service:
        for index in range(50):
            create(service, f"c{index}", {**UNREACHABLE_CONFIG, "admin.timeout.ms": "60000"})
        with Store(database_url) as store:
            wait_until(
                lambda: len(service.log.split("connector added")) > 50, timeout=60, what="50 connectors added"
            )
            assert len(store.list_connectors()) == 50
        time.sleep(3)  # every supervisor is now waiting on its unreachable cluster
        began = time.monotonic()
        assert service.stop() == 0
        took = time.monotonic() - began
    assert took < 10, f"SIGTERM took {took:.1f} s"
