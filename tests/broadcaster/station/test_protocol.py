"""The device endpoints at unit level (ASGI app through TestClient, SQLite and PostgreSQL): manifest with
ETag/304 and a valid signature, audio only for the device's own hashes with Range/416/immutable and no gzip,
heartbeat status, offline alerts, proof of play dedup and history that survives content deletion."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import jsonschema

from broadcaster.protocol.manifest import verify_manifest
from broadcaster.protocol.schemas import schema_for
from broadcaster.protocol.wire import b64decode, format_time
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.station_rig import make_item


def _setup(client, engine, world, facts, clock, schedules_service):
    item = make_item(engine, world, facts, clock, status="approved", title="Thông báo tiêm chủng")
    dev_a, a = enroll_by_code(client, world, name="A")
    dev_b, b = enroll_by_code(client, world, village_id=world.village_a2, name="B")
    schedule(engine, world, [item], clock() + timedelta(minutes=5), rrule="FREQ=HOURLY")
    schedules_service.materialize_commune(world.a, clock())
    return item, (dev_a, a), (dev_b, b)


def test_manifest_signed_etag_304_and_audio_rules(client, engine, world, facts, clock, schedules_service):
    item, (dev_a, a), (dev_b, b) = _setup(client, engine, world, facts, clock, schedules_service)
    r = client.get(f"{DEV}/manifest", headers=dh(a))
    assert r.status_code == 200, r.text
    env = r.json()
    jsonschema.validate(env, schema_for("SignedManifest"), cls=jsonschema.Draft202012Validator)
    pinned = {k["key_id"]: b64decode(k["public_key"]) for k in a["station_keys"]}
    m = verify_manifest(env, pinned, device_id=a["device_id"], now=clock())
    assert r.headers["etag"] == f'"{m.version}"' and r.headers["cache-control"] == "no-cache"
    assert len(m.entries) >= 40 and m.volume == 80 and not m.emergency
    assert {e.sha256 for e in m.entries} == {facts.sha256} and m.entries[0].title == "Thông báo tiêm chủng"
    r2 = client.get(f"{DEV}/manifest", headers={**dh(a), "If-None-Match": r.headers["etag"]})
    assert r2.status_code == 304 and r2.headers["etag"] == r.headers["etag"] and not r2.content
    # device B's village has no schedule: its manifest is empty, and A's audio is not B's business
    mb = client.get(f"{DEV}/manifest", headers=dh(b)).json()["manifest"]
    assert mb["entries"] == [] and mb["device_id"] == b["device_id"]
    url = f"{DEV}/audio/{facts.sha256}"
    assert client.get(url, headers=dh(b)).status_code == 404
    assert client.get(f"{DEV}/audio/{'0' * 64}", headers=dh(a)).status_code == 404
    full = client.get(url, headers={**dh(a), "Accept-Encoding": "gzip"})
    assert full.status_code == 200 and hashlib.sha256(full.content).hexdigest() == facts.sha256
    assert "content-encoding" not in full.headers and full.headers["etag"] == f'"{facts.sha256}"'
    assert full.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert full.headers["accept-ranges"] == "bytes"
    size = len(full.content)
    part = client.get(url, headers={**dh(a), "Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == full.content[100:]
    assert part.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    bad = client.get(url, headers={**dh(a), "Range": f"bytes={size}-"})
    assert bad.status_code == 416 and bad.json()["code"] == "range_not_satisfiable"
    # volume changes the version; the old ETag is now a 200
    assert client.put(f"/api/v1/devices/{dev_a}/sound", json={"volume": 50, "muted": True},
                      headers=world.h("cadre")).status_code == 200
    r3 = client.get(f"{DEV}/manifest", headers={**dh(a), "If-None-Match": r.headers["etag"]})
    assert r3.status_code == 200 and r3.json()["manifest"]["volume"] == 50 and r3.json()["manifest"]["muted"]


def _record(seq, title="Thông báo tiêm chủng", result="played", sha="a" * 64, at=None):
    at = at or "2026-03-02T01:05:00Z"
    return {"seq": seq, "play_id": f"p-{seq}", "sha256": sha, "title": title, "priority": "normal",
            "planned_start": at, "actual_start": at, "actual_end": at, "result": result,
            "reason": None if result == "played" else "sink_error:boom"}


def test_plays_dedup_acked_through_and_history_keeps_titles(client, engine, world, facts, clock, schedules_service):
    item, (dev_a, a), _ = _setup(client, engine, world, facts, clock, schedules_service)
    r = client.post(f"{DEV}/plays", json={"records": [_record(1), _record(2), _record(4)]}, headers=dh(a))
    assert r.json() == {"acked_through": 2}
    r = client.post(f"{DEV}/plays", json={"records": [_record(2), _record(3), _record(4)]}, headers=dh(a))
    assert r.json() == {"acked_through": 4}  # the resend of 2 and 4 is harmless
    r = client.post(f"{DEV}/plays", json={"records": [_record(5, result="failed")]}, headers=dh(a))
    assert r.json() == {"acked_through": 5}
    too_many = [_record(i) for i in range(10, 511)]
    assert client.post(f"{DEV}/plays", json={"records": too_many}, headers=dh(a)).status_code == 422
    hist = client.get(f"/api/v1/devices/{dev_a}/plays", headers=world.h("cadre")).json()
    assert sorted(h["seq"] for h in hist) == [1, 2, 3, 4, 5]
    village = client.get(f"/api/v1/villages/{world.village_a}/plays", headers=world.h("village_head")).json()
    assert len(village) == 5
    alerts = client.get(f"/api/v1/communes/{world.a}/device-alerts", headers=world.h("cadre")).json()
    assert [x["kind"] for x in alerts] == ["play_failed"]
    # the content is deleted later: the history still names what aired
    import sqlalchemy as sa

    from loa.db import session_scope
    with session_scope(engine) as s:
        s.execute(sa.text("DELETE FROM timetable_plays"))
        s.execute(sa.text("DELETE FROM schedule_rules"))
        s.execute(sa.text("DELETE FROM content_items WHERE id = :i"), {"i": item})
    hist = client.get(f"/api/v1/devices/{dev_a}/plays", headers=world.h("cadre")).json()
    assert {h["title"] for h in hist} == {"Thông báo tiêm chủng"} and len(hist) == 5


def test_heartbeat_status_offline_alert_and_recovery(app, client, engine, world, facts, clock, schedules_service):
    _, (dev_a, a), _ = _setup(client, engine, world, facts, clock, schedules_service)
    version = client.get(f"{DEV}/manifest", headers=dh(a)).json()["manifest"]["version"]
    beat = {"sent_at": format_time(clock()), "local_time": format_time(clock()), "clock_offset_s": 2.5,
            "agent_version": "0.1.0", "manifest_version": "m-old",
            "playing": {"play_id": "p-1", "sha256": facts.sha256, "title": "Thông báo", "priority": "normal",
                        "started_at": format_time(clock())},
            "cache": {"used_bytes": 1000, "limit_bytes": 2000, "files": 1, "missing": []},
            "disk_free_bytes": 5_000_000_000, "temperature_c": 48.2, "uptime_s": 10,
            "playlog": {"last_seq": 0, "acked_seq": 0}, "events": []}
    jsonschema.validate(beat, schema_for("Heartbeat"), cls=jsonschema.Draft202012Validator)
    r = client.post(f"{DEV}/heartbeat", json=beat, headers=dh(a))
    assert r.status_code == 204 and not r.content  # no body: the version rides in a header
    assert r.headers["x-loa-manifest-version"] == version  # ≠ m-old: the device syncs
    assert "x-loa-server-time" in r.headers
    st = client.get(f"/api/v1/devices/{dev_a}/status", headers=world.h("cadre")).json()
    assert st["status"] == "playing" and st["clock_offset_s"] == 2.5 and st["now_playing"]["play_id"] == "p-1"
    assert st["cache"]["files"] == 1 and st["temperature_c"] == 48.2
    # a lean beat (§6): only the required fields; everything else is kept from the previous beat
    lean = {"sent_at": format_time(clock()), "manifest_version": version}
    jsonschema.validate(lean, schema_for("Heartbeat"), cls=jsonschema.Draft202012Validator)
    assert client.post(f"{DEV}/heartbeat", json=lean, headers=dh(a)).status_code == 204
    st = client.get(f"/api/v1/devices/{dev_a}/status", headers=world.h("cadre")).json()
    assert st["status"] == "playing" and st["clock_offset_s"] == 2.5 and st["now_playing"]["play_id"] == "p-1"
    assert st["temperature_c"] == 48.2 and st["reported_manifest_version"] == version
    offline_after = app.state.settings.device_offline_after_s
    assert offline_after == 900  # three missed 300 s beats
    clock.advance(seconds=offline_after - 60)
    assert client.get(f"/api/v1/devices/{dev_a}/status", headers=world.h("cadre")).json()["status"] == "playing"
    clock.advance(seconds=120)  # three beats missed
    listing = client.get(f"/api/v1/communes/{world.a}/device-status", headers=world.h("cadre")).json()
    assert {d["id"]: d["status"] for d in listing}[dev_a] == "offline"
    alerts = client.get(f"/api/v1/communes/{world.a}/device-alerts", headers=world.h("cadre")).json()
    assert [(x["device_id"], x["kind"]) for x in alerts].count((dev_a, "offline")) == 1
    client.get(f"/api/v1/communes/{world.a}/device-status", headers=world.h("cadre"))  # idempotent
    alerts = client.get(f"/api/v1/communes/{world.a}/device-alerts", headers=world.h("cadre")).json()
    assert [x["device_id"] for x in alerts].count(dev_a) == 1
    r = client.post(f"{DEV}/heartbeat", json={**beat, "playing": None}, headers=dh(a))
    assert r.status_code == 204
    assert client.get(f"/api/v1/devices/{dev_a}/status", headers=world.h("cadre")).json()["status"] == "online"
    alerts = client.get(f"/api/v1/communes/{world.a}/device-alerts", headers=world.h("cadre")).json()
    assert dev_a not in [x["device_id"] for x in alerts]  # resolved (B, silent all along, is still offline)
