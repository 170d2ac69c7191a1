"""The receiving side of the seam: `service.receive` with each level, idempotency, order, refusal of older
versions, and the status going back up (from the loudspeakers' own proof of play)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from loa.db import session_scope
from loa.errors import Conflict, NotFound


def _bulletin(facts, now, level="normal", codes=("CS",), version=1, bulletin_id="7", hours=24):
    from schedules.bulletins.schemas import AudioPart, ReceivedBulletin

    return ReceivedBulletin(sender_station="tinh-lao-cai", sender_org="Tỉnh Lào Cai", sender_level="province",
                            bulletin_id=bulletin_id, version=version, level=level, issued_at=now,
                            expires_at=now + timedelta(hours=hours), title="Phòng chống bão số 3",
                            texts={"vi": "Bà con chú ý phòng chống bão."},
                            audio=(AudioPart(facts.sha256, facts.size_bytes, facts.duration_s, "vi", facts.format),),
                            target_communes=tuple(codes))


def test_normal_waits_in_the_inbox_once(engine, levels, facts, clock):
    from content.library.models import ContentItem
    from schedules.bulletins import service

    with session_scope(engine) as s:
        items = service.receive(s, _bulletin(facts, clock()), clock())
        assert [(i.commune_id, i.state, i.level) for i in items] == [(levels.w.a, "received", "normal")]
        again = service.receive(s, _bulletin(facts, clock()), clock())
        assert [i.id for i in again] == [items[0].id]
        content = s.get(ContentItem, items[0].content_item_ids[0])
        assert (content.status, content.audio_sha256, content.commune_id) == ("approved", facts.sha256, levels.w.a)


def test_older_version_and_unknown_commune_are_refused(engine, levels, facts, clock):
    from schedules.bulletins import service

    with session_scope(engine) as s:
        service.receive(s, _bulletin(facts, clock(), version=2), clock())
        with pytest.raises(Conflict):
            service.receive(s, _bulletin(facts, clock(), version=1), clock())
        with pytest.raises(NotFound):
            service.receive(s, _bulletin(facts, clock(), codes=("NOPE",)), clock())


def test_emergency_airs_at_once_through_the_emergency_path(engine, app, levels, facts, clock):
    from schedules.bulletins import service
    from schedules.tables import EmergencyRow, TimetablePlay

    with session_scope(engine) as s:
        items = service.receive(s, _bulletin(facts, clock(), level="emergency"), clock())
    started = []
    app.state.schedules.on_rule_started.append(lambda c, key, at: started.append((c, key)))
    service.after_commit(app.state.schedules, items, clock())
    with session_scope(engine) as s:
        item = items[0]
        row = s.get(EmergencyRow, item.emergency_id)
        assert (row.status, row.started_at, row.source) == ("airing", clock(), "bulletin")
        plays = s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"e{row.id}")).all()
        assert {p.device_id for p in plays} == {levels.devices["a1"], levels.devices["a2"]}
    assert started == [(levels.w.a, f"e{item.emergency_id}")]


def test_priority_goes_into_the_next_programme(engine, app, levels, facts, clock):
    from schedules.bulletins import service
    from schedules.tables import ScheduleRule

    with session_scope(engine) as s:
        items = service.receive(s, _bulletin(facts, clock(), level="priority"), clock())
        rule = s.get(ScheduleRule, items[0].schedule_id)
        assert (items[0].state, rule.priority, rule.at) == ("scheduled", "priority", clock() + timedelta(seconds=60))


def test_status_going_up_counts_only_what_loudspeakers_reported(engine, app, levels, facts, clock):
    from broadcaster.station.bulletin_air import status_updates
    from broadcaster.station.models import PlayRecordRow
    from schedules.bulletins import service

    with session_scope(engine) as s:
        items = service.receive(s, _bulletin(facts, clock(), level="emergency"), clock())
    service.after_commit(app.state.schedules, items, clock())
    with session_scope(engine) as s:
        before = {u.commune_code: u for u in status_updates(s, clock() - timedelta(minutes=1), clock())}
        assert before["CS"].state == "scheduled" and before["CS"].seconds_aired == 0
        assert {d.state for d in before["CS"].devices} == {"scheduled"}
        s.add(PlayRecordRow(uid="x1", seq=1, device_id=levels.devices["a1"], commune_id=levels.w.a,
                            village_id=levels.w.village_a, play_id="e1", sha256=facts.sha256, priority="emergency",
                            planned_start=clock(), actual_start=clock(),
                            actual_end=clock() + timedelta(seconds=12.5), result="interrupted",
                            received_at=clock() + timedelta(seconds=20)))
    with session_scope(engine) as s:
        after = status_updates(s, clock() - timedelta(minutes=1), clock() + timedelta(minutes=1))[0]
        by_device = {d.device_id: (d.state, d.seconds_aired) for d in after.devices}
        assert after.state == "aired" and after.seconds_aired == 12.5
        assert by_device[levels.devices["a1"]] == ("aired", 12.5)
        assert by_device[levels.devices["a2"]] == ("scheduled", 0.0)


def _own_schedule(engine, levels, facts, clock, priority, minutes_ahead=30):
    """The commune's own one-off schedule of an approved item, materialized (the commune's next programme)."""
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from schedules import rules_service
    from schedules.schemas import ScheduleIn
    from tests.station_rig import make_item

    item = make_item(engine, levels.w, facts, clock, status="approved", title="Tin của xã")
    with session_scope(engine) as s:
        cadre = principal_for(s, s.get(User, levels.w.users["cadre"]), "127.0.0.1", "bearer")
        body = ScheduleIn(title="Tin ưu tiên của xã", priority=priority, at=clock() + timedelta(minutes=minutes_ahead),
                          targets={"commune": True}, programme=[{"type": "item", "content_id": item}])
        row, _ = rules_service.create_schedule(s, cadre, levels.w.a, body, clock())
        return row.id


def test_priority_clashing_with_the_communes_own_priority_item_waits_for_the_cadres_order(engine, app, levels,
                                                                                          facts, clock):
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from schedules.bulletins import inbox, service
    from schedules.bulletins.schemas import OrderIn
    from schedules.tables import ScheduleRule, TimetablePlay

    own = _own_schedule(engine, levels, facts, clock, "priority")
    app.state.schedules.materialize_commune(levels.w.a, clock())
    with session_scope(engine) as s:
        [item] = service.receive(s, _bulletin(facts, clock(), level="priority"), clock())
        assert item.state == "received" and "Tin ưu tiên của xã" in item.note and item.schedule_id is None
        item_id = item.id
    with session_scope(engine) as s:
        own_play = s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"s{own}")).first()
        cadre = principal_for(s, s.get(User, levels.w.users["cadre"]), "127.0.0.1", "bearer")
        row = inbox.order(s, cadre, item_id, OrderIn(order="before"), clock())
        rule = s.get(ScheduleRule, row.schedule_id)
        assert row.state == "scheduled" and rule.priority == "priority"
        assert rule.at + timedelta(seconds=facts.duration_s) <= own_play.start + timedelta(seconds=0.01)


def test_priority_takes_the_start_of_the_next_normal_programme(engine, app, levels, facts, clock):
    from schedules.bulletins import service
    from schedules.tables import ScheduleRule, TimetablePlay

    own = _own_schedule(engine, levels, facts, clock, "normal")
    app.state.schedules.materialize_commune(levels.w.a, clock())
    with session_scope(engine) as s:
        [item] = service.receive(s, _bulletin(facts, clock(), level="priority"), clock())
        start = s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"s{own}")).first().start
        assert item.state == "scheduled" and s.get(ScheduleRule, item.schedule_id).at == start
    service.after_commit(app.state.schedules, [item], clock())
    with session_scope(engine) as s:
        plays = {p.rule_key: p for p in s.exec(select(TimetablePlay).where(TimetablePlay.commune_id == levels.w.a))}
        assert plays[f"s{item.schedule_id}"].start == start  # the bulletin first
        assert plays[f"s{own}"].start >= plays[f"s{item.schedule_id}"].end  # the commune's own item after it


@pytest.mark.parametrize("local_now, expected_local", [
    ((23, 0), (5, 0)),     # inside the quiet hours: at their end, the next morning
    ("runs-in", (5, 0)),   # the play would start before 22:00 and run into the quiet hours: the next morning
    ((4, 30), (5, 0)),     # before the end of the night
    ((12, 0), (12, 1)),    # the day: the lead time only
])
def test_priority_with_no_programme_ahead_airs_after_the_quiet_hours(engine, app, levels, facts, clock, local_now,
                                                                      expected_local):
    """With nothing in the commune's timetable, a priority bulletin takes "in a minute", never inside the quiet
    hours (22:00-05:00 by default): the timetable would skip it while the sender was told it was scheduled."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from schedules.bulletins import service
    from schedules.tables import ScheduleRule, TimetablePlay

    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    day = datetime(2026, 12, 3, tzinfo=vn)
    if local_now == "runs-in":  # starts (after the minute's lead) half its length before 22:00
        clock.now = day.replace(hour=22) - timedelta(seconds=60 + facts.duration_s / 2)
    else:
        clock.now = day.replace(hour=local_now[0], minute=local_now[1])
    when = day.replace(hour=expected_local[0], minute=expected_local[1])
    if when < clock.now:
        when += timedelta(days=1)
    with session_scope(engine) as s:
        [item] = service.receive(s, _bulletin(facts, clock(), level="priority"), clock())
        assert item.state == "scheduled" and s.get(ScheduleRule, item.schedule_id).at == when
    service.after_commit(app.state.schedules, [item], clock())
    with session_scope(engine) as s:  # and the timetable holds it: it will air
        plays = s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"s{item.schedule_id}")).all()
        assert plays and {p.start for p in plays} == {when}
