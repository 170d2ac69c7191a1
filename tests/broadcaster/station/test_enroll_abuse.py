"""Enrollment under abuse: per-address limits on the anonymous endpoints (429 rate_limited + Retry-After,
Vietnamese and English), a refusal flood summarised in the audit log, and every enrollment step audited with
the device and, for a cadre's step, the person."""
from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from api.ratelimit import SlidingWindowLimit, address_key
from tests.broadcaster.station.device_rig import DEV, INFO, dh


def _audit(client, world, role="admin", **params):
    r = client.get("/api/v1/audit" if role == "admin" else f"/api/v1/communes/{world.a}/audit",
                   params={"limit": 500, **params}, headers=world.h(role))
    assert r.status_code == 200, r.text
    return list(reversed(r.json()))  # oldest first


def _from(app, ip):
    return TestClient(app, client=(ip, 40000))


def test_enroll_start_is_limited_per_address_and_the_flood_is_one_audit_entry(app, client, world, clock):
    assert app.state.settings.enroll_start_limit == 10
    for _ in range(10):
        assert client.post(f"{DEV}/enroll/start", json=INFO).status_code == 201
    refused = [client.post(f"{DEV}/enroll/start", json=INFO) for _ in range(50)]
    assert {r.status_code for r in refused} == {429}
    r = refused[0]
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "rate_limited" and body["status"] == 429
    assert 0 < int(r.headers["retry-after"]) <= 600
    assert body["message_vi"].startswith("Thiết bị ở địa chỉ này gọi đăng ký quá nhiều lần")
    assert "Too many enrollment calls" in body["message_en"]
    english = client.post(f"{DEV}/enroll/start", json=INFO, headers={"Accept-Language": "en"}).json()
    assert english["detail"] == english["message_en"]
    # another address is not affected
    with _from(app, "203.0.113.7") as other:
        assert other.post(f"{DEV}/enroll/start", json=INFO).status_code == 201
    # 10 starts, 1 summary of 51 refusals, 1 start from the other address
    log = _audit(client, world)
    starts = [e for e in log if e["action"] == "device.enroll_start"]
    limited = [e for e in log if e["action"] == "device.enroll_rate_limited"]
    assert len(starts) == 11 and len(limited) == 1
    assert limited[0]["ip"] == "testclient" and limited[0]["detail"]["endpoint"] == "enroll/start"
    assert limited[0]["detail"]["limit"] == 10 and limited[0]["detail"]["window_s"] == 600
    assert {e["ip"] for e in starts} == {"testclient", "203.0.113.7"}
    assert all(e["object_type"] == "enrollment" and e["object_id"].startswith("enr_") for e in starts)
    assert starts[0]["detail"]["hostname"] == INFO["hostname"]
    # the window slides: once the oldest starts are 10 minutes old the address may start again
    clock.advance(minutes=10, seconds=1)
    assert client.post(f"{DEV}/enroll/start", json=INFO).status_code == 201
    for _ in range(9):
        client.post(f"{DEV}/enroll/start", json=INFO)
    assert client.post(f"{DEV}/enroll/start", json=INFO).status_code == 429
    assert len([e for e in _audit(client, world) if e["action"] == "device.enroll_rate_limited"]) == 2


def test_enroll_poll_is_limited_per_address(app, client, world, clock):
    app.state.settings.enroll_poll_limit = 3  # the limits are built from the settings at the first call
    started = client.post(f"{DEV}/enroll/start", json=INFO).json()
    poll = {"enrollment_id": started["enrollment_id"], "poll_secret": started["poll_secret"]}
    assert [client.post(f"{DEV}/enroll/poll", json=poll).status_code for _ in range(4)] == [202, 202, 202, 429]
    r = client.post(f"{DEV}/enroll/poll", json=poll)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and 0 < int(r.headers["retry-after"]) <= 60
    clock.advance(seconds=61)
    assert client.post(f"{DEV}/enroll/poll", json=poll).status_code == 202


