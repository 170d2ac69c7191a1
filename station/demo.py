"""The demo commune: a working station in one command (`loa demo`, `python3 dev.py run`).

Modelled on the source documents: a mountain commune of Lào Cai with 9 villages, Giáy and Kinh majority,
one loudspeaker cluster per village. Seeding goes through the same services as the API (roles, approval,
schedules), so the demo shows the real rules: the secretary imports the pack (she is its contributor) and a
different account, the cadre `canbo`, approves each item's rendered audio by its hash before it airs.
Seeding happens once per data directory; later runs just start the station and the agents again.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlmodel import Session, select

from broadcaster.station.enrollment import create_code
from content.library import service as library
from content.library.models import ContentItem
from content.library.packs import import_pack
from content.packs import builtin_packs
from loa.accounts.auth import CLI
from loa.accounts.models import User
from loa.accounts.service import add_membership, create_user, principal_for
from loa.db import session_scope
from loa.jobs.worker import Worker
from loa.org import service as org
from loa.org.models import Commune, Device
from schedules.rules_service import create_schedule, preview
from schedules.schemas import ScheduleIn, StationSettingsIn
from schedules.station import put_settings
from station.handlers import default_handlers

DEMO_COMMUNE_CODE = "DEMO-COCSAN"
PROVINCE = ("Lào Cai", "LC")
COMMUNE = "Cốc San (trình diễn)"
# (village, main language): Giáy villages hear the Vietnamese item, then its Giáy recording once one is attached.
VILLAGES = [
    ("Ún Tà", "pcc"), ("Cốc San", "vi"), ("Tả Suối", "pcc"), ("Láo Chải", "pcc"), ("Cốc Mỳ", "vi"),
    ("Sơn Hà", "vi"), ("Na Lang", "pcc"), ("Phố Mới", "vi"), ("Bản Vền", "pcc"),
]
# Where the demo draws them on the commune map (/app/admin/communes/…): made-up points a few km apart around
# Cốc San, Lào Cai, not surveyed positions.
VILLAGE_POINTS = {
    "Ún Tà": (22.4712, 103.9031), "Cốc San": (22.4598, 103.9224), "Tả Suối": (22.4841, 103.9135),
    "Láo Chải": (22.4903, 103.8948), "Cốc Mỳ": (22.4487, 103.9097), "Sơn Hà": (22.4436, 103.9302),
    "Na Lang": (22.4779, 103.9390), "Phố Mới": (22.4552, 103.9456), "Bản Vền": (22.4955, 103.9261),
}
# One account per role. Passwords are random and printed once; nothing stores them in clear.
ACCOUNTS = [
    ("quantri", "admin", "Quản trị hệ thống"),
    ("canbo", "cadre", "Cán bộ văn hóa xã"),
    ("pho-chu-tich", "cadre", "Phó chủ tịch UBND xã"),
    ("bithu", "secretary", "Bí thư Đoàn xã"),
    ("truongthon", "village_head", "Trưởng thôn Ún Tà"),
]
DAILY_TIMES = ["06:00", "17:00"]
WELCOME_TRIES = 60  # minutes the welcome play may wait for the daily pack to end (it lasts about ten)


@dataclass
class DemoSeed:
    commune_id: int
    village_ids: list[int]
    device_ids: list[int]
    passwords: dict[str, tuple[str, str]] = field(default_factory=dict)  # username -> (role, password)
    enroll_codes: dict[int, str] = field(default_factory=dict)  # device id -> one-time code


def find_demo_commune(session: Session) -> int | None:
    row = session.exec(select(Commune).where(Commune.code == DEMO_COMMUNE_CODE)).first()
    return row.id if row else None


def seed(engine, now: datetime, progress: Callable[[str, int, int], None] | None = None,
         settings=None, first_broadcast_in: timedelta = timedelta(minutes=2)) -> DemoSeed:
    """Create the demo commune, its people, the approved guidance pack and the daily schedule."""

    report = progress or (lambda *_: None)
    with session_scope(engine) as s:
        province = org.create_province(s, CLI, PROVINCE[0], now, PROVINCE[1])
        commune = org.create_commune(s, CLI, province.id, COMMUNE, now, DEMO_COMMUNE_CODE)
        villages = [org.create_village(s, CLI, commune.id, name, now, language, *VILLAGE_POINTS.get(name, (None, None)))
                    for name, language in VILLAGES]
        devices = [org.create_device(s, CLI, commune.id, f"Cụm loa {v.name}", now, v.id) for v in villages]
        result = DemoSeed(commune.id, [v.id for v in villages], [d.id for d in devices])
        for username, role, display in ACCOUNTS:
            password = secrets.token_urlsafe(9)
            user = create_user(s, CLI, username, password, now, display, is_admin=(role == "admin"))
            if role != "admin":
                add_membership(s, CLI, user.id, commune.id, role, now,
                               villages[0].id if role == "village_head" else None)
            result.passwords[username] = (role, password)
        users = {u.username: u for u in s.exec(select(User))}

        def who(name):
            return principal_for(s, users[name], "127.0.0.1", "cli")

        import_pack(s, who("bithu"), commune.id, builtin_packs()[0], now, engine="auto")

    # Render every announcement now (offline voice when there is no internet), so it can be approved.
    worker = Worker(engine, settings, default_handlers(), lambda: now) if settings else None
    with session_scope(engine) as s:
        total = len(s.exec(select(ContentItem).where(ContentItem.commune_id == result.commune_id)).all())
    done = 0
    while worker is not None and worker.run_once(now) is not None:
        done += 1
        report("render", done, total)

    with session_scope(engine) as s:
        users = {u.username: u for u in s.exec(select(User))}

        def who(name):
            return principal_for(s, users[name], "127.0.0.1", "cli")

        items = s.exec(select(ContentItem).where(ContentItem.commune_id == result.commune_id)
                       .order_by(ContentItem.id)).all()
        approved = []
        for item in items:
            if item.audio_sha256 is None:
                continue  # a render failed: it stays a draft, visible in the library with its error
            # Two people, as for every item: the secretary imported the pack (its contributor), the cadre
            # approves the audio exactly as rendered (its hash), as the review page would send it.
            library.submit(s, who("bithu"), item.id, now)
            library.approve(s, who("canbo"), item.id, now, reviewed_sha256=item.audio_sha256)
            approved.append(item.id)
        # The demo must sound within minutes at any hour, so its quiet hours are off (equal start and end).
        # A real station keeps the default 22:00-05:00; the cadre changes it on the station settings page.
        put_settings(s, who("canbo"), result.commune_id,
                     StationSettingsIn(quiet_start="00:00", quiet_end="00:00"), now)
        if approved:
            today = now.replace(hour=0, minute=0, second=0, microsecond=0)
            daily = ScheduleIn(title="Hướng dẫn dịch vụ công số hằng ngày", priority="normal",
                               rrule="FREQ=DAILY", starts_at=today, times=DAILY_TIMES,
                               targets={"commune": True},
                               programme=[{"type": "item", "content_id": i} for i in approved])
            create_schedule(s, who("canbo"), result.commune_id, daily, now)
            # So a newcomer hears something within minutes, not at the next 06:00 or 17:00. Started in the
            # minutes before 06:00 or 17:00, the welcome would overlap the pack's play and be refused: it waits
            # for the first free minute after the pack (the same conflict check as every schedule: the demo must
            # start at any hour).
            at = now + first_broadcast_in
            for _ in range(WELCOME_TRIES):
                soon = ScheduleIn(title="Phát thử: chào mừng đến với Loa", priority="normal", at=at,
                                  targets={"commune": True},
                                  programme=[{"type": "item", "content_id": i} for i in approved[:2]])
                if not preview(s, who("canbo"), result.commune_id, soon, now).refused:
                    break
                at += timedelta(minutes=1)
            create_schedule(s, who("canbo"), result.commune_id, soon, now)
    return result


def enrollment_codes(engine, device_ids: list[int], now: datetime) -> dict[int, str]:
    """A fresh one-time enrollment code per device, created by the demo cadre (as in the web UI)."""

    codes = {}
    with session_scope(engine) as s:
        cadre = s.exec(select(User).where(User.username == "canbo")).one()
        actor = principal_for(s, cadre, "127.0.0.1", "cli")
        for device_id in device_ids:
            codes[device_id], _ = create_code(s, actor, device_id, now)
    return codes


def demo_devices(engine, commune_id: int) -> list[tuple[int, str]]:
    with session_scope(engine) as s:
        rows = s.exec(select(Device).where(Device.commune_id == commune_id).order_by(Device.id)).all()
        return [(d.id, d.name) for d in rows]
