"""Loads what the loudspeakers reported (last heartbeats, proof-of-play records) and applies the pure rules of
`airtruth.py`: per loudspeaker what it does now, and for an emergency who started it and who confirmed its stop.

The emergency's loudspeakers are the devices of its villages plus its single devices, except those that cannot
play at all: never set up (`unenrolled`) or removed (`revoked`); they are listed apart, not counted."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from broadcaster.station.airtruth import (
    EARLY_SLACK,
    counted_as,
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
from broadcaster.station.stored import stored_id
from loa.org.models import Device
from schedules import emergency_service
from schedules.tables import EmergencyRow, ScheduleRule, TimetablePlay

CANNOT_PLAY = ("unenrolled", "revoked")


def reports_of(session: Session, device_ids: Iterable[int]) -> dict[int, Heard]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = session.exec(select(DeviceReport).where(col(DeviceReport.device_id).in_(ids)))
    return {r.device_id: Heard(r.received_at, r.playing) for r in rows}


def now_states(session: Session, devices: Iterable[Device], now: datetime,
               offline_after_s: float) -> dict[int, NowState]:
    ids = [stored_id(d) for d in devices]
    reports = reports_of(session, ids)
    return {i: now_state(reports.get(i), now, offline_after_s) for i in ids}


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
    devices = session.exec(select(Device).where(Device.commune_id == row.commune_id).order_by(col(Device.id)))
    return [d for d in devices if _reaches(row, d)]


def _reaches(row: EmergencyRow, device: Device) -> bool:
    return device.village_id in (row.villages or []) or device.id in (row.devices or [])


def emergency_span(row: EmergencyRow, device: Device, natural_end: datetime, later: list[EmergencyRow]) -> Span:
    """This emergency's plays on the device: from its start until the next emergency that reaches the device,
    or its natural end (as if never cancelled: a device that missed the cancel keeps playing repetitions)."""
    if row.started_at is None:
        raise ValueError(f"emergency {row.id} has not started: it has no plays")
    until = natural_end
    for other in later:
        if other.started_at is not None and _reaches(other, device):  # `later` ones started, by their query
            until = min(until, other.started_at)
    return Span("emergency", row.started_at, until)


def emergency_air(session: Session, row: EmergencyRow, now: datetime, offline_after_s: float) -> EmergencyAir:
    devices = _targets(session, row)
    able = [d for d in devices if d.status not in CANNOT_PLAY]
    cannot = [d for d in devices if d.status in CANNOT_PLAY]
    ids = [stored_id(d) for d in able]
    states = now_states(session, able, now, offline_after_s)
    reports = reports_of(session, ids)
    if row.started_at is None:
        loud = [LoudspeakerAir(d, states[i], False, False, None) for i, d in zip(ids, able)]
        return EmergencyAir(loud, cannot, None, "rejected" if row.status == emergency_service.REJECTED
                            else "waiting")
    natural_end = emergency_service.ends_at(session, row, as_planned=True) or row.started_at
    later = list(session.exec(select(EmergencyRow).where(
        EmergencyRow.commune_id == row.commune_id, EmergencyRow.id != row.id,
        col(EmergencyRow.started_at) > row.started_at, col(EmergencyRow.started_at) < natural_end)))
    targets = [Target(i, d.name, emergency_span(row, d, natural_end, later)) for i, d in zip(ids, able)]
    records: dict[int, list[PlayFact]] = {i: [] for i in ids}
    if able:
        for r in session.exec(select(PlayRecordRow).where(
                col(PlayRecordRow.device_id).in_(ids), PlayRecordRow.priority == "emergency",
                PlayRecordRow.planned_start >= row.started_at - EARLY_SLACK,
                PlayRecordRow.planned_start < natural_end).order_by(col(PlayRecordRow.seq))):
            records[r.device_id].append(_fact(r))
    stop = None
    if row.status == emergency_service.CANCELLED and row.cancelled_at is not None:
        stop = confirm_stop(row.cancelled_at, targets, reports, records, now)
    by_device = {s.device_id: s for s in stop.devices} if stop else {}
    loud = []
    for i, d, t in zip(ids, able, targets):
        report = reports.get(i)
        playing_it = report is not None and t.span.holds_playing(report.playing)
        started = playing_it or any(t.span.holds_record(r) and r.actual_start is not None for r in records[i])
        loud.append(LoudspeakerAir(d, states[i], playing_it, started, by_device.get(i)))
    if stop is not None:
        state = "stopped" if stop.done else "stopping"
    elif emergency_service.is_active(session, row, now) or any(x.playing_it for x in loud):
        state = "on_air"  # a loudspeaker that says it still plays it past its planned end is on air too
    else:
        state = "finished"
    return EmergencyAir(loud, cannot, stop, state)


def stops_of_records(session: Session, commune_id: int, records: Iterable[PlayRecordRow]) -> dict[int, datetime]:
    """For each emergency play record (by row id) that belongs to an emergency a cadre cancelled: the cancel
    time. Reports use it so that a stopped emergency is never counted as completed."""
    mine = [r for r in records if r.priority == "emergency"]
    if not mine:
        return {}
    lo = min(r.planned_start for r in mine)
    rows = list(session.exec(select(EmergencyRow).where(
        EmergencyRow.commune_id == commune_id, col(EmergencyRow.started_at).is_not(None),
        col(EmergencyRow.started_at) <= max(r.planned_start for r in mine) + EARLY_SLACK)
        .order_by(col(EmergencyRow.started_at))))
    spans: list[tuple[EmergencyRow, datetime, datetime]] = []  # (emergency, its start, its natural end) from `lo` on
    for e in rows:
        if e.started_at is None:  # the query asked for started ones only
            continue
        end = emergency_service.ends_at(session, e, as_planned=True) or e.started_at
        if end > lo:
            spans.append((e, e.started_at, end))
    devices = {stored_id(d): d for d in session.exec(select(Device).where(
        col(Device.id).in_({r.device_id for r in mine})))}
    out: dict[int, datetime] = {}
    for r in mine:
        device = devices.get(r.device_id)
        for e, started, end in spans:
            if e.cancelled_at is None or device is None or not _reaches(e, device):
                continue
            later = [o for o, o_started, _ in spans if o_started > started]
            if emergency_span(e, device, end, later).holds_record(_fact(r)):
                out[stored_id(r)] = e.cancelled_at
    return out


def aired_between(session: Session, commune_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """What the commune's loudspeakers reported for plays planned in [start, end): the nightly report's
    `aired` part (its `planned` part is the timetable). Seconds are what really aired, summed over
    loudspeakers; a stopped emergency is never completed (see `counted_as`)."""
    rows = list(session.exec(select(PlayRecordRow).where(
        PlayRecordRow.commune_id == commune_id, PlayRecordRow.planned_start >= start,
        PlayRecordRow.planned_start < end)))
    stops = stops_of_records(session, commune_id, rows)
    counts = Counter(counted_as(r.result, r.actual_end, stops.get(stored_id(r))) for r in rows)
    heard = [(r.priority, (r.actual_end - r.actual_start).total_seconds()) for r in rows
             if r.result in ("played", "interrupted") and r.actual_start and r.actual_end]  # (priority, seconds)
    return {
        "records": len(rows),
        **{k: counts.get(k, 0) for k in ("completed", "interrupted", "skipped", "failed", "played_after_stop")},
        "plays_by_priority": dict(sorted(Counter(priority for priority, _ in heard).items())),
        "airtime_s": round(sum(seconds for _, seconds in heard), 1),
        "devices_reporting": len({r.device_id for r in rows}),
    }


@dataclass(frozen=True)
class ScheduleStop:
    schedule_id: int
    title: str
    stop: StopStatus


def schedule_stop(session: Session, row: ScheduleRule, now: datetime) -> ScheduleStop | None:
    """A schedule stopped while one of its plays was on air: has each loudspeaker that was to be playing it
    confirmed? Its plays are known exactly: the stored timetable keeps the play that was cut at the stop, and
    its play id is the one the manifest gave the device (same key, same function). None when nothing of it
    was on air at the stop."""
    from broadcaster.manifest_builder import _play_id  # the manifest's own play ids, not a copy of the rule
    from schedules.mapping import PRIORITY_NAMES, schedule_key

    if row.cancelled_at is None:
        return None
    schedule_id = stored_id(row)
    key = schedule_key(schedule_id)
    names = {int(level): name for level, name in PRIORITY_NAMES.items()}  # stored plays keep the level as an int
    cut = list(session.exec(select(TimetablePlay).where(
        TimetablePlay.commune_id == row.commune_id, TimetablePlay.rule_key == key,
        TimetablePlay.start <= row.cancelled_at, TimetablePlay.end >= row.cancelled_at,
        col(TimetablePlay.interrupted).is_(True))))
    devices = {stored_id(d): d for d in session.exec(select(Device).where(
        col(Device.id).in_({p.device_id for p in cut})))}
    targets: list[Target] = []
    for p in sorted(cut, key=lambda p: p.device_id):
        device = devices.get(p.device_id)
        if device is None or device.status in CANNOT_PLAY:
            continue
        play_id = _play_id(str(p.device_id), {"key": (p.device_id, p.rule_key, p.planned_start)}, [])
        targets.append(Target(p.device_id, device.name, Span(names.get(p.priority, str(p.priority)),
                                                            p.start, row.cancelled_at, frozenset({play_id}))))
    if not targets:
        return None
    since = min(p.start for p in cut) - EARLY_SLACK
    records: dict[int, list[PlayFact]] = {t.device_id: [] for t in targets}
    for r in session.exec(select(PlayRecordRow).where(
            col(PlayRecordRow.device_id).in_(list(records)), PlayRecordRow.planned_start >= since)
            .order_by(col(PlayRecordRow.seq))):
        records[r.device_id].append(_fact(r))
    reports = reports_of(session, records)
    return ScheduleStop(schedule_id, row.title, confirm_stop(row.cancelled_at, targets, reports, records, now))
