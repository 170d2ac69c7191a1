"""The bulletin seam (issue 16): sending down, receiving, and the status going back up.

- `send`: an approver of the bulletin's province or district sends an approved bulletin to chosen districts and
  communes of their area, with a level and an expiry. A commune held in this database receives it at once
  (`receive_into`); a commune registered as a remote station's goes to the interchange outbox (`RemoteRoute`,
  wired by the API to `broadcaster.interchange`): both paths end in the same `receive` on the commune's side.
- `receive(session, bulletin, now) -> list[InboxItem]`: one inbox item per targeted commune of this station
  (`receive.py` says what each level does). Then, after the commit, `after_commit(schedules, items, now)`.
- `status_of` / `status_updates`: what a commune says back (received → scheduled → aired with the seconds each
  loudspeaker's own proof of play reports, or refused with the reason). `record_status` stores it on the sender.

What the loudspeakers aired comes from the broadcaster's play records; the domain takes it as an `AiredLookup`
(`broadcaster.station.bulletin_air.aired_by_device`), so `schedules` does not import the broadcaster.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlmodel import Session, col, select

from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org import areas
from loa.org.models import Commune, Device, District
from schedules.bulletins import compose
from schedules.bulletins.models import Bulletin, BulletinDelivery, InboxItem
from schedules.bulletins.receive import older_versions, receive, receive_into
from schedules.bulletins.schemas import AudioPart, DeviceAir, ReceivedBulletin, SendIn, StatusUpdate
from schedules.tables import TimetablePlay, saved_id

if TYPE_CHECKING:
    from schedules.service import ScheduleService

__all__ = ["receive", "receive_into", "send", "after_commit", "status_of", "status_updates", "record_status",
           "as_received", "RemoteRoute", "AiredLookup", "LOCAL_STATION"]

LOCAL_STATION = "local"  # the sender_station of a bulletin sent within this database
# (session, commune id, audio sha256s, since) → seconds aired per device id, from the devices' proof of play
AiredLookup = Callable[[Session, int, list[str], datetime], dict[int, float]]
_RANK = {"sent": 0, "received": 1, "scheduled": 2, "aired": 3, "expired": 4, "refused": 4, "superseded": 5}


class RemoteRoute(Protocol):
    """How a commune of another station is reached (the interchange's outbox)."""

    def is_remote(self, session: Session, commune: Commune) -> bool: ...

    def enqueue(self, session: Session, bulletin: ReceivedBulletin, commune: Commune, now: datetime) -> None: ...


@dataclass(frozen=True)
class Sent:
    bulletin: Bulletin
    local: list[InboxItem]
    remote: list[int]  # commune ids queued for another station


def _org_name(session: Session, row: Bulletin) -> str:
    area = compose.area_of(session, row)
    return f"{'Tỉnh' if area.level == 'province' else 'Huyện'} {area.name}"


def as_received(session: Session, row: Bulletin, codes: Iterable[str], station: str = LOCAL_STATION) -> ReceivedBulletin:
    """The sent bulletin as it travels (the seam's dataclass)."""
    if row.sent_at is None or row.expires_at is None or row.audio_sha256 is None:  # send() set them
        raise Conflict("bulletin_not_sent", "Bản tin chưa được gửi", "The bulletin was not sent",
                       current_status=row.status)
    return ReceivedBulletin(
        sender_station=station, sender_org=_org_name(session, row), sender_level=row.org_level,
        bulletin_id=str(row.id), version=row.version, level=row.level or "normal", issued_at=row.sent_at,
        expires_at=row.expires_at, title=row.title, texts={row.language: row.text} if row.text else {},
        audio=(AudioPart(row.audio_sha256, row.size_bytes or 0, row.duration_s or 0.0, row.language,
                         row.audio_format or "ogg-opus"),),
        target_communes=tuple(codes))


def _targets(session: Session, area: areas.Area, body: SendIn) -> list[Commune]:
    """The communes chosen directly or through their district, all inside the sender's area (else 404)."""
    inside = {saved_id(c): c for c in areas.communes_of(session, area)}
    chosen: dict[int, Commune] = {}
    for district_id in body.districts:
        district = session.get(District, district_id)
        if district is None or district.province_id != area.province_id or (
                area.level == "district" and district.id != area.id):
            raise NotFound("district_not_found", "Không tìm thấy huyện", "District not found")
        for c in inside.values():
            if c.district_id == district_id:
                chosen[saved_id(c)] = c
    for commune_id in body.communes:
        if commune_id not in inside:
            raise NotFound("commune_not_found", "Không tìm thấy xã", "Commune not found")
        chosen[commune_id] = inside[commune_id]
    if not chosen:
        raise Invalid("targets_empty", "Chưa chọn huyện hoặc xã nhận bản tin",
                      "Choose the districts or communes to send to")
    return sorted(chosen.values(), key=saved_id)


def send(session: Session, actor: Principal, bulletin_id: int, body: SendIn, now: datetime,
         remote: RemoteRoute | None = None) -> Sent:
    row = compose.get_bulletin(session, actor, bulletin_id)
    area = compose.area_of(session, row)
    areas.require_role_at(session, actor, area, *compose.APPROVERS)
    if row.status != "approved":
        raise Conflict("not_approved", "Chỉ gửi được bản tin đã duyệt và chưa gửi",
                       "Only an approved bulletin that was not sent can be sent", current_status=row.status)
    if body.expires_at.tzinfo is None or body.expires_at <= now:
        raise Invalid("expiry_invalid", "Hạn của bản tin phải ở tương lai", "The expiry must be in the future")
    earlier = {d.commune_id: d for d in session.exec(select(BulletinDelivery).where(
        BulletinDelivery.bulletin_id == row.id))}
    communes = _targets(session, area, body) if body.districts or body.communes or not earlier else []
    if earlier:
        # A new version goes wherever an older one went, so the older one is withdrawn everywhere it may air.
        have = {c.id for c in communes}
        communes = sorted([*communes, *(c for c in (session.get(Commune, i) for i in earlier if i not in have)
                                        if c is not None)], key=lambda c: c.id or 0)
    row.level, row.expires_at, row.sent_at, row.sent_by = body.level, body.expires_at, now, actor.user_id
    row.target_districts, row.target_communes = sorted(set(body.districts)), sorted(set(body.communes))
    row.status, row.updated_at = "sent", now
    session.add(row)
    session.flush()
    bulletin_id = saved_id(row)
    local: list[InboxItem] = []
    queued: list[int] = []
    for commune in communes:
        commune_id = saved_id(commune)
        delivery = earlier.get(commune_id) or BulletinDelivery(bulletin_id=bulletin_id, commune_id=commune_id,
                                                               state_at=now, updated_at=now)
        # this version starts afresh; what the commune said about the older one is kept as superseded below
        delivery.version, delivery.state, delivery.state_at, delivery.updated_at = row.version, "sent", now, now
        delivery.detail, delivery.devices, delivery.seconds_aired = None, {}, 0.0
        if remote is not None and remote.is_remote(session, commune):
            remote.enqueue(session, as_received(session, row, [commune.code or ""]), commune, now)
            delivery.route = "remote"
            queued.append(commune_id)
        else:
            item = receive_into(session, as_received(session, row, [commune.code or str(commune.id)]), commune, now)
            delivery.route = "local"
            delivery.state, delivery.state_at = ("received" if item.state == "received" else item.state), now
            gone = [o.version for o in older_versions(session, item) if o.superseded_by == item.id]
            if gone:
                delivery.superseded_version, delivery.superseded_at = max(gone), now
            local.append(item)
        session.add(delivery)
    audit.record(session, actor, "bulletin.send", "bulletin", row.id, now, org_level=row.org_level,
                 org_id=row.org_id, level=row.level, communes=len(communes), remote=len(queued))
    return Sent(row, local, queued)


def after_commit(schedules: ScheduleService, items: Iterable[InboxItem], now: datetime) -> None:
    """Re-materialize every commune an automatic step changed: an emergency as *started* (its signed start
    command goes out before the manifests), a placed priority bulletin as a plain change. `schedules` is the
    process's ScheduleService."""
    for item in items:
        if item.emergency_id is not None and item.state == "scheduled":
            schedules.materialize_commune(item.commune_id, now, started=[f"e{item.emergency_id}"])
        elif item.schedule_id is not None or item.version > 1:
            # a newer version withdrew the older one's play: the loudspeakers' timetables drop it now (a play
            # on air is cut by the plays-withdrawn listeners), not at the scheduler's next tick
            schedules.materialize_commune(item.commune_id, now)


# ---------------------------------------------------------------- status going up


def _rule_key(item: InboxItem) -> str | None:
    if item.emergency_id is not None:
        return f"e{item.emergency_id}"
    return f"s{item.schedule_id}" if item.schedule_id is not None else None


def status_of(session: Session, item: InboxItem, aired: AiredLookup) -> StatusUpdate:
    """What the commune says about one inbox item: per loudspeaker received → scheduled (its timetable holds the
    play) → aired (its own proof of play says how many seconds), or the item refused / expired."""
    commune = session.get(Commune, item.commune_id)
    if commune is None:  # the inbox item's foreign key holds it
        raise ValueError(f"inbox item {item.id}: commune {item.commune_id} is gone")
    devices = list(session.exec(select(Device).where(Device.commune_id == item.commune_id,
                                                     col(Device.revoked_at).is_(None)).order_by(col(Device.id))))
    key = _rule_key(item)
    planned = set(session.exec(select(TimetablePlay.device_id).where(
        TimetablePlay.commune_id == item.commune_id, TimetablePlay.rule_key == key))) if key else set()
    # a superseded version's plays are withdrawn, and its audio may be the newer version's too: no seconds
    seconds = aired(session, item.commune_id, [a["sha256"] for a in item.audio], item.received_at) \
        if item.state == "scheduled" else {}
    parts = []
    for d in devices:
        device_id = saved_id(d)
        s = round(seconds.get(device_id, 0.0), 1)
        state = "aired" if s > 0 else "scheduled" if device_id in planned else "received"
        if item.state in ("refused", "expired", "superseded"):
            state = item.state
        parts.append(DeviceAir(device_id, d.name, state, s))
    state = item.state
    if state == "scheduled" and any(p.seconds_aired > 0 for p in parts):
        state = "aired"
    detail = item.refuse_reason if item.state == "refused" else item.note
    at = item.updated_at if item.state == "superseded" else item.decided_at or item.received_at
    return StatusUpdate(item.sender_station, item.bulletin_id, item.version, commune.code or str(commune.id),
                        state, at, detail, tuple(parts))


def status_updates(session: Session, since: datetime, aired: AiredLookup, now: datetime) -> list[StatusUpdate]:
    """Updates to send up: inbox items changed since `since`, and every scheduled one not long expired (their
    seconds aired grow as the loudspeakers report)."""
    rows = session.exec(select(InboxItem).where(
        (InboxItem.updated_at >= since) | ((InboxItem.state == "scheduled") & (InboxItem.expires_at >= since)))
        .order_by(col(InboxItem.id)))
    return [status_of(session, r, aired) for r in rows if r.received_at <= now]


def record_status(session: Session, update: StatusUpdate, now: datetime) -> BulletinDelivery:
    """On the sender: store what a commune said (its state never goes back: a late "received" after "aired"
    keeps "aired", but the seconds are always the newest report's). About an older version than the one last
    sent, only "superseded" is kept (`superseded_version`): the commune confirmed it can no longer air."""
    row = session.get(Bulletin, int(update.bulletin_id)) if update.bulletin_id.isdigit() else None
    commune = session.exec(select(Commune).where(Commune.code == update.commune_code)).first()
    if row is None or commune is None:
        raise NotFound("bulletin_not_found", "Không tìm thấy bản tin", "Bulletin not found")
    delivery = session.exec(select(BulletinDelivery).where(BulletinDelivery.bulletin_id == row.id,
                                                           BulletinDelivery.commune_id == commune.id)).first()
    if delivery is None:
        raise NotFound("delivery_not_found", "Bản tin không gửi tới xã này", "The bulletin was not sent to this commune")
    if update.version < delivery.version:
        # news of an older version: only that it was withdrawn there matters; it never overwrites the current one
        if update.state == "superseded" and (delivery.superseded_version or 0) < update.version:
            delivery.superseded_version, delivery.superseded_at, delivery.updated_at = update.version, update.at, now
            session.add(delivery)
        return delivery
    if _RANK.get(update.state, 0) >= _RANK.get(delivery.state, 0):
        delivery.state, delivery.state_at, delivery.detail = update.state, update.at, update.detail
    delivery.devices = {str(d.device_id): {"name": d.name, "state": d.state, "seconds_aired": d.seconds_aired}
                        for d in update.devices}
    delivery.seconds_aired = update.seconds_aired
    delivery.updated_at = now
    session.add(delivery)
    return delivery
