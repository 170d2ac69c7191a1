"""Schedule CRUD, validation, only approved content, and conflicts (409 vs resolved by priority)."""
from __future__ import annotations

from tests.api.schedules.schedules_rig import daily, h, once


def url(st, tail=""):
    return f"/api/v1/communes/{st.w.a}/schedules{tail}"


def test_create_read_edit_cancel(client, station):
    st = station
    r = client.post(url(st), json=daily(st), headers=h(st, "cadre"))
    assert r.status_code == 201, r.text
    sched = r.json()["schedule"]
    assert sched["version"] == 1 and sched["times"] == ["06:00", "17:00"] and sched["timezone"] == "Asia/Ho_Chi_Minh"
    assert sched["duration_s"] > 0 and sched["programme"][0]["type"] == "pair"
    sid = sched["id"]
    assert client.get(f"/api/v1/schedules/{sid}", headers=h(st, "secretary")).json()["title"] == "Đọc hướng dẫn VNeID"
    r = client.put(f"/api/v1/schedules/{sid}", json=daily(st, times=("06:30",)), headers=h(st, "cadre"))
    assert r.status_code == 200, r.text
    assert r.json()["schedule"]["version"] == 2 and r.json()["schedule"]["times"] == ["06:30"]
    assert [s["id"] for s in client.get(url(st), headers=h(st, "cadre")).json()] == [sid]
    assert client.delete(f"/api/v1/schedules/{sid}", headers=h(st, "cadre")).status_code == 204
    assert client.get(url(st), headers=h(st, "cadre")).json() == []
    gone = client.get(url(st) + "?include_cancelled=true", headers=h(st, "cadre")).json()
    assert gone[0]["cancelled_at"] is not None
    r = client.put(f"/api/v1/schedules/{sid}", json=daily(st), headers=h(st, "cadre"))
    assert r.status_code == 409 and r.json()["code"] == "schedule_cancelled"


def test_validation_errors_are_clear_422(client, station):
    st = station
    cases = [
        (daily(st, starts_at="2026-03-02T00:00:00"), "validation_error"),  # no offset
        ({**daily(st), "at": "2026-03-03T08:00:00+07:00"}, "validation_error"),  # both kinds
        (daily(st, rrule="FREQ=SOMETIMES"), "schedule_invalid"),
        (daily(st, rrule="FREQ=DAILY;BYHOUR=7"), "schedule_invalid"),  # times and BYHOUR: ambiguous
        (once(st, "2026-03-01T08:00:00+07:00"), "schedule_in_past"),
        (once(st, "2026-03-03T08:00:00+07:00", targets={"commune": False}), "targets_empty"),
        (once(st, "2026-03-03T08:00:00+07:00", programme=[{"type": "relay", "url": "file:///etc/passwd",
                                                           "duration_s": 60}]), "validation_error"),
    ]
    for body, code in cases:
        r = client.post(url(st), json=body, headers=h(st, "cadre"))
        assert r.status_code == 422 and r.json()["code"] == code, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert client.get(url(st), headers=h(st, "cadre")).json() == []


def test_only_approved_unexpired_content_can_be_scheduled(client, station, engine, world, facts, clock):
    from tests.api.schedules.schedules_rig import make_item

    st = station
    r = client.post(url(st), json=once(st, "2026-03-03T08:00:00+07:00",
                                       programme=[{"type": "item", "content_id": st.items["draft"]}]),
                    headers=h(st, "cadre"))
    body = r.json()
    assert r.status_code == 422 and body["code"] == "content_not_schedulable" and body["reason"] == "unapproved"
    assert body["message_vi"].startswith("Chỉ lên lịch được nội dung đã duyệt") and "Bản nháp" in body["message_vi"]
    assert body["detail"] == body["message_vi"]  # Vietnamese first
    en = client.post(url(st), json=once(st, "2026-03-03T08:00:00+07:00",
                                        programme=[{"type": "item", "content_id": st.items["draft"]}]),
                     headers={**h(st, "cadre"), "Accept-Language": "en"}).json()
    assert en["detail"].startswith("Only approved, unexpired items")
    # an item of another commune does not exist here
    other = make_item(engine, world, facts, clock, author="outsider", status="draft", title="Xã khác")
    r = client.post(url(st), json=once(st, "2026-03-03T08:00:00+07:00",
                                       programme=[{"type": "item", "content_id": other}]), headers=h(st, "cadre"))
    assert r.status_code == 404 and r.json()["code"] == "content_not_found"
    # a village of another commune cannot be targeted
    r = client.post(url(st), json=once(st, "2026-03-03T08:00:00+07:00", targets={"villages": [world.village_b]}),
                    headers=h(st, "cadre"))
    assert r.status_code == 404 and r.json()["code"] == "village_not_found"


def test_same_priority_overlap_is_refused_naming_the_schedule(client, station):
    st = station
    first = client.post(url(st), json=daily(st, title="Lịch sáng"), headers=h(st, "cadre")).json()["schedule"]
    clash = once(st, "2026-03-05T06:00:00+07:00", title="Họp thôn", targets={"villages": [st.w.village_a]})
    # the preview says so without saving
    p = client.post(url(st, "/preview"), json=clash, headers=h(st, "secretary"))
    assert p.status_code == 200 and p.json()["refused"] is True
    assert p.json()["conflicts"][0]["schedule_id"] == first["id"] and "Lịch sáng" in p.json()["message"]
    r = client.post(url(st), json=clash, headers=h(st, "cadre"))
    assert r.status_code == 409 and r.json()["code"] == "schedule_conflict"
    assert "Lịch sáng" in r.json()["message_vi"] and f"#{first['id']}" in r.json()["message_vi"]
    c = r.json()["conflicts"][0]
    assert c["schedule_id"] == first["id"] and c["resolution"] == "refused"
    assert set(c["devices"]) == {st.dev_a1, st.dev_a2}
    assert len(client.get(url(st), headers=h(st, "cadre")).json()) == 1
    # a higher priority is saved, resolved by priority
    r = client.post(url(st), json={**clash, "priority": "priority"}, headers=h(st, "cadre"))
    assert r.status_code == 201, r.text
    resolved = r.json()["resolved_by_priority"]
    assert resolved[0]["schedule_id"] == first["id"] and resolved[0]["resolution"] == "new_outranks"
    # editing a schedule is not a conflict with its own previous version
    r = client.put(f"/api/v1/schedules/{first['id']}", json=daily(st, title="Lịch sáng", times=("06:00",)),
                   headers=h(st, "cadre"))
    assert r.status_code == 200, r.text


def test_programme_longer_than_station_maximum_is_refused(client, station):
    st = station
    r = client.put(f"/api/v1/communes/{st.w.a}/station-settings", headers=h(st, "cadre"),
                   json={"max_programme_s": 120, "quiet_start": "22:00", "quiet_end": "05:00"})
    assert r.status_code == 200 and r.json()["max_programme_s"] == 120
    body = once(st, "2026-03-03T08:00:00+07:00",
                programme=[{"type": "relay", "url": "https://vov.vn/live", "duration_s": 600, "title": "VOV1"}])
    r = client.post(url(st), json=body, headers=h(st, "cadre"))
    assert r.status_code == 422 and r.json()["code"] == "schedule_invalid", r.text
    assert "tối đa 2 phút" in r.json()["message_vi"]