def test_wrong_code_flood_is_five_audit_entries_and_one_summary(app, client, world, clock):
    for _ in range(5):
        assert client.post(f"{DEV}/enroll/claim", json={"code": "000001", **INFO}).status_code == 404
    for _ in range(30):
        r = client.post(f"{DEV}/enroll/claim", json={"code": "000001", **INFO})
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    log = _audit(client, world)
    failed = [e for e in log if e["action"] == "device.enroll_claim_failed"]
    limited = [e for e in log if e["action"] == "device.enroll_rate_limited"]
    assert len(failed) == 5 and {e["detail"]["reason"] for e in failed} == {"unknown_code"}
    assert len(limited) == 1 and limited[0]["detail"]["endpoint"] == "enroll/claim"


def test_every_enrollment_step_is_audited(app, client, world, clock):
    # 2a: the device shows a code; one is rejected, another confirmed; the poll delivers the credentials
    bad = client.post(f"{DEV}/enroll/start", json={**INFO, "hostname": "hop-la"}).json()
    assert client.post(f"/api/v1/communes/{world.a}/enrollments/reject", json={"code": bad["code"]},
                       headers=world.h("cadre2")).status_code == 204
    started = client.post(f"{DEV}/enroll/start", json=INFO).json()
    r = client.post(f"/api/v1/communes/{world.a}/enrollments/confirm",
                    json={"code": started["code"], "village_id": world.village_a}, headers=world.h("cadre"))
    device_id = r.json()["id"]
    creds = client.post(f"{DEV}/enroll/poll", json={"enrollment_id": started["enrollment_id"],
                                                    "poll_secret": started["poll_secret"]}).json()
    # 2b: the cadre makes a code for the same device; a wrong code, then the right one (re-enrollment)
    code = client.post(f"/api/v1/devices/{device_id}/enrollment-code", headers=world.h("cadre2")).json()["code"]
    assert client.post(f"{DEV}/enroll/claim", json={"code": "999999", **INFO}).status_code == 404
    again = client.post(f"{DEV}/enroll/claim", json={"code": code, **INFO}).json()
    assert client.get(f"{DEV}/keys", headers=dh(creds)).status_code == 401
    assert client.post(f"/api/v1/devices/{device_id}/revoke", headers=world.h("cadre")).status_code == 200

    log = _audit(client, world)
    steps = [(e["action"], e["actor_username"], e["object_type"], e["object_id"]) for e in log
             if e["action"].startswith("device.")]
    dev = str(device_id)
    assert steps == [
        ("device.enroll_start", "thiết bị / device", "enrollment", bad["enrollment_id"]),
        ("device.enroll_reject", "cadre2", "enrollment", bad["enrollment_id"]),
        ("device.enroll_start", "thiết bị / device", "enrollment", started["enrollment_id"]),
        ("device.enroll_confirm", "cadre", "device", dev),
        ("device.enrolled", creds["device_id"], "device", dev),
        ("device.enroll_code", "cadre2", "device", dev),
        ("device.enroll_claim_failed", "thiết bị / device", "enrollment", None),
        ("device.reenrolled", again["device_id"], "device", dev),
        ("device.revoke", "cadre", "device", dev),
    ]
    by = {e["action"]: e for e in log}
    assert by["device.enroll_confirm"]["actor_user_id"] == world.users["cadre"]
    assert by["device.enroll_confirm"]["detail"]["enrollment"] == started["enrollment_id"]
    assert by["device.enroll_reject"]["actor_user_id"] == world.users["cadre2"]
    assert by["device.enrolled"]["detail"] == {
        "identity": creds["device_id"], "village_id": world.village_a, "enrollment": started["enrollment_id"],
        "way": "device_code", "approved_by_user_id": world.users["cadre"], "hostname": INFO["hostname"],
        "hardware": INFO["hardware"]}
    assert by["device.reenrolled"]["detail"]["way"] == "cadre_code"
    assert by["device.reenrolled"]["detail"]["approved_by_user_id"] == world.users["cadre2"]
    assert by["device.reenrolled"]["detail"]["replaced_identities"] == [creds["device_id"]]
    assert by["device.revoke"]["detail"]["identities"] == [again["device_id"]]
    assert all(e["ip"] == "testclient" for e in log if e["action"].startswith("device."))
    # the cadre of the commune sees every step that belongs to the commune (the anonymous ones have none)
    mine = [e["action"] for e in _audit(client, world, role="cadre") if e["action"].startswith("device.")]
    assert mine == ["device.enroll_reject", "device.enroll_confirm", "device.enrolled", "device.enroll_code",
                    "device.reenrolled", "device.revoke"]


