"""The station's relay runner (broadcaster/station/relays.py) against the real timetable and the real stream hub:
it opens one mount per radio shortly before a scheduled relay, however many loudspeakers relay it, opens it
again when the radio died and came back, and closes it after the relay's end. Time is an argument."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from broadcaster.station.relays import LEAD, RelayRouting, RelayRunner, mount_name
from broadcaster.station.streams import StreamHub
from tests.broadcaster.helpers import tone_file
from tests.icecast import Feeder, Icecast


@pytest.fixture(scope="module")
def radio_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("radio") / "vov1.mp3"
    tone_file(path, 4.0, 600)
    return path


def _wait(cond, seconds: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not cond():
        time.sleep(0.1)
    return bool(cond())


def test_routing_of_relay_urls_by_setting():
    up = "https://stream.vov.vn/vov1.mp3"
    name = mount_name(up)
    assert name.startswith("relay-") and name == mount_name(f"  {up} ")
    assert RelayRouting().device_url(up) == f"/api/device/v1/streams/{name}"
    assert RelayRouting(icecast_listen_url="http://icecast:8000/").device_url(up) == f"http://icecast:8000/{name}"
    assert RelayRouting(via_station=False).device_url(up) == up
    segs = [{"kind": "item", "sha256": "a" * 64}, {"kind": "relay", "url": up}]
    assert RelayRouting().segments(segs) == [segs[0], {"kind": "relay", "url": f"/api/device/v1/streams/{name}"}]


def test_the_station_runs_its_relay_runner_at_the_configured_tick(settings, clock):
    """LOA_RELAY_RUNNER_INTERVAL_S: 5 s unless set (the live relay tests tick faster so as not to sit idle)."""
    from api.app import create_app

    assert create_app(settings, clock=clock).state.relay_runner.interval_s == 5.0
    fast = settings.model_copy(update={"relay_runner_interval_s": 0.5})
    assert create_app(fast, clock=clock).state.relay_runner.interval_s == 0.5


def test_runner_opens_one_mount_per_radio_at_its_hours_reopens_and_closes(client, engine, world, clock,
                                                                          radio_file):
    from schedules.service import ScheduleService
    from tests.broadcaster.station.device_rig import enroll_by_code
    from tests.broadcaster.station.test_relay_live import _relay_rule
    from tests.station_rig import no_quiet_hours

    for i in range(2):  # two loudspeakers relay the radio: one pull
        enroll_by_code(client, world, name=f"Cụm loa {i}")
    with Icecast() as ice:
        upstream = ice.url("/vov1.mp3")
        start = clock() + timedelta(hours=1)
        no_quiet_hours(engine, world.a)
        _relay_rule(engine, world, upstream, start, 600.0)
        ScheduleService(engine).materialize_commune(world.a, clock())
        hub = StreamHub(ffmpeg=_ffmpeg())
        runner = RelayRunner(engine, hub, clock, allowed_hosts=["127.0.0.1"])  # the test radio is local
        name = mount_name(upstream)
        try:
            assert runner.tick(start - LEAD - timedelta(seconds=1)) == ([], [])
            with Feeder(ice, "/vov1.mp3", radio_file):
                assert runner.tick(start - LEAD + timedelta(seconds=1)) == ([name], [])
                assert runner.tick(start) == ([], [])  # running: nothing to do
                assert hub.names() == [name]
                mount = hub.get(name)
                assert mount is not None and _wait(lambda: mount.last_input_at is not None, 15)
            # the radio went off air: the hub's pull ends; the next tick opens it again once the radio is back
            assert _wait(lambda: hub.get(name) is None, 30)
            with Feeder(ice, "/vov1.mp3", radio_file):
                assert runner.tick(start + timedelta(minutes=2)) == ([name], [])
                assert runner.reopened == 1
                assert runner.tick(start + timedelta(minutes=11)) == ([], [name])
                assert hub.get(name) is None
        finally:
            hub.close_all()


def _ffmpeg() -> str:
    from content.audio.ffmpeg import ffmpeg_exe

    return ffmpeg_exe()


def test_runner_never_opens_a_machine_of_the_stations_own_network(client, engine, world, clock):
    """The station opens relay URLs itself: one naming a private address (or a name that resolves to one) is not
    opened (LOA_RELAY_ALLOWED_HOSTS names exceptions); the loudspeakers then report the relay unreachable."""
    from schedules.service import ScheduleService
    from tests.broadcaster.station.device_rig import enroll_by_code
    from tests.broadcaster.station.test_relay_live import _relay_rule
    from tests.station_rig import no_quiet_hours

    enroll_by_code(client, world)
    no_quiet_hours(engine, world.a)
    start = clock() + timedelta(hours=1)
    inside = ["http://10.0.0.7:8000/admin", "http://localhost:5432/", "http://127.0.0.1:9/x"]
    for i, url in enumerate(inside):
        _relay_rule(engine, world, url, start + timedelta(minutes=20 * i), 60.0)
    ScheduleService(engine).materialize_commune(world.a, clock())
    hub = StreamHub(ffmpeg=_ffmpeg())
    runner = RelayRunner(engine, hub, clock)
    try:
        for i, url in enumerate(inside):
            assert runner.tick(start + timedelta(minutes=20 * i)) == ([], [])
            assert mount_name(url) in runner.refused and hub.names() == []
        assert "mạng nội bộ" in runner.refused[mount_name(inside[-1])]
        allowed = RelayRunner(engine, hub, clock, allowed_hosts=["127.0.0.1:9"])
        assert allowed._refusal(inside[-1]) == "" and allowed._refusal(inside[0]) != ""
    finally:
        hub.close_all()


def test_the_station_reads_the_radio_itself_and_refuses_every_hop_into_its_own_network():
    """relay_pull.py: the station's client reads the radio and feeds the mount; a redirect, a playlist's stream
    or an HLS segment pointing into the station's network ends the pull, as a "listen" would refuse it."""
    from broadcaster.station.relay_pull import RadioPull
    from tests.api.web.streamserver import RadioServer

    hub = StreamHub(ffmpeg=_ffmpeg())
    try:
        with RadioServer() as radio:
            mount = hub.open("relay-ok", source=None)
            heard = mount.listen_sync(timeout=15)
            pull = RadioPull(mount, f"{radio.base}/live.mp3", ["127.0.0.1"]).start()
            got = b""
            for chunk in heard:
                got += chunk
                if len(got) > 16_000:
                    break
            assert len(got) > 16_000 and mount.alive
            pull.stop()
            pull.thread.join(15)
            assert not pull.thread.is_alive() and not mount.alive
            for path in ("/to-internal", "/internal.pls", "/hls/inside.m3u8"):
                mount = hub.open("relay-inside", source=None)
                pull = RadioPull(mount, f"{radio.base}{path}", ["127.0.0.1"]).start()
                pull.thread.join(20)
                assert "mạng nội bộ" in pull.error, (path, pull.error)
                assert _wait(lambda m=mount: not m.alive, 10), path
    finally:
        hub.close_all()
