"""Fixtures of the bulletin tests: the station server's world (province Lào Cai, communes A = Cốc San and
B = Tả Phời), plus two districts, a second province, province and district staff, loudspeakers, and a
mastered audio file in the store for the bulletins."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from tests.station_rig import (  # noqa: F401  (fixtures re-exported for this folder)
    PASSWORD, T0, TZ, Clock, World, _cheap_argon2, app, client, clock, db_url, engine, facts, make_item, mastered,
    settings, wav_bytes, world,
)


@dataclass
class Levels:
    w: World
    district: int        # Bát Xát: commune A (Cốc San)
    district2: int       # Sa Pa: commune B (Tả Phời)
    province2: int       # Yên Bái, with its commune C
    commune_c: int
    devices: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    def h(self, who: str | None) -> dict[str, str]:
        if who in self.tokens:
            return {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.w.h(who)


STAFF = {  # name: (level, which area, role)
    "p_editor": ("province", "p", "editor"), "p_approver": ("province", "p", "approver"),
    "d_editor": ("district", "d", "editor"), "d_approver": ("district", "d", "approver"),
    "d2_approver": ("district", "d2", "approver"),
    "yb_editor": ("province", "p2", "editor"), "yb_approver": ("province", "p2", "approver"),
}


@pytest.fixture
def levels(engine, world, clock) -> Levels:
    from loa.accounts import auth
    from loa.accounts.auth import CLI
    from loa.accounts.models import User
    from loa.accounts.service import create_user
    from loa.db import session_scope
    from loa.org import areas
    from loa.org import service as org

    now = clock()
    with session_scope(engine) as s:
        d = areas.create_district(s, CLI, world.province, "Bát Xát", now, "BX")
        d2 = areas.create_district(s, CLI, world.province, "Sa Pa", now, "SP")
        areas.place_commune(s, CLI, world.a, d.id, now)
        areas.place_commune(s, CLI, world.b, d2.id, now)
        p2 = org.create_province(s, CLI, "Yên Bái", now, "YB")
        c = org.create_commune(s, CLI, p2.id, "Mường Lai", now, "ML")
        lv = Levels(world, d.id, d2.id, p2.id, c.id)
        ids = {"p": world.province, "d": d.id, "d2": d2.id, "p2": p2.id}
        for name, (level, which, role) in STAFF.items():
            user = create_user(s, CLI, name.replace("_", "-"), PASSWORD, now)
            areas.add_area_role(s, CLI, user.id, level, ids[which], role, now)
            lv.users[name] = user.id
            _, secret = auth.issue_token(s, s.get(User, user.id), auth.BEARER, now, timedelta(days=30), "test")
            lv.tokens[name] = secret
        for name, commune, village in (("a1", world.a, world.village_a), ("a2", world.a, world.village_a2),
                                       ("b1", world.b, world.village_b)):
            device = org.create_device(s, CLI, commune, f"Cụm {name}", now, village)
            device.enrolled_at = now
            s.add(device)
            lv.devices[name] = device.id
    return lv
