"""Observed status as the runtime reported it: of one connector, or of every connector at once.

Reading every connector's status one connector at a time costs two queries per connector, so
``GET /connectors?expand=status`` and ``/metrics`` grew with the number of connectors. ``all_statuses``
reads them all in two queries, whatever their number.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from mirror.store.models import ConnectorStateRow, TaskStateRow
from mirror.store.records import ConnectorState, TaskState


class Statuses:
    """Every connector's reported state and task states, as read in one transaction."""

    def __init__(self, states: dict[str, ConnectorState], tasks: dict[str, list[TaskState]]) -> None:
        self._states = states
        self._tasks = tasks

    def of(self, name: str) -> tuple[ConnectorState | None, list[TaskState]]:
        """(None, []) for a connector that has not reported yet, as ``Store.connector_state`` and
        ``Store.task_states`` answer; the task list is the caller's to keep."""
        return self._states.get(name), list(self._tasks.get(name, ()))


def connector_state(session: Session, name: str) -> ConnectorState | None:
    row = session.get(ConnectorStateRow, name)
    return None if row is None else _connector_state(row)


def task_states(session: Session, name: str) -> list[TaskState]:
    """Sorted by task id."""
    rows = session.scalars(
        select(TaskStateRow).where(TaskStateRow.connector == name).order_by(TaskStateRow.task_id)
    )
    return [_task_state(row) for row in rows]


def all_statuses(session: Session) -> Statuses:
    """Two queries: every connector state, then every task state (each connector's sorted by id)."""
    states = {row.connector: _connector_state(row) for row in session.scalars(select(ConnectorStateRow))}
    tasks: defaultdict[str, list[TaskState]] = defaultdict(list)
    for row in session.scalars(select(TaskStateRow).order_by(TaskStateRow.connector, TaskStateRow.task_id)):
        tasks[row.connector].append(_task_state(row))
    return Statuses(states, dict(tasks))


def _connector_state(row: ConnectorStateRow) -> ConnectorState:
    return ConnectorState(
        name=row.connector,
        state=row.state,
        worker_id=row.worker_id,
        trace=row.trace,
        updated_at=row.updated_at,
    )


def _task_state(row: TaskStateRow) -> TaskState:
    return TaskState(
        connector=row.connector,
        task_id=row.task_id,
        state=row.state,
        worker_id=row.worker_id,
        trace=row.trace,
        detail=row.detail,
        updated_at=row.updated_at,
    )
