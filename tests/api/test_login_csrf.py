"""Login CSRF (issue 13, Low): another site cannot log a browser in (to the attacker's account), through the HTML
form or the JSON login; API clients (no Origin, no Sec-Fetch-Site) and the station's own pages still log in."""
from __future__ import annotations

from tests.station_rig import PASSWORD

LOGIN = {"username": "cadre", "password": PASSWORD}


def test_json_login_from_another_site_is_refused(client, world):
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
                    {"Sec-Fetch-Site": "same-site"}):
        r = client.post("/api/v1/auth/login", json=LOGIN, headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "login_cross_site", (headers, r.text)
        assert r.json()["detail"].startswith("Chỉ đăng nhập được từ trang của đài")
        assert "loa_session" not in r.headers.get("set-cookie", "")
    assert client.post("/api/v1/auth/login", json=LOGIN).status_code == 200  # an API client: no browser headers
    same = client.post("/api/v1/auth/login", json=LOGIN,
                       headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200 and "loa_session=" in same.headers["set-cookie"]
    # a bearer token sets no cookie: nothing to forge, it stays open to scripts
    assert client.post("/api/v1/auth/token", json={**LOGIN, "name": "x"},
                       headers={"Origin": "https://evil.example"}).status_code == 200


def test_login_form_posted_from_another_site_is_refused(client, world):
    form = {**LOGIN, "next": "/app"}
    r = client.post("/login", data=form, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
                    follow_redirects=False)
    assert r.status_code == 403 and "Chỉ đăng nhập được từ trang của đài" in r.text
    assert "loa_session" not in client.cookies
    r = client.post("/login", data=form, headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
                    follow_redirects=False)
    assert r.status_code == 303 and client.cookies.get("loa_session")


def test_the_public_url_is_our_origin_too(client, world, app):
    app.state.settings.public_url = "https://loa.cocsan.example"
    r = client.post("/api/v1/auth/login", json=LOGIN, headers={"Origin": "https://loa.cocsan.example"})
    assert r.status_code == 200
    assert client.post("/api/v1/auth/login", json=LOGIN,
                       headers={"Origin": "https://cocsan.example"}).status_code == 403
