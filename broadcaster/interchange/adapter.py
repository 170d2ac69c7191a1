"""The adapter boundary: the only module where interchange messages meet the bulletins domain.

Messages in → domain calls: a bulletin → `schedules.bulletins.service.receive`, a status → `record_status`, a
report → `record_commune_report`. Domain out → messages: `status_updates(session, since)` and the commune
daily figures of `schedules.bulletins.rollup`. To connect a province's existing system instead of a Loa upper
station, this module (and schemas.py for the wire) is what changes; see docs/interchange.md.

A domain refusal (an unknown commune, an older version) becomes a `Refused` with the domain's own code, so the
sender's outbox records the reason rather than retrying for ever.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.interchange.errors import Refused
from broadcaster.interchange.schemas import (AudioRef, BulletinMessage, DeviceAired, Origin, ReportMessage,
                                             StatusMessage)
from loa.db import session_scope
from loa.errors import DomainError

if TYPE_CHECKING:  # the domain's seam types; imported where used, so the wire side loads on its own
    from schedules.bulletins.rollup import CommuneDay
    from schedules.bulletins.schemas import ReceivedBulletin

log = logging.getLogger("loa.interchange")


def _refused(exc: DomainError) -> Refused:
    status = exc.status if 400 <= exc.status < 500 else 422
    return Refused(exc.code, status, exc.message_vi, exc.message_en, **exc.extra)


def to_received_bulletin(sender: str, msg: BulletinMessage) -> ReceivedBulletin:
    from schedules.bulletins.schemas import AudioPart, ReceivedBulletin

    return ReceivedBulletin(
        sender_station=sender, sender_org=msg.origin.org_name, sender_level=msg.origin.org_level,
        bulletin_id=msg.bulletin_id, version=msg.version, level=msg.level, issued_at=msg.issued_at,
        expires_at=msg.expires_at, title=msg.title, texts=dict(msg.texts),
        audio=tuple(AudioPart(sha256=a.sha256, size=a.size, duration_s=a.duration, language=a.language,
                              format=a.format) for a in msg.audio),
        target_communes=tuple(msg.communes))


def from_received_bulletin(station: str, b: ReceivedBulletin) -> BulletinMessage:
    """The domain's `ReceivedBulletin` (what `service.send` hands a `RemoteRoute`) as the wire message."""
    return BulletinMessage(
        bulletin_id=b.bulletin_id, version=b.version, level=b.level, issued_at=b.issued_at,
        expires_at=b.expires_at, title=b.title, origin=Origin(station, b.sender_org, b.sender_level),
        communes=tuple(b.target_communes),
        audio=tuple(AudioRef(a.sha256, a.size, a.duration_s, a.language, a.format) for a in b.audio),
        texts=tuple(sorted(b.texts.items())))


def deliver_bulletin(session: Session, sender: str, msg: BulletinMessage, now: datetime) -> dict[str, Any]:
    """Into the inboxes of the targeted communes this station runs; their audio is in the store already."""
    from schedules.bulletins import service

    try:
        items = service.receive(session, to_received_bulletin(sender, msg), now)
    except DomainError as exc:
        raise _refused(exc) from exc
    return {"inbox": [{"commune_id": i.commune_id, "id": i.id, "state": i.state} for i in items]}


def after_bulletin(engine: Engine, result: dict[str, Any], now: datetime) -> None:
    """After the receipt is committed: an emergency airs now, a placed priority bulletin reaches the
    loudspeakers' timetables now (not at the scheduler's next tick)."""
    from schedules.bulletins import service
    from schedules.bulletins.models import InboxItem
    from schedules.service import service_for

    try:
        with session_scope(engine) as s:
            items = [s.get(InboxItem, i["id"]) for i in result.get("inbox", [])]
            service.after_commit(service_for(engine), [i for i in items if i is not None], now)
    except Exception:  # noqa: BLE001  (the bulletin is received; the scheduler's next tick materializes it)
        log.exception("interchange: after-commit work of a received bulletin failed")


