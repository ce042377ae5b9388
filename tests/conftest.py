"""Shared pytest fixtures: two real local Kafka clusters (``primary`` and ``backup``) per test session.

Set ``MIRROR_TEST_PRIMARY`` / ``MIRROR_TEST_BACKUP`` to bootstrap strings of already-running clusters
(e.g. from ``deploy/local/kafka-local start --name primary``) to reuse them: nothing is then started
or stopped for that cluster.  ``MIRROR_TEST_KEEP_STATE=1`` keeps the per-run state dir (broker logs
and data) under ``.local/``; it is also kept when a test failed.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres_harness, s3_harness
from tests.kafka_harness import (
    REPO,
    ClusterProcess,
    KafkaClusters,
    LocalCluster,
    start_clusters,
    stop_clusters,
    stop_orphaned_test_runs,
    unique_topic_name,
    wait_for_group_coordinator,
    wait_for_metadata,
)

CLUSTER_ENV = {"primary": "MIRROR_TEST_PRIMARY", "backup": "MIRROR_TEST_BACKUP"}


@pytest.fixture(scope="session")
def kafka_clusters(request: pytest.FixtureRequest) -> Iterator[KafkaClusters]:
    reused = {name: os.environ[env] for name, env in CLUSTER_ENV.items() if os.environ.get(env)}
    to_start = [name for name in CLUSTER_ENV if name not in reused]
    state_dir = REPO / ".local" / f"test-run-{os.getpid()}"
    processes: dict[str, ClusterProcess] = {}
    broken = False
    try:
        if to_start:
            for orphan in stop_orphaned_test_runs():
                sys.stderr.write(f"\nstopped Kafka brokers left behind by a dead test run in {orphan}\n")
            processes = start_clusters(to_start, state_dir)
        clusters = {name: LocalCluster(name, bootstrap) for name, bootstrap in reused.items()}
        clusters.update({name: process.cluster for name, process in processes.items()})
        for cluster in clusters.values():
            wait_for_metadata(cluster.bootstrap_servers)
            wait_for_group_coordinator(cluster.bootstrap_servers)
        yield KafkaClusters(primary=clusters["primary"], backup=clusters["backup"], processes=processes)
    except BaseException:  # the clusters did not come up (test failures never propagate to here)
        broken = True
        raise
    finally:
        try:
            stop_clusters(processes.values())
        finally:
            _cleanup_state_dir(request, state_dir, keep=broken)


def _cleanup_state_dir(request: pytest.FixtureRequest, state_dir: Path, keep: bool) -> None:
    if not state_dir.exists():
        return
    if keep or request.session.testsfailed or os.environ.get("MIRROR_TEST_KEEP_STATE"):
        sys.stderr.write(f"\nlocal Kafka state (broker logs) kept in {state_dir}\n")
        return
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL server for this session; ``MIRROR_TEST_POSTGRES_URL`` reuses one of yours."""
    reused = os.environ.get("MIRROR_TEST_POSTGRES_URL")
    if reused:
        yield reused
        return
    try:
        server = postgres_harness.start_postgres()
    except postgres_harness.PostgresMissingError as missing:
        pytest.fail(str(missing), pytrace=False)
    try:
        yield server.url()
    finally:
        postgres_harness.stop_postgres(server)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once a SQLite file and once a fresh PostgreSQL database (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.db'}"
        return
    database_url = postgres_harness.create_database(request.getfixturevalue("postgres_url"))
    try:
        yield database_url
    finally:
        postgres_harness.drop_database(database_url)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[s3_harness.S3Endpoint]:
    """A real S3-compatible server on 127.0.0.1 for this session (``MIRROR_TEST_S3``: reuse a state.json)."""
    reused = os.environ.get("MIRROR_TEST_S3")
    if reused:
        yield s3_harness.endpoint_from_state(Path(reused))
        return
    server = s3_harness.start_s3(tmp_path_factory.mktemp("s3"))
    try:
        yield server.endpoint
    finally:
        s3_harness.stop_s3(server)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A unique topic/group-name-safe string for this test, e.g. ``test-round-trip-3fa9c1``."""
    return unique_topic_name(request.node.name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses the real clusters is an ``integration`` test."""
    for item in items:
        if "kafka_clusters" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
