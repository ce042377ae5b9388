"""Fixtures of the service tests: a real SQLite store, cluster profiles, in-process runtimes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mirror.service.runtime import RuntimeSettings, ServiceRuntime
from mirror.store.store import Store
from tests.kafka_harness import KafkaClusters
from tests.service_harness import ACTOR


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'mirror.db'}") as opened:
        yield opened


@pytest.fixture
def clusters(store: Store, kafka_clusters: KafkaClusters) -> KafkaClusters:
    """The test clusters, also stored as the profiles ``primary`` and ``backup``."""
    for cluster in (kafka_clusters.primary, kafka_clusters.backup):
        store.put_cluster(cluster.name, cluster.bootstrap_servers, {}, {}, actor=ACTOR)
    return kafka_clusters


@pytest.fixture
def start_runtime(store: Store) -> Iterator[Callable[[str], ServiceRuntime]]:
    """Starts reconcilers on ``store``; every one is stopped after the test."""
    started: list[ServiceRuntime] = []

    def start(worker_id: str) -> ServiceRuntime:
        runtime = ServiceRuntime(store, RuntimeSettings(worker_id=worker_id, address=worker_id))
        runtime.start()
        started.append(runtime)
        return runtime

    try:
        yield start
    finally:
        for runtime in started:
            runtime.stop()
