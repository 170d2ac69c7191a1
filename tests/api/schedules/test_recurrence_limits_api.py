"""Recurrence limits through every way a rule gets in (issue 13, Medium 5): API create, update and preview, and
emergencies. 422 with a stable code, Vietnamese first; nothing is saved; refusing FREQ=SECONDLY is instant."""
from __future__ import annotations

import time

from tests.api.schedules.schedules_rig import daily, h


def url(st, tail=""):
    return f"/api/v1/communes/{st.w.a}/schedules{tail}"


def test_every_second_is_refused_at_once_by_preview_create_and_update(client, station):
    st = station
    secondly = daily(st, rrule="FREQ=SECONDLY;UNTIL=20260331", times=())
    for path in ("/preview", ""):
        started = time.process_time()
        r = client.post(url(st, path), json=secondly, headers=h(st, "cadre"))
        assert r.status_code == 422 and r.json()["code"] == "schedule_too_frequent", r.text
        assert time.process_time() - started < 2.0  # was 70 s of CPU per request
        body = r.json()
        assert body["message_vi"].startswith("Lịch lặp quá dày") and "5 phút" in body["message_vi"]
        assert "5 minutes" in body["message_en"] and body["min_interval_s"] == 300
    assert client.get(url(st), headers=h(st, "cadre")).json() == []
    created = client.post(url(st), json=daily(st), headers=h(st, "cadre"))
    assert created.status_code == 201, created.text
    sid = created.json()["schedule"]["id"]
    r = client.put(f"/api/v1/schedules/{sid}", json=daily(st, times=("06:00", "06:03")), headers=h(st, "cadre"))
    assert r.status_code == 422 and r.json()["code"] == "schedule_too_frequent"
    assert client.get(f"/api/v1/schedules/{sid}", headers=h(st, "cadre")).json()["times"] == ["06:00", "17:00"]
    en = client.post(url(st, "/preview"), json=secondly, headers={**h(st, "cadre"), "Accept-Language": "en"})
    assert en.status_code == 422 and "too often" in en.json()["title"] + en.json()["detail"]


def test_more_plays_than_the_cap_per_loudspeaker_is_refused(client, station):
    st = station
    every_10 = daily(st, rrule="FREQ=MINUTELY;INTERVAL=10;UNTIL=20260331", times=(),
                     programme=[{"type": "item", "content_id": st.items["vneid"]}])
    r = client.post(url(st, "/preview"), json=every_10, headers=h(st, "secretary"))
    assert r.status_code == 422 and r.json()["code"] == "schedule_too_many_plays", r.text
    assert "72 giờ" in r.json()["message_vi"] and r.json()["max_plays_per_72h"] == 288


def test_the_cap_counts_the_other_schedules_of_the_same_loudspeaker(client, station, app):
    st = station
    app.state.settings.schedule_max_plays_per_72h = 10
    first = daily(st, times=("06:00", "09:00", "12:00"), rrule="FREQ=DAILY;UNTIL=20260331")  # 9 in 72 h
    assert client.post(url(st), json=first, headers=h(st, "cadre")).status_code == 201
    second = daily(st, title="Thêm", times=("15:00",), priority="priority")  # 3 more: 12 > 10
    r = client.post(url(st), json=second, headers=h(st, "cadre"))
    assert r.status_code == 422 and r.json()["code"] == "device_too_many_plays", r.text
    assert r.json()["plays"] == 12 and "72 giờ tới" in r.json()["message_vi"]
    other_village = daily(st, title="Thôn khác", times=("15:00",), targets={"villages": [st.w.village_a2]})
    assert client.post(url(st), json=other_village, headers=h(st, "cadre")).status_code == 422  # commune-wide first
    assert len(client.get(url(st), headers=h(st, "cadre")).json()) == 1


def test_a_rule_that_never_occurs_is_a_clear_422(client, station):
    st = station
    r = client.post(url(st, "/preview"), json=daily(st, rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", times=()),
                    headers=h(st, "cadre"))
    assert r.status_code == 422 and r.json()["code"] == "schedule_invalid"
    assert "không bao giờ" in r.json()["message_vi"]


def test_emergency_until_cancelled_gap_zero_still_airs_but_thousands_of_plays_are_refused(client, station):
    st = station
    body = {"title": "Báo động", "villages": [st.w.village_a2], "repeat": None, "gap_s": 0,
            "programme": [{"type": "item", "content_id": st.items["vneid"]}]}
    r = client.put(f"/api/v1/communes/{st.w.a}/station-settings", headers=h(st, "cadre"),
                   json={"emergency_max_s": 86400})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/communes/{st.w.a}/emergencies", json=body, headers=h(st, "cadre"))
    assert r.status_code == 422 and r.json()["code"] == "emergency_too_many_plays", r.text
    gap = r.json()["min_gap_s"]
    assert f"{gap} giây" in r.json()["message_vi"]
    r = client.post(f"/api/v1/communes/{st.w.a}/emergencies", json={**body, "gap_s": gap}, headers=h(st, "cadre"))
    assert r.status_code == 201, r.text
    r = client.put(f"/api/v1/communes/{st.w.a}/station-settings", headers=h(st, "cadre"),
                   json={"emergency_max_s": 21600})
    r = client.post(f"/api/v1/communes/{st.w.a}/emergencies", json={**body, "villages": [st.w.village_a]},
                    headers=h(st, "cadre"))
    assert r.status_code == 201, r.text  # the default 6 h: gap 0 is fine
