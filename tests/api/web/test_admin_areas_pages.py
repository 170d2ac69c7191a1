"""The admin's web pages for the levels above communes and the interchange (issue 16): districts (create, rename,
place communes), staff of a province or a district (grant, remove after a confirmation page), peers (this
station's identity, register with a pinned key, pin a rotated key, disable after a confirmation page) and the
outbox. Attack paths: other roles (403), missing ids (404), bad input (422/409 with the form kept, nothing saved),
a forged CSRF token."""
from __future__ import annotations

import re

import pytest

from tests.api.web.org import as_user


def _province(app, world) -> int:
    from loa.db import session_scope
    from loa.org.models import Commune

    with session_scope(app.state.engine) as s:
        return s.get(Commune, world.a).province_id


def _commune(app, commune_id):
    from loa.db import session_scope
    from loa.org.models import Commune

    with session_scope(app.state.engine) as s:
        c = s.get(Commune, commune_id)
        s.expunge(c)
        return c


def _audit(client, action):
    return client.get("/api/v1/audit", params={"action": action}).json()


def _public_key() -> tuple[str, str]:
    from broadcaster.signing import generate_key

    info = generate_key().public_info()
    return info["key_id"], info["public_key"]


def _create_district(client, token, province, name="Bát Xát", code="BX") -> int:
    r = client.post(f"/app/admin/provinces/{province}/districts", data={"csrf": token, "name": name, "code": code},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/app/admin/districts/(\d+)\?done=district_created", r.headers["location"])
    assert match, r.headers["location"]
    return int(match.group(1))


# ------------------------------------------------------------------ districts and communes


def test_admin_creates_a_district_renames_it_and_places_communes(client, app, world):
    token = as_user(client, "admin")
    home = client.get("/app/admin").text
    assert 'href="/app/admin/provinces"' in home and 'href="/app/admin/interchange"' in home
    province = _province(app, world)
    assert "Lào Cai" in client.get("/app/admin/provinces").text
    district = _create_district(client, token, province)
    page = client.get(f"/app/admin/districts/{district}?done=district_created")
    assert page.status_code == 200 and 'id="flash"' in page.text and "Bát Xát" in page.text
    assert "Chưa có xã nào trong huyện này." in page.text
    # From the district page: Cốc San goes in.
    r = client.post(f"/app/admin/districts/{district}/communes", data={"csrf": token, "commune_id": str(world.a)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=commune_placed")
    assert _commune(app, world.a).district_id == district
    listed = re.search(r'id="district-communes".*?</ul>', client.get(f"/app/admin/districts/{district}").text, re.S)
    assert "Cốc San" in listed.group(0) and "Tả Phời" not in listed.group(0)
    # From the commune page: Tả Phời too, then back out of it from the district page.
    commune_page = client.get(f"/app/admin/communes/{world.b}").text
    assert f'action="/app/admin/communes/{world.b}/district"' in commune_page and "Bát Xát</option>" in commune_page
    r = client.post(f"/app/admin/communes/{world.b}/district", data={"csrf": token, "district_id": str(district)},
                    follow_redirects=False)
    assert r.status_code == 303 and _commune(app, world.b).district_id == district
    assert "Huyện Bát Xát" in client.get(f"/app/admin/communes/{world.b}").text
    r = client.post(f"/app/admin/districts/{district}/communes/{world.b}/remove", data={"csrf": token},
                    follow_redirects=False)
    assert r.status_code == 303 and _commune(app, world.b).district_id is None
    # Renamed, code kept unique by the domain.
    r = client.post(f"/app/admin/districts/{district}", data={"csrf": token, "name": "Bát Xát mới", "code": "BX2"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=district_saved")
    province_page = client.get(f"/app/admin/provinces/{province}").text
    assert "Bát Xát mới" in province_page and "BX2" in province_page
    actions = [e["action"] for e in client.get("/api/v1/audit", params={"object_type": "district"}).json()]
    assert actions == ["district.update", "district.create"]
    assert [e["detail"].get("district_after") for e in _audit(client, "commune.place")] == [None, district, district]
    trail = client.get("/app/admin/audit").text  # said in words on the audit page
    assert "Huyện: đã sửa" in trail and "Huyện: đã tạo" in trail and "Xã: đã đổi huyện" in trail


@pytest.mark.parametrize("name,code,status,message", [
    ("", "", 422, "tên huyện"),
    ("   ", "X", 422, "tên huyện"),
    ("Mường Khương", "BX", 409, "Mã huyện đã tồn tại"),
])
def test_bad_district_input_is_refused_with_the_form_kept(client, app, world, name, code, status, message):
    token = as_user(client, "admin")
    province = _province(app, world)
    _create_district(client, token, province)
    r = client.post(f"/app/admin/provinces/{province}/districts", data={"csrf": token, "name": name, "code": code})
    assert r.status_code == status and message in r.text and 'id="form-error"' in r.text
    assert f'value="{code}"' in r.text  # what was typed is kept
    assert len(client.get(f"/api/v1/provinces/{province}/districts").json()) == 1


def test_bad_placements_and_renames_are_refused_clearly(client, app, world):
    from loa.accounts.auth import CLI
    from loa.db import session_scope
    from loa.org import service as org

    token = as_user(client, "admin")
    province = _province(app, world)
    district = _create_district(client, token, province)
    other = _create_district(client, token, province, "Sa Pa", "SP")
    with session_scope(app.state.engine) as s:  # a commune of another province
        far = org.create_commune(s, CLI, org.create_province(s, CLI, "Yên Bái", app.state.clock()).id, "Xa", app.state.clock()).id
    r = client.post(f"/app/admin/districts/{district}/communes", data={"csrf": token, "commune_id": ""})
    assert r.status_code == 422 and "Hãy chọn xã" in r.text
    r = client.post(f"/app/admin/districts/{district}/communes", data={"csrf": token, "commune_id": str(far)})
    assert r.status_code == 422 and "Không tìm thấy huyện trong tỉnh của xã" in r.text
    r = client.post(f"/app/admin/districts/{district}/communes", data={"csrf": token, "commune_id": "999999"})
    assert r.status_code == 422 and "Không tìm thấy xã" in r.text
    r = client.post(f"/app/admin/communes/{far}/district", data={"csrf": token, "district_id": str(district)})
    assert r.status_code == 422 and "Không tìm thấy huyện trong tỉnh của xã" in r.text and 'id="form-error"' in r.text
    r = client.post(f"/app/admin/communes/{world.a}/district", data={"csrf": token, "district_id": "abc"})
    assert r.status_code == 422 and "Hãy chọn huyện" in r.text
    r = client.post(f"/app/admin/districts/{district}", data={"csrf": token, "name": "Tên mới", "code": "SP"})
    assert r.status_code == 409 and "Mã huyện đã tồn tại" in r.text and 'value="Tên mới"' in r.text
    r = client.post(f"/app/admin/districts/{district}", data={"csrf": token, "name": "", "code": ""})
    assert r.status_code == 422
    # A commune not in this district cannot be "taken out" of it.
    r = client.post(f"/app/admin/districts/{other}/communes/{world.a}/remove", data={"csrf": token})
    assert r.status_code == 404
    assert _commune(app, world.a).district_id is None and _commune(app, far).district_id is None
    assert not _audit(client, "commune.place") and not _audit(client, "district.update")


# ------------------------------------------------------------------ staff


def test_admin_grants_and_removes_roles_at_a_province_and_a_district(client, app, world):
    token = as_user(client, "admin")
    province = _province(app, world)
    district = _create_district(client, token, province)
    r = client.post(f"/app/admin/provinces/{province}/staff",
                    data={"csrf": token, "user_id": str(world.users["cadre2"]), "role": "approver"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/admin/provinces/{province}?done=staff_granted#staff"
    r = client.post(f"/app/admin/districts/{district}/staff",
                    data={"csrf": token, "user_id": str(world.users["secretary"]), "role": "editor"},
                    follow_redirects=False)
    assert r.status_code == 303
    staff = re.search(r'id="staff-list".*?</ul>', client.get(f"/app/admin/districts/{district}").text, re.S).group(0)
    assert "secretary" in staff and "Người soạn bản tin" in staff and "cadre2" not in staff
    assert [(x["level"], x["role"]) for x in
            client.get(f"/api/v1/users/{world.users['cadre2']}/areas").json()] == [("province", "approver")]
    # The person now sees the bulletins of the district (the domain's rule, read through its API).
    as_user(client, "secretary")
    assert [a["name"] for a in client.get("/api/v1/areas").json()] == ["Bát Xát"]
    token = as_user(client, "admin")
    # Removing asks first; the GET changes nothing.
    confirm = client.get(f"/app/admin/districts/{district}/staff/{world.users['secretary']}/remove")
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.text and "Bát Xát" in confirm.text
    assert client.get(f"/api/v1/users/{world.users['secretary']}/areas").json()
    r = client.post(f"/app/admin/districts/{district}/staff/{world.users['secretary']}/remove",
                    data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and "done=staff_removed" in r.headers["location"]
    assert client.get(f"/api/v1/users/{world.users['secretary']}/areas").json() == []
    assert [e["action"] for e in client.get("/api/v1/audit", params={"object_type": "user"}).json()
            if e["action"].startswith("area.")] == ["area.role_remove", "area.role", "area.role"]
    # Nobody holds a role there any more: the confirmation page has nothing to ask about.
    assert client.get(f"/app/admin/districts/{district}/staff/{world.users['secretary']}/remove").status_code == 404


@pytest.mark.parametrize("user_field,role,message", [
    ("", "editor", "Hãy chọn người"),
    ("999999", "editor", "Không tìm thấy tài khoản"),
    ("cadre", "owner", "Vai trò phải là người soạn hoặc người duyệt"),
    ("cadre", "", "Vai trò phải là người soạn hoặc người duyệt"),
])
def test_bad_grants_are_refused_with_the_form_kept(client, app, world, user_field, role, message):
    token = as_user(client, "admin")
    province = _province(app, world)
    user_id = str(world.users.get(user_field, user_field))
    r = client.post(f"/app/admin/provinces/{province}/staff", data={"csrf": token, "user_id": user_id, "role": role})
    assert r.status_code == 422 and message in r.text and 'id="form-error"' in r.text
    if user_field == "cadre":
        assert f'<option value="{user_id}" selected>' in r.text
    assert not _audit(client, "area.role")


# ------------------------------------------------------------------ interchange


def test_admin_reads_the_identity_registers_a_peer_rotates_its_key_and_disables_it(client, app, world):
    token = as_user(client, "admin")
    me = client.get("/api/interchange/v1/identity").json()
    page = client.get("/app/admin/interchange").text
    assert me["station_id"] in page and me["public_key"] in page and me["key_id"] in page
    key_id, key = _public_key()
    r = client.post("/app/admin/interchange/peers", data={
        "csrf": token, "station_id": "xa-coc-san", "name": "Đài xã Cốc San", "role": "lower",
        "base_url": "https://loa.cocsan.vn/", "public_key": key, "communes": "CS, TP"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/admin/interchange/peers/xa-coc-san?done=peer_added"
    peer = client.get(r.headers["location"]).text
    assert key_id in peer and "https://loa.cocsan.vn" in peer and "CS, TP" in peer and 'id="flash"' in peer
    listed = client.get("/api/v1/interchange/peers").json()
    assert [(p["station_id"], p["key_ids"], p["communes"], p["enabled"]) for p in listed] == [
        ("xa-coc-san", [key_id], ["CS", "TP"], True)]
    # The station rotated its key: the new one is pinned next to the old.
    new_id, new_key = _public_key()
    r = client.post("/app/admin/interchange/peers/xa-coc-san/keys", data={"csrf": token, "public_key": new_key},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=peer_key_added")
    assert client.get("/api/v1/interchange/peers").json()[0]["key_ids"] == sorted([key_id, new_id])
    # A bad key is refused with the message, nothing pinned.
    r = client.post("/app/admin/interchange/peers/xa-coc-san/keys", data={"csrf": token, "public_key": "abc"})
    assert r.status_code == 422 and "Khóa công khai phải là 32 byte Ed25519 dạng base64" in r.text
    assert "abc</textarea>" in r.text
    # It moved, and runs one more commune: the keys stay pinned; a bad address or no commune is refused.
    r = client.post("/app/admin/interchange/peers/xa-coc-san/address",
                    data={"csrf": token, "base_url": "https://loa2.cocsan.vn"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=peer_saved")
    r = client.post("/app/admin/interchange/peers/xa-coc-san/communes",
                    data={"csrf": token, "communes": "CS, TP\nNM"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/app/admin/interchange/peers/xa-coc-san/address", data={"csrf": token, "base_url": "ftp://x"})
    assert r.status_code == 422 and "Địa chỉ đài phải dạng" in r.text and 'value="ftp://x"' in r.text
    r = client.post("/app/admin/interchange/peers/xa-coc-san/communes", data={"csrf": token, "communes": " , "})
    assert r.status_code == 422 and "không được rỗng" in r.text
    moved = client.get("/api/v1/interchange/peers").json()[0]
    assert (moved["base_url"], moved["communes"], len(moved["key_ids"])) == ("https://loa2.cocsan.vn",
                                                                             ["CS", "NM", "TP"], 2)
    # Disabling asks first; a POST without the confirmation changes nothing.
    confirm = client.get("/app/admin/interchange/peers/xa-coc-san/disable")
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.text
    r = client.post("/app/admin/interchange/peers/xa-coc-san/disable", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/disable")
    assert client.get("/api/v1/interchange/peers").json()[0]["enabled"] is True
    r = client.post("/app/admin/interchange/peers/xa-coc-san/disable", data={"csrf": token, "confirm": "yes"},
                    follow_redirects=False)
    assert r.status_code == 303 and client.get("/api/v1/interchange/peers").json()[0]["enabled"] is False
    assert [e["action"] for e in client.get("/api/v1/audit", params={"object_type": "interchange_peer"}).json()] == [
        "interchange.peer_disabled", "interchange.peer_communes", "interchange.peer_moved",
        "interchange.peer_key_added", "interchange.peer_registered"]


def _good_peer(key):
    return {"station_id": "tinh-lao-cai", "name": "Đài tỉnh", "role": "upper", "base_url": "https://loa.laocai.gov.vn",
            "public_key": key, "communes": ""}


@pytest.mark.parametrize("change,status,message", [
    ({"public_key": "not a key"}, 422, "Khóa công khai phải là 32 byte Ed25519 dạng base64"),
    ({"public_key": "AAAA"}, 422, "Khóa công khai phải là 32 byte Ed25519 dạng base64"),
    ({"public_key": "khóa-có-dấu"}, 422, "Khóa công khai phải là 32 byte Ed25519 dạng base64"),
    ({"station_id": "Tinh Lao Cai"}, 422, "Mã đài chỉ gồm chữ thường"),
    ({"base_url": "loa.laocai.gov.vn"}, 422, "Địa chỉ đài phải dạng https://"),
    ({"role": ""}, 422, "Vai trò phải là upper"),
    ({"role": "lower"}, 422, "Đài cấp dưới cần danh sách mã xã"),
    ({"station_id": "xa-coc-san"}, 409, "Đài xa-coc-san đã được đăng ký"),
    ({"station_id": "tinh-khac"}, 409, "Đài đã có một đài cấp trên"),
])
def test_a_bad_peer_is_refused_with_a_message_and_the_form_kept(client, app, world, change, status, message):
    token = as_user(client, "admin")
    first = {**_good_peer(_public_key()[1]), "station_id": "xa-coc-san", "role": "lower", "communes": "CS"}
    if change.get("station_id") == "tinh-khac":  # the upper station is there already
        first = _good_peer(_public_key()[1])
    assert client.post("/app/admin/interchange/peers", data={"csrf": token, **first},
                       follow_redirects=False).status_code == 303
    before = client.get("/api/v1/interchange/peers").json()
    form = {**_good_peer(_public_key()[1]), **change}
    r = client.post("/app/admin/interchange/peers", data={"csrf": token, **form})
    assert r.status_code == status and message in r.text and 'id="form-error"' in r.text
    assert f'value="{form["base_url"]}"' in r.text and f'{form["public_key"]}</textarea>' in r.text
    assert client.get("/api/v1/interchange/peers").json() == before


def test_the_outbox_shows_waiting_and_failed_messages_with_the_next_try(client, app, world, clock):
    from datetime import timedelta

    from broadcaster.interchange.models import REFUSED, InterchangePeer, OutboxMessage
    from loa.db import session_scope

    token = as_user(client, "admin")
    assert "Chưa có gì chờ gửi." in client.get("/app/admin/interchange/outbox").text
    client.post("/app/admin/interchange/peers", data={"csrf": token, **_good_peer(_public_key()[1])})
    now = clock()
    with session_scope(app.state.engine) as s:
        peer = s.exec(__import__("sqlmodel").select(InterchangePeer)).one()
        peer.failures, peer.next_attempt_at, peer.last_error = 3, now + timedelta(minutes=8), "ConnectError: refused"
        s.add(peer)
        s.add(OutboxMessage(peer_id=peer.id, kind="status", object_id="b-17", body={}, attempts=3, created_at=now))
        s.add(OutboxMessage(peer_id=peer.id, kind="report", object_id="CS-2026-03-01", body={}, attempts=1,
                            status=REFUSED, last_error="interchange_schema: lạ", created_at=now))
        s.add(OutboxMessage(peer_id=peer.id, kind="report", object_id="đã-gửi", body={}, status="delivered",
                            created_at=now))
    page = client.get("/app/admin/interchange/outbox").text
    messages = re.search(r'id="outbox-messages".*?</ul>', page, re.S).group(0)
    assert "b-17" in messages and "CS-2026-03-01" in messages and "đã-gửi" not in messages
    assert "đang chờ · Số lần thử: 3" in messages and "lần thử sau 02/03/2026 08:08" in messages
    assert "ConnectError: refused" in messages and "interchange_schema: lạ" in messages and "bị từ chối" in messages
    assert "<form" not in page.split('id="outbox-peers"')[1]  # read-only
    home = client.get("/app/admin/interchange").text
    assert "không gửi được (3 lần thử hỏng)" in home
    peer_page = client.get("/app/admin/interchange/peers/tinh-lao-cai").text
    assert "b-17" in peer_page and "CS-2026-03-01" in peer_page and "đã-gửi" not in peer_page
    assert "Chưa gửi được (2)" in peer_page


# ------------------------------------------------------------------ who may

def _routes(world, province, district):
    d, p, u = district, province, world.users["cadre"]
    return [("GET", "/app/admin/provinces"), ("GET", f"/app/admin/provinces/{p}"),
            ("POST", f"/app/admin/provinces/{p}/districts"), ("GET", f"/app/admin/districts/{d}"),
            ("POST", f"/app/admin/districts/{d}"), ("POST", f"/app/admin/districts/{d}/communes"),
            ("POST", f"/app/admin/districts/{d}/communes/{world.a}/remove"),
            ("POST", f"/app/admin/provinces/{p}/staff"), ("POST", f"/app/admin/districts/{d}/staff"),
            ("GET", f"/app/admin/provinces/{p}/staff/{u}/remove"), ("POST", f"/app/admin/provinces/{p}/staff/{u}/remove"),
            ("GET", f"/app/admin/districts/{d}/staff/{u}/remove"), ("POST", f"/app/admin/districts/{d}/staff/{u}/remove"),
            ("GET", "/app/admin/interchange"), ("POST", "/app/admin/interchange/peers"),
            ("GET", "/app/admin/interchange/peers/xa-coc-san"), ("POST", "/app/admin/interchange/peers/xa-coc-san/keys"),
            ("POST", "/app/admin/interchange/peers/xa-coc-san/address"),
            ("POST", "/app/admin/interchange/peers/xa-coc-san/communes"),
            ("GET", "/app/admin/interchange/peers/xa-coc-san/disable"),
            ("POST", "/app/admin/interchange/peers/xa-coc-san/disable"), ("GET", "/app/admin/interchange/outbox")]


def _every_page_route(app) -> set[tuple[str, str]]:
    from api.web import pages_areas, pages_interchange

    return {(m, r.path) for module in (pages_areas, pages_interchange) for r in module.router.routes
            for m in r.methods}


def test_only_the_admin_gets_in_and_missing_ids_are_404(client, app, world):
    token = as_user(client, "admin")
    province = _province(app, world)
    district = _create_district(client, token, province)
    client.post("/app/admin/interchange/peers", data={"csrf": token, **_good_peer(_public_key()[1]),
                                                       "station_id": "xa-coc-san"})
    routes = _routes(world, province, district)
    # Every route of the two modules is in the list (a new one must be added here).
    templated = {(m, re.sub(r"/(\d+|xa-coc-san)(?=/|$)", "/{}", path)) for m, path in routes}
    declared = {(m, re.sub(r"\{[a-z_]+\}", "{}", path)) for m, path in _every_page_route(app)}
    assert declared - {("POST", "/app/admin/communes/{}/district")} == templated
    for who in ("cadre", "secretary", "village_head", "outsider"):
        token = as_user(client, who)
        for method, path in routes:
            r = client.request(method, path, data={"csrf": token, "name": "x", "user_id": str(world.users["cadre"]),
                                                   "role": "editor", "public_key": "x", "confirm": "yes"},
                               follow_redirects=False)
            assert r.status_code == 403, (who, method, path, r.status_code)
        # The commune page's district form too, whether the commune is theirs or not.
        r = client.post(f"/app/admin/communes/{world.a}/district", data={"csrf": token, "district_id": ""})
        assert r.status_code == 403
    client.cookies.clear()
    for method, path in routes:
        r = client.request(method, path, data={"csrf": "x"}, follow_redirects=False)
        assert r.status_code in (303, 401, 403) and (r.status_code != 303 or "/login" in r.headers["location"]), path
    # Missing ids, as the admin: 404 pages.
    token = as_user(client, "admin")
    for method, path in [("GET", "/app/admin/provinces/999999"), ("GET", "/app/admin/districts/999999"),
                         ("POST", "/app/admin/provinces/999999/districts"), ("POST", "/app/admin/districts/999999"),
                         ("POST", "/app/admin/districts/999999/communes"),
                         ("POST", "/app/admin/districts/999999/staff"),
                         ("GET", f"/app/admin/provinces/999999/staff/{world.users['cadre']}/remove"),
                         ("POST", f"/app/admin/provinces/999999/staff/{world.users['cadre']}/remove"),
                         ("GET", "/app/admin/interchange/peers/khong-co"),
                         ("POST", "/app/admin/interchange/peers/khong-co/keys"),
                         ("POST", "/app/admin/interchange/peers/khong-co/address"),
                         ("POST", "/app/admin/interchange/peers/khong-co/communes"),
                         ("GET", "/app/admin/interchange/peers/khong-co/disable"),
                         ("POST", "/app/admin/interchange/peers/khong-co/disable"),
                         ("POST", "/app/admin/communes/999999/district")]:
        r = client.request(method, path, data={"csrf": token, "name": "Tên", "commune_id": str(world.a),
                                               "base_url": "https://x.vn", "communes": "CS",
                                               "user_id": str(world.users["cadre"]), "role": "editor",
                                               "public_key": _public_key()[1], "confirm": "yes"},
                           follow_redirects=False)
        assert r.status_code == 404, (method, path, r.status_code)
    # A forged CSRF token saves nothing.
    r = client.post(f"/app/admin/provinces/{province}/districts", data={"csrf": "forged", "name": "Giả"})
    assert r.status_code == 403 and len(client.get(f"/api/v1/provinces/{province}/districts").json()) == 1


def test_the_pages_have_no_inline_script_and_speak_english_too(client, app, world):
    token = as_user(client, "admin")
    province = _province(app, world)
    district = _create_district(client, token, province)
    client.post("/app/admin/interchange/peers", data={"csrf": token, **_good_peer(_public_key()[1])})
    client.post(f"/app/admin/provinces/{province}/staff",
                data={"csrf": token, "user_id": str(world.users["cadre2"]), "role": "approver"})
    for path in ("/app/admin/provinces", f"/app/admin/provinces/{province}", f"/app/admin/districts/{district}",
                 f"/app/admin/provinces/{province}/staff/{world.users['cadre2']}/remove", "/app/admin/interchange",
                 "/app/admin/interchange/peers/tinh-lao-cai", "/app/admin/interchange/peers/tinh-lao-cai/disable",
                 "/app/admin/interchange/outbox"):
        vi = client.get(path)
        assert vi.status_code == 200, path
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", vi.text)), path  # CSP: no inline script
        assert " on" not in " ".join(re.findall(r"<[^>]+ on[a-z]+=", vi.text)), path
        en = client.get(path, headers={"Accept-Language": "en"}).text
        assert vi.text != en, path
        assert '<html lang="en">' in en and not any(w in en for w in ("Huyện", "Tỉnh", "Cán bộ", "Mã đài", "khóa")), path
