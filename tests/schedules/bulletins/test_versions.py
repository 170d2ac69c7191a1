"""A newer version of a bulletin withdraws the older one (docs/bulletins.md, "Versions"): the older inbox item is
superseded and linked to the newer, whatever would air it is withdrawn from the timetable built at a fixed `now`
(the loudspeakers are nudged), a normal bulletin waits for the cadre's decision again, an emergency's newer
version replaces the older on air, an older version arriving late is refused, and the sender's tracking shows the
older version withdrawn per commune. SQLite and PostgreSQL (the `engine` fixture)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from loa.db import session_scope
from loa.errors import Conflict
from tests.schedules.bulletins.test_receive import _bulletin


def _cadre(s, levels):
    from loa.accounts.models import User
    from loa.accounts.service import principal_for

    return principal_for(s, s.get(User, levels.w.users["cadre"]), "127.0.0.1", "bearer")


def _plays(engine, commune_id, now):
    """The rules of the commune's stored timetable from `now` on (a cut play stays as history, ended)."""
    from schedules.tables import TimetablePlay

    with session_scope(engine) as s:
        return {p.rule_key for p in s.exec(select(TimetablePlay).where(TimetablePlay.commune_id == commune_id,
                                                                      TimetablePlay.end > now))}


def test_v2_withdraws_the_accepted_v1_and_waits_for_the_cadre_again(engine, app, client, levels, facts, clock):
    from loa.audit.models import AuditEntry
    from schedules.bulletins import inbox, service
    from schedules.bulletins.models import InboxItem
    from schedules.bulletins.schemas import AcceptIn
    from schedules.tables import ScheduleRule

    with session_scope(engine) as s:
        [v1] = service.receive(s, _bulletin(facts, clock()), clock())
    with session_scope(engine) as s:
        v1 = inbox.accept(s, _cadre(s, levels), v1.id, AcceptIn(at=clock() + timedelta(hours=2)), clock())
    service.after_commit(app.state.schedules, [v1], clock())
    assert f"s{v1.schedule_id}" in _plays(engine, levels.w.a, clock())

    nudged: list[set[int]] = []
    app.state.schedules.on_timetable_changed.append(nudged.append)
    now = clock.advance(minutes=10)
    with session_scope(engine) as s:
        [v2] = service.receive(s, _bulletin(facts, now, version=2), now)
        assert (v2.version, v2.state, v2.schedule_id) == (2, "received", None)
        assert "Phiên bản 1 đã được chấp nhận" in v2.note and "decide again" in v2.note
    service.after_commit(app.state.schedules, [v2], now)

    assert f"s{v1.schedule_id}" not in _plays(engine, levels.w.a, clock())  # the timetable built at `now` lacks it
    assert nudged and {levels.devices["a1"], levels.devices["a2"]} <= set().union(*nudged)
    with session_scope(engine) as s:
        old = s.get(InboxItem, v1.id)
        assert (old.state, old.superseded_by) == ("superseded", v2.id)
        assert old.note.startswith("Đã có phiên bản 2 thay thế")
        assert s.get(ScheduleRule, v1.schedule_id).cancelled_at == now
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "bulletin.supersede")).one()
        assert entry.detail["was"] == "scheduled" and entry.detail["superseded_by"] == v2.id
        with pytest.raises(Conflict) as exc:
            inbox.accept(s, _cadre(s, levels), v1.id, AcceptIn(at=now + timedelta(hours=2)), now)
        assert exc.value.code == "bulletin_superseded"
        with pytest.raises(Conflict) as late:  # v1 again, after v2: refused, nothing changes
            service.receive(s, _bulletin(facts, now), now)
        assert late.value.code == "bulletin_older"
    # the cadre decides on v2: it airs, v1 never again
    with session_scope(engine) as s:
        v2 = inbox.accept(s, _cadre(s, levels), v2.id, AcceptIn(at=now + timedelta(hours=2)), now)
    service.after_commit(app.state.schedules, [v2], now)
    keys = _plays(engine, levels.w.a, clock())
    assert f"s{v2.schedule_id}" in keys and f"s{v1.schedule_id}" not in keys

    listed = client.get(f"/api/v1/communes/{levels.w.a}/bulletin-inbox", headers=levels.h("cadre")).json()
    by_id = {i["id"]: i for i in listed}
    assert (by_id[v1.id]["state"], by_id[v1.id]["superseded_by"]) == ("superseded", v2.id)
    from tests.api.web.web_rig import login

    login(client, "cadre")
    page = client.get(f"/app/c/{levels.w.a}/inbox").text
    assert f'href="#inbox-{v2.id}"' in page and "Đã được thay bằng phiên bản mới" in page


