"""Issue 12 end to end: real `loa agent` processes (file sink) against the real station (uvicorn, real clock),
on SSE (the embedded default) and on MQTT (the real Mosquitto at 127.0.0.1:1883), SQLite and PostgreSQL.

Each check reads the agents' own sinks: an emergency is on air within 1.5 s of the cadre's call, a cancel, a
stopped schedule and a mute silence every targeted loudspeaker within 2 s, a volume change reaches the item on
air; the interrupted play is logged with the seconds that aired and reaches the station at once. Then the
hard ways: the link cut during the stop, a captured manifest replayed after the cancel, a station restart and
an agent restart between the start and the stop."""
from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from broadcaster.protocol.wire import parse_time
from tests.broadcaster.station.agentproc import AgentProc, Attacker, enrollment_code
from tests.broadcaster.station.device_rig import DEV, schedule
from tests.broadcaster.station.live import LiveStation, RealClock, wait_until
from tests.station_rig import make_item, speech_wav

START_WITHIN, STOP_WITHIN = 1.5, 2.0
TEXT = " ".join(["Bà con thôn Ún Tà chú ý, nước lũ đang lên, hãy di chuyển lên chỗ cao ngay."] * 6)  # ~27 s


@pytest.fixture
def clock():
    return RealClock()


@pytest.fixture(scope="session")
def long_recording(tmp_path_factory):
    """A real mastered recording of ~27 s: long enough that a stop is not its natural end."""
    from content.pipeline import master_recording
    from content.store import AudioStore

    root = tmp_path_factory.mktemp("long")
    (root / "in.wav").write_bytes(speech_wav(TEXT))
    facts = master_recording(root / "in.wav", AudioStore(root / "audio"))
    assert facts.duration_s > 20
    return root / "audio", facts


@pytest.fixture
def long_facts(settings, long_recording):
    root, facts = long_recording
    shutil.copytree(root, settings.audio_dir, dirs_exist_ok=True)
    return facts


class Station(LiveStation):
    """LiveStation whose stop closes open SSE streams within a second, as a process that exits does (uvicorn
    otherwise waits for them forever and the agents stay connected to the stopped app)."""

    def start(self) -> "Station":
        import threading

        import uvicorn

        self.app = self.app_factory()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        assert wait_until(lambda: self.server.started, 15), "uvicorn did not start"
        return self


@pytest.fixture(params=["sse", "mqtt"])
def transport(request):
    return request.param


@pytest.fixture
def station(settings, engine, transport):
    from api.app import create_app

    if transport == "mqtt":
        settings.mqtt_url = "mqtt://127.0.0.1:1883"
    live = Station(lambda: create_app(settings, start_worker=False)).start()
    yield live
    live.stop()


@pytest.fixture
def agents():
    started: list[AgentProc] = []
    yield started
    for agent in started:
        agent.stop()


def _cadre(station, world):
    return httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30)


def _enroll(station, cadre, world, agents, tmp_path, village_id, url=None) -> tuple[int, AgentProc]:
    device_id, code = enrollment_code(cadre, world, village_id)
    agent = AgentProc(url or station.url, tmp_path / f"agent-{len(agents)}", code).start()
    agents.append(agent)
    return device_id, agent


def _ready(station, pairs, transport) -> None:
    """Every agent holds its manifest and listens for pushes."""
    hub = station.app.state.sse_hub
    for device_id, agent in pairs:
        assert wait_until(agent.has_manifest, 30), (agent.dir / "agent.out").read_text()
        if transport == "sse" and agent.station_url == station.url:
            assert wait_until(lambda d=device_id: hub.connected(d) > 0, 40)  # after a restart: its 1–30 s backoff
    time.sleep(1.0 if transport == "mqtt" else 0.2)  # MQTT: the subscription (no ack visible from here)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _first(agent: AgentProc, kind: str, after: datetime, seconds: float = 10.0, **match) -> dict | None:
    wait_until(lambda: agent.events(kind, after, **match), seconds)
    found = agent.events(kind, after, **match)
    return found[0] if found else None


def _delay(event: dict | None, since: datetime) -> float:
    assert event is not None, "nothing happened"
    return (parse_time(event["at"]) - since).total_seconds()


def _station_plays(engine, device_id: int) -> list:
    from sqlmodel import select

    from broadcaster.station.models import PlayRecordRow
    from loa.db import session_scope

    with session_scope(engine) as s:
        return list(s.exec(select(PlayRecordRow).where(PlayRecordRow.device_id == device_id)
                           .order_by(PlayRecordRow.seq)))


