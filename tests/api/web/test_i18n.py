"""Vietnamese by default, English on request: the catalog covers every message of the pages, the choice is
remembered in a cookie, and Accept-Language is honoured when there is no cookie."""
from __future__ import annotations

import pytest

from api.i18n import negotiate, translations
from api.i18n.update import extract


def test_every_message_has_a_vietnamese_translation():
    vi = translations("vi")
    ids = [m.id for m in extract() if m.id]
    assert len(ids) > 100
    missing = [i for i in ids if vi.gettext(i) == i and i not in {"Loa"}]
    assert not missing, f"untranslated: {missing}"


@pytest.mark.parametrize("cookie,header,expected", [
    (None, None, "vi"), (None, "en-US,en;q=0.9", "en"), (None, "vi-VN,vi;q=0.9,en;q=0.8", "vi"),
    (None, "fr-FR,en;q=0.5", "en"), (None, "fr-FR", "vi"), (None, "en;q=0.2,vi;q=0.8", "vi"),
    ("en", "vi", "en"), ("vi", "en", "vi"), ("xx", "en", "en"), (None, "en;q=abc", "vi"),
])
def test_negotiation(cookie, header, expected):
    assert negotiate(cookie, header) == expected


def test_pages_follow_the_language(client, world):
    assert "Đăng nhập" in client.get("/login").text and '<html lang="vi">' in client.get("/login").text
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Log in" in english.text and "Đăng nhập" not in english.text
    r = client.get("/lang/en", params={"next": "/login"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "loa_lang=en" in r.headers["set-cookie"] and "Max-Age=31536000" in r.headers["set-cookie"]
    assert "User name" in client.get("/login").text  # remembered without any header
    client.get("/lang/vi")
    assert "Tên đăng nhập" in client.get("/login", headers={"Accept-Language": "en"}).text  # the cookie wins
    assert client.get("/lang/en", params={"next": "https://evil.example/"},
                      follow_redirects=False).headers["location"] == "/"


def test_error_pages_are_translated(client, world):
    r = client.post("/login", data={"username": "x", "password": "y"}, headers={"Accept-Language": "en"})
    assert r.status_code == 401 and "Wrong username or password" in r.text and "Sai tên" not in r.text
