"""What a schedule does when it fires: pause or resume a flow, sample a flow's lag, or run one
backup of an S3SinkConnector (``mirror.service.backups``).

Each firing first claims ``(schedule, scheduled time)`` in the store; only the process that wins
the claim runs it, so a firing runs once even when two schedulers overlap during a leadership
handover. The outcome (``ok``, ``ok <numbers>`` or ``error: ...``) is stored with the run.

APScheduler's persistent job store keeps jobs as a textual function reference plus arguments:
:func:`run_schedule` and the schedule's id.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mirror.service.backups import run_scheduled_backup
from mirror.service.lag_sampler import sample_flow
from mirror.store.records import ScheduleRecord, TargetState
from mirror.store.store import Store

log = logging.getLogger("mirror.service.jobs")


@dataclass(frozen=True)
class JobContext:
    store: Store
    worker_id: str
    stop: threading.Event = field(default_factory=threading.Event)
    """Set when the service stops: long actions (backups) end early, cleanly."""


def run_schedule(
    schedule_id: str, scheduled_for: datetime | None = None, context: JobContext | None = None
) -> None:
    """Run one firing of a schedule, unless another process has claimed it.

    ``mirror.service.scheduler``'s executor passes the firing's scheduled time, which identifies
    it, and the context (optional only because APScheduler checks a job's arguments first)."""
    if context is None or scheduled_for is None:
        raise RuntimeError("run_schedule needs the firing's scheduled time and a job context")
    store = context.store
    if not store.claim_run(schedule_id, scheduled_for, context.worker_id):
        log.debug(
            "firing claimed elsewhere", extra={"schedule": schedule_id, "at": scheduled_for.isoformat()}
        )
        return
    schedule = store.get_schedule(schedule_id)
    if schedule is None:
        return
    try:
        outcome = run_action(store, schedule, context)
    except Exception as exc:
        log.exception("scheduled action failed", extra={"schedule": schedule_id, "action": schedule.action})
        outcome = f"error: {exc}"
    store.finish_run(schedule_id, scheduled_for, outcome)
    log.info("schedule ran", extra={"schedule": schedule_id, "action": schedule.action, "outcome": outcome})


def run_action(store: Store, schedule: ScheduleRecord, context: JobContext | None = None) -> str:
    long_action = LONG_ACTIONS.get(schedule.action)
    if long_action is not None:
        return long_action(context or JobContext(store, "local"), schedule)
    action = ACTIONS.get(schedule.action)
    if action is None:
        return f"error: unknown action {schedule.action!r}"
    return action(store, schedule)


def _pause_flow(store: Store, schedule: ScheduleRecord) -> str:
    store.set_flow_state(schedule.target, TargetState.PAUSED, actor=f"schedule:{schedule.id}")
    return "ok"


def _resume_flow(store: Store, schedule: ScheduleRecord) -> str:
    store.set_flow_state(schedule.target, TargetState.RUNNING, actor=f"schedule:{schedule.id}")
    return "ok"


def _lag_sample(store: Store, schedule: ScheduleRecord) -> str:
    sample = sample_flow(store, schedule.target)
    return "ok " + json.dumps(
        {
            "records": sample.records,
            "partitions": {f"{lag.topic}-{lag.partition}": lag.records for lag in sample.partitions},
        },
        sort_keys=True,
    )


ACTIONS: Mapping[str, Callable[[Store, ScheduleRecord], str]] = {
    "pause_flow": _pause_flow,
    "resume_flow": _resume_flow,
    "lag_sample": _lag_sample,
}
"""The actions a schedule may name."""


def _backup(context: JobContext, schedule: ScheduleRecord) -> str:
    holder = f"{schedule.id}@{context.worker_id}"
    return run_scheduled_backup(context.store, schedule.target, holder=holder, stop=context.stop)


LONG_ACTIONS: Mapping[str, Callable[[JobContext, ScheduleRecord], str]] = {"backup": _backup}
"""Actions that run for a while, on the firing's thread; ``JobContext.stop`` ends them early."""
