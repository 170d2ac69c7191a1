"""Real agents (broadcaster/agent, the simulation harness) against the real station over HTTP (uvicorn on
127.0.0.1), SQLite and PostgreSQL: sync, 72 h offline, proof of play, revocation, emergency pre-emption,
volume, tampering, a restart mid-download."""
from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from broadcaster.agent.simulation import Faults, Fleet
from broadcaster.protocol.wire import parse_time
from tests.broadcaster.station.device_rig import emergency, enroll_by_code, schedule
from tests.broadcaster.station.live import TamperProxy, clock, live, wait_until  # noqa: F401  (fixtures)
from tests.station_rig import make_item


@pytest.fixture
def service(live, engine):
    from api.devices import setup
    from schedules.service import ScheduleService

    svc = ScheduleService(engine)
    live.app.state.schedules = svc
    setup.subscribe(live.app)
    return svc


def _cadre(live, world):
    return httpx.Client(base_url=live.url, headers=world.h("cadre"), timeout=30)


def _fleet(tmp_path, live, creds_list, clock, faults=None, **kw):
    fleet = Fleet(tmp_path / "agents", live.url, creds_list, clock(), faults=faults or Faults(), **kw)
    clock.follow(fleet.clock)
    return fleet


def _hourly(engine, world, item, clock):
    return schedule(engine, world, [item], clock() + timedelta(minutes=5), rrule="FREQ=HOURLY")


def test_sync_72_hours_offline_then_every_play_uploaded_once(tmp_path, live, service, world, facts, clock, engine):
    item = make_item(engine, world, facts, clock, status="approved")
    with _cadre(live, world) as cadre:
        enrolled = [enroll_by_code(cadre, world, name=f"Cụm {i}") for i in range(2)]
    _hourly(engine, world, item, clock)
    service.materialize_commune(world.a, clock())
    fleet = _fleet(tmp_path, live, [c for _, c in enrolled], clock)
    fleet.network_round()
    for agent in fleet.agents:
        assert agent.manifest is not None and agent.store.missing(agent.manifest.sizes()) == []
    planned = {a.creds["device_id"]: [e for e in a.manifest.entries
                                      if clock() < e.start <= clock() + timedelta(hours=72)] for a in fleet.agents}
    assert all(len(v) >= 40 for v in planned.values()), {k: len(v) for k, v in planned.items()}
    # 3G gone for 72 hours
    fleet.faults.down = True
    fleet.run_until(clock() + timedelta(hours=72), network_every_s=600)
    for agent in fleet.agents:
        records = agent.playlog.records()
        due = planned[agent.creds["device_id"]]
        played = [r for r in records if r["result"] == "played"]
        assert len(played) == len(due) == len(records)
        assert max(abs((parse_time(r["actual_start"]) - parse_time(r["planned_start"])).total_seconds())
                   for r in played) <= 1.0
        assert agent.playlog.acked_seq == 0
    # back online: every log uploaded; a second upload changes nothing
    fleet.faults.down = False
    fleet.network_round()
    fleet.network_round()
    from broadcaster.station import plays

    from loa.db import session_scope
    with session_scope(engine) as s:
        for agent in fleet.agents:
            uid = agent.creds["device_id"]
            assert plays.count(s, uid) == len(agent.playlog.records())
            assert agent.playlog.acked_seq == agent.playlog.last_seq
    with _cadre(live, world) as cadre:
        device_id = enrolled[0][0]
        hist = cadre.get(f"/api/v1/devices/{device_id}/plays", params={"limit": 5000}).json()
        assert len(hist) == len(planned[enrolled[0][1]["device_id"]])
        assert len({(h["identity"], h["seq"]) for h in hist}) == len(hist)
        status = {d["id"]: d for d in cadre.get(f"/api/v1/communes/{world.a}/device-status").json()}
        assert status[device_id]["status"] in ("online", "playing")
        assert status[device_id]["manifest_version"] == status[device_id]["reported_manifest_version"]
    fleet.close()


def test_revoked_device_stops_at_next_sync(tmp_path, live, service, world, facts, clock, engine):
    item = make_item(engine, world, facts, clock, status="approved")
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
        _hourly(engine, world, item, clock)
        service.materialize_commune(world.a, clock())
        fleet = _fleet(tmp_path, live, [creds], clock)
        agent = fleet.agents[0]
        fleet.network_round()
        assert agent.manifest is not None
        assert cadre.post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
    fleet.network_round()
    assert agent.revoked and agent.manifest is None and agent.state.credentials() is None
    fleet.run_until(clock() + timedelta(hours=3))
    assert not [r for r in agent.playlog.records() if r["result"] == "played"]
    fleet.close()


