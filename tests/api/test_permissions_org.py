"""The permission matrix of the organisation's edit routes (issue 14): every endpoint × every role, anonymous
and another commune's cadre (404, never 403). Editing communes, villages and loudspeaker clusters is the system
admin's; a member of the commune gets 403, anyone else 404. Discovered by tests/api/matrix_registry.py."""
from __future__ import annotations

import itertools

import pytest

from tests.api.matrix_roles import answers, row

_n = itertools.count()
ADMIN_EDIT = row(200, 403, 403, 403, 404)

MATRIX = {
    ("PATCH", "/api/v1/communes/{commune_id}"): ("commune", ADMIN_EDIT),
    ("PATCH", "/api/v1/villages/{village_id}"): ("village", ADMIN_EDIT),
    # A village head sees only their own village: another one is 404 for them.
    ("DELETE", "/api/v1/villages/{village_id}"): ("unused_village", row(204, 403, 403, 404, 404)),
    ("PATCH", "/api/v1/devices/{device_id}"): ("device", ADMIN_EDIT),
}


def _prepare(kind, client, world):
    n = next(_n)
    kw = {"commune_id": world.a, "village_id": world.village_a}
    body = None
    if kind == "commune":
        body = {"name": f"Cốc San {n}"}
    elif kind == "village":
        body = {"latitude": 22.5 + n / 1000, "longitude": 103.9, "geocodes": f"VN-village=CS-{n}"}
    elif kind == "unused_village":
        r = client.post(f"/api/v1/communes/{world.a}/villages", json={"name": f"Thôn trống {n}"},
                        headers=world.h("admin"))
        kw["village_id"] = r.json()["id"]
    elif kind == "device":
        r = client.post(f"/api/v1/communes/{world.a}/devices", json={"name": f"Cụm {n}", "village_id": world.village_a},
                        headers=world.h("admin"))
        kw["device_id"] = r.json()["id"]
        body = {"latitude": 22.51, "longitude": 103.91, "village_id": world.village_a2}
    return kw, body


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_org_permission_matrix(endpoint, client, world):
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    got = answers(client, world, method, path, lambda: _prepare(kind, client, world))
    for role, r in got.items():
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", (role, r.text)
    assert {role: r.status_code for role, r in got.items()} == expected


def test_refused_edits_change_nothing_and_leave_no_audit(client, world):
    before = client.get(f"/api/v1/villages/{world.village_a}", headers=world.h("admin")).json()
    for role in ("cadre", "secretary", "village_head", "outsider"):
        client.patch(f"/api/v1/villages/{world.village_a}", json={"name": "Đổi trộm"}, headers=world.h(role))
    assert client.get(f"/api/v1/villages/{world.village_a}", headers=world.h("admin")).json() == before
    assert client.get("/api/v1/audit", params={"action": "village.update"}, headers=world.h("admin")).json() == []