def _emergency(cadre, world, item, villages) -> int:
    r = cadre.post(f"/api/v1/communes/{world.a}/emergencies", json={
        "title": "Cảnh báo lũ quét", "programme": [{"type": "item", "content_id": item}], "villages": villages,
        "repeat": None})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _check_interrupted(agent: AgentProc, started: dict, stopped: dict, reason: str) -> dict:
    """The agent's own proof of play: interrupted, with the seconds that aired as its sink saw them."""
    # the sink stops first, then the player appends the record: give the append a moment
    assert wait_until(lambda: any(r["play_id"] == started["play_id"] for r in agent.plays()), 2)
    records = [r for r in agent.plays() if r["play_id"] == started["play_id"]]
    assert len(records) == 1, records
    rec = records[0]
    assert rec["result"] == "interrupted" and rec["reason"] == reason, rec
    assert rec["actual_start"] == started["at"] and rec["actual_end"] == stopped["at"], (rec, started, stopped)
    return rec


def test_start_cancel_mute_volume_and_a_stopped_schedule_reach_every_sink(
        tmp_path, station, transport, world, long_facts, clock, engine, agents):
    item = make_item(engine, world, long_facts, clock, status="approved")
    with _cadre(station, world) as cadre:
        targeted = [_enroll(station, cadre, world, agents, tmp_path, world.village_a) for _ in range(2)]
        bystander = _enroll(station, cadre, world, agents, tmp_path, world.village_a2)
        _ready(station, targeted + [bystander], transport)

        # -- an emergency "until I stop": on air everywhere within 1.5 s ------------------------------------
        t0 = _now()
        emergency_id = _emergency(cadre, world, item, [world.village_a])
        print("POST took", (_now() - t0).total_seconds())
        starts = {d: _first(a, "start", t0, priority="emergency") for d, a in targeted}
        print("starts", [(_delay(e, t0)) for e in starts.values()])
        assert max(_delay(e, t0) for e in starts.values()) <= START_WITHIN, starts
        time.sleep(3.0)

        # -- cancel: every targeted sink stops within 2 s, the play is logged with the seconds aired --------
        t1 = _now()
        r = cadre.post(f"/api/v1/emergencies/{emergency_id}/cancel")
        assert r.status_code == 200, r.text
        for device_id, agent in targeted:
            stop = _first(agent, "stop", t1, play_id=starts[device_id]["play_id"])
            assert _delay(stop, t1) <= STOP_WITHIN, (transport, stop)
            rec = _check_interrupted(agent, starts[device_id], stop, "cancelled")
            aired = (parse_time(rec["actual_end"]) - parse_time(rec["actual_start"])).total_seconds()
            assert 3.0 <= aired < 10.0
            # ... and the station has that record at once (not at the next 5-minute beat)
            assert wait_until(lambda r=rec, d=device_id: any(p.play_id == r["play_id"] and p.result == "interrupted"
                                                          for p in _station_plays(engine, d)), 3.0)
        command = station.app.state.commander.sent[-1]["command"]
        assert command["action"] == "stop" and command["source"] == f"e{emergency_id}"
        # the bystander village was not targeted: it never aired it and did not take the command's seq
        _, other = bystander
        assert other.events("start", t0, priority="emergency") == []
        assert other.floor() < command["seq"]
        time.sleep(2.0)  # the repetitions are gone too
        for _, agent in targeted:
            assert agent.events("start", t1, priority="emergency") == []
            assert wait_until(lambda a=agent: a.floor() >= command["seq"], 5)

        # -- a schedule on air: volume follows, then the schedule is stopped mid-play --------------------------
        now = _now()
        rule = schedule(engine, world, [item], now + timedelta(seconds=2), title="Bản tin trưa")
        station.app.state.schedules.materialize_commune(world.a, now)
        starts = {d: _first(a, "start", now, 15, priority="normal") for d, a in targeted}
        assert all(starts.values()), starts
        time.sleep(1.0)
        device_id, agent = targeted[0]
        t2 = _now()
        r = cadre.put(f"/api/v1/devices/{device_id}/sound", json={"volume": 30})
        assert r.status_code == 200, r.text
        vol = _first(agent, "volume", t2)
        assert _delay(vol, t2) <= STOP_WITHIN and vol["volume"] == 30
        t3 = _now()
        r = cadre.delete(f"/api/v1/schedules/{rule}")
        assert r.status_code == 204, r.text
        for device_id, agent in targeted:
            stop = _first(agent, "stop", t3, play_id=starts[device_id]["play_id"])
            assert _delay(stop, t3) <= STOP_WITHIN, (transport, stop)
            _check_interrupted(agent, starts[device_id], stop, "cancelled")

        # -- mute: the item on air goes silent within 2 s ---------------------------------------------------------
        now = _now()
        rule = schedule(engine, world, [item], now + timedelta(seconds=2), title="Bản tin chiều")
        station.app.state.schedules.materialize_commune(world.a, now)
        device_id, agent = targeted[1]
        start = _first(agent, "start", now, 15, priority="normal")
        assert start is not None
        time.sleep(1.0)
        t4 = _now()
        r = cadre.put(f"/api/v1/devices/{device_id}/sound", json={"muted": True})
        assert r.status_code == 200, r.text
        stop = _first(agent, "stop", t4, play_id=start["play_id"])
        assert _delay(stop, t4) <= STOP_WITHIN, (transport, stop)
        _check_interrupted(agent, start, stop, "muted")
        # the other loudspeaker of the village was not muted: it plays on
        other_id, other_agent = targeted[0]
        assert other_agent.events("stop", t4) == []


