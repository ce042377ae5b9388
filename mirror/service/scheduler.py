"""Schedules: APScheduler 3 on the control-plane database, run by one process at a time.

The process holding the ``scheduler`` lease runs a ``BackgroundScheduler`` whose jobs live in
the ``apscheduler_jobs`` table (made by the store's migrations), so a new leader carries on
with the stored next run times. It renews the lease every few seconds; when it dies, another
process takes the lease once it expires and starts its own scheduler. Stored schedules
(``Store.list_schedules``) are the desired state: the leader adds, replaces and removes jobs to
match. Each firing is claimed in the store before it runs (``mirror.service.jobs``), so an
overlap of two leaders never runs a firing twice.

The leader also runs the lag sampler (``mirror.service.lag_sampler``) every ``lag_interval_s``,
as a job of its own kept in memory: it is not a stored schedule, and a new leader starts it anew.
A sample that overruns its interval is skipped, never queued.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import traceback
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from mirror.service import jobs
from mirror.service.lag_sampler import DEFAULT_INTERVAL_S, LagSampler
from mirror.store.records import ScheduleRecord
from mirror.store.store import Store

log = logging.getLogger("mirror.service.scheduler")

SCHEDULER_LEASE = "scheduler"
JOBS_TABLE = "apscheduler_jobs"
_JOB_FUNCTION = "mirror.service.jobs:run_schedule"
LAG_SAMPLER_JOB = "lag-sampler"


class ScheduleSpecError(ValueError):
    """A stored schedule whose trigger or spec cannot be scheduled."""


def trigger_for(schedule: ScheduleRecord) -> BaseTrigger:
    """``interval``: every ``spec`` seconds; ``cron``: a 5-field crontab, in UTC."""
    if schedule.trigger == "interval":
        try:
            seconds = float(schedule.spec)
        except ValueError:
            raise ScheduleSpecError(
                f"interval spec must be a number of seconds, not {schedule.spec!r}"
            ) from None
        if not seconds > 0:
            raise ScheduleSpecError(f"interval spec must be positive, not {schedule.spec!r}")
        return IntervalTrigger(seconds=seconds, timezone=UTC)
    if schedule.trigger == "cron":
        try:
            return CronTrigger.from_crontab(schedule.spec, timezone=UTC)
        except ValueError as exc:
            raise ScheduleSpecError(f"bad crontab {schedule.spec!r}: {exc}") from None
    raise ScheduleSpecError(f"trigger must be interval or cron, not {schedule.trigger!r}")


def _fingerprint(schedule: ScheduleRecord) -> str:
    """Stored as the job's name: a job whose schedule changed is replaced."""
    return f"{schedule.action} {schedule.target} {schedule.trigger} {schedule.spec}"


class _FiringExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 ships no type information
    """Runs each firing on a thread, passing the time it was scheduled for, which identifies the
    firing across processes (APScheduler's own executors do not pass it), and the job context."""

    def __init__(self, context: jobs.JobContext, max_workers: int = 4) -> None:
        super().__init__()
        self._context = context
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="schedule")

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        future = self._pool.submit(self._run, job, run_times)
        future.add_done_callback(lambda done: self._run_job_success(job.id, done.result()))

    def _run(self, job: Job, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events = []
        for run_time in run_times:
            store_alias = job._jobstore_alias
            if datetime.now(UTC) - run_time > timedelta(seconds=job.misfire_grace_time or 0):
                log.warning("schedule missed", extra={"schedule": job.id, "at": run_time.isoformat()})
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, store_alias, run_time))
                continue
            try:
                job.func(*job.args, scheduled_for=run_time, context=self._context, **job.kwargs)
            except Exception as exc:
                log.exception("schedule firing failed", extra={"schedule": job.id})
                events.append(
                    JobExecutionEvent(
                        EVENT_JOB_ERROR,
                        job.id,
                        store_alias,
                        run_time,
                        exception=exc,
                        traceback=traceback.format_exc(),
                    )
                )
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, store_alias, run_time))
        return events

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)


