"""CAP over the API: good alerts (confirm, auto-air), the offline render through the job queue, hostile and
malformed documents, wrong content types, oversize and expired alerts, duplicates and Cancel messages."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from content.library.models import ContentItem
from loa.db import session_scope
from station.handlers import default_handlers
from loa.jobs.worker import Worker
from loa.org.models import Village
from schedules.tables import TimetablePlay
from tests.api.schedules.schedules_rig import TZ, h

SAMPLES = Path(__file__).parents[2] / "schedules" / "cap_samples"
XML = {"Content-Type": "application/xml"}
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""


def sample(name: str) -> bytes:
    """A sample alert moved to the test's week (the bearer tokens of the test world last 30 days)."""
    data = (SAMPLES / name).read_bytes()
    for old, new in ((b"2026-11-20", b"2026-03-02"), (b"2026-11-21", b"2026-03-03"), (b"2026-11-22", b"2026-03-04")):
        data = data.replace(old, new)
    return data


@pytest.fixture
def cap_station(station, engine, clock):
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
    with session_scope(engine) as s:
        v = s.get(Village, station.w.village_a)
        v.latitude, v.longitude, v.geocodes = 22.45, 103.92, "VN-village=CS-UNTA"
        s.add(v)
        far = s.get(Village, station.w.village_a2)
        far.latitude, far.longitude = 21.03, 105.85  # Hà Nội: outside the storm
        s.add(far)
    return station


def _post(client, st, data: bytes, role="cadre", headers=XML):
    return client.post(f"/api/v1/communes/{st.w.a}/cap", content=data, headers={**h(st, role), **headers})


def _emergency_rows(engine, eid):
    with session_scope(engine) as s:
        return s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"e{eid}")).all()


def test_storm_waits_for_a_cadre_then_airs_rendered_offline(client, app, cap_station, engine, settings, clock):
    st = cap_station
    r = _post(client, st, sample("storm.xml"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["alert"]["status"] == "pending" and out["alert"]["decision"]["priority"] == "emergency"
    assert out["alert"]["decision"]["villages"] == [st.w.village_a]
    assert out["emergency"]["status"] == "pending" and out["render_job_id"]
    eid = out["emergency"]["id"]
    with session_scope(engine) as s:
        item = s.get(ContentItem, out["alert"]["content_item_id"])
        assert item.engine == "espeak" and item.text.startswith("Bão số 5 đang tiến vào Lào Cai")
    assert _emergency_rows(engine, eid) == []  # nothing airs before a cadre confirms
    # the offline render runs through the job queue (real espeak + mastering)
    Worker(engine, settings, default_handlers(), clock).run_until_idle()
    with session_scope(engine) as s:
        item = s.get(ContentItem, out["alert"]["content_item_id"])
        assert item.render_state == "ready" and item.duration_s > 3
    assert client.post(f"/api/v1/emergencies/{eid}/confirm", headers=h(st, "secretary")).status_code == 403
    r = client.post(f"/api/v1/emergencies/{eid}/confirm", headers=h(st, "cadre"))
    assert r.status_code == 200 and r.json()["status"] == "airing", r.text
    rows = _emergency_rows(engine, eid)
    assert {x.device_id for x in rows} == {st.dev_a1, st.dev_a2} and len(rows) == 2 * 3
    assert min(x.start for x in rows) == clock.now
    alert = client.get(f"/api/v1/cap-alerts/{out['alert']['id']}", headers=h(st, "cadre")).json()
    assert alert["status"] == "confirmed" and alert["emergency_id"] == eid
    assert client.post(f"/api/v1/emergencies/{eid}/confirm", headers=h(st, "cadre")).status_code == 409


def test_auto_air_extreme_immediate_starts_when_rendered(client, app, cap_station, engine, settings, clock):
    st = cap_station
    r = client.put(f"/api/v1/communes/{st.w.a}/station-settings", headers=h(st, "cadre"),
                   json={"auto_air_extreme_immediate": True})
    assert r.status_code == 200 and r.json()["auto_air_extreme_immediate"] is True
    nudged = []
    app.state.schedules.on_timetable_changed.append(nudged.append)
    out = _post(client, st, sample("storm.xml")).json()
    assert out["alert"]["status"] == "aired" and out["emergency"]["status"] == "queued"
    Worker(engine, settings, default_handlers(), clock).run_until_idle()
    em = client.get(f"/api/v1/emergencies/{out['emergency']['id']}", headers=h(st, "cadre")).json()
    assert em["status"] == "airing" and em["active"] is True
    assert len(_emergency_rows(engine, em["id"])) == 6 and {st.dev_a1, st.dev_a2} <= nudged[-1]
    # a Severe/Expected flood is not auto-aired even so
    flood = _post(client, st, sample("flood.xml")).json()
    assert flood["emergency"]["status"] == "pending"


def test_cancel_message_withdraws_the_emergency(client, cap_station, engine):
    st = cap_station
    landslide = _post(client, st, sample("flood.xml"))
    assert landslide.status_code == 201, landslide.text
    r = _post(client, st, sample("cancel.xml"))
    assert r.status_code == 201, r.text
    assert r.json()["cancelled_emergencies"] == [landslide.json()["emergency"]["id"]]
    em = client.get(f"/api/v1/emergencies/{landslide.json()['emergency']['id']}", headers=h(st, "cadre")).json()
    assert em["status"] == "rejected"  # never confirmed: withdrawn


@pytest.mark.parametrize("data,code", [
    (BILLION_LAUGHS, "dtd_forbidden"), (XXE, "dtd_forbidden"), (b"<alert><unclosed>", "malformed"),
    (b"<alert xmlns='urn:other'/>", "wrong_namespace"), (b"   ", "empty"),
])
def test_hostile_or_malformed_xml_is_422_and_stores_nothing(client, cap_station, data, code):
    st = cap_station
    r = _post(client, st, data)
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert r.json()["message_vi"].startswith("Cảnh báo CAP bị từ chối")
    assert client.get(f"/api/v1/communes/{st.w.a}/cap", headers=h(st, "cadre")).json() == []


def test_wrong_type_too_big_expired_duplicate(client, cap_station, clock):
    st = cap_station
    storm = sample("storm.xml")
    r = _post(client, st, storm, headers={"Content-Type": "application/json"})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_type"
    big = storm.replace(b"<description>", b"<description>" + b"x" * (600 * 1024))
    r = _post(client, st, big)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    clock.now = datetime(2026, 3, 4, 9, 0, tzinfo=TZ)  # after <expires>
    r = _post(client, st, storm)
    assert r.status_code == 422 and r.json()["code"] == "expired"
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
    assert _post(client, st, storm).status_code == 201
    r = _post(client, st, storm)
    assert r.status_code == 409 and r.json()["code"] == "cap_duplicate"
