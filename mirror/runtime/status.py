"""Connector and task states, named as Kafka Connect names them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    RESTARTING = "RESTARTING"


@dataclass(frozen=True)
class TaskStatus:
    id: int
    state: State
    worker_id: str
    trace: str | None = None
    detail: str | None = None
    """A task's own note on its state, e.g. the groups a checkpoint task could not sync."""


@dataclass(frozen=True)
class ConnectorStatus:
    name: str
    state: State
    worker_id: str
    tasks: tuple[TaskStatus, ...]
    trace: str | None = None