def test_a_waiting_v1_is_superseded_without_a_schedule(engine, app, levels, facts, clock):
    from schedules.bulletins import service
    from schedules.bulletins.models import InboxItem

    with session_scope(engine) as s:
        [v1] = service.receive(s, _bulletin(facts, clock()), clock())
        [v3] = service.receive(s, _bulletin(facts, clock(), version=3), clock())
        assert v3.note is None and v3.state == "received"  # nothing had been decided: nothing to decide again
        assert (s.get(InboxItem, v1.id).state, s.get(InboxItem, v1.id).superseded_by) == ("superseded", v3.id)


def test_emergency_v2_replaces_v1_on_air(engine, app, levels, facts, clock):
    from schedules.bulletins import service
    from schedules.tables import EmergencyRow

    with session_scope(engine) as s:
        [v1] = service.receive(s, _bulletin(facts, clock(), level="emergency"), clock())
    service.after_commit(app.state.schedules, [v1], clock())
    assert f"e{v1.emergency_id}" in _plays(engine, levels.w.a, clock())
    started = []
    app.state.schedules.on_rule_started.append(lambda c, key, at: started.append(key))
    now = clock.advance(seconds=30)
    with session_scope(engine) as s:
        [v2] = service.receive(s, _bulletin(facts, now, level="emergency", version=2), now)
    service.after_commit(app.state.schedules, [v2], now)
    with session_scope(engine) as s:
        assert s.get(EmergencyRow, v1.emergency_id).status == "cancelled"
        assert s.get(EmergencyRow, v2.emergency_id).status == "airing"
    keys = _plays(engine, levels.w.a, clock())
    assert f"e{v2.emergency_id}" in keys and f"e{v1.emergency_id}" not in keys
    assert started == [f"e{v2.emergency_id}"]


def test_priority_v2_takes_the_place_of_v1_not_a_clash_with_it(engine, app, levels, facts, clock):
    from schedules.bulletins import service
    from schedules.tables import ScheduleRule

    with session_scope(engine) as s:
        [v1] = service.receive(s, _bulletin(facts, clock(), level="priority"), clock())
    service.after_commit(app.state.schedules, [v1], clock())
    with session_scope(engine) as s:
        [v2] = service.receive(s, _bulletin(facts, clock(), level="priority", version=2), clock())
        assert v2.state == "scheduled" and v2.note is None  # v1's own play is no clash: it is withdrawn
        assert s.get(ScheduleRule, v1.schedule_id).cancelled_at == clock()
        assert s.get(ScheduleRule, v2.schedule_id).at == s.get(ScheduleRule, v1.schedule_id).at
    service.after_commit(app.state.schedules, [v2], clock())
    keys = _plays(engine, levels.w.a, clock())
    assert f"s{v2.schedule_id}" in keys and f"s{v1.schedule_id}" not in keys


