"""Accounts pages (issue 14): the admin hub and users pages, everyone's account page, the one-time password
flow, disabling an account with an open session, lockouts in minutes. Real app, real SQLite, HTTP forms."""
from __future__ import annotations

import re

from tests.api.web.web_rig import PASSWORD, form_token, login

NEW_PASSWORD = "song-nam-rong-lam"


def _one_time(html: str) -> str:
    match = re.search(r'id="one-time-password"[^>]*>([^<]+)<', html)
    assert match, html[:2000]
    return match.group(1).strip()


def test_admin_hub_and_nav_only_for_admins(app, client, world):
    login(client, "cadre")
    page = client.get("/app/c/%d" % world.a)
    assert 'href="/app/account"' in page.text and 'href="/app/admin"' not in page.text
    for url in ("/app/admin", "/app/admin/users", f"/app/admin/users/{world.users['secretary']}"):
        r = client.get(url)
        assert r.status_code == 403, url
    csrf = form_token(page.text)
    for url, data in ((f"/app/admin/users/{world.users['secretary']}/disable", {}),
                      (f"/app/admin/users/{world.users['secretary']}/reset-password", {}),
                      ("/app/admin/users", {"username": "ke-gian", "is_admin": "1"})):
        r = client.post(url, data={"csrf": csrf, **data})
        assert r.status_code == 403 and "quản trị" in r.text, url
    with app.state.engine.connect() as conn:  # nothing was made, nothing changed
        import sqlalchemy as sa

        assert conn.execute(sa.text("SELECT count(*) FROM users WHERE username = 'ke-gian'")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM users WHERE is_active = false "
                                    "OR must_change_password = true")).scalar() == 0
    client.cookies.clear()
    login(client, "admin")
    hub = client.get("/app/admin")
    assert hub.status_code == 200 and 'href="/app/admin/users"' in hub.text and 'id="nav-admin"' in hub.text
    for section in ("/app/admin/communes", "/app/admin/streams", "/app/admin/audit"):  # every admin page is reachable
        assert f'href="{section}"' in hub.text
        assert client.get(section).status_code == 200, section
    users = client.get("/app/admin/users")
    assert users.status_code == 200 and "secretary" in users.text and "Bí thư đoàn" in users.text
    assert len(users.content) < 100_000