# The cut link is the agent's HTTP and SSE link (MQTT is covered by the scenario test): SSE only, by
# parametrization rather than a skip, since CI fails on every skip.
@pytest.mark.parametrize("transport", ["sse"])
def test_link_down_at_the_stop_stops_at_next_contact_and_says_when(
        tmp_path, station, transport, world, long_facts, clock, engine, agents):
    item = make_item(engine, world, long_facts, clock, status="approved")
    link = Attacker(station.url)
    try:
        with _cadre(station, world) as cadre:
            device_id, agent = _enroll(station, cadre, world, agents, tmp_path, world.village_a, url=link.url)
            _ready(station, [(device_id, agent)], transport)
            assert wait_until(lambda: station.app.state.sse_hub.connected(device_id) > 0, 15)
            t0 = _now()
            emergency_id = _emergency(cadre, world, item, [world.village_a])
            start = _first(agent, "start", t0, priority="emergency")
            assert start is not None
            link.down.set()  # 3G gone
            assert wait_until(lambda: station.app.state.sse_hub.connected(device_id) == 0, 10)
            t1 = _now()
            assert cadre.post(f"/api/v1/emergencies/{emergency_id}/cancel").status_code == 200
            time.sleep(2.5)
            assert agent.events("stop", t1) == []  # it cannot know yet
            back = _now()
            link.down.clear()
            stop = _first(agent, "stop", back, 40, play_id=start["play_id"])
            (tmp_path / "link.log").write_text("\n".join(f"{t - time.time():.1f} {a} {b}" for t, a, b in link.log)
                                               + f"\nback={back} t1={t1}")
            assert stop is not None, ("the agent did not stop once the link was back", agent.sink()[-4:],
                                      (agent.dir / "agent.out").read_text()[-2000:], link.log[-20:])
            rec = _check_interrupted(agent, start, stop, "cancelled")
            assert parse_time(rec["actual_end"]) >= back  # when it really stopped, not when the cadre tapped
            assert wait_until(lambda: any(p.play_id == rec["play_id"] and p.result == "interrupted"
                                          for p in _station_plays(engine, device_id)), 10)
    finally:
        link.close()