def deliver_status(session: Session, sender: str, msg: StatusMessage, now: datetime) -> dict[str, Any]:
    from schedules.bulletins import service
    from schedules.bulletins.schemas import DeviceAir, StatusUpdate

    update = StatusUpdate(sender_station=sender, bulletin_id=msg.bulletin_id, version=msg.version,
                          commune_code=msg.commune, state=msg.state, at=msg.at, detail=msg.detail or None,
                          devices=tuple(DeviceAir(d.device_id, d.name, d.state, d.seconds_aired)
                                        for d in msg.devices))
    try:
        row = service.record_status(session, update, now)
    except DomainError as exc:
        raise _refused(exc) from exc
    return {"state": row.state}


def _flatten(day: CommuneDay) -> dict[str, float]:
    out = {f"seconds_by_kind.{k}": v for k, v in day.seconds_by_kind.items()}
    out.update({f"seconds_by_level.{k}": v for k, v in day.seconds_by_level.items()})
    out.update({k: getattr(day, k) for k in REPORT_FIGURES})
    return out


REPORT_FIGURES = ("plays", "completed", "interrupted", "failed", "device_seconds", "up_seconds")


def to_commune_day(msg: ReportMessage) -> CommuneDay:
    from schedules.bulletins.rollup import CommuneDay

    f = msg.figures
    return CommuneDay(
        commune_code=msg.commune, day=msg.day.isoformat(),
        seconds_by_kind={k.split(".", 1)[1]: v for k, v in f.items() if k.startswith("seconds_by_kind.")},
        seconds_by_level={k.split(".", 1)[1]: v for k, v in f.items() if k.startswith("seconds_by_level.")},
        plays=int(f.get("plays", 0)), completed=int(f.get("completed", 0)), interrupted=int(f.get("interrupted", 0)),
        failed=int(f.get("failed", 0)), device_seconds=float(f.get("device_seconds", 0.0)),
        up_seconds=float(f.get("up_seconds", 0.0)))


def deliver_report(session: Session, sender: str, msg: ReportMessage, now: datetime) -> dict[str, Any]:
    from schedules.bulletins import rollup

    try:
        rollup.record_commune_report(session, to_commune_day(msg), now, source="remote")
    except DomainError as exc:
        raise _refused(exc) from exc
    return {"recorded": msg.object_id}


EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def status_updates(session: Session, upper_station: str, since: datetime | None, now: datetime) -> list[StatusMessage]:
    """What this station's communes say about bulletins from `upper_station` since `since`."""
    from broadcaster.station import bulletin_air

    return [StatusMessage(bulletin_id=u.bulletin_id, version=u.version, commune=u.commune_code, state=u.state,
                          at=u.at, detail=u.detail or "",
                          devices=tuple(DeviceAired(d.device_id, d.name, d.state, d.seconds_aired)
                                        for d in u.devices))
            for u in bulletin_air.status_updates(session, since or EPOCH, now) if u.sender_station == upper_station]


REPORT_DAYS_BACK = 7  # a station offline for a few days sends the days it missed when it is back


def daily_reports(session: Session, since: datetime | None, now: datetime) -> list[ReportMessage]:
    """Every commune's finished days since `since` (at most a week back). A day goes up once it is over
    (version 1) and again a day later (version 2, replacing it): a loudspeaker that was offline hands in its
    proof of play when it reconnects, so the second count is the complete one."""
    from broadcaster.station import bulletin_air
    from loa.org.models import Commune

    out: list[ReportMessage] = []
    for commune in session.exec(select(Commune).where(col(Commune.code).is_not(None)).order_by(col(Commune.id))):
        code = commune.code
        if code is None:  # excluded by the query
            continue
        tz = ZoneInfo(commune.timezone)
        today = now.astimezone(tz).date()
        if since is not None and since.astimezone(tz).date() == today:
            continue  # no day ended since the last collection: nothing new (the pump runs every minute)
        first = today - timedelta(days=2 if since is not None else 1)
        if since is not None:
            first = max(today - timedelta(days=REPORT_DAYS_BACK), min(first, since.astimezone(tz).date() - timedelta(days=1)))
        for day in bulletin_air.commune_days(session, commune, first, today - timedelta(days=1), now):
            age = (today - date.fromisoformat(day.day)).days
            out.append(ReportMessage(commune=code, day=date.fromisoformat(day.day), version=min(age, 2),
                                     figures=_flatten(day)))
    return out
