"""The permission matrix: every endpoint × every role (and anonymous), and cross-commune isolation (404).

Roles: admin (system), cadre, secretary, village_head of commune A, and `outsider` — a cadre of commune B,
who must get 404 (not 403) for anything of commune A, so existence does not leak.

Other domains add their routes' matrix without touching this file: create
`tests/<domain>/test_permissions_<domain>.py` defining `MATRIX` (and `PUBLIC` if any) in the same shape as
below; `tests/api/matrix_registry.py` discovers it and `test_matrix_covers_every_endpoint` asserts that the
union of all matrices is exactly the set of routes in the OpenAPI document (see
tests/api/schedules/test_permissions_schedules.py for an example with its own runner)."""
from __future__ import annotations

import itertools

import pytest

from tests.station_rig import failed_text_item, make_item
from tests.api.matrix_roles import ROLES, row

_counter = itertools.count()


READ_ALL = row(200, 200, 200, 200, 404)
CADRE_WRITE = row(201, 201, 403, 403, 404)
ADMIN_ONLY = row(200, 403, 403, 403, 403)
ADMIN_CREATE = row(201, 403, 403, 403, 403)
CADRE_READ = row(200, 200, 403, 403, 404)
ITEM_HIDDEN = dict(village_head=404, outsider=404)  # a secretary's commune-wide draft: not the head's business

# (method, path, setup) → expected per role. `setup(ctx)` returns (path kwargs, json body, files/data).
MATRIX = {
    ("GET", "/api/v1/auth/me"): (None, row(200, 200, 200, 200, 200)),
    ("GET", "/api/v1/auth/tokens"): (None, row(200, 200, 200, 200, 200)),
    ("POST", "/api/v1/auth/tokens"): ("token", row(201, 201, 201, 201, 201)),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): ("own_token", row(204, 204, 204, 204, 204)),
    ("POST", "/api/v1/auth/logout"): ("logout", row(204, 204, 204, 204, 204)),
    ("GET", "/api/v1/provinces"): (None, row(200, 200, 200, 200, 200)),
    ("POST", "/api/v1/provinces"): ("province", ADMIN_CREATE),
    ("GET", "/api/v1/communes"): (None, row(200, 200, 200, 200, 200)),
    ("POST", "/api/v1/communes"): ("commune", ADMIN_CREATE),
    ("GET", "/api/v1/communes/{commune_id}"): (None, READ_ALL),
    ("GET", "/api/v1/communes/{commune_id}/villages"): (None, READ_ALL),
    ("POST", "/api/v1/communes/{commune_id}/villages"): ("village", CADRE_WRITE),
    ("GET", "/api/v1/villages/{village_id}"): (None, READ_ALL),
    ("GET", "/api/v1/communes/{commune_id}/devices"): (None, READ_ALL),
    ("POST", "/api/v1/communes/{commune_id}/devices"): ("device", CADRE_WRITE),
    ("GET", "/api/v1/devices/{device_id}"): ("device_row", READ_ALL),
    ("GET", "/api/v1/communes/{commune_id}/members"): (None, CADRE_READ),
    ("GET", "/api/v1/communes/{commune_id}/audit"): (None, CADRE_READ),
    ("GET", "/api/v1/audit"): (None, ADMIN_ONLY),
    ("GET", "/api/v1/users"): (None, ADMIN_ONLY),
    ("POST", "/api/v1/users"): ("user", ADMIN_CREATE),
    ("GET", "/api/v1/users/{user_id}"): ("other_user", row(200, 404, 404, 404, 404)),
    ("PUT", "/api/v1/users/{user_id}/memberships"): ("membership", row(200, 403, 403, 403, 403)),
    ("DELETE", "/api/v1/users/{user_id}/memberships/{commune_id}"): ("membership_rm", row(200, 403, 403, 403, 403)),
    ("GET", "/api/v1/communes/{commune_id}/content"): (None, READ_ALL),
    ("POST", "/api/v1/communes/{commune_id}/content"): ("text", row(403, 202, 202, 202, 404)),
    ("POST", "/api/v1/communes/{commune_id}/recordings"): ("upload", row(403, 201, 201, 201, 404)),
    ("GET", "/api/v1/content/{item_id}"): ("draft", {**READ_ALL, **ITEM_HIDDEN}),
    ("PATCH", "/api/v1/content/{item_id}"): ("draft_patch", row(403, 200, 200, 404, 404)),
    ("POST", "/api/v1/content/{item_id}/submit"): ("draft", row(403, 200, 200, 404, 404)),
    ("POST", "/api/v1/content/{item_id}/approve"): ("submitted_approve", row(403, 200, 403, 404, 404)),
    ("POST", "/api/v1/content/{item_id}/render"): ("failed_render", row(403, 202, 202, 404, 404)),
    ("GET", "/api/v1/content/{item_id}/contributions"): ("draft", {**READ_ALL, **ITEM_HIDDEN}),
    ("POST", "/api/v1/content/{item_id}/reject"): ("submitted_reject", row(403, 200, 403, 404, 404)),
    ("POST", "/api/v1/content/{item_id}/archive"): ("draft", row(403, 200, 200, 404, 404)),
    ("GET", "/api/v1/content/{item_id}/audio"): ("draft", {**READ_ALL, **ITEM_HIDDEN}),
    ("GET", "/api/v1/jobs/{job_id}"): ("job", {**READ_ALL, **ITEM_HIDDEN}),  # the render job of a hidden draft
    ("GET", "/api/v1/communes/{commune_id}/jobs"): (None, READ_ALL),
}
# Reachable without an account, tested in test_auth.py (login, token, setup) or trivially public.
PUBLIC = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/setup"),
          ("GET", "/api/v1/health"), ("GET", "/api/v1/languages")}