class ScheduleService:
    """Holds or waits for the scheduler lease, and while holding it runs the schedules."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        *,
        lease_ttl_s: float = 15.0,
        renew_every_s: float = 3.0,
        misfire_grace_s: int = 30,
        lag_interval_s: float | None = DEFAULT_INTERVAL_S,
    ) -> None:
        """``lag_interval_s``: seconds between lag samples of every flow; None samples none."""
        if renew_every_s * 2 >= lease_ttl_s:
            raise ValueError("the lease must be renewed at least twice per ttl")
        self._store = store
        self._worker_id = worker_id
        self._lease_ttl_s = lease_ttl_s
        self._renew_every_s = renew_every_s
        self._misfire_grace_s = misfire_grace_s
        self._lag_interval_s = lag_interval_s
        self._scheduler: BackgroundScheduler | None = None
        self._job_context = jobs.JobContext(store, worker_id)
        self._refused: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedule-leader", daemon=True)

    @property
    def leading(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop leading; firings still running (backups) are told to stop and waited for."""
        self._stop.set()
        self._job_context.stop.set()
        if self._thread.is_alive():
            self._thread.join(self._renew_every_s + 10)
        self._step_down(wait=True)
        try:
            self._store.release_lease(SCHEDULER_LEASE, self._worker_id)
        except Exception:
            log.exception("could not release the scheduler lease")

    def _run(self) -> None:
        # Retried at the lease's renewal pace, not backed off: a longer pause would lose the lease.
        # The store replaces spoiled connections itself, so a tick after an outage just works.
        failing = False
        while True:
            try:
                self.tick()
            except Exception:
                failing = True
                log.exception("scheduler tick failed; retrying")
            else:
                if failing:
                    failing = False
                    log.info("scheduler tick works again", extra={"worker": self._worker_id})
            if self._stop.wait(self._renew_every_s):
                return

    def tick(self) -> None:
        """Renew or take the lease; lead (start, sync) or step down accordingly."""
        try:
            holding = self._store.acquire_lease(SCHEDULER_LEASE, self._worker_id, self._lease_ttl_s)
        except Exception:
            # Unsure whether the lease is still ours: another process may take it after expiry.
            self._step_down()
            raise
        if not holding:
            self._step_down()
            return
        if self._scheduler is None:
            self._lead()
        self.sync()

    def _lead(self) -> None:
        scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=self._store.engine, tablename=JOBS_TABLE),
                "memory": MemoryJobStore(),
            },
            executors={"default": _FiringExecutor(self._job_context), "sampler": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self._misfire_grace_s},
            timezone=UTC,
        )
        if self._lag_interval_s:
            scheduler.add_job(
                LagSampler(self._store, self._job_context.stop).sample_all,
                IntervalTrigger(seconds=self._lag_interval_s, timezone=UTC),
                id=LAG_SAMPLER_JOB,
                jobstore="memory",
                executor="sampler",
                next_run_time=datetime.now(UTC),
                misfire_grace_time=None,
            )
        scheduler.start()
        self._scheduler = scheduler
        self._refused.clear()
        log.info("leading the schedules", extra={"worker": self._worker_id})

    def _step_down(self, *, wait: bool = False) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=wait)
            log.info("no longer leading the schedules", extra={"worker": self._worker_id})

    def sync(self) -> None:
        """Make the scheduler's jobs match the enabled stored schedules."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        wanted = {schedule.id: schedule for schedule in self._store.list_schedules() if schedule.enabled}
        jobs_now = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
        self._refused = {key: value for key, value in self._refused.items() if key in wanted}
        for job_id in jobs_now.keys() - wanted.keys():
            scheduler.remove_job(job_id)
            log.info("schedule removed", extra={"schedule": job_id})
        for schedule in wanted.values():
            fingerprint = _fingerprint(schedule)
            job = jobs_now.get(schedule.id)
            if (job is not None and job.name == fingerprint) or self._refused.get(schedule.id) == fingerprint:
                continue
            try:
                scheduler.add_job(
                    _JOB_FUNCTION,
                    trigger_for(schedule),
                    args=[schedule.id],
                    id=schedule.id,
                    name=fingerprint,
                    replace_existing=True,
                )
            except ScheduleSpecError as exc:
                self._refused[schedule.id] = fingerprint
                log.error("schedule refused", extra={"schedule": schedule.id, "error": str(exc)})
                continue
            log.info("schedule added", extra={"schedule": schedule.id, "action": schedule.action})
