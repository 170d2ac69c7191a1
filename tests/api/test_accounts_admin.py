"""Issue 14, accounts through the JSON API, on SQLite and PostgreSQL: own password change, an admin's reset to a
one-time password that must be changed, disable/enable ending every session and token at once, the 365-day
token cap (new and old tokens), the audit of each action, and the attacks (non-admin, last admin, unknown user)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.station_rig import PASSWORD

NEW = "song-nam-rong-lam"


def _login(client, username: str, password: str = PASSWORD) -> tuple[dict, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password, "name": "t"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}, r.json()["access_token"]


def _actions(engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT action, object_id FROM audit_log ORDER BY id"))]


def test_own_password_change_ends_other_sessions_keeps_this_one(client, world, engine):
    keep, _ = _login(client, "secretary")
    other, _ = _login(client, "secretary")
    r = client.post("/api/v1/auth/password", json={"current_password": "wrong-one-here", "new_password": NEW},
                    headers=keep)
    assert r.status_code == 422 and r.json()["code"] == "current_password_wrong"
    assert r.json()["detail"] == "Mật khẩu hiện tại không đúng"
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200  # a wrong try ends nothing
    weak = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"},
                       headers=keep)
    assert weak.status_code == 422 and weak.json()["code"] == "password_too_short"
    same = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD},
                       headers=keep)
    assert same.status_code == 422 and same.json()["code"] == "password_unchanged"
    ok = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW}, headers=keep)
    assert ok.status_code == 200, ok.text
    assert client.get("/api/v1/auth/me", headers=keep).status_code == 200
    assert client.get("/api/v1/auth/me", headers=other).status_code == 401
    assert client.get("/api/v1/auth/me", headers=world.h("secretary")).status_code == 401  # the fixture's token too
    assert client.post("/api/v1/auth/token", json={"username": "secretary", "password": PASSWORD}).status_code == 401
    _login(client, "secretary", NEW)
    actions = [a for a, _ in _actions(engine)]
    assert "user.password_change_failed" in actions and "user.password_change" in actions


def test_wrong_current_password_is_rate_limited_like_a_login(client, world, clock):
    h, _ = _login(client, "cadre")
    clock.advance(seconds=1)  # failures count from the last successful login on
    for _ in range(5):
        assert client.post("/api/v1/auth/password", json={"current_password": "nope-nope-nope", "new_password": NEW},
                           headers=h).status_code == 422
    limited = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW},
                          headers=h)
    assert limited.status_code == 429 and "phút" in limited.json()["detail"]


def test_reset_password_one_time_and_must_change(client, world, engine):
    victim, _ = _login(client, "cadre")
    r = client.post(f"/api/v1/users/{world.users['cadre']}/reset-password", headers=world.h("admin"))
    assert r.status_code == 200, r.text
    one_time = r.json()["one_time_password"]
    assert len(one_time) >= 10 and r.json()["must_change_password"] is True
    assert client.get("/api/v1/auth/me", headers=victim).status_code == 401  # their sessions ended
    assert client.post("/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD}).status_code == 401
    h, _ = _login(client, "cadre", one_time)
    for method, url in (("get", "/api/v1/auth/me"), ("get", f"/api/v1/communes/{world.a}"),
                        ("get", f"/api/v1/communes/{world.a}/content"), ("get", "/api/v1/auth/sessions")):
        blocked = getattr(client, method)(url, headers=h)
        assert blocked.status_code == 403 and blocked.json()["code"] == "password_change_required", url
    ok = client.post("/api/v1/auth/password", json={"current_password": one_time, "new_password": NEW}, headers=h)
    assert ok.status_code == 200 and ok.json()["must_change_password"] is False
    assert client.get(f"/api/v1/communes/{world.a}", headers=h).status_code == 200
    # logout works for a must-change user as well
    r = client.post(f"/api/v1/users/{world.users['cadre']}/reset-password", headers=world.h("admin"))
    h2, _ = _login(client, "cadre", r.json()["one_time_password"])
    assert client.post("/api/v1/auth/logout", headers=h2).status_code == 204
    assert ("user.password_reset", str(world.users["cadre"])) in _actions(engine)
    with engine.connect() as conn:  # only the hash is kept
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE username='cadre'")).scalar()
    assert one_time not in stored and stored.startswith("$argon2id$")


def test_disable_ends_every_session_and_token_and_refuses_login(client, world, engine):
    h, _ = _login(client, "secretary")
    cookie = client.post("/api/v1/auth/login", json={"username": "secretary", "password": PASSWORD})
    assert cookie.status_code == 200
    r = client.post(f"/api/v1/users/{world.users['secretary']}/disable", headers=world.h("admin"))
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get("/api/v1/auth/me").status_code == 401  # the browser session
    for headers in (h, world.h("secretary")):
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    refused = client.post("/api/v1/auth/token", json={"username": "secretary", "password": PASSWORD})
    assert refused.status_code == 401 and refused.json()["code"] == "account_disabled"
    assert "khoá" in refused.json()["detail"]
    wrong = client.post("/api/v1/auth/token", json={"username": "secretary", "password": "not-the-password"})
    assert wrong.json()["code"] == "bad_credentials"  # a stranger learns nothing about the account
    assert client.post(f"/api/v1/users/{world.users['secretary']}/enable",
                       headers=world.h("admin")).json()["is_active"] is True
    _login(client, "secretary")
    actions = _actions(engine)
    assert ("user.disable", str(world.users["secretary"])) in actions
    assert ("user.enable", str(world.users["secretary"])) in actions


def test_attack_paths(client, world):
    for role in ("cadre", "secretary", "village_head", "outsider"):
        for action in ("disable", "enable", "reset-password"):
            r = client.post(f"/api/v1/users/{world.users['cadre2']}/{action}", headers=world.h(role))
            assert r.status_code == 403 and r.json()["code"] == "admin_required", (role, action)
        assert client.get("/api/v1/users", headers=world.h(role)).status_code == 403
        assert client.patch(f"/api/v1/users/{world.users[role]}", json={"is_admin": True},
                            headers=world.h(role)).status_code == 403
        assert client.put(f"/api/v1/users/{world.users[role]}/memberships",
                          json={"commune_id": world.b, "role": "cadre"}, headers=world.h(role)).status_code == 403
    assert client.post("/api/v1/users/999999/reset-password", headers=world.h("admin")).status_code == 404
    assert client.post("/api/v1/users/999999/disable", headers=world.h("admin")).status_code == 404
    assert client.post("/api/v1/users/0/disable", headers=world.h("admin")).status_code == 422
    last = client.post(f"/api/v1/users/{world.users['admin']}/disable", headers=world.h("admin"))
    assert last.status_code == 409 and last.json()["code"] == "last_admin"
    demote = client.patch(f"/api/v1/users/{world.users['admin']}", json={"is_admin": False}, headers=world.h("admin"))
    assert demote.status_code == 409 and demote.json()["code"] == "last_admin"
    assert client.get("/api/v1/auth/me", headers=world.h("admin")).json()["is_active"] is True
    # with a second admin, the first may step down
    assert client.patch(f"/api/v1/users/{world.users['cadre2']}", json={"is_admin": True},
                        headers=world.h("admin")).json()["is_admin"] is True
    assert client.post(f"/api/v1/users/{world.users['admin']}/disable", headers=world.h("admin")).status_code == 200
    assert client.get("/api/v1/auth/me", headers=world.h("admin")).status_code == 401


def test_token_lifetime_capped_at_365_days(client, world, engine, clock):
    long = client.post("/api/v1/auth/tokens", json={"name": "x", "days": 3650}, headers=world.h("cadre"))
    assert long.status_code == 422 and long.json()["code"] == "token_too_long"
    assert "365" in long.json()["detail"]
    ok = client.post("/api/v1/auth/tokens", json={"name": "x", "days": 365}, headers=world.h("cadre"))
    assert ok.status_code == 201
    # a row from before the cap (3,650 days) stops working after 365 days all the same
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE auth_tokens SET expires_at = :e WHERE id = :i"),
                     {"e": (clock() + timedelta(days=3650)).replace(tzinfo=None) if engine.dialect.name == "sqlite"
                      else clock() + timedelta(days=3650), "i": ok.json()["id"]})
    h = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    clock.advance(days=364)
    assert client.get("/api/v1/auth/me", headers=h).status_code == 200
    clock.advance(days=2)
    assert client.get("/api/v1/auth/me", headers=h).status_code == 401


def test_sessions_list_and_revoke_own(client, world):
    h, _ = _login(client, "secretary")
    other, _ = _login(client, "secretary")
    rows = client.get("/api/v1/auth/sessions", headers=h).json()
    assert sum(1 for r in rows if r["current"]) == 1 and len(rows) == 3  # two logins + the fixture's token
    other_id = next(r["id"] for r in rows if not r["current"] and r["name"] == "t")
    assert client.delete(f"/api/v1/auth/tokens/{other_id}", headers=h).status_code == 204
    assert len(client.get("/api/v1/auth/sessions", headers=h).json()) == 2
    # another user's token: 404, untouched
    cadre_rows = client.get("/api/v1/auth/sessions", headers=world.h("cadre")).json()
    assert client.delete(f"/api/v1/auth/tokens/{cadre_rows[0]['id']}", headers=h).status_code == 404
    assert client.get("/api/v1/auth/me", headers=world.h("cadre")).status_code == 200


def test_memberships_via_api_are_audited(client, world, engine):
    uid = world.users["outsider"]
    r = client.put(f"/api/v1/users/{uid}/memberships", json={"commune_id": world.a, "role": "village_head",
                                                             "village_id": world.village_a}, headers=world.h("admin"))
    assert r.status_code == 200 and {m["commune_id"] for m in r.json()["memberships"]} == {world.a, world.b}
    r = client.delete(f"/api/v1/users/{uid}/memberships/{world.b}", headers=world.h("admin"))
    assert [m["commune_id"] for m in r.json()["memberships"]] == [world.a]
    users = client.get("/api/v1/users", headers=world.h("admin")).json()
    assert {u["username"] for u in users} >= {"admin", "cadre", "outsider"}
    actions = [a for a, _ in _actions(engine)]
    assert "membership.set" in actions and "membership.remove" in actions