def test_admin_creates_user_with_role_and_one_time_password(client, world):
    login(client, "admin")
    csrf = form_token(client.get("/app/admin/users").text)
    bad = client.post("/app/admin/users", data={"csrf": csrf, "username": "Tên Sai", "role": "cadre",
                                                  "commune_id": str(world.a)})
    assert bad.status_code == 422 and "Tên đăng nhập" in bad.text
    no_village = client.post("/app/admin/users", data={"csrf": csrf, "username": "truong-thon-moi",
                                                         "role": "village_head", "commune_id": str(world.a)})
    assert no_village.status_code == 422 and "thôn" in no_village.text
    # nothing half-made: the refused user does not exist
    assert "truong-thon-moi" not in client.get("/app/admin/users").text
    r = client.post("/app/admin/users", data={"csrf": csrf, "username": "truong-thon-moi", "display_name": "Ông Páo",
                                               "role": "village_head", "commune_id": str(world.a),
                                               "village_id": str(world.village_a)})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    password = _one_time(r.text)
    listing = client.get("/app/admin/users").text
    assert "Ông Páo" in listing and "Trưởng thôn" in listing and "Ún Tà" in listing
    client.cookies.clear()
    r = client.post("/login", data={"username": "truong-thon-moi", "password": password, "next": "/app"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/account"


def test_reset_password_forces_a_change_before_any_other_page(client, world):
    login(client, "admin")
    target = world.users["secretary"]
    confirm = client.get(f"/app/admin/users/{target}/confirm/reset")
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.text
    r = client.post(f"/app/admin/users/{target}/reset-password", data={"csrf": form_token(confirm.text)})
    password = _one_time(r.text)
    assert client.post("/app/admin/users/999999/reset-password",
                       data={"csrf": form_token(confirm.text)}).status_code == 404
    client.cookies.clear()
    assert client.post("/login", data={"username": "secretary", "password": PASSWORD},
                       follow_redirects=False).status_code == 401  # the old password is gone
    login(client, "secretary", password)
    for url in ("/app", f"/app/c/{world.a}", f"/app/c/{world.a}/library"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/app/account", url
    page = client.get("/app/account")
    assert 'id="must-change"' in page.text
    csrf = form_token(page.text)
    mismatch = client.post("/app/account/password", data={"csrf": csrf, "current_password": password,
                                                            "new_password": NEW_PASSWORD,
                                                            "new_password2": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422 and "không giống nhau" in mismatch.text
    weak = client.post("/app/account/password", data={"csrf": csrf, "current_password": password,
                                                        "new_password": "a" * 12, "new_password2": "a" * 12})
    assert weak.status_code == 422 and "lặp lại" in weak.text
    ok = client.post("/app/account/password", data={"csrf": csrf, "current_password": password,
                                                      "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
                     follow_redirects=False)
    assert ok.status_code == 303
    assert client.get(f"/app/c/{world.a}/library").status_code == 200  # this session stayed and is free now
    client.cookies.clear()
    login(client, "secretary", NEW_PASSWORD)


def test_disabled_user_open_session_is_logged_out_on_next_request_and_login_refused(app, client, world):
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as victim:
        login(victim, "cadre")
        assert victim.get(f"/app/c/{world.a}").status_code == 200
        login(client, "admin")
        confirm = client.get(f"/app/admin/users/{world.users['cadre']}/confirm/disable")
        assert "kết thúc ngay" in confirm.text
        r = client.post(f"/app/admin/users/{world.users['cadre']}/disable", data={"csrf": form_token(confirm.text)},
                        follow_redirects=False)
        assert r.status_code == 303
        gone = victim.get(f"/app/c/{world.a}", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        victim.cookies.clear()
        refused = victim.post("/login", data={"username": "cadre", "password": PASSWORD})
        assert refused.status_code == 401 and "đã bị khoá" in refused.text
        page = client.get(f"/app/admin/users/{world.users['cadre']}")
        r = client.post(f"/app/admin/users/{world.users['cadre']}/enable", data={"csrf": form_token(page.text)})
        assert r.status_code == 200 and "Đăng nhập được" in r.text
        login(victim, "cadre")


def test_last_admin_cannot_disable_themselves(client, world):
    login(client, "admin")
    page = client.get(f"/app/admin/users/{world.users['admin']}/confirm/disable")
    r = client.post(f"/app/admin/users/{world.users['admin']}/disable", data={"csrf": form_token(page.text)})
    assert r.status_code == 409 and "quản trị viên cuối cùng" in r.text
    assert client.get("/app/admin").status_code == 200  # still logged in, still admin


def test_roles_are_set_and_removed_with_confirmation(client, world):
    login(client, "admin")
    uid = world.users["outsider"]
    page = client.get(f"/app/admin/users/{uid}")
    csrf = form_token(page.text)
    r = client.post(f"/app/admin/users/{uid}/roles", data={"csrf": csrf, "commune_id": str(world.a),
                                                            "role": "secretary", "village_id": ""},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/app/admin/users/{uid}")
    assert "Bí thư đoàn · Cốc San" in page.text and "Cán bộ xã · Tả Phời" in page.text
    bad = client.post(f"/app/admin/users/{uid}/roles", data={"csrf": csrf, "commune_id": str(world.a),
                                                              "role": "boss"})
    assert bad.status_code == 422
    confirm = client.get(f"/app/admin/users/{uid}/confirm/remove-role", params={"commune_id": world.b})
    assert "Tả Phời" in confirm.text
    client.post(f"/app/admin/users/{uid}/roles/{world.b}/remove", data={"csrf": csrf})
    assert "Tả Phời" not in client.get(f"/app/admin/users/{uid}").text.split("<h2>")[1]


def test_account_page_lists_and_revokes_own_sessions(app, client, world):
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as other:
        login(other, "secretary")
        login(client, "secretary")
        page = client.get("/app/account", headers={"User-Agent": "Phone A"})
        assert page.text.count("End this session") + page.text.count("Kết thúc phiên này") == 1
        assert "máy này" in page.text
        ids = re.findall(r'action="/app/account/revoke/(\d+)"', page.text)
        assert len(ids) == 2
        current = re.search(r'máy này.*?revoke/(\d+)', page.text, re.S).group(1)
        other_id = next(i for i in ids if i != current)
        r = client.post(f"/app/account/revoke/{other_id}", data={"csrf": form_token(page.text)},
                        follow_redirects=False)
        assert r.status_code == 303
        assert other.get("/app", follow_redirects=False).headers["location"].startswith("/login")
        assert client.get("/app", follow_redirects=False).headers["location"] != "/login"
        # another user's session id: not found, and nothing revoked
        login(other, "cadre")
        cadre_page = other.get("/app/account").text
        cadre_id = re.findall(r'action="/app/account/revoke/(\d+)"', cadre_page)[0]
        r = client.post(f"/app/account/revoke/{cadre_id}", data={"csrf": form_token(page.text)})
        assert r.status_code == 404
        assert other.get("/app/account").status_code == 200


def test_lockout_message_in_minutes(client, world):
    for _ in range(5):
        client.post("/login", data={"username": "cadre", "password": "wrong-password"})
    r = client.post("/login", data={"username": "cadre", "password": PASSWORD})
    error = re.search(r'class="error" role="alert">([^<]+)<', r.text).group(1)
    assert r.status_code == 429 and error == "Đăng nhập sai quá nhiều lần. Thử lại sau 15 phút", error


def test_sessions_are_named_by_browser_and_system():
    from api.web.pages_account import device_label

    android = ("Mozilla/5.0 (Linux; Android 13; SM-A135F) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/120.0.0.0 Mobile Safari/537.36")
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.1 Mobile/15E148 Safari/604.1")
    assert device_label(android) == "Chrome · Android"
    assert device_label(iphone) == "Safari · iPhone"
    assert device_label("python-httpx/0.27") == "Python" and device_label("") == ""


def test_account_and_admin_pages_in_english_have_no_vietnamese(client, world):
    login(client, "admin")
    client.get("/lang/en")
    for url in ("/app/account", "/app/admin", "/app/admin/users", f"/app/admin/users/{world.users['cadre']}",
                f"/app/admin/users/{world.users['cadre']}/confirm/disable"):
        main = client.get(url).text.split('<main id="main">')[1].split("</main>")[0]
        for word in ("Tài khoản", "mật khẩu", "Vai trò", "Khoá", "chọn", "Cán bộ"):
            assert word not in main, (url, word)
