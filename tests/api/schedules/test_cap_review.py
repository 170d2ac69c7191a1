"""Issue 13, Medium 3: an item made from a CAP alert is nobody's reviewed content. It airs only in its own
alert's emergency once a cadre confirmed it; schedules, other emergencies and the public page need a normal
two-person review first (the cadre who posted the alert is its contributor); the audit log names it."""
from __future__ import annotations

from sqlmodel import select

from content.library.models import ContentItem
from loa.db import session_scope
from station.handlers import default_handlers
from loa.jobs.worker import Worker
from schedules.tables import TimetablePlay
from tests.api.schedules.schedules_rig import h, once
from tests.api.schedules.test_cap_api import _post, cap_station, sample  # noqa: F401 (fixture)


def _ingest_and_render(client, st, engine, settings, clock) -> dict:
    r = _post(client, st, sample("storm.xml"))
    assert r.status_code == 201, r.text
    Worker(engine, settings, default_handlers(), clock).run_until_idle(clock())
    return r.json()


def test_cap_item_airs_only_in_its_confirmed_emergency_until_reviewed(client, cap_station, engine, settings,
                                                                      clock):
    st = cap_station
    out = _ingest_and_render(client, st, engine, settings, clock)
    item_id, eid = out["alert"]["content_item_id"], out["emergency"]["id"]
    # Not schedulable, not usable in an emergency started by hand: 422 cap_unreviewed.
    r = client.post(f"/api/v1/communes/{st.w.a}/schedules", headers=h(st, "cadre"),
                    json=once(st, "2026-03-02T15:00:00+07:00", programme=[{"type": "item", "content_id": item_id}]))
    assert r.status_code == 422 and r.json()["code"] == "content_not_schedulable", r.text
    assert r.json()["reason"] == "cap_unreviewed" and "CAP" in r.json()["title"] + r.json().get("detail", "")
    r = client.post(f"/api/v1/communes/{st.w.a}/emergencies", headers=h(st, "cadre"),
                    json={"title": "Tự phát", "villages": [st.w.village_a2],
                          "programme": [{"type": "item", "content_id": item_id}]})
    assert r.status_code == 422 and r.json()["reason"] == "cap_unreviewed", r.text
    item = client.get(f"/api/v1/content/{item_id}", headers=h(st, "cadre")).json()
    assert item["cap_alert_id"] == out["alert"]["id"] and item["status"] == "submitted"
    assert item["approved_version"] is None and item["render_state"] == "ready"
    # Nor public.
    assert f"/r/audio/{item['audio']['sha256']}" not in client.get(f"/r/{st.w.a}").text
    assert client.get(f"/r/audio/{item_id}.ogg").status_code == 404

    # Its own emergency airs once a cadre confirms, as before.
    with session_scope(engine) as s:
        assert not s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"e{eid}")).all()
    r = client.post(f"/api/v1/emergencies/{eid}/confirm", headers=h(st, "cadre"))
    assert r.status_code == 200 and r.json()["status"] == "airing", r.text
    with session_scope(engine) as s:
        assert len(s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"e{eid}")).all()) == 6
    audit = client.get(f"/api/v1/communes/{st.w.a}/audit", headers=h(st, "cadre")).json()
    confirm = next(e for e in audit if e["action"] == "emergency.confirm")
    assert confirm["detail"]["unreviewed_cap_items"] == [item_id]
    ingest = next(e for e in audit if e["action"] == "cap.ingest")
    assert ingest["detail"]["content_item_id"] == item_id and ingest["detail"]["content_reviewed"] is False

    # A normal review: not by the cadre who posted the alert (its contributor), by another cadre.
    sha = item["audio"]["sha256"]
    r = client.post(f"/api/v1/content/{item_id}/approve", headers=h(st, "cadre"), json={"reviewed_sha256": sha})
    assert r.status_code == 403 and r.json()["code"] == "self_review"
    r = client.post(f"/api/v1/content/{item_id}/approve", headers=h(st, "cadre2"), json={"reviewed_sha256": sha})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    approval = next(e for e in client.get(f"/api/v1/communes/{st.w.a}/audit", headers=h(st, "cadre")).json()
                    if e["action"] == "content.approve")
    assert approval["detail"]["cap_alert_id"] == out["alert"]["id"]
    r = client.post(f"/api/v1/communes/{st.w.a}/schedules", headers=h(st, "cadre"),
                    json=once(st, "2026-03-02T15:00:00+07:00", programme=[{"type": "item", "content_id": item_id}]))
    assert r.status_code == 201, r.text


def test_edited_cap_item_loses_the_alert_pass(client, cap_station, engine, settings, clock):
    """Changing the alert's words makes it the editor's words: it no longer airs unreviewed, even in the
    alert's emergency."""
    st = cap_station
    out = _ingest_and_render(client, st, engine, settings, clock)
    item_id, eid = out["alert"]["content_item_id"], out["emergency"]["id"]
    r = client.patch(f"/api/v1/content/{item_id}", headers=h(st, "cadre2"),
                     json={"text": "Thông báo giả: không cần sơ tán, lũ đã rút."})
    assert r.status_code == 200, r.text
    Worker(engine, settings, default_handlers(), clock).run_until_idle(clock())
    r = client.post(f"/api/v1/emergencies/{eid}/confirm", headers=h(st, "cadre"))
    assert r.status_code == 200 and r.json()["status"] == "queued"  # confirmed, but it cannot start
    with session_scope(engine) as s:
        assert s.get(ContentItem, item_id).version == 2
        assert not s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"e{eid}")).all()