@pytest.mark.parametrize("transport", ["sse"])  # the attacker sits on the HTTP link: one transport is enough
def test_a_replayed_manifest_from_the_emergency_is_refused_and_not_aired(
        tmp_path, station, transport, world, long_facts, clock, engine, agents):
    item = make_item(engine, world, long_facts, clock, status="approved")
    mitm = Attacker(station.url)
    try:
        with _cadre(station, world) as cadre:
            device_id, agent = _enroll(station, cadre, world, agents, tmp_path, world.village_a, url=mitm.url)
            _ready(station, [(device_id, agent)], transport)
            assert wait_until(lambda: station.app.state.sse_hub.connected(device_id) > 0, 15)
            t0 = _now()
            emergency_id = _emergency(cadre, world, item, [world.village_a])
            assert _first(agent, "start", t0, priority="emergency") is not None
            # the attacker captures the real signed manifest on the wire during the emergency
            token = agent.creds()["token"]
            captured = httpx.get(f"{mitm.url}{DEV}/manifest", headers={"Authorization": f"Bearer {token}"})
            assert captured.status_code == 200 and json.loads(captured.content)["manifest"]["emergency"]
            t1 = _now()
            assert cadre.post(f"/api/v1/emergencies/{emergency_id}/cancel").status_code == 200
            assert _first(agent, "stop", t1) is not None
            time.sleep(1.0)
            # ... and replays it after the cancel, with a forged nudge so the agent fetches it now
            mitm.replay = captured.content
            t2 = _now()
            mitm.forge_nudge()
            assert wait_until(lambda: any(e.get("code") == "manifest_replayed" for hb in mitm.heartbeats
                                          for e in hb.get("events", [])), 15), mitm.heartbeats[-3:]
            time.sleep(2.0)
            assert agent.events("start", t2) == [], agent.sink()[-3:]
            assert not any(r["result"] == "played" and r["priority"] == "emergency" for r in agent.plays())
    finally:
        mitm.close()


def test_station_and_agent_restart_between_start_and_stop(
        tmp_path, station, transport, world, long_facts, clock, engine, agents):
    item = make_item(engine, world, long_facts, clock, status="approved")
    with _cadre(station, world) as cadre:
        targeted = [_enroll(station, cadre, world, agents, tmp_path, world.village_a) for _ in range(2)]
        _ready(station, targeted, transport)
        t0 = _now()
        emergency_id = _emergency(cadre, world, item, [world.village_a])
        for _, agent in targeted:
            assert _first(agent, "start", t0, priority="emergency") is not None
        station.restart()  # the station goes away and comes back (same database, same port)
        restarted_id, restarted = targeted[1]
        restarted.stop(kill=True)  # the box loses power mid-emergency ...
        restarted.start()          # ... and comes back: it resumes the emergency from its cache
        t_back = _now()
        assert _first(restarted, "start", t_back, 30, priority="emergency") is not None
    _ready(station, targeted, transport)
    with _cadre(station, world) as cadre:
        playing = {d: a.events("start", t0, priority="emergency")[-1] for d, a in targeted}
        t1 = _now()
        assert cadre.post(f"/api/v1/emergencies/{emergency_id}/cancel").status_code == 200
        for device_id, agent in targeted:
            stop = _first(agent, "stop", t1, play_id=playing[device_id]["play_id"])
            assert _delay(stop, t1) <= STOP_WITHIN, (transport, stop)
        seq = station.app.state.commander.sent[-1]["command"]["seq"]
    for _, agent in targeted:  # the floor is on disk: a restart does not lower it
        assert wait_until(lambda a=agent: a.floor() >= seq, 5)
    restarted.stop()
    restarted.start()
    assert wait_until(lambda: (restarted.dir / "agent.out").exists(), 5)
    time.sleep(3.0)
    assert restarted.floor() >= seq
    assert restarted.events("start", t1, priority="emergency") == []


def test_a_schedule_edited_while_on_air_is_cut_where_it_no_longer_plays(
        tmp_path, station, transport, world, long_facts, clock, engine, agents):
    """PUT, not DELETE: the village taken out of a schedule whose play is on air goes silent within 2 s (a
    signed stop for that rule and those loudspeakers), while a title-only edit cuts nothing."""
    item = make_item(engine, world, long_facts, clock, status="approved")
    with _cadre(station, world) as cadre:
        kept = _enroll(station, cadre, world, agents, tmp_path, world.village_a)
        dropped = _enroll(station, cadre, world, agents, tmp_path, world.village_a2)
        _ready(station, [kept, dropped], transport)
        at = (_now() + timedelta(seconds=3)).replace(microsecond=0)
        body = {"title": "Bản tin trưa", "at": at.isoformat(), "programme": [{"type": "item", "content_id": item}],
                "targets": {"villages": [world.village_a, world.village_a2]}}
        r = cadre.post(f"/api/v1/communes/{world.a}/schedules", json=body)
        assert r.status_code == 201, r.text
        rule = r.json()["schedule"]["id"]
        starts = {d: _first(a, "start", at - timedelta(seconds=1), 15, priority="normal") for d, a in (kept, dropped)}
        assert all(starts.values()), starts
        time.sleep(1.0)
        sent = len(station.app.state.commander.sent)
        t1 = _now()
        r = cadre.put(f"/api/v1/schedules/{rule}", json={**body, "title": "Bản tin trưa (sửa tên)"})
        assert r.status_code == 200, r.text
        time.sleep(STOP_WITHIN + 0.5)
        assert len(station.app.state.commander.sent) == sent  # nothing to cut
        assert kept[1].events("stop", t1) == [] and dropped[1].events("stop", t1) == []

        t2 = _now()
        r = cadre.put(f"/api/v1/schedules/{rule}", json={**body, "targets": {"villages": [world.village_a]}})
        assert r.status_code == 200, r.text
        device_id, agent = dropped
        stop = _first(agent, "stop", t2, play_id=starts[device_id]["play_id"])
        assert _delay(stop, t2) <= STOP_WITHIN, (transport, stop)
        _check_interrupted(agent, starts[device_id], stop, "cancelled")
        command = station.app.state.commander.sent[-1]["command"]
        assert command["action"] == "stop" and command["source"] == f"s{rule}"
        time.sleep(1.0)
        assert kept[1].events("stop", t2) == []  # the village still targeted plays on


