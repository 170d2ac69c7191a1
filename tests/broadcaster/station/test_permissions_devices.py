"""The broadcaster's permission matrix: every cadre-facing device route × every role, and every device route
refusing every user token (401)."""
from __future__ import annotations

import itertools

import pytest

from tests.broadcaster.station.device_rig import DEV, INFO
from tests.broadcaster.station.matrix import DEVICE_AUTH, MATRIX, PUBLIC
from tests.api.matrix_roles import ROLES, answers

_n = itertools.count()


def test_every_device_route_is_in_the_matrix(app):
    routes = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops
              if p.startswith(("/api/device/", "/api/v1/communes/{commune_id}/enrollments"))
              or "device-" in p or p.endswith(("/enrollment-code", "/revoke", "/sound", "/plays", "/status"))}
    assert routes == set(MATRIX) | DEVICE_AUTH | PUBLIC


def _prepare(kind, client, world):
    kw = {"commune_id": world.a, "village_id": world.village_a}
    body = None
    if kind in ("device", "sound"):
        r = client.post(f"/api/v1/communes/{world.a}/devices", json={"name": f"Cụm {next(_n)}",
                                                                       "village_id": world.village_a},
                        headers=world.h("cadre"))
        kw["device_id"] = r.json()["id"]
        body = {"volume": 40, "muted": False} if kind == "sound" else None
    elif kind in ("device_code", "device_code_reject"):
        code = client.post(f"{DEV}/enroll/start", json=INFO).json()["code"]
        body = {"code": code} if kind == "device_code_reject" else {"code": code, "village_id": world.village_a}
    return kw, body


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_permission_matrix(endpoint, client, world):
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    got = answers(client, world, method, path, lambda: _prepare(kind, client, world))
    assert {role: r.status_code for role, r in got.items()} == expected


@pytest.mark.parametrize("endpoint", sorted(DEVICE_AUTH), ids=lambda e: f"{e[0]} {e[1]}")
def test_device_routes_refuse_user_tokens(endpoint, client, world):
    method, path = endpoint
    url = path.format(sha256="a" * 64, name="relay-0123456789ab")
    for role in ROLES:
        r = client.request(method, url, json={} if method == "POST" else None,
                           headers=world.h(None if role == "anon" else role))
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized"), role