def test_status_going_up_says_superseded_and_the_sender_keeps_it_per_commune(engine, levels, facts, clock):
    from broadcaster.station.bulletin_air import status_updates
    from schedules.bulletins import service
    from schedules.bulletins.models import Bulletin, BulletinDelivery
    from schedules.bulletins.schemas import StatusUpdate

    with session_scope(engine) as s:
        [v1] = service.receive(s, _bulletin(facts, clock()), clock())
        service.receive(s, _bulletin(facts, clock(), version=2), clock())
    with session_scope(engine) as s:
        ups = {(u.version, u.state) for u in status_updates(s, clock() - timedelta(minutes=1), clock())}
        assert ups == {(1, "superseded"), (2, "received")}
    # the sender's side: a bulletin sent twice (v2 now), the commune's news of both versions
    with session_scope(engine) as s:
        b = Bulletin(org_level="district", org_id=levels.district, title="t", source="text", version=2,
                     status="sent", author_id=levels.users["d_editor"], created_at=clock(), updated_at=clock())
        s.add(b)
        s.flush()
        s.add(BulletinDelivery(bulletin_id=b.id, commune_id=levels.w.a, route="remote", version=2, state="sent",
                               state_at=clock(), updated_at=clock()))
        bid = str(b.id)
    with session_scope(engine) as s:
        def up(version, state):
            return service.record_status(s, StatusUpdate("x", bid, version, "CS", state, clock()), clock())
        d = up(1, "aired")  # late news of v1: it never overwrites v2's state
        assert (d.state, d.superseded_version) == ("sent", None)
        d = up(1, "superseded")
        assert (d.state, d.version, d.superseded_version, d.superseded_at) == ("sent", 2, 1, clock())
        d = up(2, "received")
        assert (d.state, d.superseded_version) == ("received", 1)


def test_correcting_a_sent_bulletin_through_the_api_withdraws_v1_at_the_commune(client, engine, levels, clock):
    from tests.schedules.bulletins.test_api_flow import _compose

    lv = levels
    b = _compose(client, lv)
    bid = b["id"]

    def approve_and_send(sha, body):
        assert client.post(f"/api/v1/bulletins/{bid}/submit", headers=lv.h("d_editor")).status_code == 200
        assert client.post(f"/api/v1/bulletins/{bid}/approve", headers=lv.h("d_approver"),
                           json={"audio_sha256": sha}).status_code == 200
        r = client.post(f"/api/v1/bulletins/{bid}/send", headers=lv.h("d_approver"),
                        json={"level": "normal", "expires_at": (clock() + timedelta(days=2)).isoformat(), **body})
        assert r.status_code == 200, r.text
        return r.json()

    approve_and_send(b["audio_sha256"], {"communes": [lv.w.a]})
    [v1] = client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h("cadre")).json()
    accepted = client.post(f"/api/v1/bulletin-inbox/{v1['id']}/accept", headers=lv.h("cadre"),
                           json={"at": (clock() + timedelta(hours=3)).isoformat()}).json()
    assert f"s{accepted['schedule_id']}" in _plays(engine, lv.w.a, clock())

    same = client.patch(f"/api/v1/bulletins/{bid}", headers=lv.h("d_editor"), json={"title": "Lịch tiêm phòng"})
    assert (same.json()["status"], same.json()["version"]) == ("sent", 1)  # nothing corrected: no new version
    fixed = client.patch(f"/api/v1/bulletins/{bid}", headers=lv.h("d_editor"),
                         json={"text": "Bà con chú ý: lịch tiêm phòng dời sang thứ năm."}).json()
    assert (fixed["status"], fixed["version"]) == ("draft", 2) and fixed["audio_sha256"] != b["audio_sha256"]
    track = approve_and_send(fixed["audio_sha256"], {})  # no targets: wherever v1 went
    [d] = track["deliveries"]
    assert (d["commune"], d["version"], d["state"], d["superseded_version"]) == ("Cốc San", 2, "received", 1)
    assert f"s{accepted['schedule_id']}" not in _plays(engine, lv.w.a, clock())
    items = {i["version"]: i for i in client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox",
                                                  headers=lv.h("cadre")).json()}
    assert items[1]["state"] == "superseded" and items[1]["superseded_by"] == items[2]["id"]
    assert items[2]["state"] == "received"
    from tests.api.web.web_rig import login

    login(client, "d-approver")
    page = client.get(f"/app/bulletin/{bid}").text
    assert "phiên bản 1 đã rút" in page
