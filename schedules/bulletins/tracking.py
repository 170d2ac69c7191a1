"""The sender's view of a sent bulletin (issue 16 point 2): per commune and per loudspeaker, received → scheduled
→ aired (seconds, from the loudspeakers' own proof of play), or refused with the reason.

A commune of this database is read live from its inbox (`service.status_of`); a commune of another station is
what it last reported (`bulletin_deliveries`, written by `service.record_status`). Each row is about the
version last sent there; an older version the commune withdrew shows as superseded (`superseded_version`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from loa.accounts.principal import Principal
from loa.org.models import Commune, District
from schedules.bulletins import compose
from schedules.bulletins.models import Bulletin, BulletinDelivery, InboxItem
from schedules.bulletins.schemas import DeviceAir
from schedules.bulletins.service import LOCAL_STATION, AiredLookup, status_of


@dataclass(frozen=True)
class DeliveryView:
    commune_id: int
    commune: str
    district: str | None
    route: str
    state: str
    at: object
    detail: str | None
    seconds_aired: float
    devices: tuple[DeviceAir, ...]
    version: int = 1                       # the version `state` is about (the last one sent there)
    superseded_version: int | None = None  # the newest older version the commune withdrew
    superseded_at: datetime | None = None


def _local_item(session: Session, row: Bulletin, commune_id: int, version: int) -> InboxItem | None:
    return session.exec(select(InboxItem).where(
        InboxItem.commune_id == commune_id, InboxItem.sender_station == LOCAL_STATION,
        InboxItem.bulletin_id == str(row.id), InboxItem.version == version)).first()


def tracking(session: Session, actor: Principal, bulletin_id: int, aired: AiredLookup) -> tuple[Bulletin, list[DeliveryView]]:
    row = compose.get_bulletin(session, actor, bulletin_id)
    out = []
    for d in session.exec(select(BulletinDelivery).where(BulletinDelivery.bulletin_id == row.id)
                          .order_by(col(BulletinDelivery.commune_id))):
        commune = session.get(Commune, d.commune_id)
        if commune is None:  # the delivery's foreign key holds it
            raise ValueError(f"bulletin delivery {d.id}: commune {d.commune_id} is gone")
        district = session.get(District, commune.district_id) if commune.district_id else None
        item = _local_item(session, row, d.commune_id, d.version) if d.route == "local" else None
        if item is not None:
            u = status_of(session, item, aired)
            view = DeliveryView(d.commune_id, commune.name, district.name if district else None, d.route, u.state,
                                u.at, u.detail, u.seconds_aired, u.devices, d.version, d.superseded_version,
                                d.superseded_at)
        else:
            devices = tuple(DeviceAir(int(k), v.get("name", ""), v.get("state", ""), float(v.get("seconds_aired", 0)))
                            for k, v in sorted((d.devices or {}).items()))
            view = DeliveryView(d.commune_id, commune.name, district.name if district else None, d.route, d.state,
                                d.state_at, d.detail, d.seconds_aired, devices, d.version, d.superseded_version,
                                d.superseded_at)
        out.append(view)
    return row, out
