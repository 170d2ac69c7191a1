"""The permission matrix of the bulletin and level routes (issue 16): every endpoint × every commune role,
anonymous and another commune's cadre. Commune roles are not staff of any province or district: every area
route is 404 for them (nothing leaks), the system admin reads the areas but composes, approves and sends nothing
(403); the inbox is the commune's own. Discovered by tests/api/matrix_registry.py. The staff's own matrix
(another province, another district) is tests/schedules/bulletins/test_scoping.py."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from tests.api.matrix_roles import ROLES, row

_n = itertools.count()
AREA_READ = row(200, 404, 404, 404, 404)
AREA_WRITE = row(403, 404, 404, 404, 404)
ADMIN_ONLY = row(200, 403, 403, 403, 403)

MATRIX = {
    ("GET", "/api/v1/areas"): ("none", row(200, 200, 200, 200, 200)),
    ("GET", "/api/v1/areas/{level}/{area_id}/bulletins"): ("area", AREA_READ),
    ("POST", "/api/v1/areas/{level}/{area_id}/bulletins"): ("compose", row(403, 404, 404, 404, 404)),
    ("POST", "/api/v1/areas/{level}/{area_id}/bulletins/recording"): ("record", AREA_WRITE),
    ("GET", "/api/v1/bulletins/{bulletin_id}"): ("draft", AREA_READ),
    ("PATCH", "/api/v1/bulletins/{bulletin_id}"): ("edit", AREA_WRITE),
    ("GET", "/api/v1/bulletins/{bulletin_id}/audio"): ("draft", AREA_READ),
    ("POST", "/api/v1/bulletins/{bulletin_id}/submit"): ("draft", AREA_WRITE),
    ("POST", "/api/v1/bulletins/{bulletin_id}/approve"): ("approve", AREA_WRITE),
    ("POST", "/api/v1/bulletins/{bulletin_id}/reject"): ("reject", AREA_WRITE),
    ("POST", "/api/v1/bulletins/{bulletin_id}/send"): ("send", AREA_WRITE),
    ("GET", "/api/v1/bulletins/{bulletin_id}/tracking"): ("draft", AREA_READ),
    ("GET", "/api/v1/areas/{level}/{area_id}/rollup"): ("area", AREA_READ),
    ("GET", "/api/v1/areas/{level}/{area_id}/rollup.csv"): ("area", AREA_READ),
    ("GET", "/api/v1/communes/{commune_id}/bulletin-inbox"): ("none", row(200, 200, 200, 200, 404)),
    ("POST", "/api/v1/bulletin-inbox/{item_id}/accept"): ("accept", row(403, 200, 403, 403, 404)),
    ("POST", "/api/v1/bulletin-inbox/{item_id}/order"): ("order", row(403, 409, 403, 403, 404)),
    ("POST", "/api/v1/bulletin-inbox/{item_id}/refuse"): ("refuse", row(403, 200, 403, 403, 404)),
    ("POST", "/api/v1/provinces/{province_id}/districts"): ("district", row(201, 403, 403, 403, 403)),
    ("GET", "/api/v1/provinces/{province_id}/districts"): ("none", AREA_READ),
    ("PUT", "/api/v1/communes/{commune_id}/district"): ("place", row(204, 403, 403, 403, 403)),
    ("GET", "/api/v1/users/{user_id}/areas"): ("none", ADMIN_ONLY),
    ("PUT", "/api/v1/users/{user_id}/areas"): ("area_role", ADMIN_ONLY),
    ("DELETE", "/api/v1/users/{user_id}/areas/{level}/{area_id}"): ("none", row(204, 403, 403, 403, 403)),
}


def _staff(engine, world, clock):
    """A district over commune A with an editor and an approver (made once per test)."""
    from loa.accounts.auth import CLI
    from loa.accounts.service import create_user, principal_for
    from loa.db import session_scope
    from loa.org import areas

    n = next(_n)
    with session_scope(engine) as s:
        d = areas.create_district(s, CLI, world.province, f"Huyện {n}", clock())
        areas.place_commune(s, CLI, world.a, d.id, clock())
        out = {"district": d.id}
        for role in ("editor", "approver"):
            user = create_user(s, CLI, f"{role}-{n}", "mat-khau-rat-dai", clock())
            areas.add_area_role(s, CLI, user.id, "district", d.id, role, clock())
            out[role] = principal_for(s, user, "127.0.0.1", "bearer")
    return out


def _bulletin(engine, staff, facts, clock, state: str) -> int:
    from loa.db import session_scope
    from loa.org import areas
    from schedules.bulletins import compose, service
    from schedules.bulletins.schemas import SendIn

    with session_scope(engine) as s:
        area = areas.get_area(s, "district", staff["district"])
        row = compose.create_recording(s, staff["editor"], area, "Tin huyện", "vi", facts, clock())
        if state in ("submitted", "approved", "sent"):
            compose.submit(s, staff["editor"], row.id, clock())
        if state in ("approved", "sent"):
            compose.approve(s, staff["approver"], row.id, facts.sha256, clock())
        if state == "sent":
            service.send(s, staff["approver"], row.id, SendIn(level="normal", expires_at=clock() + timedelta(days=1),
                                                              communes=[world_a(s)]), clock())
        return row.id


def world_a(s) -> int:
    from sqlmodel import select

    from loa.org.models import Commune

    return s.exec(select(Commune.id).where(Commune.code == "CS")).one()


def _inbox_item(engine, staff, facts, clock) -> int:
    from sqlmodel import select

    from loa.db import session_scope
    from schedules.bulletins.models import InboxItem

    bulletin = _bulletin(engine, staff, facts, clock, "sent")
    with session_scope(engine) as s:
        return s.exec(select(InboxItem.id).where(InboxItem.bulletin_id == str(bulletin))).one()


def _prepare(kind, engine, world, facts, clock):
    kw = {"commune_id": world.a, "province_id": world.province, "user_id": world.users["cadre2"],
          "level": "district", "area_id": 1}
    body, files = None, None
    if kind == "none":
        return kw, body, files
    staff = _staff(engine, world, clock)
    kw["area_id"] = staff["district"]
    at = (clock() + timedelta(hours=2)).isoformat()
    if kind == "compose":
        body = {"title": "Tin", "text": "Bà con chú ý."}
    elif kind == "record":
        files = {"file": ("ghi-am.ogg", b"OggS" + b"\0" * 200, "audio/ogg")}
        body = {"title": "Ghi âm"}
    elif kind in ("draft", "edit"):
        kw["bulletin_id"] = _bulletin(engine, staff, facts, clock, "draft")
        body = {"title": "Đổi"} if kind == "edit" else None
    elif kind in ("approve", "reject"):
        kw["bulletin_id"] = _bulletin(engine, staff, facts, clock, "submitted")
        body = {"audio_sha256": facts.sha256} if kind == "approve" else {"reason": "Sai"}
    elif kind == "send":
        kw["bulletin_id"] = _bulletin(engine, staff, facts, clock, "approved")
        body = {"level": "normal", "expires_at": (clock() + timedelta(days=1)).isoformat(), "communes": [world.a]}
    elif kind in ("accept", "order", "refuse"):
        if kind == "accept":  # a schedule must reach a loudspeaker
            from loa.accounts.auth import CLI
            from loa.db import session_scope
            from loa.org import service as org

            with session_scope(engine) as s:
                org.create_device(s, CLI, world.a, f"Cụm {next(_n)}", clock(), world.village_a)
        kw["item_id"] = _inbox_item(engine, staff, facts, clock)
        body = {"accept": {"at": at}, "order": {"order": "after"}, "refuse": {"reason": "Đã phát"}}[kind]
    elif kind == "district":
        body = {"name": f"Huyện mới {next(_n)}"}
    elif kind == "place":
        body = {"district_id": staff["district"]}
    elif kind == "area_role":
        body = {"level": "district", "area_id": staff["district"], "role": "editor"}
    return kw, body, files


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_bulletin_permission_matrix(endpoint, client, engine, world, facts, clock):
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    got = {}
    for role in ROLES:
        kw, body, files = _prepare(kind, engine, world, facts, clock)
        url = path.format(**{k: v for k, v in kw.items() if "{" + k + "}" in path})
        headers = world.h(None if role == "anon" else role)
        if files:
            got[role] = client.request(method, url, data=body, files=files, headers=headers)
        else:
            got[role] = client.request(method, url, json=body, headers=headers)
    for role, r in got.items():
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", (role, r.text)
    assert {role: r.status_code for role, r in got.items()} == expected, {k: r.text[:300] for k, r in got.items()}
