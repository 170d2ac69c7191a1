"""Permission matrix of the announcement-pack routes (discovered by tests/api/matrix_registry.py)."""
from __future__ import annotations

import pytest

from content.packs import builtin_packs

PACK = builtin_packs()[0].id
ROLES = ["anon", "admin", "cadre", "secretary", "village_head", "outsider"]
MATRIX = {
    ("GET", "/api/v1/packs"): (None, dict(anon=401, admin=200, cadre=200, secretary=200, village_head=200,
                                          outsider=200)),
    # Commune-wide content: editors of the commune import; a village head may not; the outsider sees nothing.
    ("POST", "/api/v1/communes/{commune_id}/packs/{pack_id}/import"): (
        {"engine": "espeak"},
        dict(anon=401, admin=403, cadre=201, secretary=201, village_head=403, outsider=404)),
}


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_pack_permission_matrix(endpoint, client, world):
    method, path = endpoint
    body, expected = MATRIX[endpoint]
    url = path.format(commune_id=world.a, pack_id=PACK)
    got = {}
    for role in ROLES:
        headers = world.h(None if role == "anon" else role)
        got[role] = client.request(method, url, json=body, headers=headers).status_code
    assert got == expected


def test_import_reports_what_was_already_there(client, world):
    url = f"/api/v1/communes/{world.a}/packs/{PACK}/import"
    first = client.post(url, json={"engine": "espeak"}, headers=world.h("secretary"))
    assert first.status_code == 201 and len(first.json()["created"]) == len(builtin_packs()[0].items)
    assert {a["item"]["status"] for a in first.json()["created"]} == {"draft"}
    again = client.post(url, json={"engine": "espeak"}, headers=world.h("cadre"))
    assert again.json()["created"] == [] and len(again.json()["already_there"]) == len(builtin_packs()[0].items)


def test_unknown_pack_is_a_clear_404(client, world):
    r = client.post(f"/api/v1/communes/{world.a}/packs/khong-co/import", json={}, headers=world.h("cadre"))
    assert r.status_code == 404 and r.json()["code"] == "pack_not_found"
    assert r.headers["content-type"].startswith("application/problem+json")
