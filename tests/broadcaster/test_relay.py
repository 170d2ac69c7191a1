"""The agent relaying a real radio: Debian's Icecast serving MP3, Ogg and AAC fed by ffmpeg, a live HLS stream,
and the agent's own ffmpeg sink recording what came out, on the real clock. A stream that cannot be reached or
dies is retried for the budget, then the fallback plays and the play log says why (broadcaster/agent/relay.py)."""
from __future__ import annotations

import pytest

from broadcaster.protocol.wire import parse_time
from tests.broadcaster.helpers import tone_file
from tests.broadcaster.relaying import Rig
from tests.icecast import Feeder, HlsStream, Icecast
from tests.ports import free_port


@pytest.fixture(scope="module")
def radio_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("radio") / "vov.mp3"
    tone_file(path, 5.0, 550)
    return path


@pytest.fixture(scope="module")
def icecast():
    with Icecast() as ice:
        yield ice


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "aac", "opus"])
def test_agent_relays_each_icecast_format_for_its_length(tmp_path, icecast, radio_file, fmt):
    with Feeder(icecast, f"/vov.{fmt}", radio_file, fmt):
        rig = Rig(tmp_path)
        rig.relay(icecast.url(f"/vov.{fmt}"), 3.0)
        assert rig.wait_for(lambda: rig.record("r1") is not None, 30)
        rig.close()
    rec = rig.record("r1")
    assert rec["result"] == "played", rec
    [take] = rig.sink.of("r1")
    assert 2.8 <= take.seconds() <= 3.3 and take.loud_seconds() >= 2.5, (take.seconds(), take.loud_seconds())
    assert rig.codes() == []


def test_agent_relays_a_live_hls_stream(tmp_path, radio_file):
    with HlsStream(radio_file) as hls:
        rig = Rig(tmp_path)
        rig.relay(hls.url, 3.0)
        assert rig.wait_for(lambda: rig.record("r1") is not None, 40)
        rig.close()
    assert rig.record("r1")["result"] == "played"
    [take] = rig.sink.of("r1")
    assert 2.8 <= take.seconds() <= 3.3 and take.loud_seconds() >= 2.5, (take.seconds(), take.loud_seconds())


@pytest.mark.parametrize("where", ["missing_mount", "closed_port"])
def test_unreachable_stream_is_retried_then_the_fallback_plays_and_it_is_reported(tmp_path, icecast, where):
    url = icecast.url("/no-such-radio.mp3") if where == "missing_mount" else f"http://127.0.0.1:{free_port()}/vov1"
    rig = Rig(tmp_path, budget_s=3.0)
    rig.relay(url, 60.0)
    assert rig.wait_for(lambda: rig.sink.of("fb"), 20), rig.events
    gave_up = rig.sink.of("fb")[0].started
    assert rig.wait_for(lambda: rig.sink.of("fb")[0].seconds() >= 1.0, 10)
    took = rig.close()
    rec = rig.record("r1")
    assert rec["result"] == "failed" and rec["reason"].startswith("relay_unreachable:"), rec
    attempts = rig.sink.of("r1")
    assert len(attempts) >= 3  # 1 + retries after 1 s and 2 s pauses
    # the budget is 3 s from the first attempt: gave up after it, well before the relay's own end
    waited = (gave_up - attempts[0].started).total_seconds()
    assert 3.0 <= waited <= 6.0, waited
    assert rig.codes()[0] == "relay_retry" and "relay_unreachable" in rig.codes()
    assert rig.sink.of("fb")[0].loud_seconds() >= 0.8  # the fallback really sounded
    assert took < 2.0


