"""Writing to and reading the audit log. Entries are written in the same transaction as the change they record."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from loa.accounts.principal import Principal
from loa.audit.models import AuditEntry
from loa.errors import PermissionDenied


def record(
    session: Session,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: Any,
    now: datetime,
    commune_id: int | None = None,
    **detail: Any,
) -> AuditEntry:
    entry = AuditEntry(
        at=now,
        actor_user_id=actor.user_id,
        actor_username=actor.username,
        ip=actor.ip,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        commune_id=commune_id,
        detail={k: v for k, v in detail.items() if v is not None},
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session,
    principal: Principal,
    commune_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditEntry]:
    """Admins read everything; a cadre reads their commune's entries; no one else reads the log.
    Newest first; `before_id` pages back (the id of the last entry seen)."""
    query = _scoped(principal, AuditFilter(commune_id, actor, action, object_type, object_id, since, until))
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(session.exec(query.order_by(AuditEntry.id.desc()).limit(min(max(limit, 1), 500))))


@dataclass(frozen=True)
class AuditFilter:
    """What the audit trail page and API filter on. `until` is exclusive; None fields do not filter."""

    commune_id: int | None = None
    actor: str | None = None          # a username, exactly (case-insensitive)
    action: str | None = None         # "village.update", or a prefix ending in "." ("village.")
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _scoped(principal: Principal, f: AuditFilter):
    """The query of what this principal may read with the filter applied: an admin reads everything (or one
    commune), a cadre reads their commune's entries, no one else reads the log."""
    query = select(AuditEntry)
    if f.commune_id is not None:
        principal.require_role(f.commune_id, "cadre", admin=True)
        query = query.where(AuditEntry.commune_id == f.commune_id)
    elif not principal.is_admin:
        raise PermissionDenied("admin_required", "Chỉ quản trị hệ thống được xem toàn bộ nhật ký",
                               "Only a system admin can read the whole log")
    if f.actor:
        query = query.where(func.lower(AuditEntry.actor_username) == f.actor.strip().lower())
    if f.action:
        action = f.action.strip()
        query = query.where(AuditEntry.action.startswith(action, autoescape=True) if action.endswith(".")
                            else AuditEntry.action == action)
    if f.object_type:
        query = query.where(AuditEntry.object_type == f.object_type.strip())
    if f.object_id:
        query = query.where(AuditEntry.object_id == f.object_id.strip())
    if f.since is not None:
        query = query.where(AuditEntry.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEntry.at < f.until)
    return query


def search(session: Session, principal: Principal, f: AuditFilter, limit: int = 50,
           offset: int = 0) -> tuple[list[AuditEntry], int]:
    """One page of matching entries, newest first, and how many match in all."""
    query = _scoped(principal, f)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(AuditEntry.id.desc()).offset(max(offset, 0)).limit(min(max(limit, 1), 500)))
    return list(rows), int(total)


def iter_matching(session: Session, principal: Principal, f: AuditFilter, cap: int = 100_000):
    """Every matching entry newest first (the CSV), read in batches by id so memory stays flat."""
    query = _scoped(principal, f)
    before, sent = None, 0
    while sent < cap:
        batch_query = query if before is None else query.where(AuditEntry.id < before)
        batch = list(session.exec(batch_query.order_by(AuditEntry.id.desc()).limit(min(1000, cap - sent))))
        if not batch:
            return
        yield from batch
        sent += len(batch)
        before = batch[-1].id


def facets(session: Session, principal: Principal, commune_id: int | None) -> tuple[list[str], list[str], list[str]]:
    """The actions, object types and people that occur in what the principal may read (for the filter menus)."""
    base = _scoped(principal, AuditFilter(commune_id=commune_id)).subquery()
    actions = session.exec(select(base.c.action).distinct().order_by(base.c.action)).all()
    types = session.exec(select(base.c.object_type).distinct().order_by(base.c.object_type)).all()
    people = session.exec(select(base.c.actor_username).where(base.c.actor_username.is_not(None)).distinct()
                          .order_by(base.c.actor_username)).all()
    return list(actions), list(types), list(people)
