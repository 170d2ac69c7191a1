"""The permission matrix of the schedules routes: every endpoint × every role, anonymous and another commune's
cadre (404, never 403). Discovered by tests/api/matrix_registry.py for the route-coverage test.

cadre: writes (schedules, emergencies, CAP, station settings); secretary: reads and previews; village head:
reads what reaches their village; system admin: reads, writes nothing (not a member) but the station settings
(issue 14: the admin's station settings page); outsider: 404."""
from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest

from loa.db import session_scope
from tests.api.schedules.schedules_rig import T0, h, once

_n = itertools.count()
SAMPLES = Path(__file__).parents[2] / "schedules" / "cap_samples"


def row(admin, cadre, secretary, village_head, outsider, anon=401):
    return dict(anon=anon, admin=admin, cadre=cadre, secretary=secretary, village_head=village_head,
                outsider=outsider)


READ_ALL = row(200, 200, 200, 200, 404)
CADRE_ONLY = row(403, 200, 403, 403, 404)
STAFF_READ = row(200, 200, 200, 403, 404)

MATRIX = {
    ("GET", "/api/v1/communes/{commune_id}/schedules"): (None, READ_ALL),
    ("POST", "/api/v1/communes/{commune_id}/schedules"): ("schedule_body", row(403, 201, 403, 403, 404)),
    ("POST", "/api/v1/communes/{commune_id}/schedules/preview"): ("schedule_body", row(403, 200, 200, 403, 404)),
    ("GET", "/api/v1/schedules/{schedule_id}"): ("schedule", READ_ALL),
    ("PUT", "/api/v1/schedules/{schedule_id}"): ("schedule_put", CADRE_ONLY),
    ("DELETE", "/api/v1/schedules/{schedule_id}"): ("schedule", row(403, 204, 403, 403, 404)),
    ("GET", "/api/v1/schedules/{schedule_id}/stop"): ("schedule", READ_ALL),
    ("GET", "/api/v1/communes/{commune_id}/schedule-notices"): (None, STAFF_READ),
    ("GET", "/api/v1/devices/{device_id}/timetable"): (None, READ_ALL),
    ("GET", "/api/v1/villages/{village_id}/timetable"): (None, READ_ALL),
    ("GET", "/api/v1/villages/{village_id}/calendar.ics"): (None, READ_ALL),
    ("POST", "/api/v1/communes/{commune_id}/emergencies"): ("emergency_body", row(403, 201, 403, 403, 404)),
    ("GET", "/api/v1/communes/{commune_id}/emergencies"): (None, READ_ALL),
    ("GET", "/api/v1/emergencies/{emergency_id}"): ("emergency", READ_ALL),
    ("POST", "/api/v1/emergencies/{emergency_id}/cancel"): ("emergency", CADRE_ONLY),
    ("POST", "/api/v1/emergencies/{emergency_id}/confirm"): ("pending_emergency", CADRE_ONLY),
    ("POST", "/api/v1/communes/{commune_id}/cap"): ("cap", row(403, 201, 403, 403, 404)),
    ("GET", "/api/v1/communes/{commune_id}/cap"): (None, STAFF_READ),
    ("GET", "/api/v1/cap-alerts/{alert_id}"): ("cap_alert", STAFF_READ),
    ("GET", "/api/v1/communes/{commune_id}/station-settings"): (None, READ_ALL),
    ("PUT", "/api/v1/communes/{commune_id}/station-settings"): ("settings", row(200, 200, 403, 403, 404)),
    ("GET", "/api/v1/communes/{commune_id}/reports"): (None, STAFF_READ),
}


def _cadre(engine, st):
    from loa.accounts.models import User
    from loa.accounts.service import principal_for

    with session_scope(engine) as s:
        return principal_for(s, s.get(User, st.w.users["cadre"]), "127.0.0.1", "bearer")


def _schedule_body(st, n):
    at = (T0 + timedelta(days=1, minutes=7 * n)).isoformat()
    return once(st, at, title=f"Lịch {n}", targets={"villages": [st.w.village_a]})


def _storm(n) -> bytes:
    data = (SAMPLES / "storm.xml").read_bytes()
    for old, new in ((b"2026-11-20", b"2026-03-02"), (b"2026-11-21", b"2026-03-03")):
        data = data.replace(old, new)
    return data.replace(b"BAO05</identifier>", f"BAO05-{n}</identifier>".encode())


