"""The emergency status comes from what the loudspeakers report (issue 12, req. 3 and 6), on SQLite and
PostgreSQL. Two loudspeakers are enrolled through the real endpoints and report with their own credentials
(heartbeats, proof of play), using the play they find in their real signed manifest; the cadre starts and
cancels the emergency through the API and follows GET /api/v1/emergencies/{id}."""
from __future__ import annotations

from datetime import timedelta

from broadcaster.protocol.wire import format_time
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code
from tests.station_rig import make_item


def _emergency_entry(client, creds) -> dict:
    m = client.get(f"{DEV}/manifest", headers=dh(creds)).json()["manifest"]
    (entry,) = [e for e in m["entries"] if e["priority"] == "emergency"][:1]
    return entry


def _beat(client, creds, clock, entry: dict | None, started=None):
    playing = None if entry is None else {
        "play_id": entry["play_id"], "sha256": entry["sha256"], "title": entry["title"], "priority": "emergency",
        "started_at": format_time(started or clock())}
    r = client.post(f"{DEV}/heartbeat", json={"sent_at": format_time(clock()), "manifest_version": None,
                                              "playing": playing}, headers=dh(creds))
    assert r.status_code == 204, r.text


def _record(client, creds, seq, entry, start, end, result, reason=None):
    rec = {"seq": seq, "play_id": entry["play_id"], "sha256": entry["sha256"], "title": entry["title"],
           "priority": "emergency", "planned_start": entry["start"], "actual_start": format_time(start),
           "actual_end": format_time(end), "result": result, "reason": reason}
    r = client.post(f"{DEV}/plays", json={"records": [rec]}, headers=dh(creds))
    assert r.status_code == 200 and r.json()["acked_through"] == seq, r.text


