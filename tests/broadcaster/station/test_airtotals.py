"""The commune overview (issue 14) counts what the loudspeakers' own play records say, at fixed instants, on
real SQLite and PostgreSQL rows: minutes really aired per village, month and kind; an emergency play counts as
an emergency whatever its item; a play cut short counts the seconds heard; a failed play counts as failed; a
stopped emergency played past its stop is never completed; months follow the commune's time zone."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.station_rig import make_item

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OTHER_SHA = "f" * 64


def _devices(engine, world, clock):
    from loa.accounts.auth import CLI
    from loa.db import session_scope
    from loa.org import service as org

    with session_scope(engine) as s:
        d1 = org.create_device(s, CLI, world.a, "Cụm 1", clock(), world.village_a).id
        d2 = org.create_device(s, CLI, world.a, "Cụm 2", clock(), world.village_a).id
        d3 = org.create_device(s, CLI, world.a, "Cụm 3", clock(), world.village_a2).id
        db = org.create_device(s, CLI, world.b, "Cụm B", clock(), world.village_b).id
    return d1, d2, d3, db


def _rec(seq, device, commune, village, sha, planned, seconds, result="played", priority="normal", late=0.0):
    from broadcaster.station.models import PlayRecordRow

    start = planned + timedelta(seconds=late) if seconds is not None else None
    return PlayRecordRow(uid=f"dev_{device}", seq=seq, device_id=device, commune_id=commune, village_id=village,
                         play_id=f"p-{seq}", sha256=sha, title="x", priority=priority, planned_start=planned,
                         actual_start=start, actual_end=start + timedelta(seconds=seconds) if start else None,
                         result=result, received_at=planned + timedelta(hours=1))


@pytest.fixture
def aired(client, engine, world, facts, clock):
    """Records of February and March 2026 in commune A (and one in commune B, one in January); an emergency
    started at 08:00 on 2 March and stopped 30 s later, that one loudspeaker cut and the other played on."""
    from loa.db import session_scope
    from schedules.tables import EmergencyRow

    item = make_item(engine, world, facts, clock, status="approved", kind="guidance")
    d1, d2, d3, db = _devices(engine, world, clock)
    r = client.post(f"/api/v1/communes/{world.a}/emergencies", headers=world.h("cadre"), json={
        "title": "Lũ quét", "programme": [{"type": "item", "content_id": item}], "villages": [world.village_a]})
    assert r.status_code == 201, r.text
    emergency = r.json()["id"]
    clock.now += timedelta(seconds=30)
    assert client.post(f"/api/v1/emergencies/{emergency}/cancel", headers=world.h("cadre")).status_code == 200
    with session_scope(engine) as s:
        started = s.get(EmergencyRow, emergency).started_at
    S = facts.sha256
    a, va, va2 = world.a, world.village_a, world.village_a2
    feb10 = datetime(2026, 2, 10, 6, 0, tzinfo=TZ)
    rows = [
        _rec(1, d1, a, va, S, feb10, 120),                     # heard on two loudspeakers of Ún Tà: once, 120 s
        _rec(1, d2, a, va, S, feb10, 90, late=1),
        _rec(1, d3, a, va2, S, feb10, 120),                    # and in Cốc San 2: counted there too
        _rec(2, d1, a, va, S, datetime(2026, 2, 20, 10, 0, tzinfo=TZ), 60, priority="emergency"),
        _rec(3, d1, a, va, None, datetime(2026, 2, 21, 19, 0, tzinfo=TZ), 1800),        # a relay: no audio file
        _rec(4, d1, a, va, S, datetime(2026, 2, 22, 6, 0, tzinfo=TZ), None, "failed"),
        _rec(2, d2, a, va, OTHER_SHA, datetime(2026, 2, 23, 6, 0, tzinfo=TZ), 45, "interrupted"),
        _rec(5, d1, a, va, S, started, 20, "interrupted", "emergency"),   # cut at the stop
        _rec(3, d2, a, va, S, started, 60, "played", "emergency"),        # played on past the stop
        # 1 March 00:30 in Hà Nội is 28 February in UTC: March for the commune
        _rec(2, d3, a, va2, S, datetime(2026, 3, 1, 0, 30, tzinfo=TZ), 60),
        _rec(6, d1, a, va, S, datetime(2026, 1, 31, 6, 0, tzinfo=TZ), 100),              # January: left out
        _rec(1, db, world.b, world.village_b, S, feb10, 500),                            # another commune
    ]
    with session_scope(engine) as s:
        s.add_all(rows)
    return {"item": item, "emergency": emergency}


def _load(engine, world, villages, kinds=None, first="2026-02", last="2026-03"):
    from broadcaster.station.airreport import commune_overview
    from loa.db import session_scope

    with session_scope(engine) as s:
        return commune_overview(s, world.a, villages, first, last, TZ, kinds)


def _cells(ov):
    return {k: (round(c.seconds, 1), round(c.seconds_interrupted, 1), c.completed, c.interrupted, c.failed,
                c.played_after_stop) for k, c in ov.cells.items()}


def test_overview_counts_what_aired(engine, world, aired):
    va, va2 = world.village_a, world.village_a2
    ov = _load(engine, world, [va, va2])
    assert ov.months == ["2026-02", "2026-03"]
    assert _cells(ov) == {
        (va, "2026-02", "guidance"): (120.0, 0.0, 2, 0, 1, 0),
        (va2, "2026-02", "guidance"): (120.0, 0.0, 1, 0, 0, 0),
        (va, "2026-02", "emergency"): (60.0, 0.0, 1, 0, 0, 0),
        (va, "2026-02", "relay"): (1800.0, 0.0, 1, 0, 0, 0),
        (va, "2026-02", "other"): (45.0, 45.0, 0, 1, 0, 0),
        (va, "2026-03", "emergency"): (60.0, 0.0, 0, 1, 0, 1),
        (va2, "2026-03", "guidance"): (60.0, 0.0, 1, 0, 0, 0),
    }
    assert round(ov.by_kind()["emergency"].minutes, 2) == 2.0
    assert round(ov.by_village()[va].minutes, 2) == round((120 + 60 + 1800 + 45 + 60) / 60, 2)
    assert round(ov.by_month()["2026-03"].minutes, 2) == 2.0
    assert ov.total().played_after_stop == 1 and ov.total().failed == 1
    assert ov.kinds[0] == "relay"


def test_overview_filters(engine, world, aired):
    va, va2 = world.village_a, world.village_a2
    only_emergency = _load(engine, world, [va, va2], ["emergency"])
    assert set(_cells(only_emergency)) == {(va, "2026-02", "emergency"), (va, "2026-03", "emergency")}
    only_va2 = _load(engine, world, [va2])
    assert {k[0] for k in only_va2.cells} == {va2}
    march = _load(engine, world, [va, va2], first="2026-03", last="2026-03")
    assert {k[1] for k in march.cells} == {"2026-03"}
    january = _load(engine, world, [va], first="2026-01", last="2026-01")
    assert _cells(january) == {(va, "2026-01", "guidance"): (100.0, 0.0, 1, 0, 0, 0)}


def test_overview_api(client, world, aired):
    url = f"/api/v1/communes/{world.a}/reports/overview"
    r = client.get(url, params={"from": "2026-02", "to": "2026-03"}, headers=world.h("cadre"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["months"] == ["2026-02", "2026-03"]
    assert body["by_kind"]["emergency"] == {"minutes": 2.0, "minutes_interrupted": 0.0, "completed": 1,
                                            "interrupted": 1, "failed": 0, "skipped": 0, "played_after_stop": 1}
    assert body["by_kind"]["relay"]["minutes"] == 30.0
    assert body["total"]["failed"] == 1
    r = client.get(url, params=[("from", "2026-02"), ("to", "2026-03"), ("kind", "emergency"),
                                ("village", world.village_a)], headers=world.h("secretary"))
    assert {(row["village_id"], row["kind"]) for row in r.json()["rows"]} == {(world.village_a, "emergency")}
    # a village head sees their own village only
    r = client.get(url, params={"from": "2026-02", "to": "2026-03"}, headers=world.h("village_head"))
    assert {row["village_id"] for row in r.json()["rows"]} == {world.village_a}
    assert client.get(url, params={"village": world.village_a2}, headers=world.h("village_head")).status_code == 404
    # the default range is the six months up to this one (the clock is in March 2026)
    r = client.get(url, headers=world.h("cadre"))
    assert r.json()["months"] == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    for bad in ({"from": "2026-13"}, {"from": "2026-03", "to": "2026-01"}, {"from": "2020-01", "to": "2026-01"},
                {"kind": "propaganda"}):
        r = client.get(url, params=bad, headers=world.h("cadre"))
        assert r.status_code == 422 and r.json()["message_vi"], bad
    # another commune's overview and villages are not there
    assert client.get(url, headers=world.h("outsider")).status_code == 404
    assert client.get(url, params={"village": world.village_b}, headers=world.h("cadre")).status_code == 404
    assert client.get(url).status_code == 401


def test_pure_rules_at_fixed_instants():
    """The pure function alone: the same play cut on one loudspeaker and heard to the end on another counts
    once, in full, not as cut; a skipped play counts no minute; a record of no village is left out."""
    from broadcaster.station.airtotals import AiredRecord, overview

    at = datetime(2026, 4, 30, 23, 59, tzinfo=TZ)  # still April in Hà Nội (16:59 UTC)

    def rec(i, device, seconds, result="played", village=1, sha="s"):
        return AiredRecord(i, device, village, sha, "normal", at, at if seconds else None,
                           at + timedelta(seconds=seconds) if seconds else None, result)

    ov = overview([rec(1, 1, 30, "interrupted"), rec(2, 2, 300), rec(3, 3, None, "skipped"),
                   rec(4, 4, 50, village=None)], {"s": "news"}, {}, TZ, ["2026-04", "2026-05"])
    cell = ov.cells[(1, "2026-04", "news")]
    assert (cell.seconds, cell.seconds_interrupted, cell.completed, cell.interrupted, cell.skipped) == (300, 0, 1, 1, 1)
    assert list(ov.cells) == [(1, "2026-04", "news")] and ov.months == ["2026-04", "2026-05"]
    assert overview([rec(1, 1, 30)], {}, {}, TZ, ["2026-05"]).cells == {}
