"""A province station and a commune station exchange a bulletin (audio included), its status and a daily report
over real HTTP, each on its own database; delivery is idempotent and either side may be offline for hours."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlmodel import select

from loa.db import session_scope
from tests.broadcaster.station.live import wait_until
from tests.broadcaster.interchange import stations


def _plays(st, rule_key: str) -> set[int]:
    from schedules.tables import TimetablePlay

    with session_scope(st.engine) as s:
        return set(s.exec(select(TimetablePlay.device_id).where(TimetablePlay.rule_key == rule_key)))


def _delivery(st, bulletin_id: int):
    from schedules.bulletins.models import BulletinDelivery

    with session_scope(st.engine) as s:
        row = s.exec(select(BulletinDelivery).where(BulletinDelivery.bulletin_id == bulletin_id)).one()
        s.expunge(row)
        return row


def test_priority_bulletin_down_status_and_report_up(pair):
    p, c, clock = pair.province, pair.commune, pair.clock
    bulletin = stations.approved_bulletin(p, pair.facts, clock())
    assert stations.send(p, bulletin, "priority", clock()) == p.ids["communes"]
    [queued] = stations.outbox_rows(p)
    assert (queued.kind, queued.status, queued.body["communes"]) == ("bulletin", "pending", ["CS"])

    assert p.pump(clock())["delivered"] == 1
    [row] = stations.outbox_rows(p)
    assert row.status == "delivered" and row.receipt["outcome"] == "accepted"
    # the audio came over by hash, checked, into the commune's own store
    assert c.settings.audio_dir.joinpath(pair.facts.sha256[:2], pair.facts.sha256[2:4]).is_dir()
    [item] = stations.inbox(c)
    assert (item.sender_station, item.bulletin_id, item.level, item.state) == (
        stations.PROVINCE, str(bulletin), "priority", "scheduled")
    # every loudspeaker of the commune holds it in its timetable (materialized once the receipt is sent)
    assert wait_until(lambda: _plays(c, f"s{item.schedule_id}") == set(pair.devices))

    # status up: the commune's pump collects "scheduled" and the province records it
    assert c.pump(clock())["delivered"] >= 1
    delivery = _delivery(p, bulletin)
    assert delivery.state == "scheduled" and len(delivery.devices) == len(pair.devices)

    # the day is over: its report goes up (version 1), and again a day later (version 2, replacing it)
    clock.advance(days=1)
    c.pump(clock())
    from schedules.bulletins.models import CommuneDayReport

    sent_day, day_before = stations_day(clock, -1).isoformat(), stations_day(clock, -2).isoformat()
    assert {(r.object_id, r.version, r.status) for r in stations.outbox_rows(c) if r.kind == "report"} == {
        (f"CS/{day_before}", 1, "delivered"), (f"CS/{day_before}", 2, "delivered"), (f"CS/{sent_day}", 1, "delivered")}
    with session_scope(p.engine) as s:
        reports = list(s.exec(select(CommuneDayReport).order_by(CommuneDayReport.day)))
        assert [(r.day, r.source) for r in reports] == [
            (day_before, "remote"), (sent_day, "remote")]
        assert reports[1].device_seconds > 0  # the loudspeakers' day, counted on the commune's station


def stations_day(clock, offset: int):
    return (clock() + timedelta(days=offset)).date()


def test_offline_for_six_hours_then_delivered_once(pair):
    """The commune station is down for six hours: the province keeps the bulletin, retries at most every
    LOA_INTERCHANGE_RETRY_MAX_S (900 s), and delivers it once within that bound of the commune coming back."""
    p, c, clock = pair.province, pair.commune, pair.clock
    pair.c_live.stop()
    bulletin = stations.approved_bulletin(p, pair.facts, clock())
    stations.send(p, bulletin, "normal", clock(), hours=48)
    attempts, now, end = 0, clock(), clock() + timedelta(hours=6)
    while now < end:
        out = p.pump(now)
        attempts += out["retry"]
        gap = stations.peer(p, stations.COMMUNE).next_attempt_at - now
        assert timedelta(0) < gap <= timedelta(seconds=p.settings.interchange_retry_max_s)
        now = stations.peer(p, stations.COMMUNE).next_attempt_at
    clock.now = now
    # bounded: 10, 20, … 640 s, then every 900 s — about 28 tries in six hours, not thousands
    assert 20 <= attempts <= 30, attempts
    assert [r.status for r in stations.outbox_rows(p)] == ["pending"]
    assert stations.peer(p, stations.COMMUNE).failures == attempts

    pair.c_live.start()
    due = stations.peer(p, stations.COMMUNE).next_attempt_at
    assert p.pump(due - timedelta(seconds=1))["delivered"] == 0  # not before its time
    clock.now = due
    assert p.pump(due)["delivered"] == 1
    assert [i.bulletin_id for i in stations.inbox(c)] == [str(bulletin)]
    assert stations.peer(p, stations.COMMUNE).failures == 0
    # delivered again (a pump that died before recording the receipt): taken once
    from broadcaster.interchange import outbox
    from broadcaster.interchange.models import InterchangePeer, OutboxMessage

    with session_scope(p.engine) as s:
        row = s.exec(select(OutboxMessage)).one()
        peer = s.exec(select(InterchangePeer)).one()
        import httpx

        with httpx.Client() as client:
            again = outbox.send_one(client, p.me, peer, row, clock())
    assert again.status == "delivered" and again.receipt["outcome"] == "duplicate"
    assert len(stations.inbox(c)) == 1


def test_province_offline_status_waits_and_goes_up(pair):
    p, c, clock = pair.province, pair.commune, pair.clock
    bulletin = stations.approved_bulletin(p, pair.facts, clock())
    stations.send(p, bulletin, "priority", clock())
    p.pump(clock())
    pair.p_live.stop()
    for _ in range(5):
        clock.advance(minutes=30)
        assert c.pump(clock())["delivered"] == 0
    pending = [r for r in stations.outbox_rows(c) if r.status == "pending"]
    assert pending and {r.kind for r in pending} >= {"status"}
    pair.p_live.start()
    clock.now = stations.peer(c, stations.PROVINCE).next_attempt_at
    c.pump(clock())
    assert all(r.status == "delivered" for r in stations.outbox_rows(c))
    assert _delivery(p, bulletin).state == "scheduled"


def test_one_message_per_station_and_local_communes_stay_local(pair):
    """Three communes chosen: two run by the commune station (one message carrying both), one held by the
    province's own database (delivered there, as before the interchange)."""
    from broadcaster.interchange import peers
    from loa.accounts.auth import CLI
    from loa.org import service as org

    p, c, clock = pair.province, pair.commune, pair.clock
    stations.seed_commune(c, clock(), "TP")
    with session_scope(p.engine) as s:
        extra = [org.create_commune(s, CLI, p.ids["province"], f"Xã {code}", clock(), code).id for code in ("TP", "BX")]
        peers.set_communes(s, CLI, stations.COMMUNE, ["CS", "TP"], clock())
    bulletin = stations.approved_bulletin(p, pair.facts, clock())
    remote = stations.send(p, bulletin, "normal", clock(), communes=p.ids["communes"] + extra)
    assert remote == p.ids["communes"] + extra[:1]
    [row] = stations.outbox_rows(p)
    assert row.body["communes"] == ["CS", "TP"]
    assert [(i.commune_id, i.state) for i in stations.inbox(p)] == [(extra[1], "received")]
    assert p.pump(clock())["delivered"] == 1
    assert sorted(i.commune_id for i in stations.inbox(c)) == sorted(c.ids["communes"])


