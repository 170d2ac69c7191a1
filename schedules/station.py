"""Station settings per commune: quiet hours, maximum programme length, delays, CAP auto-air, timezone.

Every member reads them (a village head too: they explain why nothing airs at night); a cadre of the commune
or the system admin changes them. The timezone is the commune's own column, so there is one source of truth for local time."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.org.models import Commune
from loa.org.service import get_commune
from schedules.schemas import StationSettingsIn, StationSettingsOut
from schedules.tables import StationSettingsRow

EDITORS = ("cadre",)


def _out(commune_id: int, commune: Commune, row: StationSettingsRow | None) -> StationSettingsOut:
    base = StationSettingsIn(timezone=commune.timezone).model_dump()
    if row is not None:
        base.update({k: getattr(row, k) for k in StationSettingsIn.model_fields if hasattr(row, k)})
        base["timezone"] = commune.timezone
    return StationSettingsOut(**base, commune_id=commune_id, updated_at=row.updated_at if row else None)


def get_settings(session: Session, actor: Principal, commune_id: int) -> StationSettingsOut:
    commune = get_commune(session, actor, commune_id)
    return _out(commune_id, commune, session.get(StationSettingsRow, commune_id))


def put_settings(session: Session, actor: Principal, commune_id: int, body: StationSettingsIn,
                 now: datetime) -> StationSettingsOut:
    commune = get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *EDITORS, admin=True)
    row = session.get(StationSettingsRow, commune_id) or StationSettingsRow(commune_id=commune_id, updated_at=now)
    for k, v in body.model_dump(exclude={"timezone"}).items():
        setattr(row, k, v)
    row.updated_at, row.updated_by = now, actor.user_id
    commune.timezone = body.timezone
    session.add(row)
    session.add(commune)
    audit.record(session, actor, "station.settings", "commune", commune_id, now, commune_id=commune_id,
                 **body.model_dump())
    return _out(commune_id, commune, row)
