"""Loads what the loudspeakers reported (last heartbeats, proof-of-play records) and applies the pure rules of
`airtruth.py`: per loudspeaker what it does now, and for an emergency who started it and who confirmed its stop.

The emergency's loudspeakers are the devices of its villages plus its single devices, except those that cannot
play at all: never set up (`unenrolled`) or removed (`revoked`); they are listed apart, not counted."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from broadcaster.station.airtruth import (
    EARLY_SLACK,
    DeviceStop,
    Heard,
    NowState,
    PlayFact,
    Span,
    StopStatus,
    Target,
    confirm_stop,
    now_state,
)
from broadcaster.station.models import DeviceReport, PlayRecordRow
from loa.org.models import Device
from schedules import emergency_service
from schedules.tables import EmergencyRow

CANNOT_PLAY = ("unenrolled", "revoked")


def reports_of(session: Session, device_ids: Iterable[int]) -> dict[int, Heard]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = session.exec(select(DeviceReport).where(DeviceReport.device_id.in_(ids)))
    return {r.device_id: Heard(r.received_at, r.playing) for r in rows}


def now_states(session: Session, devices: Iterable[Device], now: datetime,
               offline_after_s: float) -> dict[int, NowState]:
    devices = list(devices)
    reports = reports_of(session, [d.id for d in devices])
    return {d.id: now_state(reports.get(d.id), now, offline_after_s) for d in devices}


def _fact(r: PlayRecordRow) -> PlayFact:
    return PlayFact(r.play_id, r.priority, r.planned_start, r.actual_start, r.actual_end, r.result, r.received_at)


@dataclass(frozen=True)
class LoudspeakerAir:
    device: Device
    now: NowState
    playing_it: bool          # its last report says it is playing this emergency
    started: bool             # it reported playing it, now or in a play record
    stop: DeviceStop | None   # after a cancel: has it confirmed?


@dataclass(frozen=True)
class EmergencyAir:
    loudspeakers: list[LoudspeakerAir]
    cannot_play: list[Device]
    stop: StopStatus | None
    state: str  # waiting (not started) | on_air | finished | stopping | stopped | rejected


def _targets(session: Session, row: EmergencyRow) -> list[Device]:
    devices = session.exec(select(Device).where(Device.commune_id == row.commune_id).order_by(Device.id))
    return [d for d in devices if d.village_id in (row.villages or []) or d.id in (row.devices or [])]


def _span(row: EmergencyRow, device: Device, natural_end: datetime, later: list[EmergencyRow]) -> Span:
    """This emergency's plays on the device: from its start until the next emergency that reaches the device,
    or its natural end (as if never cancelled: a device that missed the cancel keeps playing repetitions)."""
    until = natural_end
    for other in later:
        if device.village_id in (other.villages or []) or device.id in (other.devices or []):
            until = min(until, other.started_at)
    return Span("emergency", row.started_at, until)


def emergency_air(session: Session, row: EmergencyRow, now: datetime, offline_after_s: float) -> EmergencyAir:
    devices = _targets(session, row)
    able = [d for d in devices if d.status not in CANNOT_PLAY]
    cannot = [d for d in devices if d.status in CANNOT_PLAY]
    states = now_states(session, able, now, offline_after_s)
    reports = reports_of(session, [d.id for d in able])
    if row.started_at is None:
        loud = [LoudspeakerAir(d, states[d.id], False, False, None) for d in able]
        return EmergencyAir(loud, cannot, None, "rejected" if row.status == emergency_service.REJECTED
                            else "waiting")
    natural_end = emergency_service.ends_at(session, row, as_planned=True) or row.started_at
    later = list(session.exec(select(EmergencyRow).where(
        EmergencyRow.commune_id == row.commune_id, EmergencyRow.id != row.id,
        EmergencyRow.started_at > row.started_at, EmergencyRow.started_at < natural_end)))
    targets = [Target(d.id, d.name, _span(row, d, natural_end, later)) for d in able]
    records: dict[int, list[PlayFact]] = {d.id: [] for d in able}
    if able:
        for r in session.exec(select(PlayRecordRow).where(
                PlayRecordRow.device_id.in_([d.id for d in able]), PlayRecordRow.priority == "emergency",
                PlayRecordRow.planned_start >= row.started_at - EARLY_SLACK,
                PlayRecordRow.planned_start < natural_end).order_by(PlayRecordRow.seq)):
            records[r.device_id].append(_fact(r))
    stop = None
    if row.status == emergency_service.CANCELLED and row.cancelled_at is not None:
        stop = confirm_stop(row.cancelled_at, targets, reports, records, now)
    by_device = {s.device_id: s for s in stop.devices} if stop else {}
    loud = []
    for d, t in zip(able, targets):
        report = reports.get(d.id)
        playing_it = report is not None and t.span.holds_playing(report.playing)
        started = playing_it or any(t.span.holds_record(r) and r.actual_start is not None for r in records[d.id])
        loud.append(LoudspeakerAir(d, states[d.id], playing_it, started, by_device.get(d.id)))
    if stop is not None:
        state = "stopped" if stop.done else "stopping"
    elif emergency_service.is_active(session, row, now) or any(x.playing_it for x in loud):
        state = "on_air"  # a loudspeaker that says it still plays it past its planned end is on air too
    else:
        state = "finished"
    return EmergencyAir(loud, cannot, stop, state)
