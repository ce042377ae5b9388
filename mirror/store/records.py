"""What the control-plane store hands between layers: typed, frozen records.

The API writes desired state (clusters, connectors, flows, schedules) and reads status; the
service runtime reads desired state and writes status. Neither sees SQLAlchemy rows: every
read returns these records, so a caller can never mutate stored state by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mirror.lag import LagPoint


class TargetState(StrEnum):
    """What an operator asked a connector to be (Connect's target states)."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"


class Role(StrEnum):
    ADMIN = "admin"
    READ = "read"


@dataclass(frozen=True)
class ClusterProfile:
    """Connection profile of a Kafka cluster. ``secrets`` are write-only for API callers."""

    name: str
    bootstrap_servers: str
    config: Mapping[str, str]
    """Non-secret client keys (Java names, e.g. ``security.protocol``)."""
    secrets: Mapping[str, str]
    """Secret client keys (e.g. ``sasl.jaas.config``, ``ssl.key.password``): never returned, never logged."""
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ConnectorRecord:
    name: str
    connector_class: str
    """As submitted: a Java class name or a short name; the runtime resolves it."""
    config: Mapping[str, str]
    """The full submitted config, ``name`` and ``connector.class`` included, secrets included."""
    target_state: TargetState
    generation: int
    """Bumped on every config change; the runtime restarts the connector when it moves."""
    flow: str | None
    """The flow that owns this connector, if any (such connectors are edited through the flow)."""
    assigned_worker: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RestartRequest:
    id: int
    connector: str
    task_id: int | None
    """None: the connector itself (plus tasks per ``include_tasks``); else one task."""
    include_tasks: bool
    only_failed: bool
    requested_at: datetime


@dataclass(frozen=True)
class ConnectorState:
    """Observed state of a connector instance, written by the worker that runs it."""

    name: str
    state: str
    """A ``mirror.runtime.status.State`` value: UNASSIGNED, RUNNING, PAUSED, STOPPED, FAILED, RESTARTING."""
    worker_id: str
    trace: str | None
    updated_at: datetime


@dataclass(frozen=True)
class TaskState:
    connector: str
    task_id: int
    state: str
    worker_id: str
    trace: str | None
    detail: str | None
    updated_at: datetime


@dataclass(frozen=True)
class WorkerRecord:
    worker_id: str
    address: str
    started_at: datetime
    last_heartbeat: datetime


@dataclass(frozen=True)
class FlowRecord:
    """An A->B flow: one unit owning its source, checkpoint and heartbeat connectors."""

    name: str
    source_cluster: str
    target_cluster: str
    config: Mapping[str, str]
    """MM2 flow-level keys without the ``A->B.`` prefix (``topics``, ``groups``...)."""
    target_state: TargetState
    connectors: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ScheduleRecord:
    id: str
    action: str
    """One of the actions the service registers, e.g. ``pause_flow``, ``resume_flow``, ``lag_sample``."""
    target: str
    """What the action applies to, e.g. a flow name."""
    trigger: str
    """``cron`` or ``interval``."""
    spec: str
    """Crontab expression (5 fields) for ``cron``; seconds for ``interval``."""
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class ScheduleRun:
    schedule_id: str
    scheduled_for: datetime
    """The firing time APScheduler computed; unique per schedule, so a firing runs once."""
    worker_id: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    """``ok`` or an error message."""


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    resource: str
    detail: Mapping[str, str]
    """Never contains a secret value."""


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: datetime


@dataclass(frozen=True)
class LagHistory:
    """Lag over time from one tier of history (``mirror.lag.TIERS``)."""

    tier: str
    step_s: int
    """Width of each point's bucket; 0 for raw samples."""
    points: tuple[LagPoint, ...]
    """Per topic (partition None), sorted by (flow, topic, at_s)."""
