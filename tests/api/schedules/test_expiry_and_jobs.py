"""Expired or archived items stop airing and the cadre is told; the scheduler's other jobs on the database;
the scheduler inside the app; `loa scheduler --once`."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from sqlmodel import select

from loa.db import session_scope
from loa.org.models import Device
from schedules.jobs import StationJobs
from schedules.tables import NightlyReport, TimetablePlay
from tests.api.schedules.schedules_rig import TZ, daily, h, make_item


def _planned(engine, rule_key):
    with session_scope(engine) as s:
        rows = s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == rule_key)).all()
        return sorted({r.planned_start.astimezone(TZ).strftime("%a %H:%M") for r in rows})


def test_expiring_item_leaves_the_timetable_and_the_cadre_is_told(client, app, station, engine, world, facts, clock):
    st = station
    short = make_item(engine, world, facts, clock, status="approved", title="Tiêm chủng tuần này",
                      expires_at=datetime(2026, 3, 3, 20, 0, tzinfo=TZ))
    body = daily(st, title="Nhắc tiêm chủng", times=("17:00",),
                 programme=[{"type": "item", "content_id": short}])
    sid = client.post(f"/api/v1/communes/{st.w.a}/schedules", json=body, headers=h(st, "cadre")).json()["schedule"]["id"]
    # stored: Monday and Tuesday 17:00 only (it expires Tuesday 20:00)
    assert _planned(engine, f"s{sid}") == ["Mon 17:00", "Tue 17:00"]
    warnings = client.get(f"/api/v1/schedules/{sid}", headers=h(st, "cadre")).json()["warnings"]
    assert [w["kind"] for w in warnings] == ["content_expired"]
    assert "hết hạn" in warnings[0]["message_vi"] and "Tiêm chủng tuần này" in warnings[0]["message_vi"]
    # after the expiry the job tells once (idempotent) and the timetable has nothing more for it
    clock.now = datetime(2026, 3, 4, 8, 0, tzinfo=TZ)
    jobs = StationJobs(engine, app.state.schedules)
    jobs.expire_content(clock())
    jobs.expire_content(clock())
    jobs.materialize_all(clock())
    notices = client.get(f"/api/v1/communes/{st.w.a}/schedule-notices", headers=h(st, "cadre")).json()
    assert [n["schedule_id"] for n in notices] == [sid]
    tt = client.get(f"/api/v1/devices/{st.dev_a1}/timetable?date=2026-03-04", headers=h(st, "cadre")).json()
    assert tt["devices"][0]["plays"] == [] and tt["devices"][0]["dropped"][0]["reason"] == "not_airable"


def test_archived_half_of_a_pair_is_removed_and_reported(client, app, station, engine, clock):
    from content.library import service as library
    from loa.accounts.models import User
    from loa.accounts.service import principal_for

    st = station
    sid = client.post(f"/api/v1/communes/{st.w.a}/schedules", json=daily(st), headers=h(st, "cadre")).json()["schedule"]["id"]
    with session_scope(engine) as s:
        cadre = principal_for(s, s.get(User, st.w.users["cadre"]), "127.0.0.1", "bearer")
        library.archive(s, cadre, st.items["giay"], clock())
    StationJobs(engine, app.state.schedules).expire_content(clock())
    warnings = client.get(f"/api/v1/schedules/{sid}", headers=h(st, "cadre")).json()["warnings"]
    assert [w["kind"] for w in warnings] == ["content_archived"] and "lưu trữ" in warnings[0]["message_vi"]
    with session_scope(engine) as s:
        row = s.exec(select(TimetablePlay).where(TimetablePlay.device_id == st.dev_a1)
                     .order_by(TimetablePlay.start)).first()
        assert [seg["language"] for seg in row.segments] == ["vi"]  # Vietnamese still airs, Giáy gone


def test_offline_and_nightly_report_are_idempotent(client, app, station, engine, clock):
    st = station
    client.post(f"/api/v1/communes/{st.w.a}/schedules", json=daily(st), headers=h(st, "cadre"))
    with session_scope(engine) as s:
        for dev_id, seen in ((st.dev_a1, clock() - timedelta(minutes=10)), (st.dev_a2, clock() - timedelta(seconds=30))):
            d = s.get(Device, dev_id)
            d.status, d.last_seen = "online", seen
            s.add(d)
    jobs = StationJobs(engine, app.state.schedules, offline_after_s=180)
    assert jobs.mark_offline(clock()) == [st.dev_a1]
    assert jobs.mark_offline(clock()) == []
    clock.now = datetime(2026, 3, 2, 23, 30, tzinfo=TZ)
    first = jobs.nightly_report(clock())
    again = jobs.nightly_report(clock())
    assert first == again and first[st.w.a]["plays"] == 3  # Monday 17:00 on three devices
    assert first[st.w.a]["devices"] == {"offline": 1, "online": 1, "unenrolled": 1}
    with session_scope(engine) as s:
        assert len(s.exec(select(NightlyReport).where(NightlyReport.commune_id == st.w.a)).all()) == 1
    r = client.get(f"/api/v1/communes/{st.w.a}/reports", headers=h(st, "cadre"))
    assert r.status_code == 200 and r.json()[0]["day"] == "2026-03-02"


def test_scheduler_runs_inside_the_app_when_enabled(settings, clock, world):
    from starlette.testclient import TestClient

    from api.app import create_app

    app = create_app(settings, clock=clock, start_scheduler=True)
    with TestClient(app):
        sched = app.state.scheduler
        assert sched is not None and sched.running
        assert set(sched.jobs()) == {"materialize", "render_pending", "expire_content", "mark_offline",
                                     "nightly_report"}
        deadline = time.monotonic() + 10
        while sched.stats["materialize"].runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sched.stats["materialize"].runs >= 1 and sched.stats["materialize"].errors == 0
    assert app.state.scheduler is None  # stopped with the app


def test_cli_scheduler_once(settings, station, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from station.cli.main import app as cli

    monkeypatch.setenv("LOA_DATABASE_URL", settings.db_url)
    result = CliRunner().invoke(cli, ["scheduler", "--once", "--data-dir", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out) == {"render_pending", "expire_content", "materialize", "mark_offline"}
    assert set(out["materialize"]) >= {station.dev_a1, station.dev_a2, station.dev_a2v, station.dev_b}