def test_stop_is_confirmed_by_the_loudspeakers_not_by_the_cancel(client, engine, world, facts, clock):
    item = make_item(engine, world, facts, clock, status="approved", title="Lũ quét: sơ tán ngay",
                     kind="guidance")
    dev_1, one = enroll_by_code(client, world, name="Cụm loa đầu thôn")
    dev_2, two = enroll_by_code(client, world, name="Cụm loa cuối thôn")
    client.post(f"/api/v1/communes/{world.a}/devices", json={"name": "Cụm chưa lắp",
                        "village_id": world.village_a}, headers=world.h("cadre")).json()["id"]
    body = {"title": "Lũ quét", "villages": [world.village_a], "repeat": None,
            "programme": [{"type": "item", "content_id": item}]}
    em = client.post(f"/api/v1/communes/{world.a}/emergencies", json=body, headers=world.h("cadre")).json()
    url = f"/api/v1/emergencies/{em['id']}"

    got = client.get(url, headers=world.h("secretary")).json()
    assert got["air_state"] == "on_air" and got["summary_vi"].startswith("Đang phát khẩn cấp: 0/2 cụm loa")
    assert got["not_counted"] == ["Cụm chưa lắp"] and [x["device_id"] for x in got["loudspeakers"]] == [dev_1, dev_2]
    assert not any(x["playing_it"] or x["started"] for x in got["loudspeakers"])

    # Both start it (their manifests hold it) and say so.
    entry = _emergency_entry(client, one)
    started = clock()
    clock.advance(seconds=1)
    _beat(client, one, clock, entry, started)
    _beat(client, two, clock, _emergency_entry(client, two), started)
    got = client.get(url, headers=world.h("cadre")).json()
    assert got["summary_vi"].startswith("Đang phát khẩn cấp: 2/2 cụm loa báo đang phát")
    assert all(x["playing_it"] and x["report_age_s"] == 0 for x in got["loudspeakers"])

    # The cadre stops it 10 s in. The station does not say "stopped": it waits for the loudspeakers.
    clock.advance(seconds=9)
    stop_at = clock()
    r = client.post(f"{url}/cancel", headers=world.h("cadre"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "cancelled" and got["air_state"] == "stopping"
    assert got["summary_vi"] == "Đang dừng… 0/2 cụm loa đã xác nhận" and got["unconfirmed"] == []
    assert {x["stop"]["state"] for x in got["loudspeakers"]} == {"waiting"}

    # Loudspeaker 1 stops at once: its interrupted record and a silent heartbeat arrive 1.2 s after the stop.
    clock.advance(seconds=1.2)
    _record(client, one, 1, entry, started, clock(), "interrupted", "cancelled")
    _beat(client, one, clock, None)
    # Loudspeaker 2 says nothing. 10 s after the stop it is named.
    clock.advance(seconds=8.8)
    got = client.get(url, headers=world.h("cadre")).json()
    by_id = {x["device_id"]: x for x in got["loudspeakers"]}
    assert by_id[dev_1]["stop"]["state"] == "confirmed" and by_id[dev_1]["stop"]["delay_s"] == 1.2
    assert by_id[dev_2]["stop"]["state"] == "unconfirmed" and by_id[dev_2]["playing_it"]  # as it last said
    assert got["air_state"] == "stopping" and got["unconfirmed"] == ["Cụm loa cuối thôn"]
    assert got["summary_vi"] == ("Đang dừng… 1/2 cụm loa đã xác nhận; chưa xác nhận sau 10 giây: "
                                 "Cụm loa cuối thôn")
    assert got["summary_en"].startswith("Stopping… 1/2 loudspeakers confirmed; not confirmed after 10 s")

    # Loudspeaker 2 was out of reach; 12 minutes later it gets back in touch, stops and reports when.
    clock.advance(minutes=12)
    assert client.get(url, headers=world.h("cadre")).json()["unconfirmed"] == ["Cụm loa cuối thôn"]
    entry2 = _emergency_entry(client, two)
    _beat(client, two, clock, entry2, started)  # first word after the stop: still playing it
    assert client.get(url, headers=world.h("cadre")).json()["unconfirmed"] == ["Cụm loa cuối thôn"]
    clock.advance(seconds=2)
    _record(client, two, 1, entry2, started, clock(), "interrupted", "cancelled")
    got = client.get(url, headers=world.h("cadre")).json()
    by_id = {x["device_id"]: x for x in got["loudspeakers"]}
    assert got["air_state"] == "stopped" and got["summary_vi"] == "Đã dừng trên 2/2 cụm loa"
    assert got["stop_confirmed"] == got["stop_total"] == 2 and got["unconfirmed"] == []
    late = by_id[dev_2]["stop"]
    assert late["delay_s"] == 12 * 60 + 12 == (clock() - stop_at).total_seconds()  # when it really stopped
    assert late["playing_after_stop_at"] is not None


def test_an_emergency_nobody_reported_is_not_shown_as_playing(client, engine, world, facts, clock):
    """The plan says on air; no loudspeaker has said so: 0/1, and its report age is there to see."""
    item = make_item(engine, world, facts, clock, status="approved", title="Cháy rừng")
    dev, creds = enroll_by_code(client, world)
    _beat(client, creds, clock, None)
    clock.advance(minutes=7)
    em = client.post(f"/api/v1/communes/{world.a}/emergencies", headers=world.h("cadre"),
                     json={"title": "Cháy rừng", "villages": [world.village_a], "repeat": 3,
                           "programme": [{"type": "item", "content_id": item}]}).json()
    got = client.get(f"/api/v1/emergencies/{em['id']}", headers=world.h("cadre")).json()
    (x,) = got["loudspeakers"]
    assert got["air_state"] == "on_air" and "0/1" in got["summary_vi"]
    assert x["playing"] is None and x["report_age_s"] == 420 and x["report_old"] and not x["out_of_contact"]
    other = client.get(f"/api/v1/emergencies/{em['id']}", headers=world.h("outsider"))
    assert other.status_code == 404


def test_nightly_report_says_what_aired_next_to_what_was_planned(app, client, engine, world, facts, clock):
    from datetime import datetime

    from broadcaster.station.airviews import aired_between
    from schedules.jobs import StationJobs
    from tests.station_rig import TZ

    item = make_item(engine, world, facts, clock, status="approved", title="Hướng dẫn sơ tán", kind="guidance")
    dev_1, one = enroll_by_code(client, world, name="Cụm 1")
    dev_2, two = enroll_by_code(client, world, name="Cụm 2")
    em = client.post(f"/api/v1/communes/{world.a}/emergencies", headers=world.h("cadre"),
                     json={"title": "Lũ", "villages": [world.village_a], "repeat": 1,
                           "programme": [{"type": "item", "content_id": item}]}).json()
    started = clock()
    e1, e2 = _emergency_entry(client, one), _emergency_entry(client, two)
    clock.advance(seconds=1)
    client.post(f"/api/v1/emergencies/{em['id']}/cancel", headers=world.h("cadre"))
    _record(client, one, 1, e1, started, started + timedelta(seconds=1.5), "interrupted", "cancelled")
    _record(client, two, 1, e2, started, started + timedelta(seconds=3.5), "played")
    clock.now = datetime(2026, 3, 2, 23, 30, tzinfo=TZ)
    data = StationJobs(engine, app.state.schedules, 900, aired=aired_between).nightly_report(clock())[world.a]
    assert data["planned"]["plays"] == 2 and data["planned"]["interrupted"] == 2  # the plan: both cut at the stop
    aired = data["aired"]
    assert (aired["records"], aired["completed"], aired["interrupted"], aired["played_after_stop"]) == (2, 0, 1, 1)
    assert aired["airtime_s"] == 5.0 and aired["plays_by_priority"] == {"emergency": 2}
    assert aired["devices_reporting"] == 2
    (stored,) = client.get(f"/api/v1/communes/{world.a}/reports", headers=world.h("cadre")).json()
    assert stored["data"]["aired"] == aired
