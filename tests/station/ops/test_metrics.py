"""The Prometheus endpoint reads the station's real state: devices online and offline, plays by result,
failures, the job queue by status, the scheduler's last run."""
from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from starlette.testclient import TestClient

from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.station_rig import make_item

TOKEN = "so-lieu-bi-mat-0123456789"


def parse(text: str) -> dict[str, float]:
    """name{labels} value lines → {"name{labels}": value}; checks the exposition format on the way."""
    out, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter")
            typed.add(name)
            continue
        if line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+)', line)
        assert m, line
        assert m.group(1) in typed, f"{m.group(1)} has no TYPE line"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


@pytest.fixture
def guarded(settings, clock):
    from api.app import create_app

    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}), clock=clock)
    with TestClient(app) as c:
        yield c


def test_metrics_follow_the_station(guarded, world, facts, clock, engine, schedules_service, settings):
    client = guarded
    auth = {"Authorization": f"Bearer {TOKEN}"}
    m = parse(client.get("/metrics", headers=auth).text)
    assert m["loa_devices_online"] == 0 and m["loa_devices_offline"] == 0
    assert m['loa_plays_total{result="played"}'] == 0
    assert m["loa_scheduler_last_run_timestamp_seconds"] == 0
    # two devices; then one heartbeats, the other stays silent
    item = make_item(engine, world, facts, clock, status="approved")
    creds = [enroll_by_code(client, world, name=f"Cụm {i}")[1] for i in range(2)]
    schedule(engine, world, [item], clock() + timedelta(minutes=10))
    clock.advance(seconds=settings.device_offline_after_s + 1)  # enrollment counted as contact: let it age
    schedules_service.materialize_commune(world.a, clock())
    r = client.post(f"{DEV}/heartbeat", headers=dh(creds[0]), json={
        "sent_at": clock().isoformat(), "agent_version": "0.1.0", "manifest_version": None, "playing": None,
        "cache": {}, "playlog": {"last_seq": 0, "acked_seq": 0}, "events": []})
    assert r.status_code in (200, 204), r.text  # 204: nothing new for the device
    # proof of play: two played, one failed
    planned = (clock() + timedelta(minutes=10)).isoformat()
    records = [{"seq": i + 1, "play_id": f"p-{i}", "sha256": facts.sha256, "title": "t", "priority": "normal",
                "planned_start": planned, "actual_start": planned, "actual_end": planned,
                "result": res, "reason": "sink_error:x" if res == "failed" else None}
               for i, res in enumerate(["played", "played", "failed"])]
    assert client.post(f"{DEV}/plays", headers=dh(creds[0]), json={"records": records}).status_code == 200
    # a queued render job (a text item), due now
    r = client.post(f"/api/v1/communes/{world.a}/content", json={"title": "Tin", "text": "Xin chào bà con"},
                    headers=world.h("secretary"))
    assert r.status_code == 202, r.text
    m = parse(client.get("/metrics", headers=auth).text)
    assert m["loa_devices_online"] == 1 and m["loa_devices_offline"] == 1
    assert m['loa_plays_total{result="played"}'] == 2 and m['loa_plays_total{result="failed"}'] == 1
    assert m["loa_play_failures_total"] == 1
    assert m['loa_device_alerts_open{kind="play_failed"}'] == 1
    assert m['loa_jobs{status="queued"}'] == 1 and m["loa_jobs_due"] == 1
    assert m["loa_scheduler_last_run_timestamp_seconds"] == pytest.approx(clock().timestamp())
    assert m["loa_scheduler_last_run_age_seconds"] == 0
    # time passes: the silent threshold moves the first device offline; a resent batch counts nothing twice
    clock.advance(seconds=settings.device_offline_after_s + 1)
    assert client.post(f"{DEV}/plays", headers=dh(creds[0]), json={"records": records}).status_code == 200
    m = parse(client.get("/metrics", headers=auth).text)
    assert m["loa_devices_online"] == 0 and m["loa_devices_offline"] == 2
    assert m['loa_plays_total{result="played"}'] == 2
    assert m["loa_job_oldest_due_age_seconds"] == pytest.approx(settings.device_offline_after_s + 1)
    assert m["loa_scheduler_last_run_age_seconds"] == pytest.approx(settings.device_offline_after_s + 1)


def test_metrics_open_to_loopback_without_token(settings, clock, world):
    """Real HTTP on 127.0.0.1: a loopback client reads the metrics when no token is set."""
    from api.app import create_app
    from tests.broadcaster.station.live import LiveStation

    station = LiveStation(lambda: create_app(settings, clock=clock, start_worker=False)).start()
    try:
        r = httpx.get(f"{station.url}/metrics", timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "loa_jobs_due 0" in r.text
    finally:
        station.stop()
