"""Queue operations on the jobs table: enqueue, claim under a lease, complete, fail with backoff.

A claim sets status=running, attempts+1 and locked_until=now+lease. A worker killed mid-job leaves the row
running with a lease that runs out; any worker then reclaims it (handlers are idempotent, so running a job a
second time is harmless). On PostgreSQL the candidate row is locked with SELECT … FOR UPDATE SKIP LOCKED; on
SQLite (one writer at a time) a conditional UPDATE that re-checks the claimable condition decides the race.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from loa.accounts.principal import Principal
from loa.db import is_postgres, session_scope
from loa.errors import NotFound
from loa.jobs.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Job


def enqueue(session: Session, kind: str, payload: dict[str, Any], now: datetime, *, commune_id: int | None = None,
            created_by: int | None = None, object_type: str | None = None, object_id: Any = None,
            max_attempts: int = 5) -> Job:
    """Adds a job in the caller's transaction: the job exists if and only if the change that needs it commits."""
    job = Job(kind=kind, payload=payload, status=QUEUED, run_after=now, commune_id=commune_id,
              created_by=created_by, object_type=object_type,
              object_id=None if object_id is None else str(object_id), max_attempts=max_attempts,
              created_at=now, updated_at=now)
    session.add(job)
    session.flush()
    return job


def _claimable(now: datetime):
    return sa.or_(
        sa.and_(Job.status == QUEUED, Job.run_after <= now),
        sa.and_(Job.status == RUNNING, Job.locked_until < now, Job.attempts < Job.max_attempts),
    )


def fail_exhausted(engine: Engine, now: datetime) -> list[Job]:
    """Jobs whose lease ran out on their last allowed attempt are failed, not retried forever. Returns the jobs
    this call failed (UPDATE … RETURNING: with several workers, each such job is returned to exactly one), so the
    worker can tell the domain (e.g. mark the item whose render died with the worker as failed)."""
    with session_scope(engine) as session:
        rows = session.execute(
            sa.update(Job)
            .where(Job.status == RUNNING, Job.locked_until < now, Job.attempts >= Job.max_attempts)
            .values(status=FAILED, locked_until=None, locked_by=None, finished_at=now, updated_at=now,
                    last_error=LEASE_EXPIRED)
            .returning(Job.id)
        ).all()
        ids = [r[0] for r in rows]
        failed = list(session.exec(select(Job).where(Job.id.in_(ids)))) if ids else []
        for job in failed:
            session.expunge(job)
        return failed


LEASE_EXPIRED = "lease expired on the last attempt (worker stopped mid-job)"


def claim(engine: Engine, worker_id: str, now: datetime, lease_seconds: int, kinds: list[str] | None = None) -> Job | None:
    with session_scope(engine) as session:
        for _ in range(5):
            candidate = select(Job.id).where(_claimable(now))
            if kinds:
                candidate = candidate.where(Job.kind.in_(kinds))
            candidate = candidate.order_by(Job.run_after, Job.id).limit(1)
            if is_postgres(engine):
                candidate = candidate.with_for_update(skip_locked=True)
            job_id = session.exec(candidate).first()
            if job_id is None:
                return None
            claimed = session.execute(
                sa.update(Job).where(Job.id == job_id, _claimable(now)).values(
                    status=RUNNING, attempts=Job.attempts + 1, locked_by=worker_id,
                    locked_until=now + timedelta(seconds=lease_seconds), updated_at=now,
                )
            )
            if claimed.rowcount == 1:
                session.commit()
                return session.get(Job, job_id)
        return None


def complete(engine: Engine, job_id: int, worker_id: str, result: dict | None, now: datetime) -> bool:
    """Marks the job done if this worker still holds it; False if its lease was lost to another worker."""
    with session_scope(engine) as session:
        done = session.execute(
            sa.update(Job).where(Job.id == job_id, Job.locked_by == worker_id, Job.status == RUNNING).values(
                status=SUCCEEDED, result=result or {}, locked_until=None, finished_at=now, updated_at=now,
                last_error=None,
            )
        )
        return done.rowcount == 1


def fail(engine: Engine, job_id: int, worker_id: str, error: str, now: datetime, backoff_seconds: float,
         permanent: bool = False) -> str | None:
    """Requeues with exponential backoff (base × 2^(attempts−1)) or fails for good; returns the new status."""
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        if job is None or job.locked_by != worker_id or job.status != RUNNING:
            return None
        job.last_error = error[:2000]
        job.locked_until = None
        job.updated_at = now
        if permanent or job.attempts >= job.max_attempts:
            job.status, job.finished_at = FAILED, now
        else:
            job.status = QUEUED
            job.run_after = now + timedelta(seconds=backoff_seconds * 2 ** (job.attempts - 1))
        session.add(job)
        return job.status


def get_job(session: Session, actor: Principal, job_id: int,
            visible: Callable[[Session, Principal, Job], bool] | None = None) -> Job:
    """One job of the actor's commune; `visible` narrows further (a village head: only jobs of items they see)."""
    job = session.get(Job, job_id)
    if job is None or job.commune_id is None and not actor.is_admin or (
        job.commune_id is not None and not actor.sees_commune(job.commune_id)
    ) or (visible is not None and not visible(session, actor, job)):
        raise NotFound("job_not_found", "Không tìm thấy công việc", "Job not found")
    return job


def list_jobs(session: Session, actor: Principal, commune_id: int, status: str | None = None,
              limit: int = 100,
              visible: Callable[[Session, Principal, Job], bool] | None = None) -> list[Job]:
    actor.require_commune(commune_id)
    query = select(Job).where(Job.commune_id == commune_id)
    if status:
        query = query.where(Job.status == status)
    limit = min(max(limit, 1), 500)
    query = query.order_by(Job.id.desc())
    if visible is None:
        return list(session.exec(query.limit(limit)))
    out: list[Job] = []
    offset = 0
    while len(out) < limit:  # newest first, a page at a time, until `limit` of them are visible
        page = list(session.exec(query.offset(offset).limit(200)))
        out.extend(job for job in page if visible(session, actor, job))
        if len(page) < 200:
            break
        offset += 200
    return out[:limit]
