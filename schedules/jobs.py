"""The scheduler's jobs on the database: the real callables behind `StationScheduler`.

Each takes `now` and is idempotent ("make it so", never "append"):
- materialize_all: the stored 72-hour timetable of every device equals the pure function of the rules;
- render_pending: a pending text whose render job was lost gets one again; queued emergencies whose audio is
  ready start; with a worker attached (`loa scheduler --run-jobs`), due render jobs run here too;
- expire_content: schedules whose items expired or were archived get a notice for the cadre (once) and
  their communes are re-materialized;
- mark_offline: devices silent for longer than the threshold become offline;
- nightly_report: per commune and local date, overwritten by a rerun. Its `planned` part is the timetable
  (what the station meant); its `aired` part, when the caller gives an `aired` counter (the station's:
  broadcaster.station.airviews.aired_between), is what the loudspeakers' proof-of-play records say. The
  top-level plays/interrupted/airtime_s keys are the plan, kept for older readers.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from content.library.models import ContentItem, RenderState, Source, Status
from loa.accounts.principal import SYSTEM
from loa.audit import service as audit
from loa.db import session_scope, table_of
from loa.jobs import service as job_queue
from loa.jobs.models import Job
from loa.jobs.worker import Worker
from loa.org.models import Commune, Device
from schedules import mapping
from schedules.cap_service import RENDER_JOB as CAP_RENDER_JOB
from schedules.cap_service import start_ready
from schedules.scheduler import Clock, JobPlan, StationScheduler
from schedules.service import ScheduleService
from schedules.store import content_notice
from schedules.tables import (
    CapAlertRow,
    EmergencyRow,
    NightlyReport,
    ScheduleNotice,
    ScheduleRule,
    TimetablePlay,
    saved_id,
    saved_ids,
)

log = logging.getLogger("loa.schedules.jobs")
CONTENT_RENDER_JOB = "content.render_text"
ONLINE_STATES = ("online", "playing")

# (session, commune id, start, end) -> what the loudspeakers reported (broadcaster.station.airviews.aired_between)
AiredCounter = Callable[[Session, int, datetime, datetime], dict[str, Any]]


class RenderPending(TypedDict):
    requeued: list[int]  # content items whose lost render job was queued again
    ran: int  # render jobs this process ran (with a worker attached)
    started_emergencies: list[int]


class OnceResult(TypedDict):
    """What `loa scheduler --once` prints."""

    render_pending: RenderPending
    expire_content: list[int]  # communes re-materialized
    materialize: list[int]  # devices whose timetable changed
    mark_offline: list[int]  # devices now offline


class PlannedCounts(TypedDict):
    plays: int
    plays_by_priority: dict[str, int]
    interrupted: int
    airtime_s: float


class DayCounts(PlannedCounts):
    """One commune's day in the nightly report (`NightlyReport.data`); the plan's counts are also at the top
    level, for older readers."""

    planned: PlannedCounts
    aired: dict[str, Any] | None  # None without an `aired` counter
    devices: dict[str, int]  # device status -> how many
    emergencies_started: int
    cap_alerts: int
    notices: int
    schedules_created: int


class StationJobs:
    def __init__(self, engine: Engine, service: ScheduleService, offline_after_s: float = 180.0,
                 worker: Worker | None = None, aired: AiredCounter | None = None) -> None:
        self.engine = engine
        self.aired = aired
        self.service = service
        self.offline_after = timedelta(seconds=offline_after_s)
        self.worker = worker  # optional: runs render jobs in this process

    # ------------------------------------------------------------ jobs

    def materialize_all(self, now: datetime) -> set[int]:
        return self.service.materialize_all(now)

    def render_pending(self, now: datetime) -> RenderPending:
        requeued = self._requeue_lost_renders(now)
        ran = self.worker.run_until_idle(now, limit=20) if self.worker is not None else 0
        started = start_ready(self.engine, now)
        return {"requeued": requeued, "ran": ran, "started_emergencies": started}

    def _requeue_lost_renders(self, now: datetime) -> list[int]:
        with session_scope(self.engine) as s:
            pending = s.exec(select(ContentItem).where(ContentItem.render_state == RenderState.pending.value,
                                                       ContentItem.source == Source.text.value)).all()
            if not pending:
                return []
            known: set[tuple[int, int]] = set()
            for j in s.exec(select(Job).where(col(Job.kind).in_([CONTENT_RENDER_JOB, CAP_RENDER_JOB]))):
                known.add((int(j.payload.get("item_id", 0)), int(j.payload.get("generation", -1))))
            requeued: list[int] = []
            for item in pending:
                if (item.id, item.render_generation) in known:
                    continue
                job_queue.enqueue(s, CONTENT_RENDER_JOB, {"item_id": item.id, "generation": item.render_generation},
                                  now, commune_id=item.commune_id, object_type="content", object_id=item.id)
                requeued.append(saved_id(item))
            return requeued

    def expire_content(self, now: datetime) -> list[int]:
        """Tell the cadre (once per schedule and item) when a scheduled item expired or was archived."""
        communes: set[int] = set()
        with session_scope(self.engine) as s:
            rules = s.exec(select(ScheduleRule).where(col(ScheduleRule.cancelled_at).is_(None))).all()
            live = [r for r in rules if r.valid_until is None or r.valid_until > now]
            library = mapping.Library.load(s, [c for r in live for c in mapping.content_ids(r.programme)])
            for r in live:
                for cid in dict.fromkeys(mapping.content_ids(r.programme)):
                    item = library.items.get(cid)
                    gone = item is None or item.status == Status.archived.value or (
                        item.expires_at is not None and item.expires_at <= now)
                    if not gone:
                        continue
                    at = item.expires_at if item is not None and item.expires_at and item.expires_at <= now else now
                    if content_notice(s, r.commune_id, mapping.schedule_key(saved_id(r)), r.title, item, cid, at, now):
                        audit.record(s, SYSTEM, "schedule.content_gone", "schedule", r.id, now,
                                     commune_id=r.commune_id, content_id=cid,
                                     status=item.status if item else None)
                        communes.add(r.commune_id)
        for c in sorted(communes):
            self.service.materialize_commune(c, now)
        return sorted(communes)

    def mark_offline(self, now: datetime) -> list[int]:
        limit = now - self.offline_after
        with session_scope(self.engine) as s:
            stale = saved_ids(s.exec(select(col(Device.id)).where(
                col(Device.status).in_(ONLINE_STATES),
                sa.or_(col(Device.last_seen).is_(None), col(Device.last_seen) < limit))))
            if stale:
                s.execute(sa.update(Device).where(col(Device.id).in_(stale), col(Device.status).in_(ONLINE_STATES))
                          .values(status="offline"))
            return stale

    def nightly_report(self, now: datetime) -> dict[int, DayCounts]:
        out: dict[int, DayCounts] = {}
        with session_scope(self.engine) as s:
            for commune in s.exec(select(Commune).order_by(col(Commune.id))):
                commune_id = saved_id(commune)
                day = now.astimezone(ZoneInfo(commune.timezone)).date()
                data = _day_counts(s, commune, day, self.aired)
                row = s.exec(select(NightlyReport).where(NightlyReport.commune_id == commune_id,
                                                         NightlyReport.day == day.isoformat())).first()
                if row is None:
                    row = NightlyReport(commune_id=commune_id, day=day.isoformat(), created_at=now)
                row.data, row.created_at = dict(data), now
                s.add(row)
                out[commune_id] = data
        return out

    # ------------------------------------------------------------ the scheduler

    def scheduler(self, clock: Clock, timezone: str, plan: JobPlan = JobPlan()) -> StationScheduler:
        return StationScheduler(materialize_all=self.materialize_all, render_pending=self.render_pending,
                                expire_content=self.expire_content, mark_offline=self.mark_offline,
                                nightly_report=self.nightly_report, clock=clock, timezone=timezone, plan=plan)

    def run_all_once(self, now: datetime) -> OnceResult:
        """Every job once, in a sensible order (`loa scheduler --once`)."""
        return {"render_pending": self.render_pending(now), "expire_content": self.expire_content(now),
                "materialize": sorted(self.materialize_all(now)), "mark_offline": self.mark_offline(now)}


def _day_counts(s: Session, commune: Commune, day: date, aired: AiredCounter | None = None) -> DayCounts:
    commune_id = saved_id(commune)
    tz = ZoneInfo(commune.timezone)
    start = datetime.combine(day, time(0), tz)
    end = start + timedelta(days=1)
    plays = s.exec(select(TimetablePlay).where(TimetablePlay.commune_id == commune_id,
                                               TimetablePlay.start >= start, TimetablePlay.start < end)).all()
    by_priority = Counter(mapping.PRIORITY_NAMES.get(p.priority, str(p.priority)) for p in plays)
    devices = Counter(s.exec(select(Device.status).where(Device.commune_id == commune_id)))

    def count(model: type[SQLModel], column: str) -> int:
        """Rows of the commune whose `column` (a time) falls on the day."""
        t = table_of(model)
        q = sa.select(sa.func.count()).select_from(t).where(t.c.commune_id == commune_id, t.c[column] >= start,
                                                            t.c[column] < end)
        return int(s.execute(q).scalar_one())

    planned: PlannedCounts = {
        "plays": len(plays),
        "plays_by_priority": dict(sorted(by_priority.items())),
        "interrupted": sum(1 for p in plays if p.interrupted),
        "airtime_s": round(sum((p.end - p.start).total_seconds() for p in plays), 1),
    }
    return {
        **planned,  # the plan, at the top level as before
        "planned": planned,
        "aired": aired(s, commune_id, start, end) if aired is not None else None,
        "devices": dict(sorted(devices.items())),
        "emergencies_started": count(EmergencyRow, "started_at"),
        "cap_alerts": count(CapAlertRow, "received_at"),
        "notices": count(ScheduleNotice, "created_at"),
        "schedules_created": count(ScheduleRule, "created_at"),
    }
