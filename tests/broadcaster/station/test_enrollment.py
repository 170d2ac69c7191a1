"""Enrollment both ways through the real endpoints, credentials as the protocol says, device auth boundaries."""
from __future__ import annotations

import jsonschema
import pytest

from broadcaster.protocol.schemas import schema_for
from tests.broadcaster.station.device_rig import DEV, INFO, dh, enroll_by_code


def _valid(doc, name):
    jsonschema.validate(doc, schema_for(name), cls=jsonschema.Draft202012Validator)


def test_device_shows_code_cadre_confirms_device_polls(client, world, clock):
    r = client.post(f"{DEV}/enroll/start", json=INFO)
    assert r.status_code == 201, r.text
    started = r.json()
    _valid(started, "EnrollStarted")
    assert "x-loa-server-time" in {k.lower() for k in r.headers}
    poll = {"enrollment_id": started["enrollment_id"], "poll_secret": started["poll_secret"]}
    r = client.post(f"{DEV}/enroll/poll", json=poll)
    assert r.status_code == 202 and r.json() == {"status": "pending"}
    # a wrong poll secret learns nothing
    assert client.post(f"{DEV}/enroll/poll", json={**poll, "poll_secret": "x"}).status_code == 404
    # a secretary may not confirm; an outsider does not even see the commune
    body = {"code": started["code"], "village_id": world.village_a, "name": "Loa Ún Tà"}
    assert client.post(f"/api/v1/communes/{world.a}/enrollments/confirm", json=body,
                       headers=world.h("secretary")).status_code == 403
    assert client.post(f"/api/v1/communes/{world.a}/enrollments/confirm", json=body,
                       headers=world.h("outsider")).status_code == 404
    r = client.post(f"/api/v1/communes/{world.a}/enrollments/confirm", json=body, headers=world.h("cadre"))
    assert r.status_code == 201, r.text
    device_id = r.json()["id"]
    assert r.json()["village_id"] == world.village_a and r.json()["name"] == "Loa Ún Tà"
    r = client.post(f"{DEV}/enroll/poll", json=poll)
    assert r.status_code == 200, r.text
    creds = r.json()
    _valid(creds, "Credentials")
    assert creds["village_id"] == f"v{world.village_a}" and creds["commune_id"] == f"c{world.a}"
    # once only
    r = client.post(f"{DEV}/enroll/poll", json=poll)
    assert r.status_code == 410 and r.json()["code"] == "enrollment_expired"
    # the token works on device endpoints; the device now appears enrolled
    r = client.get(f"{DEV}/keys", headers=dh(creds))
    assert r.status_code == 200
    _valid(r.json(), "KeySet")
    st = client.get(f"/api/v1/devices/{device_id}/status", headers=world.h("cadre")).json()
    assert st["identity"] == creds["device_id"] and st["status"] == "online"


def test_device_code_expires_after_ten_minutes(client, world, clock):
    started = client.post(f"{DEV}/enroll/start", json=INFO).json()
    clock.advance(minutes=11)
    r = client.post(f"{DEV}/enroll/poll", json={"enrollment_id": started["enrollment_id"],
                                                "poll_secret": started["poll_secret"]})
    assert r.status_code == 410
    r = client.post(f"/api/v1/communes/{world.a}/enrollments/confirm",
                    json={"code": started["code"], "village_id": world.village_a}, headers=world.h("cadre"))
    assert r.status_code == 404 and r.json()["code"] == "code_invalid"


def test_cadre_code_claimed_once_and_wrong_codes_rate_limited(client, world, clock):
    device_id, creds = enroll_by_code(client, world)
    _valid(creds, "Credentials")
    assert creds["token"].startswith("loa_dev_") and creds["mqtt"] is None
    # the same code again, and wrong codes: 404 code_invalid, then 429 after five
    codes = []
    for _ in range(4):
        r = client.post(f"{DEV}/enroll/claim", json={"code": "000001", **INFO})
        codes.append((r.status_code, r.json()["code"]))
    assert codes == [(404, "code_invalid")] * 4
    r = client.post(f"/api/v1/devices/{device_id}/enrollment-code", headers=world.h("cadre"))
    good = r.json()["code"]
    assert client.post(f"{DEV}/enroll/claim", json={"code": "000002", **INFO}).status_code == 404
    r = client.post(f"{DEV}/enroll/claim", json={"code": good, **INFO})
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0
    clock.advance(minutes=11)
    r = client.post(f"{DEV}/enroll/claim", json={"code": good, **INFO})
    assert r.status_code == 200
    # re-enrolled: a new identity; the old token is revoked
    assert r.json()["device_id"] != creds["device_id"]
    old = client.get(f"{DEV}/keys", headers=dh(creds))
    assert old.status_code == 401 and old.json()["code"] == "device_revoked"


def test_token_boundaries(client, world):
    _, creds = enroll_by_code(client, world)
    # a user token is not a device token
    r = client.get(f"{DEV}/manifest", headers=world.h("cadre"))
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert "x-loa-server-time" in r.headers
    assert client.get(f"{DEV}/manifest").status_code == 401
    assert client.get(f"{DEV}/manifest", headers={"Authorization": "Bearer loa_dev_" + "A" * 43}).json()["code"] \
        == "unauthorized"
    # a device token is not a user token
    for path in ("/api/v1/auth/me", f"/api/v1/communes/{world.a}/device-status", f"/api/v1/communes/{world.a}"):
        assert client.get(path, headers=dh(creds)).status_code == 401, path


def test_revoked_device_is_locked_out(client, world):
    device_id, creds = enroll_by_code(client, world)
    assert client.get(f"{DEV}/keys", headers=dh(creds)).status_code == 200
    assert client.post(f"/api/v1/devices/{device_id}/revoke", headers=world.h("secretary")).status_code == 403
    r = client.post(f"/api/v1/devices/{device_id}/revoke", headers=world.h("cadre"))
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    for method, path in (("GET", "/manifest"), ("GET", "/keys"), ("POST", "/plays"), ("GET", "/events")):
        r = client.request(method, DEV + path, headers=dh(creds), json={"records": []} if method == "POST" else None)
        assert r.status_code == 401 and r.json()["code"] == "device_revoked", path


@pytest.mark.parametrize("path", ["/manifest", "/keys", "/events", "/audio/" + "0" * 64])
def test_device_endpoints_need_a_device(client, path):
    r = client.get(DEV + path)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
