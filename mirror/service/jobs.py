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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mirror.config.connectors import MirrorSourceConfig
from mirror.kafka import ClusterAdmin, make_consumer, watermarks
from mirror.lag import PartitionLag, partition_lag
from mirror.runtime.offsets import OffsetStore
from mirror.service.backups import run_scheduled_backup
from mirror.service.effective import resolve
from mirror.store.records import ScheduleRecord, TargetState
from mirror.store.store import Store

log = logging.getLogger("mirror.service.jobs")

_LAG_TIMEOUT_S = 10.0


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
    lags = flow_lag(store, schedule.target)
    return "ok " + json.dumps(
        {
            "records": sum(lag.records for lag in lags),
            "partitions": {f"{lag.topic}-{lag.partition}": lag.records for lag in lags},
        },
        sort_keys=True,
    )


def flow_lag(store: Store, flow_name: str) -> list[PartitionLag]:
    """Per source partition the flow replicates: source log-end offset minus the next offset the
    flow will copy (from its committed source offsets on the target)."""
    flow = store.get_flow(flow_name)
    if flow is None:
        raise LookupError(f"flow {flow_name!r} does not exist")
    clusters = {profile.name: profile for profile in store.list_clusters()}
    for name in flow.connectors:
        record = store.get_connector(name)
        if record is None:
            continue
        resolved = resolve(name, record.connector_class, record.config, clusters)
        if resolved.plugin.java_class.endswith(".MirrorSourceConnector") and resolved.offsets is not None:
            config = MirrorSourceConfig.parse(resolved.config)
            committed = OffsetStore(resolved.offsets, name, resolved.source_alias).read()
            return _lag(config, committed)
    raise LookupError(f"flow {flow_name!r} has no MirrorSourceConnector")


def _lag(config: MirrorSourceConfig, committed: Mapping[tuple[str, int], int]) -> list[PartitionLag]:
    admin = ClusterAdmin(config.source_admin.librdkafka, f"{config.name}|lag-admin", _LAG_TIMEOUT_S)
    try:
        topics = admin.topic_partitions()
    finally:
        admin.close()
    partitions = sorted(
        {
            (topic, p)
            for topic, count in topics.items()
            if config.should_replicate_topic(topic)
            for p in range(count)
        }
        | set(committed)
    )
    consumer, _watch = make_consumer(
        {**config.source_consumer.librdkafka, "group.id": f"{config.name}-lag"}, f"{config.name}|lag"
    )
    now_ms = int(time.time() * 1000)
    try:
        lags = []
        for topic, partition in partitions:
            low, high = watermarks(consumer, topic, partition, _LAG_TIMEOUT_S)
            last = committed.get((topic, partition))
            lags.append(
                partition_lag(
                    topic,
                    partition,
                    source_start_offset=low,
                    source_end_offset=high,
                    next_offset=None if last is None else last + 1,
                    oldest_waiting_timestamp_ms=None,
                    now_ms=now_ms,
                )
            )
        return lags
    finally:
        consumer.close()


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
