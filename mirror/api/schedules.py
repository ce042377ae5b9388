"""``/schedules``: timed actions on flows and backups, run by the service's scheduler (one firing
runs once across all processes). The API checks them and stores them; it never runs them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from flask import Blueprint, Response, jsonify

from mirror.api import views
from mirror.api.bodies import check_simple_name, json_object, optional_bool, optional_string, required_string
from mirror.api.context import actor, store
from mirror.api.errors import ApiError, bad_request, not_found
from mirror.api.responses import empty, location
from mirror.service.backups import backup_target_problem
from mirror.store.models import NAME_LENGTH
from mirror.store.records import ScheduleRecord

blueprint = Blueprint("schedules", __name__)

FLOW_ACTIONS = ("pause_flow", "resume_flow", "lag_sample")
"""Actions whose target is a flow."""
BACKUP_ACTION = "backup"
"""One backup (to the end offsets seen when it fires) of the S3SinkConnector its target names."""
SCHEDULE_ACTIONS = (*FLOW_ACTIONS, BACKUP_ACTION)
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
RECENT_RUNS = 10


def check_crontab(expression: str) -> None:
    """A 5-field crontab that fires at least once (APScheduler reads it as the scheduler will)."""
    try:
        trigger = CronTrigger.from_crontab(expression, timezone=UTC)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise bad_request(f"'cron': {expression!r} is not a crontab expression: {error}") from None
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise bad_request(f"'cron': {expression!r} never fires")


def _trigger(body: Mapping[str, object]) -> tuple[str, str]:
    cron = optional_string(body, "cron")
    interval = body.get("interval_seconds")
    if (cron is None) == (interval is None):
        raise bad_request("give exactly one of 'cron' and 'interval_seconds'")
    if cron is not None:
        if len(cron.strip()) > NAME_LENGTH:  # the length of the column it is stored in
            raise bad_request(f"'cron' is longer than {NAME_LENGTH} characters")
        check_crontab(cron)
        return "cron", cron.strip()
    if (
        not isinstance(interval, int)
        or isinstance(interval, bool)
        or not 1 <= interval <= MAX_INTERVAL_SECONDS
    ):
        raise bad_request(f"'interval_seconds' must be an integer from 1 to {MAX_INTERVAL_SECONDS}")
    return "interval", str(interval)


def _view(record: ScheduleRecord) -> Response:
    return jsonify(views.schedule(record, store().schedule_runs(record.id, limit=RECENT_RUNS)))


@blueprint.get("/schedules")
def list_schedules() -> Response:
    return jsonify(
        [
            views.schedule(record, store().schedule_runs(record.id, limit=RECENT_RUNS))
            for record in store().list_schedules()
        ]
    )


@blueprint.post("/schedules")
def create_schedule() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    action = required_string(body, "action")
    if action not in SCHEDULE_ACTIONS:
        raise bad_request(f"'action' must be one of {', '.join(SCHEDULE_ACTIONS)}, not {action!r}")
    target = required_string(body, "target")
    if action == BACKUP_ACTION:
        problem = backup_target_problem(target, store().get_connector(target))
        if problem is not None:
            raise bad_request(f"'target': {problem}")
    elif store().get_flow(target) is None:
        raise bad_request(f"'target': flow {target} does not exist")
    trigger, spec = _trigger(body)
    enabled = optional_bool(body, "enabled", default=True)
    schedule_id = optional_string(body, "id") or f"{action}-{target}-{secrets.token_hex(3)}"
    check_simple_name("schedule", schedule_id)
    if store().get_schedule(schedule_id) is not None:
        raise ApiError(409, f"Schedule {schedule_id} already exists")
    record = store().create_schedule(
        schedule_id, action, target, trigger=trigger, spec=spec, enabled=enabled, actor=actor()
    )
    return _view(record), 201, {"Location": location("schedules", schedule_id)}


@blueprint.get("/schedules/<schedule_id>")
def get_schedule(schedule_id: str) -> Response:
    record = store().get_schedule(schedule_id)
    if record is None:
        raise not_found(f"Schedule {schedule_id} not found")
    return _view(record)


@blueprint.delete("/schedules/<schedule_id>")
def delete_schedule(schedule_id: str) -> Response:
    if store().get_schedule(schedule_id) is None:
        raise not_found(f"Schedule {schedule_id} not found")
    store().delete_schedule(schedule_id, actor=actor())
    return empty(204)
