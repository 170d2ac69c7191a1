"""Login, sessions and CSRF, bearer tokens, rate limiting, first-start setup, problem+json."""
from __future__ import annotations

from tests.station_rig import PASSWORD


def test_cookie_login_sets_httponly_lax_session_and_needs_csrf_for_writes(client, world):
    r = client.post("/api/v1/auth/login", json={"username": "cadre", "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookies = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("loa_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    csrf = r.json()["csrf_token"]
    assert client.get("/api/v1/auth/me").json()["username"] == "cadre"
    body = {"name": "Thôn Mới"}
    refused = client.post(f"/api/v1/communes/{world.a}/villages", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    wrong = client.post(f"/api/v1/communes/{world.a}/villages", json=body, headers={"X-CSRF-Token": "x" * 64})
    assert wrong.status_code == 403
    ok = client.post(f"/api/v1/communes/{world.a}/villages", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    client.cookies.set("loa_session", session_cookie.split(";")[0].split("=", 1)[1])
    assert client.get("/api/v1/auth/me").status_code == 401  # the session is revoked server-side


def test_bearer_requests_are_exempt_from_csrf_and_tokens_can_be_revoked(client, world):
    r = client.post("/api/v1/auth/token", json={"username": "secretary", "password": PASSWORD, "name": "app"})
    assert r.status_code == 200
    token = r.json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=h).json()["memberships"][0]["role"] == "secretary"
    assert client.post("/api/v1/auth/logout", headers=h).status_code == 204
    gone = client.get("/api/v1/auth/me", headers=h)
    assert gone.status_code == 401 and gone.headers["content-type"] == "application/problem+json"


def test_login_rate_limit_per_username_and_ip_is_persisted(client, world, clock):
    for _ in range(5):
        assert client.post("/api/v1/auth/login", json={"username": "cadre", "password": "wrong"}).status_code == 401
    limited = client.post("/api/v1/auth/login", json={"username": "cadre", "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["code"] == "login_rate_limited" and int(limited.headers["Retry-After"]) > 0
    # another user from the same address is not blocked
    assert client.post("/api/v1/auth/login", json={"username": "secretary", "password": PASSWORD}).status_code == 200
    clock.advance(minutes=16)
    assert client.post("/api/v1/auth/login", json={"username": "cadre", "password": PASSWORD}).status_code == 200


def test_no_default_password_first_admin_from_one_time_setup_token(app, client):
    token = app.state.setup_token
    assert token
    bad = client.post("/api/v1/setup", json={"token": "nope", "username": "chu-tich", "password": PASSWORD})
    assert bad.status_code == 401 and bad.json()["code"] == "setup_token_invalid"
    ok = client.post("/api/v1/setup", json={"token": token, "username": "chu-tich", "password": PASSWORD})
    assert ok.status_code == 201 and ok.json()["is_admin"] is True
    again = client.post("/api/v1/setup", json={"token": token, "username": "other", "password": PASSWORD})
    assert again.status_code == 409 and again.json()["code"] == "setup_done"


def test_problem_json_vietnamese_first_english_on_request(client, world):
    r = client.get("/api/v1/content/999999", headers=world.h("cadre"))
    body = r.json()
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert body["code"] == "content_not_found" and body["detail"] == body["message_vi"]
    assert body["message_en"] == "Content item not found" and body["type"] == "urn:loa:problem:content_not_found"
    en = client.get("/api/v1/content/999999", headers={**world.h("cadre"), "Accept-Language": "en-US,en;q=0.9"})
    assert en.json()["detail"] == "Content item not found" and en.json()["title"] == "Not found"
    invalid = client.post(f"/api/v1/communes/{world.a}/content", json={"title": ""}, headers=world.h("cadre"))
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_error"
    assert invalid.json()["errors"] and invalid.headers["content-type"] == "application/problem+json"


def test_short_password_refused(client, world):
    r = client.post("/api/v1/users", json={"username": "newbie", "password": "short"}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["code"] == "password_too_short"
