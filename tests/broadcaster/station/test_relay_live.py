"""Scheduled relays end to end, both ways (issue 15): a real Icecast carries "VOV1" (ffmpeg feeding a file),
the real station (uvicorn) schedules a relay of it, and a real agent on the wall clock plays it through the
agent's own ffmpeg sink.

- embedded: the manifest names the station's hub mount; the station pulls the radio once and the agent fetches
  the mount with its device token;
- icecast: the hub also pushes the mount to Icecast and the manifest names the Icecast URL.
Then the station shows what the agents reported: a relay whose radio is gone fails with its reason code."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from broadcaster.agent.clock import SystemClock
from broadcaster.agent.runner import Agent
from broadcaster.agent.state import AgentState
from broadcaster.station.relays import mount_name
from tests.broadcaster.helpers import tone_file
from tests.broadcaster.relaying import RecordingSink
from tests.broadcaster.station.device_rig import enroll_by_code
from tests.broadcaster.station.live import RealClock, start_station, wait_until
from tests.icecast import Feeder, Icecast


# The runner's tick (LOA_RELAY_RUNNER_INTERVAL_S, 5 s in production) bounds how early a relay may be scheduled
# and how soon a mount whose radio came back is opened again: at 1 s a relay can start a few seconds after its
# rule is written instead of ~15-18 s, with the same margin for the mount to be flowing before it starts.
TICK_S = 1.0
LEAD_S = 7  # from now to the relay's start: the rule written, the agent synced (~1 s), the mount flowing (~5 s)
# At scale the mount reaches Icecast ~8 s after the hub opens it (ffmpeg's first 32 kB to Icecast are ~4 s of
# MP3; production opens it 20 s ahead): a relay through Icecast is scheduled with that margin on top.
ICECAST_LEAD_S = 15


@pytest.fixture
def settings(settings):  # the test radio runs on this machine: let the station open 127.0.0.1 (urls.py)
    return settings.model_copy(update={"relay_allowed_hosts": "127.0.0.1", "relay_runner_interval_s": TICK_S})


@pytest.fixture
def clock():  # the world, the tokens and the station on the wall clock: the agent plays in real time
    return RealClock()


@pytest.fixture(scope="module")
def radio(tmp_path_factory):
    path = tmp_path_factory.mktemp("radio") / "vov1.mp3"
    tone_file(path, 5.0, 520)
    with Icecast() as ice, Feeder(ice, "/vov1.mp3", path, "mp3"):
        yield ice


def _relay_rule(engine, world, url: str, at: datetime, seconds: float) -> None:
    from loa.db import session_scope
    from schedules.tables import ScheduleRule

    with session_scope(engine) as s:
        s.add(ScheduleRule(commune_id=world.a, title="Tiếp âm VOV1", priority="normal", at=at,
                           target_villages=[world.village_a],
                           programme=[{"type": "relay", "url": url, "duration_s": seconds, "title": "VOV1"}],
                           created_at=at - timedelta(days=1), updated_at=at - timedelta(days=1)))


def _agent(tmp_path, station, creds, **kw) -> tuple[Agent, RecordingSink]:
    from content.audio.ffmpeg import ffmpeg_exe

    AgentState(tmp_path / "agent").save_credentials({**creds, "station_url": station.url})
    sink = RecordingSink(ffmpeg_exe(), tmp_path / "takes")
    return Agent(tmp_path / "agent", sink, clock=SystemClock(), heartbeat_every=2, **kw), sink


def _run(agent: Agent, until) -> None:  # noqa: ANN001
    stop = threading.Event()
    t = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    t.start()
    try:
        assert wait_until(until, 60)
        agent.upload_plays()
        agent.heartbeat()
    finally:
        stop.set()
        agent.wake.set()
        t.join(15)


@pytest.mark.parametrize("way", ["embedded", "icecast"])
def test_a_scheduled_relay_plays_on_the_loudspeaker_through_the_station(tmp_path, settings, engine, world, radio,
                                                                        way):
    from schedules.service import ScheduleService

    if way == "icecast":
        settings = settings.model_copy(update={
            "stream_icecast_source_url": f"icecast://source:{radio.source_password}@127.0.0.1:{radio.port}",
            "stream_icecast_listen_url": radio.base})
    station = start_station(settings, RealClock())
    try:
        with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
            _, creds = enroll_by_code(cadre, world)
        upstream = radio.url("/vov1.mp3")
        # the runner ticks every TICK_S and opens a mount up to 20 s ahead of its relay (LEAD): the mount is
        # open and flowing a few seconds before the relay starts
        lead = ICECAST_LEAD_S if way == "icecast" else LEAD_S
        start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=lead)
        _relay_rule(engine, world, upstream, start, 8.0)
        ScheduleService(engine).materialize_commune(world.a, datetime.now(timezone.utc))
        agent, sink = _agent(tmp_path, station, creds)
        agent.sync()
        [relay] = [e for e in agent.manifest.entries if e.kind == "relay"]
        name = mount_name(upstream)
        if way == "embedded":
            assert relay.url == f"/api/device/v1/streams/{name}"
        else:
            assert relay.url == f"{radio.base}/{name}"
        _run(agent, lambda: agent.playlog.records())
        hub = station.app.state.streams
        if way == "icecast":  # the hub pushed the relay to Icecast: one source there, fed by the station
            assert name not in hub.names() or f"/{name}" in radio.mounts()
    finally:
        station.stop()
    [record] = agent.playlog.records()
    assert record["result"] == "played", record
    takes = sink.of(relay.play_id)
    assert sum(t.loud_seconds() for t in takes) >= 6.0, [(t.seconds(), t.loud_seconds()) for t in takes]
    assert abs((takes[0].started - start).total_seconds()) < 1.5


def test_a_relay_of_a_dead_radio_is_retried_then_fails_and_the_station_shows_why(tmp_path, settings, engine, world,
                                                                                  radio):
    from sqlmodel import select

    from broadcaster.station.models import DeviceAlert, PlayRecordRow
    from loa.db import session_scope
    from schedules.service import ScheduleService

    # the production tick: at 1 s the runner would open (and the hub spawn ffmpeg for) the dead mount each second
    station = start_station(settings.model_copy(update={"relay_runner_interval_s": 5.0}), RealClock())
    try:
        with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
            device_id, creds = enroll_by_code(cadre, world)
        # nothing to wait for but the agent's sync: the relay fails on the agent's side whatever the runner does
        start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=5)
        _relay_rule(engine, world, radio.url("/off-air.mp3"), start, 60.0)  # nobody feeds this mount
        ScheduleService(engine).materialize_commune(world.a, datetime.now(timezone.utc))
        agent, sink = _agent(tmp_path, station, creds, relay_retry_s=4)
        agent.sync()
        _run(agent, lambda: agent.playlog.records())
    finally:
        station.stop()
    [record] = agent.playlog.records()
    assert record["result"] == "failed" and record["reason"].startswith("relay_unreachable:"), record
    with session_scope(engine) as s:
        [row] = s.exec(select(PlayRecordRow).where(PlayRecordRow.device_id == device_id)).all()
        assert row.result == "failed" and row.reason.startswith("relay_unreachable")
        kinds = {a.kind for a in s.exec(select(DeviceAlert).where(DeviceAlert.device_id == device_id))}
    assert "relay_unreachable" in kinds, kinds


def test_the_station_relays_ogg_aac_and_hls_radios_to_the_loudspeaker(tmp_path, settings, engine, world, radio):
    """The embedded hub takes every kind of radio (Ogg/Vorbis, AAC in ADTS from Icecast; HLS from a web server)
    and hands the loudspeaker MP3: three relays back to back, one agent on the wall clock."""
    from schedules.service import ScheduleService
    from tests.icecast import HlsStream

    tone = tmp_path / "tone.mp3"
    tone_file(tone, 5.0, 480)
    station = start_station(settings, RealClock())
    try:
        with Feeder(radio, "/vov2.ogg", tone, "ogg"), Feeder(radio, "/vov3.aac", tone, "aac"), \
                HlsStream(tone) as hls:
            with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
                _, creds = enroll_by_code(cadre, world)
            first = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=LEAD_S)
            upstreams = [radio.url("/vov2.ogg"), radio.url("/vov3.aac"), hls.url]
            for i, url in enumerate(upstreams):
                _relay_rule(engine, world, url, first + timedelta(seconds=9 * i), 6.0)
            ScheduleService(engine).materialize_commune(world.a, datetime.now(timezone.utc))
            agent, sink = _agent(tmp_path, station, creds)
            agent.sync()
            relays = sorted((e for e in agent.manifest.entries if e.kind == "relay"), key=lambda e: e.start)
            assert [e.url for e in relays] == [f"/api/device/v1/streams/{mount_name(u)}" for u in upstreams]
            _run(agent, lambda: len(agent.playlog.records()) == 3)
    finally:
        station.stop()
    assert [r["result"] for r in agent.playlog.records()] == ["played"] * 3, agent.playlog.records()
    for e in relays:
        heard = sum(t.loud_seconds() for t in sink.of(e.play_id))
        assert heard >= 4.0, (e.url, heard)


def test_a_radio_that_dies_mid_relay_comes_back_through_the_station(tmp_path, settings, engine, world, radio):
    """The radio goes off air mid-relay: the station's mount ends, the loudspeaker retries within its budget, the
    station's runner opens the mount again once the radio is back, and the relay plays on to its end."""
    from schedules.service import ScheduleService

    tone = tmp_path / "tone.mp3"
    tone_file(tone, 5.0, 450)
    station = start_station(settings, RealClock())
    feeder = Feeder(radio, "/flaky.mp3", tone, "mp3").start()
    try:
        with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
            _, creds = enroll_by_code(cadre, world)
        start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=LEAD_S)
        _relay_rule(engine, world, radio.url("/flaky.mp3"), start, 35.0)
        ScheduleService(engine).materialize_commune(world.a, datetime.now(timezone.utc))
        agent, sink = _agent(tmp_path, station, creds, relay_retry_s=30)
        agent.sync()
        [relay] = [e for e in agent.manifest.entries if e.kind == "relay"]
        stop = threading.Event()
        t = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        t.start()
        try:
            assert wait_until(lambda: sum(x.loud_seconds() for x in sink.of(relay.play_id)) >= 4.0, 40)
            feeder.kill()  # off air without a goodbye
            assert wait_until(lambda: len(sink.of(relay.play_id)) >= 2, 20)  # the loudspeaker tries again
            feeder.start()
            assert wait_until(lambda: agent.playlog.records(), 60)
        finally:
            stop.set()
            agent.wake.set()
            t.join(15)
    finally:
        feeder.stop()
        station.stop()
    [record] = agent.playlog.records()
    assert record["result"] == "played", record
    takes = sink.of(relay.play_id)
    assert len(takes) >= 2 and sum(x.loud_seconds() for x in takes[1:]) >= 5.0, \
        [(x.seconds(), x.loud_seconds()) for x in takes]
    assert station.app.state.relay_runner.reopened >= 1
