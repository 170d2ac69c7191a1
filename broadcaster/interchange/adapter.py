"""The adapter boundary: the only module where interchange messages meet the bulletins domain.

Messages in → domain calls: a bulletin → `schedules.bulletins.service.receive`, a status → `record_status`, a
report → `record_commune_report`. Domain out → messages: `status_updates(session, since)` and the commune
daily figures of `schedules.bulletins.rollup`. To connect a province's existing system instead of a Loa upper
station, this module (and schemas.py for the wire) is what changes; see docs/interchange.md.

A domain refusal (an unknown commune, an older version) becomes a `Refused` with the domain's own code, so the
sender's outbox records the reason rather than retrying for ever.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from broadcaster.interchange.errors import Refused
from broadcaster.interchange.schemas import BulletinMessage, ReportMessage, StatusMessage
from loa.errors import DomainError


def _refused(exc: DomainError) -> Refused:
    status = exc.status if 400 <= exc.status < 500 else 422
    return Refused(exc.code, status, exc.message_vi, exc.message_en, **exc.extra)


def to_received_bulletin(sender: str, msg: BulletinMessage):
    from schedules.bulletins.schemas import AudioPart, ReceivedBulletin

    return ReceivedBulletin(
        sender_station=sender, sender_org=msg.origin.org_name, sender_level=msg.origin.org_level,
        bulletin_id=msg.bulletin_id, version=msg.version, level=msg.level, issued_at=msg.issued_at,
        expires_at=msg.expires_at, title=msg.title, texts=dict(msg.texts),
        audio=tuple(AudioPart(sha256=a.sha256, size=a.size, duration_s=a.duration, language=a.language,
                              format=a.format) for a in msg.audio),
        target_communes=tuple(msg.communes))


def deliver_bulletin(session: Session, sender: str, msg: BulletinMessage, now: datetime) -> dict[str, Any]:
    """Into the inboxes of the targeted communes this station runs; their audio is in the store already."""
    from schedules.bulletins import service

    try:
        items = service.receive(session, to_received_bulletin(sender, msg), now)
    except DomainError as exc:
        raise _refused(exc) from exc
    return {"inbox": [{"commune_id": i.commune_id, "id": i.id, "state": i.state} for i in items]}


def after_bulletin(engine, result: dict[str, Any], now: datetime) -> None:
    """After the receipt is committed: what the domain does outside the transaction (an emergency airs now)."""
    from schedules.bulletins import service

    hook = getattr(service, "after_commit", None)
    if hook is not None:
        hook(engine, [i["id"] for i in result.get("inbox", [])], now)


def deliver_status(session: Session, sender: str, msg: StatusMessage, now: datetime) -> dict[str, Any]:
    from schedules.bulletins import service
    from schedules.bulletins.schemas import DeviceAir, StatusUpdate

    update = StatusUpdate(sender_station=sender, bulletin_id=msg.bulletin_id, version=msg.version,
                          commune_code=msg.commune, state=msg.state, at=msg.at, detail=msg.detail or None,
                          devices=tuple(DeviceAir(device_id=0, name=d.device, state=msg.state,
                                                  seconds_aired=d.seconds_aired) for d in msg.devices))
    try:
        service.record_status(session, update, now)
    except DomainError as exc:
        raise _refused(exc) from exc
    return {"recorded": True}


def deliver_report(session: Session, sender: str, msg: ReportMessage, now: datetime) -> dict[str, Any]:
    from schedules.bulletins import rollup

    try:
        rollup.record_commune_report(session, sender, msg.commune, msg.day, msg.version, dict(msg.figures), now)
    except DomainError as exc:
        raise _refused(exc) from exc
    return {"recorded": True}


def status_updates(session: Session, since: datetime | None) -> list[StatusMessage]:
    """This station's communes' news about bulletins from above since `since` (the outbox's cursor)."""
    from schedules.bulletins import service

    out = []
    for u in service.status_updates(session, since):
        from broadcaster.interchange.schemas import DeviceAired

        out.append(StatusMessage(bulletin_id=u.bulletin_id, version=u.version, commune=u.commune_code,
                                 state=u.state, at=u.at, detail=u.detail or "",
                                 devices=tuple(DeviceAired(d.name, d.seconds_aired) for d in u.devices)))
    return out


def daily_reports(session: Session, since: datetime | None, now: datetime) -> list[ReportMessage]:
    """Each commune's daily figures made or re-made since `since`, as report messages."""
    from schedules.bulletins import rollup

    return [ReportMessage(commune=r.commune_code, day=r.day, version=r.version, figures=dict(r.figures))
            for r in rollup.commune_reports_since(session, since, now)]
