"""The emergency status as the loudspeakers report it (GET /api/v1/emergencies/{id}, and the cancel reply):
per loudspeaker what it does now (its last heartbeat, with its age), whether it started the emergency, and after
a cancel whether it confirmed the stop. `summary_vi` / `summary_en` say it in one sentence for a cadre."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from broadcaster.station.airtruth import CONFIRM_WITHIN_S, DeviceStop, StopStatus
from broadcaster.station.airviews import EmergencyAir, emergency_air
from schedules import emergency_service as emergencies
from schedules.schemas import EmergencyOut
from schedules.tables import EmergencyRow


class StopOut(BaseModel):
    state: str = Field(description="confirmed | waiting (less than 10 s since the stop) | unconfirmed")
    stopped_at: datetime | None = Field(description="when it really stopped, from its proof-of-play record")
    delay_s: float | None = Field(description="seconds from the cadre's stop to stopped_at")
    confirmed_at: datetime | None = Field(description="when the station learnt it had stopped")
    playing_after_stop_at: datetime | None = Field(
        description="the last time it reported, after the stop, that it still played the emergency")


class LoudspeakerAirOut(BaseModel):
    device_id: int
    name: str
    village_id: int | None
    status: str
    playing: dict[str, Any] | None = Field(description="its last heartbeat's `playing`, as it reported it")
    reported_at: datetime | None = Field(description="when the station received that heartbeat")
    report_age_s: float | None
    report_old: bool = Field(description="a heartbeat should have come since: the report may be out of date")
    out_of_contact: bool
    playing_it: bool = Field(description="its last report says it plays this emergency")
    started: bool = Field(description="it reported playing this emergency (heartbeat or proof of play)")
    stop: StopOut | None = None


class EmergencyStatusOut(EmergencyOut):
    air_state: str = Field(description="waiting | on_air | finished | stopping | stopped | rejected, from reports")
    loudspeakers: list[LoudspeakerAirOut]
    not_counted: list[str] = Field(description="loudspeakers that cannot play (not set up, removed)")
    stop_confirmed: int | None = None
    stop_total: int | None = None
    unconfirmed: list[str] = Field(default_factory=list,
                                   description="loudspeakers that have not confirmed the stop within 10 s")
    summary_vi: str
    summary_en: str


def _stop_out(d: DeviceStop | None) -> StopOut | None:
    if d is None:
        return None
    return StopOut(state=d.state, stopped_at=d.stopped_at, delay_s=d.delay_s, confirmed_at=d.confirmed_at,
                   playing_after_stop_at=d.playing_after_stop_at)


def stop_sentence(stop: StopStatus, n: int) -> tuple[str, str]:
    """"Đã dừng trên 2/2 cụm loa" once every loudspeaker confirmed, else "Đang dừng…" naming those that have not
    confirmed within 10 s (Vietnamese, English)."""
    if stop.done:
        return f"Đã dừng trên {stop.confirmed}/{n} cụm loa", f"Stopped on {stop.confirmed}/{n} loudspeakers"
    vi = f"Đang dừng… {stop.confirmed}/{n} cụm loa đã xác nhận"
    en = f"Stopping… {stop.confirmed}/{n} loudspeakers confirmed"
    if stop.unconfirmed:
        names = ", ".join(d.name for d in stop.unconfirmed)
        vi += f"; chưa xác nhận sau {CONFIRM_WITHIN_S:.0f} giây: {names}"
        en += f"; not confirmed after {CONFIRM_WITHIN_S:.0f} s: {names}"
    return vi, en


def summary(air: EmergencyAir) -> tuple[str, str]:
    """One sentence, Vietnamese and English, of what the loudspeakers reported."""
    n = len(air.loudspeakers)
    if air.state in ("stopping", "stopped"):
        return stop_sentence(air.stop, n)
    playing = sum(1 for x in air.loudspeakers if x.playing_it)
    started = sum(1 for x in air.loudspeakers if x.started)
    if air.state == "on_air":
        return (f"Đang phát khẩn cấp: {playing}/{n} cụm loa báo đang phát ({started}/{n} đã bắt đầu)",
                f"Emergency on air: {playing}/{n} loudspeakers report playing it ({started}/{n} started)")
    if air.state == "finished":
        return (f"Đã phát xong: {started}/{n} cụm loa báo đã phát",
                f"Finished: {started}/{n} loudspeakers reported playing it")
    if air.state == "rejected":
        return "Đã từ chối, không phát", "Rejected, not aired"
    return "Chưa phát: đang chờ xác nhận hoặc chuẩn bị âm thanh", "Not on air yet: waiting for confirmation or audio"


def status_out(session: Session, row: EmergencyRow, now: datetime, offline_after_s: float) -> EmergencyStatusOut:
    base = emergencies.emergency_out(session, row, now)
    air = emergency_air(session, row, now, offline_after_s)
    vi, en = summary(air)
    loud = [LoudspeakerAirOut(device_id=x.device.id, name=x.device.name, village_id=x.device.village_id,
                              status=x.device.status, playing=dict(x.now.playing) if x.now.playing else None,
                              reported_at=x.now.reported_at, report_age_s=x.now.age_s, report_old=x.now.old,
                              out_of_contact=x.now.out_of_contact, playing_it=x.playing_it, started=x.started,
                              stop=_stop_out(x.stop)) for x in air.loudspeakers]
    return EmergencyStatusOut(**base.model_dump(), air_state=air.state, loudspeakers=loud,
                              not_counted=[d.name for d in air.cannot_play],
                              stop_confirmed=air.stop.confirmed if air.stop else None,
                              stop_total=air.stop.total if air.stop else None,
                              unconfirmed=[d.name for d in air.stop.unconfirmed] if air.stop else [],
                              summary_vi=vi, summary_en=en)


class LoudspeakerStopOut(StopOut):
    device_id: int
    name: str


class ScheduleStopOut(BaseModel):
    schedule_id: int
    stopped_at: datetime | None = Field(description="when the cadre stopped it (null: not stopped)")
    air_state: str = Field(description="not_stopped | nothing_on_air (nothing of it was playing at the stop) | "
                                       "stopping | stopped, from the loudspeakers' own reports")
    stop_confirmed: int = 0
    stop_total: int = 0
    loudspeakers: list[LoudspeakerStopOut] = Field(default_factory=list,
                                                   description="those that were playing it at the stop")
    unconfirmed: list[str] = Field(default_factory=list,
                                   description="loudspeakers that have not confirmed the stop within 10 s")
    summary_vi: str
    summary_en: str


def schedule_stop_out(session: Session, row, now: datetime) -> ScheduleStopOut:  # noqa: ANN001 — a ScheduleRule
    """GET /api/v1/schedules/{id}/stop: the web page's "đang dừng…" for API clients, from the same facts."""
    from broadcaster.station.airviews import schedule_stop

    if row.cancelled_at is None:
        return ScheduleStopOut(schedule_id=row.id, stopped_at=None, air_state="not_stopped",
                               summary_vi="Lịch này chưa bị dừng", summary_en="This schedule has not been stopped")
    found = schedule_stop(session, row, now)
    if found is None:
        return ScheduleStopOut(schedule_id=row.id, stopped_at=row.cancelled_at, air_state="nothing_on_air",
                               summary_vi="Đã dừng lịch; lúc đó không cụm loa nào đang phát lịch này",
                               summary_en="Schedule stopped; no loudspeaker was playing it at the time")
    stop = found.stop
    n = stop.total
    vi, en = stop_sentence(stop, n)
    return ScheduleStopOut(
        schedule_id=row.id, stopped_at=stop.stopped_at, air_state="stopped" if stop.done else "stopping",
        stop_confirmed=stop.confirmed, stop_total=n, unconfirmed=[d.name for d in stop.unconfirmed],
        loudspeakers=[LoudspeakerStopOut(device_id=d.device_id, name=d.name, **_stop_out(d).model_dump())
                      for d in stop.devices], summary_vi=vi, summary_en=en)
