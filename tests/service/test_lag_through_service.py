"""Lag seen the way an operator sees it: a flow that `mirror serve` runs is stopped, 1,000
records arrive on the source, and the lag reaches exactly 1,000 within one sampling interval in
the API, in `/metrics` and in `mirror lag`; after a resume it returns to 0 everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from mirror.service.serve import METRICS_DIR_PREFIX
from tests.browser import elements, render
from tests.kafka_harness import REPO, KafkaClusters
from tests.kafka_io import Record, assert_age_of_record, create_topic, produce, replicated, wait_until
from tests.service_harness import SINGLE_BROKER_KEYS, ServeProcess, serving

LAG_INTERVAL_S = 2.0
PROMTOOL = REPO / ".local" / "bin" / "promtool"


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of one metric, keyed by its label set."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[frozenset(sample.labels.items())] = sample.value
    return found


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def flow_lag(service: ServeProcess, flow: str) -> dict[str, Any]:
    response = requests.get(f"{service.url}/flows/{flow}/lag", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_lag(service: ServeProcess, flow: str, records: int, timeout: float) -> dict[str, Any]:
    """The first sample the API shows with this many records waiting."""
    deadline = time.monotonic() + timeout
    while (view := flow_lag(service, flow))["records"] != records:
        assert time.monotonic() < deadline, f"lag not {records} after {timeout} s: {view}"
        time.sleep(0.1)
    return view


def metrics_text(service: ServeProcess) -> str:
    response = requests.get(f"{service.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def lag_cli(service: ServeProcess, flow: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mirror.cli",
            "lag",
            "--service",
            service.url,
            "--flow",
            flow,
            "--once",
            "--json",
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MIRROR_API_TOKEN": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    views: list[dict[str, Any]] = json.loads(done.stdout)
    assert [view["flow"] for view in views] == [flow]
    return views[0]


def test_lag_of_a_stopped_flow_is_exact_in_the_api_metrics_and_cli(
    kafka_clusters: KafkaClusters, unique_name: str, tmp_path: Path
) -> None:
    primary, backup = kafka_clusters.primary.bootstrap_servers, kafka_clusters.backup.bootstrap_servers
    topic, remote, flow = unique_name, f"primary.{unique_name}", "primary-backup"
    create_topic(primary, topic, partitions=3)
    now_ms = int(time.time() * 1000)
    produce(primary, topic, [Record(i % 3, None, f"before-{i}".encode(), (), now_ms) for i in range(30)])
    database = f"sqlite:///{tmp_path / 'mirror.db'}"
    with serving(database, tmp_path / "serve.log", "w1", "--lag-interval", str(LAG_INTERVAL_S)) as service:
        for name, bootstrap in (("primary", primary), ("backup", backup)):
            body = {"name": name, "bootstrap_servers": bootstrap}
            assert requests.post(f"{service.url}/clusters", json=body, timeout=10).status_code == 201
        flow_body = {
            "source": "primary",
            "target": "backup",
            # Only this test's topic: other tests leave a heartbeats topic on the shared clusters.
            "config": {
                "topics": topic,
                "heartbeats.replication.enabled": "false",
                "offset.flush.interval.ms": "500",
                **SINGLE_BROKER_KEYS,
            },
        }
        response = requests.post(f"{service.url}/flows", json=flow_body, timeout=10)
        assert response.status_code == 201, response.text
        wait_until(replicated(backup, remote, 30), what="replication by the service")
        wait_until(lambda: flow_lag(service, flow)["records"] == 0, what="a sample with nothing waiting")

        # Records the tasks copied reach /metrics from the service process (multiprocess mode).
        copied = samples(metrics_text(service), "mirror_replication_records_total")
        assert (
            copied[labels(connector=f"{flow}-source", connector_class="MirrorSourceConnector", topic=remote)]
            == 30
        )

        assert requests.put(f"{service.url}/flows/{flow}/stop", timeout=10).status_code == 202
        wait_until(
            lambda: (
                {
                    c["connector"]["state"]
                    for c in requests.get(f"{service.url}/flows/{flow}", timeout=10).json()["connectors"]
                }
                == {"STOPPED"}
            ),
            what="the flow stopped",
        )
        first_ms = int(time.time() * 1000)
        produce(
            primary,
            topic,
            [Record(i % 3, None, f"while-stopped-{i}".encode(), (), first_ms + i) for i in range(1000)],
        )
        produced_at = time.monotonic()
        # The next sample starts at most one interval from now, and takes a moment of its own.
        lag = wait_for_lag(service, flow, 1000, timeout=LAG_INTERVAL_S + 5)
        assert time.monotonic() - produced_at <= LAG_INTERVAL_S + 5
        assert sorted((p["topic"], p["partition"], p["records"]) for p in lag["partitions"]) == [
            (topic, 0, 334),
            (topic, 1, 333),
            (topic, 2, 333),
        ]
        assert lag["topics"] == [{"topic": topic, "records": 1000, "seconds": lag["seconds"]}]
        # Seconds: the oldest waiting record is the first one produced while stopped.
        assert isinstance(lag["seconds"], float)
        assert_age_of_record(lag["seconds"], first_ms, lag["sampled_at"])

        text = metrics_text(service)
        assert samples(text, "mirror_replication_lag_records")[labels(flow=flow, topic=topic)] == 1000
        assert (
            samples(text, "mirror_replication_lag_seconds")[labels(flow=flow, topic=topic)] >= lag["seconds"]
        )
        assert (
            samples(text, "mirror_connector_status")[labels(connector=f"{flow}-source", state="STOPPED")] == 1
        )
        assert samples(text, "mirror_store_up")[labels()] == 1
        checked = subprocess.run(
            [str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

        cli = lag_cli(service, flow)
        assert cli["records"] == 1000
        page = render(f"{service.url}/ui/flows/{flow}", "service-flow-stopped")
        assert elements(page.dom, "span", data_lag_records="1000")
        assert elements(page.dom, "li", data_connector=f"{flow}-source", data_state="STOPPED")

        history = requests.get(
            f"{service.url}/lag",
            params={"flow": flow, "topic": topic, "since": str(int(time.time()) - 300)},
            timeout=10,
        ).json()
        assert history["tier"] == "raw"
        waiting = [point["records"] for point in history["series"][0]["points"]]
        assert max(waiting) == 1000
        assert 0 in waiting[: waiting.index(1000)]  # the caught-up samples before the stop are kept too

        assert requests.put(f"{service.url}/flows/{flow}/resume", timeout=10).status_code == 202
        wait_until(lambda: flow_lag(service, flow)["records"] == 0, timeout=60, what="lag back to 0")
        text = metrics_text(service)
        assert samples(text, "mirror_replication_lag_records")[labels(flow=flow, topic=topic)] == 0
        assert samples(text, "mirror_replication_lag_seconds")[labels(flow=flow, topic=topic)] == 0
        assert lag_cli(service, flow)["records"] == 0
        page = render(f"{service.url}/ui", "service-overview-resumed")
        assert [
            cell.attributes["data-lag-records"] for cell in elements(page.dom, "td", data_lag_records="0")
        ] == ["0"]
        copied = samples(text, "mirror_replication_records_total")
        assert (
            copied[labels(connector=f"{flow}-source", connector_class="MirrorSourceConnector", topic=remote)]
            == 1030
        )

        assert service.process is not None
        metrics_dir = Path(tempfile.gettempdir()) / f"{METRICS_DIR_PREFIX}{service.process.pid}"
        assert any(metrics_dir.glob("*.db"))  # the task metrics went through files there
        assert service.stop() == 0
        assert not metrics_dir.exists()
