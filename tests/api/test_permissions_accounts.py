"""The permission matrix of the accounts routes of issue 14 (discovered by tests/api/matrix_registry.py).

Everyone changes their own password and lists their own sessions; only the system admin resets a password,
disables, enables or edits another account (403 admin_required for every commune role, 401 without login)."""
from __future__ import annotations

import pytest

from tests.station_rig import PASSWORD
from tests.api.matrix_roles import ROLES, row

EVERYONE = row(200, 200, 200, 200, 200)
ADMIN_ONLY = row(200, 403, 403, 403, 403)

MATRIX = {
    ("POST", "/api/v1/auth/password"): ({"current_password": PASSWORD, "new_password": "song-nam-rong-lam"},
                                        EVERYONE),
    ("GET", "/api/v1/auth/sessions"): (None, EVERYONE),
    ("PATCH", "/api/v1/users/{user_id}"): ({"display_name": "Chị Lan"}, ADMIN_ONLY),
    ("POST", "/api/v1/users/{user_id}/reset-password"): (None, ADMIN_ONLY),
    ("POST", "/api/v1/users/{user_id}/disable"): (None, ADMIN_ONLY),
    ("POST", "/api/v1/users/{user_id}/enable"): (None, ADMIN_ONLY),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_accounts_matrix(route, role, client, world):
    method, path = route
    body, expected = MATRIX[route]
    url = path.format(user_id=world.users["cadre2"])  # another user than every caller
    r = client.request(method, url, json=body, headers=world.h(None if role == "anon" else role))
    assert r.status_code == expected[role], (role, r.text)
    if r.status_code == 403:
        assert r.json()["code"] == "admin_required"
