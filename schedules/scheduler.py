"""The station's one APScheduler 3.11 process (inside `loa serve`, or `loa scheduler` at scale).

APScheduler only decides *when* to call; the database is the source of truth. Jobs live in
memory and are registered afresh at every start (never a shared job store: two processes on
one SQLAlchemyJobStore ran a job twice). Every job is idempotent, so a run twice, a coalesced
catch-up or a run after a restart never airs anything twice:
- the materialized timetable is a pure function of (rules, now), stored with a version, and
  its plays are keyed by (device, rule, planned start): writing the same plays again changes
  nothing, and the broadcaster nudges devices only when a device's version changes;
- rendering, expiry and offline marking are "make it so" updates of state, not appends;
- the nightly report is keyed by its date.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedules.model import DEFAULT_TZ, require_aware

log = logging.getLogger(__name__)

Job = Callable[[datetime], object]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class JobPlan:
    """How often each job runs (seconds) and when the nightly report runs (local time)."""

    materialize_s: float = 60.0
    render_s: float = 30.0
    expire_s: float = 300.0
    offline_s: float = 60.0
    nightly_hour: int = 23
    nightly_minute: int = 30
    misfire_grace_s: int = 30


@dataclass(slots=True)
class JobStats:
    runs: int = 0
    errors: int = 0
    last_error: str | None = None
    last_now: datetime | None = None


class StationScheduler:
    """Registers the station's periodic jobs; each job receives `clock()` as its `now`."""

    JOBS = ("materialize", "render_pending", "expire_content", "mark_offline", "nightly_report")

    def __init__(
        self,
        *,
        materialize_all: Job,
        render_pending: Job,
        expire_content: Job,
        mark_offline: Job,
        nightly_report: Job,
        clock: Clock,
        timezone: str = DEFAULT_TZ,
        plan: JobPlan = JobPlan(),
    ) -> None:
        self._clock = clock
        self._plan = plan
        self._funcs: dict[str, Job] = {
            "materialize": materialize_all,
            "render_pending": render_pending,
            "expire_content": expire_content,
            "mark_offline": mark_offline,
            "nightly_report": nightly_report,
        }
        self.stats: dict[str, JobStats] = {name: JobStats() for name in self.JOBS}
        self._lock = threading.Lock()
        self._sched = BackgroundScheduler(
            timezone=timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": plan.misfire_grace_s},
        )
        self._sched.add_listener(self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self._register(timezone)

    def _register(self, tz: str) -> None:
        p = self._plan
        interval = {"materialize": p.materialize_s, "render_pending": p.render_s,
                    "expire_content": p.expire_s, "mark_offline": p.offline_s}
        for name, secs in interval.items():
            self._sched.add_job(self._runner(name), IntervalTrigger(seconds=secs, timezone=tz), id=name,
                                name=name, replace_existing=True)
        self._sched.add_job(self._runner("nightly_report"),
                            CronTrigger(hour=p.nightly_hour, minute=p.nightly_minute, timezone=tz),
                            id="nightly_report", name="nightly_report", replace_existing=True)

    def _runner(self, name: str) -> Callable[[], object]:
        func = self._funcs[name]

        def run() -> object:
            now = require_aware(self._clock(), "clock()")
            with self._lock:
                self.stats[name].last_now = now
            return func(now)

        run.__name__ = f"loa_{name}"
        return run

    def _on_event(self, event: JobExecutionEvent) -> None:
        st = self.stats.get(event.job_id)
        if st is None:
            return
        with self._lock:
            st.runs += 1
            if event.exception is not None:
                st.errors += 1
                st.last_error = repr(event.exception)
        if event.exception is not None:
            log.error("job %s failed: %r", event.job_id, event.exception)

    # ------------------------------------------------------------ control

    def start(self, run_materialize_now: bool = True) -> None:
        """Start; by default materialize at once (a restart must not wait a full interval)."""
        self._sched.start()
        if run_materialize_now:
            self.run_soon("materialize")

    def run_soon(self, name: str) -> None:
        """Run a job as soon as possible (e.g. after a rule is saved); coalesces with a queued run."""
        if name not in self._funcs:
            raise KeyError(name)
        self._sched.modify_job(name, next_run_time=datetime.now(self._sched.timezone))

    def shutdown(self, wait: bool = True) -> None:
        if self._sched.running:
            self._sched.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        return bool(self._sched.running)  # (APScheduler 3 is untyped)

    def jobs(self) -> dict[str, dict[str, Any]]:
        """id → trigger description and settings, for status pages and tests."""
        # before start() jobs are pending and the job defaults are not applied yet
        return {j.id: {"trigger": str(j.trigger), "coalesce": getattr(j, "coalesce", None),
                       "max_instances": getattr(j, "max_instances", None),
                       "misfire_grace_time": getattr(j, "misfire_grace_time", None),
                       "next_run_time": getattr(j, "next_run_time", None)}
                for j in self._sched.get_jobs()}
