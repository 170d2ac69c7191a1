"""The stored timetable: idempotent materialization, a restart mid-slot, versions and listeners, and an
emergency that pre-empts at once and is cancelled at once."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from loa.db import session_scope
from schedules import store
from schedules.service import ScheduleService
from schedules.tables import DeviceTimetable, TimetablePlay
from tests.api.schedules.schedules_rig import daily, h, once

RELAY = [{"type": "relay", "url": "https://vov.vn/vov1", "duration_s": 600, "title": "Thời sự VOV1"}]


def _rows(engine, device_id=None):
    with session_scope(engine) as s:
        q = select(TimetablePlay)
        if device_id is not None:
            q = q.where(TimetablePlay.device_id == device_id)
        return [(r.id, r.device_id, r.rule_key, r.planned_start, r.start, r.end, r.interrupted)
                for r in s.exec(q.order_by(TimetablePlay.device_id, TimetablePlay.start))]


def _versions(engine):
    with session_scope(engine) as s:
        return {v.device_id: v.version for v in s.exec(select(DeviceTimetable))}


def test_materialize_twice_same_rows_and_restart_mid_slot_keeps_the_play(client, app, station, engine, clock):
    st = station
    r = client.post(f"/api/v1/communes/{st.w.a}/schedules",
                    json=once(st, "2026-03-02T09:00:00+07:00", programme=RELAY, title="Tiếp sóng"),
                    headers=h(st, "cadre"))
    assert r.status_code == 201
    client.post(f"/api/v1/communes/{st.w.a}/schedules", json=daily(st), headers=h(st, "cadre"))
    svc = ScheduleService(engine)
    assert svc.materialize_all(clock()) == {st.dev_b}  # commune B's device gets its first (empty) version
    first = _rows(engine)
    # 72 h from Mon 08:00: the relay on 3 devices + 6 daily plays (Mon 17, Tue 6/17, Wed 6/17, Thu 6) × 3
    assert len(first) == 3 + 3 * 6
    versions = _versions(engine)
    assert svc.materialize_all(clock()) == set()  # nothing changed: no version moves, nobody is nudged
    assert _rows(engine) == first and _versions(engine) == versions
    # a restart in the middle of the relay (09:05): a new process, the play on air is the same row
    clock.now = clock.now.replace(hour=9, minute=5)
    fresh = ScheduleService(engine)
    fresh.materialize_all(clock())
    now_rows = [r for r in _rows(engine, st.dev_a1) if r[2].startswith("s") and r[4].hour == 2]  # 09:00 local
    assert len(now_rows) == 1 and now_rows[0][0] == [r for r in first if r[1] == st.dev_a1][0][0]
    assert not now_rows[0][6]
    assert len(_rows(engine)) == len(first) and fresh.materialize_all(clock()) == set()


def test_emergency_preempts_at_once_and_cancel_cuts_it(client, app, station, engine, clock):
    st = station
    client.post(f"/api/v1/communes/{st.w.a}/schedules",
                json=once(st, "2026-03-02T09:00:00+07:00", programme=RELAY, title="Tiếp sóng"),
                headers=h(st, "cadre"))
    nudged: list[set[int]] = []
    app.state.schedules.on_timetable_changed.append(nudged.append)
    before = _versions(engine)
    clock.now = clock.now.replace(hour=9, minute=3)
    body = {"title": "Lũ quét", "villages": [st.w.village_a], "repeat": 3, "gap_s": 5,
            "programme": [{"type": "item", "content_id": st.items["vneid"]}]}
    r = client.post(f"/api/v1/communes/{st.w.a}/emergencies", json=body, headers=h(st, "cadre"))
    assert r.status_code == 201, r.text
    em = r.json()
    assert em["status"] == "airing" and em["active"] is True and em["started_at"].startswith("2026-03-02T09:03")
    # stored at once, no scheduler tick: the relay is cut at 09:03 in village A, untouched in village A2
    rows = _rows(engine, st.dev_a1)
    relay = [x for x in rows if x[2].startswith("s")][0]
    assert relay[5] == clock.now and relay[6] is True
    emerg = [x for x in rows if x[2] == f"e{em['id']}"]
    assert len(emerg) == 3 and emerg[0][4] == clock.now
    other = [x for x in _rows(engine, st.dev_a2v) if x[2].startswith("s")][0]
    assert other[5] == clock.now.replace(minute=10) and not other[6]
    assert nudged == [{st.dev_a1, st.dev_a2}]
    after = _versions(engine)
    assert after[st.dev_a1] != before[st.dev_a1] and after[st.dev_a2v] == before[st.dev_a2v]
    listed = client.get(f"/api/v1/communes/{st.w.a}/emergencies?active=true", headers=h(st, "village_head")).json()
    assert [e["id"] for e in listed] == [em["id"]]
    # cancel one second later: the repetition on air is cut, the rest vanish
    clock.advance(seconds=1)
    r = client.post(f"/api/v1/emergencies/{em['id']}/cancel", headers=h(st, "cadre"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["active"] is False
    emerg = [x for x in _rows(engine, st.dev_a1) if x[2] == f"e{em['id']}"]
    assert len(emerg) == 1 and emerg[0][5] == clock.now and emerg[0][6] is True
    assert nudged[-1] == {st.dev_a1, st.dev_a2}
    assert client.get(f"/api/v1/communes/{st.w.a}/emergencies?active=true", headers=h(st, "cadre")).json() == []
    # cancelling twice changes nothing
    again = client.post(f"/api/v1/emergencies/{em['id']}/cancel", headers=h(st, "cadre")).json()["cancelled_at"]
    assert datetime.fromisoformat(again) == datetime.fromisoformat(r.json()["cancelled_at"])


def test_until_cancelled_is_bounded_and_timetable_shows_it(client, station, engine, clock):
    st = station
    body = {"title": "Báo động", "villages": [st.w.village_a2], "repeat": None,
            "programme": [{"type": "item", "content_id": st.items["vneid"]}]}
    em = client.post(f"/api/v1/communes/{st.w.a}/emergencies", json=body, headers=h(st, "cadre")).json()
    assert em["repeat"] is None and em["ends_at"] is not None
    assert em["ends_at"].startswith("2026-03-02T14:00:00")  # 6 h station maximum
    tt = client.get(f"/api/v1/devices/{st.dev_a2v}/timetable?date=2026-03-02", headers=h(st, "cadre")).json()
    plays = tt["devices"][0]["plays"]
    assert plays and all(p["priority"] == "emergency" for p in plays)
    with session_scope(engine) as s:
        assert store.changed_devices_since(s, clock() - timedelta(seconds=1), st.w.a).keys() >= {st.dev_a2v}