def test_matrix_covers_every_endpoint(app):
    from tests.api.matrix_registry import covered_routes

    routes = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    covered, twice = covered_routes()  # this file's MATRIX | PUBLIC and every tests/*/test_permissions_*.py
    assert twice == {}
    assert routes == covered


def _prepare(kind, role, client, engine, world, facts, clock, wav_bytes):
    n = next(_counter)
    kw = {"commune_id": world.a, "village_id": world.village_a}
    body, files, data = None, None, None
    if kind in ("draft", "draft_patch", "submitted", "submitted_reject", "submitted_approve", "job"):
        status = "submitted" if kind.startswith("submitted") else "draft"
        kw["item_id"] = make_item(engine, world, facts, clock, status=status)
        if kind == "submitted_approve":
            body = {"reviewed_sha256": facts.sha256}
        if kind == "draft_patch":
            body = {"title": "Tiêu đề mới"}
        if kind == "submitted_reject":
            body = {"reason": "Thiếu ngày giờ"}
        if kind == "job":
            r = client.post(f"/api/v1/communes/{world.a}/content", json={"title": "t", "text": "Xin chào"},
                            headers=world.h("secretary"))
            kw["job_id"] = r.json()["job"]["id"]
    elif kind == "failed_render":
        kw["item_id"] = failed_text_item(engine, world, clock)
    elif kind == "token":
        body = {"name": "phone"}
    elif kind == "own_token":
        if role != "anon":
            kw["token_id"] = client.post("/api/v1/auth/tokens", json={}, headers=world.h(role)).json()["id"]
        else:
            kw["token_id"] = 1
    elif kind == "province":
        body = {"name": f"Tỉnh {n}"}
    elif kind == "commune":
        body = {"province_id": world.province, "name": f"Xã {n}"}
    elif kind == "village":
        body = {"name": f"Thôn {n}"}
    elif kind in ("device", "device_row"):
        r = client.post(f"/api/v1/communes/{world.a}/devices", json={"name": f"Cụm {n}", "village_id": world.village_a},
                        headers=world.h("cadre"))
        kw["device_id"] = r.json()["id"]
        body = {"name": f"Cụm loa {n}", "village_id": world.village_a}
    elif kind == "user":
        body = {"username": f"user{n}", "password": "mat-khau-rat-dai"}
    elif kind == "other_user":
        kw["user_id"] = world.users["cadre2"]
    elif kind == "membership":
        kw["user_id"] = world.users["cadre2"]
        body = {"commune_id": world.a, "role": "secretary"}
    elif kind == "membership_rm":
        kw["user_id"] = world.users["cadre2"]
    elif kind == "text":
        body = {"title": "Lịch tiêm chủng", "text": "Sáng mai tiêm chủng tại trạm y tế xã."}
    elif kind == "upload":
        files = {"file": ("ghi-am.wav", wav_bytes, "audio/wav")}
        data = {"title": "Thông báo thôn", "language": "pcc"}
    return kw, body, files, data


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_permission_matrix(endpoint, client, engine, world, facts, clock, wav_bytes):
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    got = {}
    for role in ROLES:
        kw, body, files, data = _prepare(kind, role, client, engine, world, facts, clock, wav_bytes)
        url = path.format(**{k: v for k, v in kw.items() if "{" + k + "}" in path})
        headers = world.h(None if role == "anon" else role)
        if kind == "logout" and role != "anon":
            headers = {"Authorization": "Bearer " + client.post(
                "/api/v1/auth/tokens", json={}, headers=world.h(role)).json()["access_token"]}
        r = client.request(method, url, json=body, files=files, data=data, headers=headers)
        got[role] = r.status_code
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", (role, r.text)
    assert got == expected


def test_outsider_sees_nothing_of_commune_a_in_lists(client, engine, world, facts, clock):
    make_item(engine, world, facts, clock, status="approved")
    assert [c["id"] for c in client.get("/api/v1/communes", headers=world.h("outsider")).json()] == [world.b]
    for path in (f"/api/v1/communes/{world.a}/content", f"/api/v1/communes/{world.a}/villages"):
        r = client.get(path, headers=world.h("outsider"))
        assert r.status_code == 404 and r.json()["code"] == "commune_not_found"
    # ids of commune A's villages cannot be smuggled into commune B's items
    r = client.post(f"/api/v1/communes/{world.b}/content", headers=world.h("outsider"),
                    json={"title": "x", "text": "Xin chào", "village_id": world.village_a})
    assert r.status_code == 404 and r.json()["code"] == "village_not_found"


def test_village_head_sees_own_village_and_approved_commune_wide(client, engine, world, facts, clock):
    wide = make_item(engine, world, facts, clock, status="approved")
    wide_draft = make_item(engine, world, facts, clock, status="submitted")
    other_village = make_item(engine, world, facts, clock, status="approved", village_id=world.village_a2)
    mine = make_item(engine, world, facts, clock, status="draft", village_id=world.village_a)
    ids = {i["id"] for i in client.get(f"/api/v1/communes/{world.a}/content",
                                       headers=world.h("village_head")).json()["items"]}
    assert ids == {wide, mine}
    assert wide_draft not in ids and other_village not in ids
    villages = client.get(f"/api/v1/communes/{world.a}/villages", headers=world.h("village_head")).json()
    assert [v["id"] for v in villages] == [world.village_a]
    # a request from a village head is always for their own village
    r = client.post(f"/api/v1/communes/{world.a}/content", headers=world.h("village_head"),
                    json={"title": "Họp thôn", "text": "Tối nay họp thôn", "village_id": world.village_a2})
    assert r.status_code == 202 and r.json()["item"]["village_id"] == world.village_a
