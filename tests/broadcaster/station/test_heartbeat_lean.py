"""The heartbeat as §6 now says (real agent, real station over HTTP): 204 with the manifest version in a header,
a full beat first and lean beats after, the station keeping what a lean beat left out, a status change beating
at once, the heartbeat reply standing in for the periodic manifest poll, and the offline threshold = 3 beats."""
from __future__ import annotations

import json
from datetime import timedelta

from broadcaster.agent import runner
from tests.broadcaster.station.device_rig import enroll_by_code, schedule
from tests.broadcaster.station.test_agents_live import _cadre, _fleet, clock, live, service  # noqa: F401 (fixtures)
from tests.station_rig import make_item


class Spy:
    """Records what the agent sent to /heartbeat and the station's reply status."""

    def __init__(self, client) -> None:
        self.client, self.beats = client, []
        original = client.request

        def request(method, path, **kw):
            response = original(method, path, **kw)
            if path.endswith("/heartbeat"):
                self.beats.append((kw.get("json_body"), response.status_code, dict(response.headers)))
            return response

        client.request = request


def test_lean_beats_status_change_and_version_header(tmp_path, live, service, world, facts, clock, engine):
    item = make_item(engine, world, facts, clock, status="approved")
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
    schedule(engine, world, [item], clock() + timedelta(minutes=30), rrule="FREQ=HOURLY")
    service.materialize_commune(world.a, clock())
    fleet = _fleet(tmp_path, live, [creds], clock)
    agent = fleet.agents[0]
    spy = Spy(agent.client)
    assert agent.heartbeat_every == runner.HEARTBEAT_EVERY_S == 300
    assert live.app.state.settings.device_offline_after_s == 3 * runner.HEARTBEAT_EVERY_S

    t = 0.0
    assert agent.network_step(t)  # first: sync + a full beat
    body, status, headers = spy.beats[-1]
    assert status == 204 and headers["x-loa-manifest-version"] == agent.manifest.version
    assert {"cache", "disk_free_bytes", "agent_version", "playlog", "uptime_s"} <= set(body)
    full_size = len(json.dumps(body, separators=(",", ":")))

    assert not agent.network_step(t + 60)  # nothing due: no request at all (no 5-minute manifest poll)
    n = len(spy.beats)
    clock.advance(minutes=5)
    assert agent.network_step(t + 300)  # the next beat is lean: nothing changed
    body, status, _ = spy.beats[-1]
    assert len(spy.beats) == n + 1 and status == 204
    assert set(body) == {"sent_at", "manifest_version"}, body
    assert len(json.dumps(body, separators=(",", ":"))) < full_size / 4
    with _cadre(live, world) as cadre:
        st = cadre.get(f"/api/v1/devices/{device_id}/status").json()
    assert st["status"] == "online" and st["cache"]["files"] == 1 and st["disk_free_bytes"]  # kept from the 1st

    # the programme starts: a beat at once (not at the next 5-minute mark) saying what plays
    first = min(e.start for e in agent.manifest.entries)
    fleet.run_until(first + timedelta(seconds=0.5))
    assert agent.player.state.current is not None
    assert not agent.network_step(t + 305)  # at most one status beat per 10 s
    assert agent.network_step(t + 310)
    body, status, _ = spy.beats[-1]
    assert status == 204 and body["playing"]["play_id"] == agent.player.state.current.entry.play_id
    with _cadre(live, world) as cadre:
        assert cadre.get(f"/api/v1/devices/{device_id}/status").json()["status"] == "playing"

    # the station's manifest changes (volume): the next beat's header says so and the agent syncs at once
    with _cadre(live, world) as cadre:
        assert cadre.put(f"/api/v1/devices/{device_id}/sound", json={"volume": 35}).status_code == 200
    live.app.state.nudger.flush()
    old = agent.manifest.version
    assert agent.network_step(t + 3000)
    assert agent.manifest.version != old and agent.manifest.volume == 35
    fleet.close()
