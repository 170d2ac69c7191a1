"""Two stations for the interchange tests and bench/province_bulletin.py: a province station (Lào Cai, its
staff, the communes it sends to) and a commune station (Cốc San with its villages and loudspeakers), each with its
own database and data directory, registered with each other the way an admin does it (keys pinned both ways).
Everything goes through the services; nothing is written to tables by hand."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from loa.db import make_engine, session_scope, upgrade

PROVINCE = "tinh-lao-cai"
COMMUNE = "xa-coc-san"
PASSWORD = "mat-khau-rat-dai"


@dataclass
class Station:
    station_id: str
    settings: object
    engine: object
    ids: dict = field(default_factory=dict)
    url: str = ""

    @property
    def me(self):
        from broadcaster.interchange import identity

        return identity.load(self.settings, self.engine)

    def pump(self, now: datetime) -> dict:
        from broadcaster.interchange import outbox

        return outbox.pump(self.engine, self.me, self.settings, now)


def make_settings(data_dir: Path, db_url: str | None, station_id: str, **overrides):
    from loa.settings import Settings

    values = dict(data_dir=data_dir, database_url=db_url, worker_enabled=False, print_setup_token=False,
                  interchange_station_id=station_id, tts_online=False)
    values.update(overrides)
    return Settings(**values)


def open_station(data_dir: Path, db_url: str | None, station_id: str, **overrides) -> Station:
    """`db_url` None: the SQLite file in the data directory, as `loa serve --data-dir` finds it."""
    settings = make_settings(data_dir, db_url, station_id, **overrides)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return Station(station_id, settings, engine)


def seed_province(st: Station, now: datetime, commune_codes: list[str]) -> None:
    """Province LC with an editor and an approver, and the communes it sends to (held by other stations)."""
    from loa.accounts.auth import CLI
    from loa.accounts.service import create_user
    from loa.org import areas
    from loa.org import service as org

    with session_scope(st.engine) as s:
        p = org.create_province(s, CLI, "Lào Cai", now, "LC")
        communes = [org.create_commune(s, CLI, p.id, f"Xã {code}", now, code).id for code in commune_codes]
        editor = create_user(s, CLI, "tinh-soan", PASSWORD, now)
        approver = create_user(s, CLI, "tinh-duyet", PASSWORD, now)
        areas.add_area_role(s, CLI, editor.id, "province", p.id, "editor", now)
        areas.add_area_role(s, CLI, approver.id, "province", p.id, "approver", now)
        st.ids.update(province=p.id, communes=communes, editor=editor.id, approver=approver.id)


def seed_commune(st: Station, now: datetime, code: str = "CS", villages: int = 2, devices_per_village: int = 2,
                 province_code: str = "LC") -> list[int]:
    """One commune with its villages and enrolled loudspeakers; returns the device ids."""
    from loa.accounts.auth import CLI
    from loa.org import service as org

    devices = []
    with session_scope(st.engine) as s:
        p = org.create_province(s, CLI, "Lào Cai", now, province_code) if not st.ids.get("province") else None
        province_id = p.id if p is not None else st.ids["province"]
        st.ids["province"] = province_id
        c = org.create_commune(s, CLI, province_id, f"Xã {code}", now, code)
        for v in range(villages):
            village = org.create_village(s, CLI, c.id, f"Thôn {v + 1}", now)
            for d in range(devices_per_village):
                device = org.create_device(s, CLI, c.id, f"Cụm {code}-{v + 1}-{d + 1}", now, village.id)
                device.enrolled_at = now
                s.add(device)
                s.flush()
                devices.append(device.id)
        st.ids.setdefault("communes", []).append(c.id)
    return devices


def register(upper: Station, lower: Station, now: datetime, communes: list[str]) -> None:
    """The two admins' work: each pins the other's key and address (read from `loa interchange identity`)."""
    from broadcaster.interchange import peers
    from loa.accounts.auth import CLI

    up, low = upper.me.public_info(), lower.me.public_info()
    with session_scope(lower.engine) as s:
        peers.register(s, CLI, station_id=upper.station_id, name="Đài tỉnh Lào Cai", role="upper",
                       base_url=upper.url, public_key=up["public_key"], now=now)
    with session_scope(upper.engine) as s:
        peers.register(s, CLI, station_id=lower.station_id, name="Đài xã", role="lower", base_url=lower.url,
                       public_key=low["public_key"], now=now, communes=communes)


def put_audio(st: Station, store_root: Path) -> None:
    """A real mastered recording into the station's store (the tests' `mastered` fixture made it)."""
    shutil.copytree(store_root, st.settings.audio_dir, dirs_exist_ok=True)


def approved_bulletin(st: Station, facts, now: datetime, title: str = "Phòng chống bão số 3") -> int:
    """A province bulletin written by the editor and approved by the approver (the two-person rule)."""
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from loa.org import areas
    from schedules.bulletins import compose

    with session_scope(st.engine) as s:
        def who(key: str):
            return principal_for(s, s.get(User, st.ids[key]), "127.0.0.1", "bearer")

        area = areas.get_area(s, "province", st.ids["province"])
        row = compose.create_recording(s, who("editor"), area, title, "vi", facts, now,
                                       transcript="Bà con chú ý phòng chống bão.")
        compose.submit(s, who("editor"), row.id, now)
        compose.approve(s, who("approver"), row.id, facts.sha256, now)
        return row.id


def send(st: Station, bulletin_id: int, level: str, now: datetime, hours: int = 24, communes: list[int] | None = None):
    """The approver sends it: communes of registered lower peers go to the outbox (OutboxRoute)."""
    from broadcaster.interchange.route import OutboxRoute
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from schedules.bulletins import service
    from schedules.bulletins.schemas import SendIn

    with session_scope(st.engine) as s:
        actor = principal_for(s, s.get(User, st.ids["approver"]), "127.0.0.1", "bearer")
        body = SendIn(level=level, expires_at=now + timedelta(hours=hours),
                      communes=communes if communes is not None else st.ids["communes"])
        sent = service.send(s, actor, bulletin_id, body, now, remote=OutboxRoute())
        return sent.remote


def inbox(st: Station) -> list:
    from sqlmodel import select

    from schedules.bulletins.models import InboxItem

    with session_scope(st.engine) as s:
        rows = list(s.exec(select(InboxItem).order_by(InboxItem.id)))
        for r in rows:
            s.expunge(r)
        return rows


def outbox_rows(st: Station) -> list:
    from sqlmodel import select

    from broadcaster.interchange.models import OutboxMessage

    with session_scope(st.engine) as s:
        rows = list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))
        for r in rows:
            s.expunge(r)
        return rows


def peer(st: Station, station_id: str):
    from broadcaster.interchange import peers

    with session_scope(st.engine) as s:
        row = peers.get(s, station_id)
        s.expunge(row)
        return row
