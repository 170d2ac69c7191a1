"""Passwords (issue 13, Low): very common ones and one character (or a short group) repeated are refused, not
only short ones; the list ships in the package; the message is Vietnamese first."""
from __future__ import annotations

import pytest

from loa.accounts.passwords import COMMON_FILE, check_policy, common_passwords
from loa.errors import Invalid


def test_the_list_ships_in_the_package_with_thousands_of_entries():
    assert COMMON_FILE.exists() and 5000 <= len(common_passwords()) <= 10000
    assert {"password123", "1234567890", "qwertyuiop", "anhyeuem", "matkhau"} <= common_passwords()


@pytest.mark.parametrize("password,code", [
    ("aaaaaaaaaaaa", "password_repeated"), ("1111111111", "password_repeated"), ("ababababab", "password_repeated"),
    ("123123123123", "password_repeated"), ("password123", "password_common"), ("1234567890", "password_common"),
    ("QWERTYUIOP", "password_common"), ("iloveyou2024!", "password_common"), ("Anhyeuem@2024", "password_common"),
    ("matkhau123456", "password_common"), ("short", "password_too_short"),
])
def test_weak_passwords_are_refused(password, code):
    with pytest.raises(Invalid) as err:
        check_policy(password)
    assert err.value.code == code


@pytest.mark.parametrize("password", ["mat-khau-rat-dai", "ga-gay-o-bo-suoi", "trung thu 2026 o Un Ta", "Xk9#pL2vQz"])
def test_ordinary_good_passwords_pass(password):
    check_policy(password)


def test_api_refuses_them_with_a_vietnamese_message(client, world, app):
    r = client.post("/api/v1/users", json={"username": "newbie", "password": "password123"}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["code"] == "password_common"
    assert r.json()["detail"].startswith("Mật khẩu này quá phổ biến")
    r = client.post("/api/v1/users", json={"username": "newbie", "password": "a" * 16}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["code"] == "password_repeated"
    assert r.json()["message_en"].startswith("The password must not repeat")
    assert client.get("/api/v1/users", headers=world.h("admin")).status_code == 200
    assert "newbie" not in [u["username"] for u in client.get("/api/v1/users", headers=world.h("admin")).json()]