def test_an_approved_emergency_message_is_held_ahead_and_airs_without_a_download(
        tmp_path, station, transport, settings, world, long_facts, clock, engine, agents):
    """§4b with real agents: the approved emergency message is on every box before any emergency (standby), so
    the emergency airs on the signed command alone, even when the station could no longer serve the file."""
    from content.store import AudioStore

    item = make_item(engine, world, long_facts, clock, status="approved", kind="emergency", title="Lũ quét")
    sha = long_facts.sha256
    with _cadre(station, world) as cadre:
        targeted = [_enroll(station, cadre, world, agents, tmp_path, world.village_a) for _ in range(2)]
        _ready(station, targeted, transport)
        for _, agent in targeted:  # downloaded in the background, verified, kept
            assert wait_until(lambda a=agent: (a.dir / "audio" / sha).exists(), 30), (agent.dir / "agent.out").read_text()
        AudioStore(settings.audio_dir).path_for(sha).unlink()  # from now on no device could download it
        t0 = _now()
        emergency_id = _emergency(cadre, world, item, [world.village_a])
        for _, agent in targeted:
            start = _first(agent, "start", t0, priority="emergency")
            assert _delay(start, t0) <= START_WITHIN, (transport, start)
            assert start["sha256"] == sha
        t1 = _now()
        assert cadre.post(f"/api/v1/emergencies/{emergency_id}/cancel").status_code == 200
        for _, agent in targeted:
            assert _delay(_first(agent, "stop", t1), t1) <= STOP_WITHIN


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the stop is the box's own: one database and
@pytest.mark.parametrize("transport", ["sse"])                    # one transport are enough
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_box_stopped_mid_emergency_stops_its_sound_and_reports_the_cut(
        tmp_path, station, transport, how, world, long_facts, clock, engine, agents):
    """Ctrl+C at the box's console (SIGINT) ends the agent as `systemctl stop` (SIGTERM) does: the player stops
    the sound it is playing, and the play it cut is in the box's proof of play as interrupted by the agent's own
    stop (the station hears what aired). SIGINT used to raise KeyboardInterrupt out of the agent's loop, which
    returned without waiting for the player: the sound went on (when only the agent got the signal) and the cut
    play was never logged."""
    import signal

    item = make_item(engine, world, long_facts, clock, status="approved")
    with _cadre(station, world) as cadre:
        pair = _enroll(station, cadre, world, agents, tmp_path, world.village_a)
        _ready(station, [pair], transport)
        t0 = _now()
        _emergency(cadre, world, item, [world.village_a])
    agent = pair[1]
    started = _first(agent, "start", t0, priority="emergency")
    assert started is not None, agent.sink()[-3:]
    time.sleep(1.0)  # on air for a moment
    assert agent.proc is not None
    agent.proc.send_signal(getattr(signal, how))  # the agent alone, as `kill -INT` / `kill` would
    agent.proc.wait(15)
    assert agent.proc.returncode == 0, agent.output()[-2000:]
    stopped = _first(agent, "stop", t0, 1.0, play_id=started["play_id"])
    assert stopped is not None, (agent.sink()[-3:], agent.output()[-2000:])
    _check_interrupted(agent, started, stopped, "agent_stopped")