def test_a_bulletin_for_many_communes_is_taken_in_parts_and_finishes_after_a_crash(pair):
    """A station holding 60 communes: one message, taken 50 communes per transaction (SQLite's write lock is not
    held for the whole). A first attempt that died after its first part (those inbox items committed, no
    receipt) is finished by the retry, each commune once."""
    from broadcaster.interchange import adapter, peers, schemas
    from loa.accounts.auth import CLI
    from loa.org import service as org

    p, c, clock = pair.province, pair.commune, pair.clock
    codes = [f"X{i:02d}" for i in range(60)]
    for code in codes:
        stations.seed_commune(c, clock(), code, villages=0)
    with session_scope(p.engine) as s:
        ids = [org.create_commune(s, CLI, p.ids["province"], f"Xã {code}", clock(), code).id for code in codes]
        peers.set_communes(s, CLI, stations.COMMUNE, ["CS", *codes], clock())
    bulletin = stations.approved_bulletin(p, pair.facts, clock())
    stations.send(p, bulletin, "normal", clock(), communes=ids)
    [row] = stations.outbox_rows(p)
    message = schemas.BulletinMessage.from_dict({**row.body, "origin": {**row.body["origin"], "station": "x"}})
    with session_scope(c.engine) as s:  # what the dead first attempt committed: its first part
        adapter.deliver_bulletin(s, stations.PROVINCE, replace(message, communes=message.communes[:50]), clock())
    assert len(stations.inbox(c)) == 50
    assert p.pump(clock())["delivered"] == 1
    items = stations.inbox(c)
    assert len(items) == 60 and len({i.commune_id for i in items}) == 60
    assert len(stations.outbox_rows(p)[0].receipt["result"]["inbox"]) == 60
