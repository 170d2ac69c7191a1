"""The schedule page's truth from the loudspeakers: what each loudspeaker of the village says it is doing now,
and, for each calendar slot that has begun, what their proof-of-play records say happened (played to the end,
cut, skipped, failed, or no record yet). The calendar itself stays the plan; these sit next to it."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from api.web.schedule_form import Slot
from broadcaster.protocol.wire import RELAY_FAILURES
from broadcaster.station.airtruth import NowState
from broadcaster.station.airviews import CANNOT_PLAY, now_states
from broadcaster.station.models import PlayRecordRow
from loa.org.models import Device

# One device's outcome of a slot, from its records of the slot's items: the worst one wins (a programme of
# two items of which one was cut was cut).
WORST_FIRST = ("failed", "interrupted", "skipped", "played")


@dataclass(frozen=True)
class DeviceNow:
    device: Device
    now: NowState


def village_now(session: Session, devices: Iterable[Device], now: datetime,
                offline_after_s: float) -> list[DeviceNow]:
    able = [d for d in devices if d.status not in CANNOT_PLAY]
    states = now_states(session, able, now, offline_after_s)
    return [DeviceNow(d, states[d.id]) for d in able]


def attach_reports(session: Session, week: list[tuple], devices: Iterable[Device], now: datetime) -> None:
    """Set `slot.reported` on every slot that has begun: counts of its loudspeakers by reported outcome, and
    `no_record` for those that have sent none (yet, or ever: offline, switched off)."""
    able = {d.id for d in devices if d.status not in CANNOT_PLAY}
    begun: list[Slot] = [s for _, slots in week for s in slots if not s.dropped and s.start <= now]
    if not begun or not able:
        return
    lo, hi = min(s.start for s in begun), max(s.end for s in begun)
    rows = session.exec(select(PlayRecordRow).where(
        PlayRecordRow.device_id.in_(sorted(able)), PlayRecordRow.planned_start >= lo - timedelta(seconds=1),
        PlayRecordRow.planned_start <= hi)).all()
    for slot in begun:
        outcome: dict[int, str] = {}
        relay_failed: dict[int, str] = {}  # device → why its relay failed (the agent's reason code)
        for r in rows:
            if (r.device_id in slot.device_ids and r.priority == slot.priority
                    and slot.start <= r.planned_start < max(slot.end, slot.start + timedelta(seconds=1))):
                seen = outcome.get(r.device_id)
                if seen is None or WORST_FIRST.index(r.result) < WORST_FIRST.index(seen):
                    outcome[r.device_id] = r.result
                code = (r.reason or "").split(":", 1)[0]
                if r.result == "failed" and code in RELAY_FAILURES:
                    relay_failed[r.device_id] = code
        counts = {k: 0 for k in WORST_FIRST}
        for result in outcome.values():
            counts[result] = counts.get(result, 0) + 1
        counts["no_record"] = len((slot.device_ids & able) - outcome.keys())
        # relays given up after the retries (the loudspeaker then played its fallback music): by reason
        for code in RELAY_FAILURES:
            counts[code] = sum(1 for c in relay_failed.values() if c == code)
        slot.reported = counts