def _prepare(kind, client, engine, st, clock):
    from loa.org.models import Village
    from schedules import cap_service
    from schedules import emergency_service as em
    from schedules import rules_service as rules
    from schedules.schemas import EmergencyIn, ScheduleIn
    from schedules.tables import EmergencyRow

    n = next(_n)
    kw = {"commune_id": st.w.a, "village_id": st.w.village_a, "device_id": st.dev_a1}
    body, content, headers = None, None, {}
    emergency = {"title": f"Khẩn {n}", "villages": [st.w.village_a], "repeat": 1,
                 "programme": [{"type": "item", "content_id": st.items["vneid"]}]}
    if kind in ("schedule_body", "schedule_put"):
        body = _schedule_body(st, n)
    if kind in ("schedule", "schedule_put"):
        with session_scope(engine) as s:
            kw["schedule_id"] = rules.create_schedule(s, _cadre(engine, st), st.w.a,
                                                      ScheduleIn(**_schedule_body(st, 1000 + n)), clock())[0].id
    elif kind == "emergency_body":
        body = emergency
    elif kind == "emergency":
        with session_scope(engine) as s:
            kw["emergency_id"] = em.start(s, _cadre(engine, st), st.w.a, EmergencyIn(**emergency), clock()).id
    elif kind == "pending_emergency":
        with session_scope(engine) as s:
            row = EmergencyRow(commune_id=st.w.a, title="CAP", programme=emergency["programme"],
                               villages=[st.w.village_a], repeat=1, status="pending", source="cap",
                               created_at=clock())
            s.add(row)
            s.flush()
            kw["emergency_id"] = row.id
    elif kind in ("cap", "cap_alert"):
        with session_scope(engine) as s:
            v = s.get(Village, st.w.village_a)
            v.latitude, v.longitude = 22.45, 103.92
            s.add(v)
        if kind == "cap":
            content, headers = _storm(n), {"Content-Type": "application/xml"}
        else:
            with session_scope(engine) as s:
                alert, *_ = cap_service.ingest(s, _cadre(engine, st), st.w.a, _storm(n), clock())
                kw["alert_id"] = alert.id
    elif kind == "settings":
        body = {"quiet_start": "21:30", "quiet_end": "05:00"}
    return kw, body, content, headers


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_schedules_permission_matrix(endpoint, client, engine, station, clock):
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    got = {}
    for role in expected:
        kw, body, content, headers = _prepare(kind, client, engine, station, clock)
        url = path.format(**{k: v for k, v in kw.items() if "{" + k + "}" in path})
        r = client.request(method, url, json=body, content=content,
                           headers={**h(station, None if role == "anon" else role), **headers})
        got[role] = r.status_code
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", (role, r.text)
    assert got == expected


def test_village_head_sees_only_what_reaches_their_village(client, station):
    st = station
    other = once(st, (T0 + timedelta(days=1)).isoformat(), title="Chỉ Cốc San 2",
                 targets={"villages": [st.w.village_a2]})
    sid = client.post(f"/api/v1/communes/{st.w.a}/schedules", json=other, headers=h(st, "cadre")).json()["schedule"]["id"]
    mine = once(st, (T0 + timedelta(days=2)).isoformat(), title="Ún Tà", targets={"devices": [st.dev_a1]})
    mid = client.post(f"/api/v1/communes/{st.w.a}/schedules", json=mine, headers=h(st, "cadre")).json()["schedule"]["id"]
    assert client.get(f"/api/v1/schedules/{sid}", headers=h(st, "village_head")).status_code == 404
    assert client.get(f"/api/v1/schedules/{mid}", headers=h(st, "village_head")).status_code == 200
    listed = client.get(f"/api/v1/communes/{st.w.a}/schedules", headers=h(st, "village_head")).json()
    assert [s["id"] for s in listed] == [mid]
    for path in (f"/api/v1/villages/{st.w.village_a2}/timetable", f"/api/v1/devices/{st.dev_a2v}/timetable",
                 f"/api/v1/villages/{st.w.village_a2}/calendar.ics"):
        assert client.get(path, headers=h(st, "village_head")).status_code == 404
    # another commune's device and village are 404 for a cadre of commune A
    assert client.get(f"/api/v1/devices/{st.dev_b}/timetable", headers=h(st, "cadre")).status_code == 404
