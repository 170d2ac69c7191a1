"""Timetables of a device and a village for a day and a week, at fixed instants; quiet hours; the .ics export."""
from __future__ import annotations

from datetime import datetime

from schedules.ics import parse_ics
from tests.api.schedules.schedules_rig import TZ, daily, h, once


def _starts(device):
    return [datetime.fromisoformat(p["start"]).astimezone(TZ).strftime("%a %d %H:%M") for p in device["plays"]]


def test_village_week_at_fixed_instant(client, station):
    st = station
    assert client.post(f"/api/v1/communes/{st.w.a}/schedules", json=daily(st), headers=h(st, "cadre")).status_code == 201
    # village A2 also gets a weekly Saturday programme of its own
    sat = daily(st, title="Thứ bảy", rrule="FREQ=WEEKLY;BYDAY=SA", times=("09:00",),
                targets={"villages": [st.w.village_a2]})
    assert client.post(f"/api/v1/communes/{st.w.a}/schedules", json=sat, headers=h(st, "cadre")).status_code == 201
    r = client.get(f"/api/v1/villages/{st.w.village_a}/timetable?date=2026-03-02&span=week", headers=h(st, "cadre"))
    assert r.status_code == 200, r.text
    tt = r.json()
    assert tt["window_start"].startswith("2026-03-02T00:00:00+07:00")
    assert tt["window_end"].startswith("2026-03-09T00:00:00+07:00")
    assert [d["device_id"] for d in tt["devices"]] == [st.dev_a1, st.dev_a2]
    starts = _starts(tt["devices"][0])
    # created at Mon 08:00: Monday 06:00 never aired; then 06:00 and 17:00 every day until Sunday
    assert starts[0] == "Mon 02 17:00" and starts[1] == "Tue 03 06:00" and len(starts) == 13
    play = tt["devices"][0]["plays"][0]
    assert [s["language"] for s in play["segments"]] == ["vi", "pcc"]  # the bilingual pair, Vietnamese first
    assert play["priority"] == "normal" and play["schedule_id"] is not None
    v2 = client.get(f"/api/v1/villages/{st.w.village_a2}/timetable?date=2026-03-07&span=day",
                    headers=h(st, "cadre")).json()
    assert _starts(v2["devices"][0]) == ["Sat 07 06:00", "Sat 07 09:00", "Sat 07 17:00"]
    dev = client.get(f"/api/v1/devices/{st.dev_a2v}/timetable?date=2026-03-07", headers=h(st, "cadre")).json()
    assert dev["scope"] == "device" and _starts(dev["devices"][0]) == _starts(v2["devices"][0])


def test_quiet_hours_drop_normal_broadcasts_at_night(client, station):
    st = station
    r = client.post(f"/api/v1/communes/{st.w.a}/schedules", json=once(st, "2026-03-03T23:00:00+07:00",
                    title="Muộn quá"), headers=h(st, "cadre"))
    assert r.status_code == 201
    (warning,) = r.json()["warnings"]  # saved, and the cadre is told it will not sound
    assert "giờ yên tĩnh (22:00–05:00)" in warning and "quiet hours" in warning
    tt = client.get(f"/api/v1/devices/{st.dev_a1}/timetable?date=2026-03-03", headers=h(st, "cadre")).json()
    dev = tt["devices"][0]
    assert dev["plays"] == [] and dev["dropped"][0]["reason"] == "quiet_hours"
    # the station can move its quiet hours: then it airs
    r = client.put(f"/api/v1/communes/{st.w.a}/station-settings", headers=h(st, "cadre"),
                   json={"quiet_start": "23:30", "quiet_end": "05:00"})
    assert r.status_code == 200
    tt = client.get(f"/api/v1/devices/{st.dev_a1}/timetable?date=2026-03-03", headers=h(st, "cadre")).json()
    assert _starts(tt["devices"][0]) == ["Tue 03 23:00"]


def test_ics_export_parses(client, station):
    st = station
    client.post(f"/api/v1/communes/{st.w.a}/schedules", json=daily(st), headers=h(st, "cadre"))
    r = client.get(f"/api/v1/villages/{st.w.village_a}/calendar.ics?date=2026-03-02&days=3",
                   headers=h(st, "village_head"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    text = r.content.decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    events = parse_ics(text)
    assert len(events) == 5  # Mon 17:00, then 06:00 and 17:00 on Tue and Wed (two devices, deduplicated)
    assert events[0]["DTSTART"][0]["TZID"] == "Asia/Ho_Chi_Minh" and events[0]["DTSTART"][1] == "20260302T170000"
    assert events[0]["SUMMARY"][1] == "Đọc hướng dẫn VNeID"


def test_bad_dates_are_422(client, station):
    st = station
    for q in ("date=2026-02-30", "date=1850-01-01", "span=month"):
        r = client.get(f"/api/v1/devices/{st.dev_a1}/timetable?{q}", headers=h(st, "cadre"))
        assert r.status_code == 422, (q, r.text)
