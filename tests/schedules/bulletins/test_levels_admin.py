"""The admin sets up districts and staff; nobody else can, and staff keep to their area."""
from __future__ import annotations


def test_admin_sets_up_a_district_and_its_staff(client, world):
    w = world
    r = client.post(f"/api/v1/provinces/{w.province}/districts", headers=w.h("admin"), json={"name": "Bát Xát",
                                                                                          "code": "BX"})
    assert r.status_code == 201, r.text
    district = r.json()["id"]
    assert client.post(f"/api/v1/provinces/{w.province}/districts", headers=w.h("admin"),
                       json={"name": "Khác", "code": "BX"}).status_code == 409
    assert client.put(f"/api/v1/communes/{w.a}/district", headers=w.h("admin"),
                      json={"district_id": district}).status_code == 204
    r = client.put(f"/api/v1/users/{w.users['cadre2']}/areas", headers=w.h("admin"),
                   json={"level": "district", "area_id": district, "role": "approver"})
    assert r.json() == {"level": "district", "area_id": district, "role": "approver"}
    assert client.get("/api/v1/areas", headers=w.h("cadre2")).json()[0]["name"] == "Bát Xát"
    assert client.get(f"/api/v1/provinces/{w.province}/districts", headers=w.h("cadre2")).status_code == 404
    for who in ("cadre", "outsider", "cadre2"):
        assert client.post(f"/api/v1/provinces/{w.province}/districts", headers=w.h(who),
                           json={"name": "X"}).status_code == 403
        assert client.put(f"/api/v1/users/{w.users[who]}/areas", headers=w.h(who),
                          json={"level": "province", "area_id": w.province, "role": "approver"}).status_code == 403
        assert client.put(f"/api/v1/communes/{w.a}/district", headers=w.h(who),
                          json={"district_id": None}).status_code == 403
    assert client.delete(f"/api/v1/users/{w.users['cadre2']}/areas/district/{district}",
                         headers=w.h("admin")).status_code == 204
    assert client.get("/api/v1/areas", headers=w.h("cadre2")).json() == []


def test_a_commune_goes_only_under_a_district_of_its_province(client, world):
    w = world
    other = client.post("/api/v1/provinces", headers=w.h("admin"), json={"name": "Yên Bái", "code": "YB"}).json()
    d = client.post(f"/api/v1/provinces/{other['id']}/districts", headers=w.h("admin"), json={"name": "Mù Cang Chải"})
    r = client.put(f"/api/v1/communes/{w.a}/district", headers=w.h("admin"), json={"district_id": d.json()["id"]})
    assert r.status_code == 404 and r.json()["code"] == "district_not_found"
