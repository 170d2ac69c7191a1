"""Writing to and reading the audit log. Entries are written in the same transaction as the change they record."""
from __future__ import annotations

from datetime import datetime
from typing import Any

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
) -> list[AuditEntry]:
    """Admins read everything; a cadre reads their commune's entries; no one else reads the log."""
    query = select(AuditEntry)
    if commune_id is not None:
        principal.require_role(commune_id, "cadre", admin=True)
        query = query.where(AuditEntry.commune_id == commune_id)
    elif not principal.is_admin:
        raise PermissionDenied("admin_required", "Chỉ quản trị hệ thống được xem toàn bộ nhật ký",
                               "Only a system admin can read the whole log")
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(session.exec(query.order_by(AuditEntry.id.desc()).limit(min(max(limit, 1), 500))))
