"""Which schedules and emergencies name a village among their targets (stored as JSON id lists, so no foreign
key guards them): a village in use must not be deleted from under them (loa.org.service.delete_village)."""
from __future__ import annotations

from sqlmodel import Session, select

from schedules.tables import EmergencyRow, ScheduleRule


def village_uses(session: Session, commune_id: int, village_id: int) -> list[str]:
    uses = []
    rules = session.exec(select(ScheduleRule).where(ScheduleRule.commune_id == commune_id))
    if any(str(village_id) in map(str, r.target_villages or []) for r in rules):
        uses.append("schedule_rules")
    emergencies = session.exec(select(EmergencyRow).where(EmergencyRow.commune_id == commune_id))
    if any(str(village_id) in map(str, e.villages or []) for e in emergencies):
        uses.append("emergencies")
    return uses
