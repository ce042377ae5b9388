"""The JSON shapes of responses: Connect's entities for connectors, our own for the rest.

Every config passes through ``redact`` here, so no response can carry a secret value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from mirror.api.bodies import JsonObject
from mirror.config.librdkafka import hide_url_credentials
from mirror.runtime.status import State
from mirror.service.plugins import find_plugin
from mirror.service.redaction import redact
from mirror.store.records import (
    AuditEntry,
    ClusterProfile,
    ConnectorRecord,
    ConnectorState,
    FlowRecord,
    ScheduleRecord,
    ScheduleRun,
    TaskState,
)


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def connector_type(record: ConnectorRecord) -> str:
    plugin = find_plugin(record.connector_class)
    return "unknown" if plugin is None else plugin.type


def connector_config(record: ConnectorRecord) -> dict[str, str]:
    """The stored config with ``name`` always present and secrets hidden."""
    return redact({**record.config, "name": record.name})


def visible_tasks(state: ConnectorState | None, tasks: Sequence[TaskState]) -> list[TaskState]:
    """A STOPPED connector has no tasks (Connect empties its task configs)."""
    if state is not None and state.state == State.STOPPED:
        return []
    return sorted(tasks, key=lambda task: task.task_id)


def connector_info(
    record: ConnectorRecord, state: ConnectorState | None, tasks: Sequence[TaskState]
) -> JsonObject:
    return {
        "name": record.name,
        "config": connector_config(record),
        "tasks": [{"connector": record.name, "task": task.task_id} for task in visible_tasks(state, tasks)],
        "type": connector_type(record),
    }


def task_state(task: TaskState) -> JsonObject:
    shown: JsonObject = {"id": task.task_id, "state": task.state, "worker_id": task.worker_id}
    if task.trace:
        shown["trace"] = task.trace
    return shown


def connector_state(record: ConnectorRecord, state: ConnectorState | None) -> JsonObject:
    """The observed state, or UNASSIGNED while no worker has reported one."""
    if state is None:
        return {"state": State.UNASSIGNED.value, "worker_id": record.assigned_worker or ""}
    shown: JsonObject = {"state": state.state, "worker_id": state.worker_id}
    if state.trace:
        shown["trace"] = state.trace
    return shown


def connector_status(
    record: ConnectorRecord, state: ConnectorState | None, tasks: Sequence[TaskState]
) -> JsonObject:
    return {
        "name": record.name,
        "connector": connector_state(record, state),
        "tasks": [task_state(task) for task in visible_tasks(state, tasks)],
        "type": connector_type(record),
    }


def cluster(profile: ClusterProfile) -> JsonObject:
    return {
        "name": profile.name,
        # Credentials in servers are refused now, but a profile stored earlier may hold some.
        "bootstrap_servers": hide_url_credentials(profile.bootstrap_servers),
        "config": redact(profile.config),
        "secrets": sorted(profile.secrets),
        "created_at": timestamp(profile.created_at),
        "updated_at": timestamp(profile.updated_at),
    }


def flow(record: FlowRecord, connectors: Sequence[JsonObject]) -> JsonObject:
    return {
        "name": record.name,
        "source": record.source_cluster,
        "target": record.target_cluster,
        "config": redact(record.config),
        "target_state": record.target_state.value,
        "connectors": list(connectors),
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(record.updated_at),
    }


def schedule_run(run: ScheduleRun) -> JsonObject:
    return {
        "scheduled_for": timestamp(run.scheduled_for),
        "worker_id": run.worker_id,
        "started_at": timestamp(run.started_at),
        "finished_at": timestamp(run.finished_at),
        "outcome": run.outcome,
    }


def schedule(record: ScheduleRecord, runs: Sequence[ScheduleRun]) -> JsonObject:
    shown: JsonObject = {
        "id": record.id,
        "action": record.action,
        "target": record.target,
        "trigger": record.trigger,
        "enabled": record.enabled,
        "created_at": timestamp(record.created_at),
    }
    if record.trigger == "cron":
        shown["cron"] = record.spec
    else:
        shown["interval_seconds"] = int(record.spec)
    shown["runs"] = [schedule_run(run) for run in runs]
    return shown


def audit_entry(entry: AuditEntry) -> JsonObject:
    return {
        "id": entry.id,
        "at": timestamp(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "resource": entry.resource,
        "detail": redact(entry.detail),
    }