def test_stream_dies_mid_way_comes_back_and_the_relay_resumes(tmp_path, icecast, radio_file):
    feeder = Feeder(icecast, "/flaky.mp3", radio_file, "mp3").start()
    try:
        rig = Rig(tmp_path, budget_s=10.0, read_timeout_s=1.0)
        rig.relay(icecast.url("/flaky.mp3"), 24.0)
        assert rig.wait_for(lambda: rig.sink.of("r1") and rig.sink.of("r1")[0].loud_seconds() >= 3.0, 15)
        feeder.kill()  # the radio station goes off air without a goodbye
        assert rig.wait_for(lambda: "relay_retry" in rig.codes(), 10)
        feeder.start()  # and is back a few seconds later
        assert rig.wait_for(lambda: "relay_resumed" in rig.codes(), 15), rig.events
        assert rig.wait_for(lambda: rig.record("r1") is not None, 30)
        rig.close()
    finally:
        feeder.stop()
    assert rig.record("r1")["result"] == "played", rig.record("r1")
    takes = rig.sink.of("r1")
    relay_end = parse_time(rig.record("r1")["actual_end"])
    assert len(takes) >= 2 and all(t.started >= relay_end for t in rig.sink.of("fb"))  # no fallback mid-relay
    assert sum(t.loud_seconds() for t in takes) >= 12.0


def test_stream_dies_for_good_then_the_fallback_plays_and_the_loss_is_reported(tmp_path, icecast, radio_file):
    feeder = Feeder(icecast, "/dies.mp3", radio_file, "mp3").start()
    rig = Rig(tmp_path, budget_s=3.0, read_timeout_s=1.0)
    rig.relay(icecast.url("/dies.mp3"), 60.0)
    assert rig.wait_for(lambda: rig.sink.of("r1") and rig.sink.of("r1")[0].loud_seconds() >= 3.0, 15)
    feeder.kill()
    assert rig.wait_for(lambda: rig.sink.of("fb"), 20), rig.events
    rig.close()
    rec = rig.record("r1")
    assert rec["result"] == "failed" and rec["reason"].startswith("relay_lost:"), rec
    assert rig.codes()[0] == "relay_retry" and rig.codes()[-1] == "relay_lost"


def test_stop_is_quick_while_relaying_and_while_waiting_to_retry(tmp_path, icecast, radio_file):
    with Feeder(icecast, "/stop.mp3", radio_file, "mp3"):
        rig = Rig(tmp_path / "a")
        rig.relay(icecast.url("/stop.mp3"), 60.0)
        assert rig.wait_for(lambda: rig.sink.of("r1") and rig.sink.of("r1")[0].loud_seconds() >= 1.0, 15)
        assert rig.close() < 2.0
    rig = Rig(tmp_path / "b", budget_s=30.0)
    rig.relay(f"http://127.0.0.1:{free_port()}/gone", 60.0)
    assert rig.wait_for(lambda: "relay_retry" in rig.codes(), 10)
    assert rig.close() < 2.0
    assert rig.sink._proc is None  # nothing left running


def test_a_station_mount_is_fetched_by_the_agent_and_piped_to_ffmpeg_and_stops_quickly(tmp_path):
    """A relay URL that is a station path: the agent's own HTTP client opens it (token, TLS trust) and pumps the
    bytes into ffmpeg; a 404 is the failure's reason; stopping mid-stream takes well under 2 s."""
    import time
    from datetime import datetime, timezone

    from broadcaster.agent.client import StationClient
    from broadcaster.agent.sinks import SinkItem
    from content.audio.ffmpeg import ffmpeg_exe
    from tests.broadcaster.relaying import RecordingSink
    from tests.api.web.streamserver import RadioServer

    with RadioServer() as radio:
        client = StationClient(radio.base, "device-token", retries=0)
        sink = RecordingSink(ffmpeg_exe(), tmp_path / "takes")
        now = datetime.now(timezone.utc)
        item = SinkItem("r1", "relay", "/live.mp3", 30.0, 100, feed=lambda rt: client.open_stream("/live.mp3", rt))
        assert "pipe:0" in sink.command(item) and "/live.mp3" not in " ".join(sink.command(item))
        sink.start(item, now)
        deadline = time.monotonic() + 15
        while sink.takes[0].loud_seconds() < 1.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sink.poll(now).state == "playing" and sink.takes[0].loud_seconds() >= 1.5
        t = time.monotonic()
        proc = sink._proc
        sink.stop(now)
        assert time.monotonic() - t < 2.0 and proc.poll() is not None
        missing = SinkItem("r2", "relay", "/missing", 30.0, 100, feed=lambda rt: client.open_stream("/missing", rt))
        sink.start(missing, now)
        sink.wait(15)
        status = sink.poll(now)
        assert status.state == "failed" and status.detail.startswith("stream:") and "404" in status.detail, status
        client.close()
