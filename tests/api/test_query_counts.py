"""Status and metrics reads cost a fixed number of SQL statements, however many connectors exist.

Counted at the driver (SQLAlchemy's ``before_cursor_execute``), on SQLite and PostgreSQL: reading
each connector's status one by one made ``GET /connectors?expand=status`` and ``/metrics`` cost two
statements per connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from mirror.store.records import TargetState
from mirror.store.store import Store
from tests.api.harness import MM2_SOURCE, Api


@pytest.fixture
def api(api_on_each_backend: Api) -> Api:
    """These tests run over SQLite and PostgreSQL."""
    return api_on_each_backend


@contextmanager
def counted_statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store's engine sends while the block runs."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def add_reporting_connectors(api: Api, names: range) -> None:
    """Connectors with two reported tasks each (the runtime reports them, as the harness does)."""
    for index in names:
        name = f"c{index:03}"
        api.store.create_connector(name, MM2_SOURCE, {}, TargetState.RUNNING, "cli")
        api.report(name, "RUNNING", tasks={0: "RUNNING", 1: "FAILED"}, traces={1: f"trace of {name}"})


def statements_behind(api: Api, url: str) -> int:
    api.client.get(url)  # the first request may open the pool's connection; count a warm one
    with counted_statements(api.store) as statements:
        response = api.client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(statements)


def test_listing_statuses_costs_the_same_for_1_and_100_connectors(api: Api) -> None:
    add_reporting_connectors(api, range(1))
    with_one = statements_behind(api, "/connectors?expand=status")
    add_reporting_connectors(api, range(1, 100))
    with_hundred = statements_behind(api, "/connectors?expand=status")

    assert with_hundred == with_one
    # The batched read still shows every connector's own status and tasks.
    listed = api.client.get("/connectors?expand=status").json
    assert len(listed) == 100
    for name, entry in listed.items():
        assert entry["status"]["connector"]["state"] == "RUNNING"
        assert [(task["id"], task["state"]) for task in entry["status"]["tasks"]] == [
            (0, "RUNNING"),
            (1, "FAILED"),
        ]
        assert entry["status"]["tasks"][1]["trace"] == f"trace of {name}"


def test_metrics_cost_the_same_for_1_and_100_connectors(api: Api) -> None:
    add_reporting_connectors(api, range(1))
    with_one = statements_behind(api, "/metrics")
    add_reporting_connectors(api, range(1, 100))
    with_hundred = statements_behind(api, "/metrics")

    assert with_hundred == with_one
    text = api.client.get("/metrics").get_data(as_text=True)
    assert 'mirror_connector_status{connector="c099",state="RUNNING"} 1.0' in text
    assert 'mirror_task_status{connector="c099",state="FAILED",task="1"} 1.0' in text
    assert "mirror_store_up 1.0" in text