def test_address_key_groups_an_ipv6_subscriber_and_unmaps_ipv4():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert address_key("testclient") == "testclient"


@pytest.mark.parametrize("limit", [1, 3])
def test_sliding_window_counts_only_allowed_calls(limit):
    from datetime import datetime, timezone

    t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    w = SlidingWindowLimit(limit, timedelta(seconds=60), max_keys=2)
    assert all(w.hit("a", t0 + timedelta(seconds=i)) is None for i in range(limit))
    first = w.hit("a", t0 + timedelta(seconds=10))
    assert first is not None and first.first and first.retry_after == 50
    second = w.hit("a", t0 + timedelta(seconds=20))
    assert second is not None and not second.first and second.retry_after == 40
    assert w.hit("a", t0 + timedelta(seconds=60)) is None  # the oldest left; refusals were not counted
    # bounded memory: a third address evicts an idle one
    w.hit("b", t0)
    w.hit("c", t0 + timedelta(seconds=200))
    assert len(w._calls) <= 2


def test_a_beat_from_a_cached_identity_does_not_bring_a_revoked_device_back(app, client, world, clock, engine):
    """Another replica revoked the device; this one still has the identity cached (within its re-check
    interval, made long here): the heartbeat is refused and the device stays revoked; an old identity of a
    re-enrolled box cannot overwrite the new identity's report either."""
    import sqlalchemy as sa

    from broadcaster.station.models import DeviceCredential, DeviceReport
    from loa.org.models import Device
    from tests.broadcaster.station.device_rig import enroll_by_code

    beat = {"sent_at": "2026-03-02T01:00:00.000Z", "manifest_version": None, "uptime_s": 5}
    device_id, creds = enroll_by_code(client, world)
    app.state.identities.recheck_s = 3600
    assert client.post(f"{DEV}/heartbeat", json=beat, headers=dh(creds)).status_code == 204  # cached now
    code = client.post(f"/api/v1/devices/{device_id}/enrollment-code", headers=world.h("cadre")).json()["code"]
    from broadcaster.station import enrollment
    from loa.db import session_scope

    with session_scope(engine) as s:  # "another replica" re-enrolls the box: the old identity is revoked
        new = enrollment.claim(s, app.state.broadcaster, code, INFO, "198.51.100.9", clock())
    assert client.post(f"{DEV}/heartbeat", json=beat, headers=dh(new)).status_code == 204
    r = client.post(f"{DEV}/heartbeat", json={**beat, "uptime_s": 999}, headers=dh(creds))
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"
    with engine.connect() as conn:
        report = conn.execute(sa.select(DeviceReport.__table__)).mappings().one()
    assert report["uid"] == new["device_id"] and report["uptime_s"] == 5
    # now the device itself is revoked by another replica
    with engine.begin() as conn:
        conn.execute(sa.update(DeviceCredential.__table__).values(revoked_at=clock()))
        conn.execute(sa.update(Device.__table__).values(revoked_at=clock(), status="revoked"))
    r = client.post(f"{DEV}/heartbeat", json=beat, headers=dh(new))
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"
    st = client.get(f"/api/v1/devices/{device_id}/status", headers=world.h("cadre")).json()
    assert st["status"] == "revoked"
