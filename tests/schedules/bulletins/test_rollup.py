"""Reports up: a commune's days from its loudspeakers' own proof of play, stored, rolled up to district and
province, and the CSV (spreadsheet-safe)."""
from __future__ import annotations

from datetime import timedelta

from loa.db import session_scope


def _play(lv, device, village, commune, start, seconds, result="played", priority="normal", seq=1, sha=None):
    from broadcaster.station.models import PlayRecordRow

    return PlayRecordRow(uid=f"u{device}", seq=seq, device_id=device, commune_id=commune, village_id=village,
                         play_id=f"p{seq}", sha256=sha, priority=priority, planned_start=start, actual_start=start,
                         actual_end=start + timedelta(seconds=seconds), result=result, received_at=start)


def test_commune_days_come_from_proof_of_play_and_roll_up(client, levels, clock, facts):
    from broadcaster.station.bulletin_air import commune_days
    from loa.org import areas
    from loa.org.models import Commune
    from schedules.bulletins import rollup

    lv, t = levels, clock()
    with session_scope(client.app.state.engine) as s:
        s.add(_play(lv, lv.devices["a1"], lv.w.village_a, lv.w.a, t, 120, seq=1))
        s.add(_play(lv, lv.devices["a2"], lv.w.village_a2, lv.w.a, t, 60, "interrupted", "priority", seq=2))
        s.add(_play(lv, lv.devices["a2"], lv.w.village_a2, lv.w.a, t + timedelta(hours=1), 0, "failed", seq=3))
        s.add(_play(lv, lv.devices["b1"], lv.w.village_b, lv.w.b, t, 30, "played", "emergency", seq=4))
    with session_scope(client.app.state.engine) as s:
        a, b = s.get(Commune, lv.w.a), s.get(Commune, lv.w.b)
        [day_a] = commune_days(s, a, t.date(), t.date(), t + timedelta(hours=4))
        assert (day_a.plays, day_a.completed, day_a.interrupted, day_a.failed) == (3, 1, 1, 1)
        assert day_a.seconds_by_level == {"normal": 120.0, "priority": 60.0}
        assert day_a.seconds_by_kind == {"relay": 180.0}  # plays with no audio file are relays
        assert day_a.device_seconds > 0 and day_a.up_seconds == day_a.device_seconds
        rollup.store_days(s, a.id, [day_a], t)
        rollup.store_days(s, b.id, commune_days(s, b, t.date(), t.date(), t + timedelta(hours=4)), t)
    with session_scope(client.app.state.engine) as s:
        province = rollup.rollup(s, areas.get_area(s, "province", lv.w.province), t.date().isoformat(),
                                 t.date().isoformat())
        assert province.total.plays == 4 and province.total.minutes == 3.5
        assert province.by_district[lv.district].plays == 3 and province.by_district[lv.district2].plays == 1
        assert province.total.seconds_by_level["emergency"] == 30.0
        district = rollup.rollup(s, areas.get_area(s, "district", lv.district2), t.date().isoformat(),
                                 t.date().isoformat(), "month")
        assert list(district.by_commune) == [lv.w.b] and district.periods == [t.strftime("%Y-%m")]


def test_reports_received_from_a_commune_station_and_the_csv(client, levels, clock):
    from loa.accounts.auth import CLI
    from loa.org import areas
    from loa.org import service as org
    from schedules.bulletins.rollup import CommuneDay, record_commune_report

    lv, t = levels, clock()
    with session_scope(client.app.state.engine) as s:  # a commune with its own station: no loudspeakers here
        remote = org.create_commune(s, CLI, lv.w.province, "=HYPERLINK(1)", t, "BK")
        areas.place_commune(s, CLI, remote.id, lv.district2, t)
        record_commune_report(s, CommuneDay("BK", t.date().isoformat(), {"news": 600.0}, {"normal": 600.0}, 5, 4, 1,
                                            0, 86400.0, 43200.0), t)
        record_commune_report(s, CommuneDay("BK", t.date().isoformat(), {"news": 900.0}, {"normal": 900.0}, 6, 5, 1,
                                            0, 86400.0, 86400.0), t)  # a newer report of the day replaces it
    day = t.date().isoformat()
    r = client.get(f"/api/v1/areas/district/{lv.district2}/rollup?first={day}&last={day}", headers=lv.h("d2_approver"))
    assert r.status_code == 200
    total = r.json()["total"]
    assert (total["minutes"], total["plays"], total["uptime_percent"]) == (15.0, 6, 100.0)
    assert r.json()["by_commune"][str(remote.id)]["reports"] == 1
    csv = client.get(f"/api/v1/areas/district/{lv.district2}/rollup.csv?first={day}&last={day}",
                     headers={**lv.h("d2_approver"), "Accept-Language": "vi"}).text
    assert "'=HYPERLINK(1)" in csv and ",15.0," in csv


def test_this_stations_communes_are_recomputed_when_read_at_most_every_five_minutes(client, levels, clock):
    lv, t = levels, clock()
    url = f"/api/v1/areas/district/{lv.district}/rollup?first={t.date()}&last={t.date()}"
    assert client.get(url, headers=lv.h("d_editor")).json()["total"]["plays"] == 0
    with session_scope(client.app.state.engine) as s:  # a loudspeaker's proof of play arrives
        s.add(_play(lv, lv.devices["a1"], lv.w.village_a, lv.w.a, t, 90, seq=9))
    clock.advance(minutes=2)
    assert client.get(url, headers=lv.h("d_editor")).json()["total"]["plays"] == 0  # read again at once: stored
    clock.advance(minutes=4)
    total = client.get(url, headers=lv.h("d_editor")).json()["total"]
    assert (total["plays"], total["minutes"]) == (1, 1.5)
