"""The API under test: a real SQLite Store, the Flask app over it, and a test client that keeps
every response so a test can prove no secret ever left the server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mirror.api.app import ApiSettings, create_app
from mirror.service.offsets import ConnectorOffset, InvalidOffsetsError, OffsetsUnavailableError
from mirror.store.records import ConnectorRecord, ConnectorState, TaskState
from mirror.store.store import Store
from tests.made_up import secret

MM2_SOURCE = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
MM2_CHECKPOINT = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
MM2_HEARTBEAT = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"
WORKER = "127.0.0.1:8083"


class JsonResponse(TestResponse):
    """A test response whose ``json`` tests may index without a None check (they assert the
    status first)."""

    @property
    def json(self) -> Any:
        return self.get_json(silent=True)


class RecordingClient(FlaskClient):
    """Keeps the headers and body of every response."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app, JsonResponse, use_cookies=False)
        self.seen: list[str] = []

    def open(
        self, *args: Any, buffered: bool = False, follow_redirects: bool = False, **kwargs: Any
    ) -> JsonResponse:
        response = super().open(*args, buffered=buffered, follow_redirects=follow_redirects, **kwargs)
        assert isinstance(response, JsonResponse)
        self.seen.append(f"{response.headers}\n{response.get_data(as_text=True)}")
        return response

    def get(self, *args: Any, **kwargs: Any) -> JsonResponse:
        return self.open(*args, method="GET", **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        return self.open(*args, method="POST", **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> JsonResponse:
        return self.open(*args, method="PUT", **kwargs)

    def patch(self, *args: Any, **kwargs: Any) -> JsonResponse:
        return self.open(*args, method="PATCH", **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> JsonResponse:
        return self.open(*args, method="DELETE", **kwargs)


class MemoryOffsetsAdmin:
    """Stands in for Kafka behind the offsets endpoints: the API's own rules are what is tested."""

    def __init__(self) -> None:
        self.offsets: dict[str, list[ConnectorOffset]] = {}
        self.calls: list[tuple[str, str]] = []
        self.unreachable: set[str] = set()

    def get(self, connector: ConnectorRecord) -> list[ConnectorOffset]:
        self.calls.append(("get", connector.name))
        if connector.name in self.unreachable:
            raise OffsetsUnavailableError(f"the target cluster of {connector.name} does not answer")
        return list(self.offsets.get(connector.name, []))

    def alter(self, connector: ConnectorRecord, offsets: Sequence[ConnectorOffset]) -> None:
        self.calls.append(("alter", connector.name))
        for item in offsets:
            if "topic" not in item.partition:
                raise InvalidOffsetsError(f"partition {dict(item.partition)} has no 'topic'")
        kept = {tuple(sorted(item.partition.items())): item for item in self.offsets.get(connector.name, [])}
        for item in offsets:
            key = tuple(sorted(item.partition.items()))
            if item.offset is None:
                kept.pop(key, None)
            else:
                kept[key] = item
        self.offsets[connector.name] = list(kept.values())

    def reset(self, connector: ConnectorRecord) -> None:
        self.calls.append(("reset", connector.name))
        self.offsets.pop(connector.name, None)


@dataclass
class Api:
    store: Store
    app: Flask
    client: RecordingClient
    offsets: MemoryOffsetsAdmin
    secrets: list[str] = field(default_factory=list)

    def secret(self) -> str:
        """A fresh secret value that no response may ever contain."""
        value = secret()
        self.secrets.append(value)
        return value

    def leaks(self) -> list[str]:
        return [value for value in self.secrets for seen in self.client.seen if value in seen]

    def report(
        self,
        connector: str,
        state: str = "RUNNING",
        tasks: Mapping[int, str] | None = None,
        traces: Mapping[int, str] | None = None,
        connector_trace: str | None = None,
    ) -> None:
        """Write observed states as the runtime does (``Store.report_status``)."""
        now = datetime.now(UTC)
        task_states = [
            TaskState(connector, task_id, task_state, WORKER, (traces or {}).get(task_id), None, now)
            for task_id, task_state in (tasks or {}).items()
        ]
        self.store.report_status(
            WORKER, [ConnectorState(connector, state, WORKER, connector_trace, now)], task_states
        )


def build_api(store: Store, *, with_offsets: bool = True, **settings: Any) -> Api:
    offsets = MemoryOffsetsAdmin()
    app = create_app(ApiSettings(store=store, offsets=offsets if with_offsets else None, **settings))
    return Api(store=store, app=app, client=RecordingClient(app), offsets=offsets)


def mm2_source_config(source: str = "A", target: str = "B", **extra: str) -> dict[str, str]:
    """A MirrorSourceConnector config as MM2-on-Connect deployments write it."""
    return {
        "connector.class": MM2_SOURCE,
        "source.cluster.alias": source,
        "target.cluster.alias": target,
        "source.cluster.bootstrap.servers": "127.0.0.1:9092",
        "target.cluster.bootstrap.servers": "127.0.0.1:9093",
        "topics": "orders.*",
        "tasks.max": "2",
        **extra,
    }


def jaas(password: str) -> str:
    login_module = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return f'{login_module} required username="mirror" password="{password}";'


def snapshot(store: Store) -> tuple[object, ...]:
    """Everything the API can write, to prove a refused request changed nothing."""
    return (
        store.list_connectors(),
        store.list_clusters(),
        store.list_flows(),
        store.list_schedules(),
        [entry.id for entry in store.audit_log(limit=1000)],
    )


def memory_offsets_admin(store: Store) -> MemoryOffsetsAdmin:
    """A ``MIRROR_API_OFFSETS_ADMIN`` factory for the environment tests."""
    del store  # the memory admin needs no store
    return MemoryOffsetsAdmin()