def test_emergency_nudge_preempts_at_once_and_volume_reaches_device(tmp_path, live, service, world, facts, clock,
                                                                   engine, wav_bytes):
    from broadcaster.agent.nudges import sse_loop
    import threading

    item = make_item(engine, world, facts, clock, status="approved", title="Bản tin dài")
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
    # a long normal programme on air now (the same item four times), and then an emergency
    schedule(engine, world, [item] * 4, clock() + timedelta(seconds=30), title="Chương trình")
    service.materialize_commune(world.a, clock())
    fleet = _fleet(tmp_path, live, [creds], clock)
    agent = fleet.agents[0]
    fleet.network_round()
    stop = threading.Event()
    nudges = []

    def on_nudge(version, emerg):
        nudges.append((version, emerg))
        agent.on_nudge(version, emerg)

    threading.Thread(target=sse_loop, args=(agent.client, on_nudge, stop), daemon=True).start()
    wait_until(lambda: nudges, 10)
    fleet.run_until(clock() + timedelta(seconds=31))
    assert agent.player.state.current is not None and agent.player.state.current.entry.priority == "normal"
    agent.nudge.clear()
    # the cadre airs an emergency now: materialize → nudge (SSE) → sync → play at once
    emergency(engine, world, item, clock())
    service.materialize_commune(world.a, clock())
    assert wait_until(lambda: agent.emergency.is_set(), 10), nudges
    agent.sync()
    agent.player.step()
    cur = agent.player.state.current
    assert cur is not None and cur.entry.priority == "emergency"
    assert abs((cur.started_at - clock()).total_seconds()) < 1.0
    interrupted = [r for r in agent.playlog.records() if r["result"] == "interrupted"]
    assert interrupted and interrupted[0]["reason"].startswith("preempted_by:")
    # volume: the cadre turns it down; the nudge arrives; the next manifest carries it
    n = len(nudges)
    with _cadre(live, world) as cadre:
        r = cadre.put(f"/api/v1/devices/{device_id}/sound", json={"volume": 35})
        assert r.status_code == 200 and r.json()["volume"] == 35
    assert wait_until(lambda: len(nudges) > n, 10)
    agent.sync()
    assert agent.manifest.volume == 35
    stop.set()
    fleet.close()


def test_tampered_audio_and_manifest_refused(tmp_path, live, service, world, facts, clock, engine, settings):
    item = make_item(engine, world, facts, clock, status="approved")
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
    _hourly(engine, world, item, clock)
    service.materialize_commune(world.a, clock())
    proxy = TamperProxy(live.url)
    fleet = Fleet(tmp_path / "agents", proxy.url, [creds], clock(), faults=Faults())
    clock.follow(fleet.clock)
    agent = fleet.agents[0]

    def flip_title(body: bytes) -> bytes:
        env = json.loads(body)
        env["manifest"]["entries"][0]["title"] = "Tin giả"
        return json.dumps(env, ensure_ascii=False).encode()

    proxy.rewrite_manifest = flip_title
    agent.sync()
    assert agent.manifest is None
    assert [e["code"] for e in agent.events] == ["manifest_signature_invalid"]
    proxy.rewrite_manifest = None
    # the station's own file rots on disk: the device refuses it and reports it
    from content.store import AudioStore

    path = AudioStore(settings.audio_dir).path_for(facts.sha256)
    good = path.read_bytes()
    path.write_bytes(good[:-10] + b"\x00" * 10)
    agent.sync()
    assert agent.manifest is not None and facts.sha256 in agent.store.missing(agent.manifest.sizes())
    assert "audio_hash_mismatch" in [e["code"] for e in agent.events]
    agent.heartbeat()
    with _cadre(live, world) as cadre:
        alerts = cadre.get(f"/api/v1/communes/{world.a}/device-alerts").json()
        assert {a["kind"] for a in alerts} >= {"manifest_signature_invalid", "audio_hash_mismatch"}
        assert cadre.get(f"/api/v1/devices/{device_id}/status").json()["status"] == "error"
    path.write_bytes(good)
    agent.sync()
    assert agent.store.missing(agent.manifest.sizes()) == []
    fleet.close()
    proxy.close()


def test_server_restart_mid_download_resumes(tmp_path, live, service, world, facts, clock, engine):
    item = make_item(engine, world, facts, clock, status="approved")
    with _cadre(live, world) as cadre:
        _, creds = enroll_by_code(cadre, world)
    _hourly(engine, world, item, clock)
    service.materialize_commune(world.a, clock())
    proxy = TamperProxy(live.url)
    proxy.cut_audio_after = facts.size_bytes // 2 if hasattr(facts, "size_bytes") else 4000
    fleet = Fleet(tmp_path / "agents", proxy.url, [creds], clock(), faults=Faults())
    clock.follow(fleet.clock)
    agent = fleet.agents[0]
    agent.sync()  # the connection dies half way
    part = agent.store.part_path(facts.sha256)
    assert part.exists() and 0 < part.stat().st_size < agent.manifest.sizes()[facts.sha256]
    half = part.stat().st_size
    live.restart()  # the station itself restarts
    proxy.cut_audio_after = None
    agent.sync()
    assert agent.store.missing(agent.manifest.sizes()) == []
    ranges = [rng for path, rng, status in proxy.requests if "/audio/" in path]
    assert ranges[-1] == f"bytes={half}-" and proxy.requests[-1][2] in (200, 206)
    audio_statuses = [s for p, r, s in proxy.requests if "/audio/" in p]
    assert audio_statuses[-1] == 206
    fleet.close()
    proxy.close()

