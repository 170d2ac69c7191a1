"""The stream hub with real ffmpeg: live bytes in (WebM/Opus as a browser sends them) or an upstream URL pulled
once, levelled MP3 out to every listener from "now"."""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from broadcaster.station.streams import MountClosed, MountExists, StreamHub
from content.audio.ffmpeg import ffmpeg_exe
from tests.broadcaster.fileserver import FileServer
from tests.broadcaster.station.streams.audio import decode, speech_webm, window_loudness


@pytest.fixture
def hub():
    h = StreamHub(ffmpeg=ffmpeg_exe())
    yield h
    h.close_all()


def _feed_all(mount, data: bytes, chunk: int = 4000) -> None:
    for i in range(0, len(data), chunk):
        mount.feed(data[i:i + chunk])


def _record(mount, into: list[bytes], timeout: float = 10.0) -> threading.Thread:
    t = threading.Thread(target=lambda: into.extend(mount.listen_sync(timeout)), daemon=True)
    t.start()
    time.sleep(0.2)  # registered before the first byte is fed
    return t


@pytest.mark.parametrize("name", ["loud", "quiet"])
def test_live_input_is_levelled_to_minus_16_lufs_in_every_30_s_window(hub, name):
    mount = hub.open(f"live-{name}", source=None)
    got: list[bytes] = []
    t = _record(mount, got)
    _feed_all(mount, speech_webm(name))
    mount.close(grace_s=20)
    t.join(20)
    x = decode(b"".join(got))
    assert len(x) / 44100 > 60
    windows = window_loudness(x)
    assert windows and all(-18.0 <= w <= -14.0 for w in windows), windows
    assert np.abs(x).max() < 0.95  # the limiter: a shout does not clip


def test_levelling_can_be_turned_off(hub):
    mount = hub.open("raw", source=None, level=False)
    got: list[bytes] = []
    t = _record(mount, got)
    _feed_all(mount, speech_webm("quiet"))
    mount.close(grace_s=20)
    t.join(20)
    assert max(window_loudness(decode(b"".join(got)))) < -30  # the quiet input stays quiet


def test_a_url_source_is_pulled_once_and_fanned_out(hub, tmp_path):
    (tmp_path / "radio.webm").write_bytes(speech_webm("quiet", 8.0))
    server = FileServer(tmp_path)
    try:
        mount = hub.open("relay", source=f"{server.url}/radio.webm")
        a: list[bytes] = []
        b: list[bytes] = []
        ta, tb = _record(mount, a), _record(mount, b)
        ta.join(30)
        tb.join(30)
        assert len([r for r in server.requests if r[0].endswith("radio.webm")]) == 1
        assert len(decode(b"".join(a))) / 44100 > 6 and len(decode(b"".join(b))) / 44100 > 6
        assert not mount.alive and mount.error is None  # the upstream ended: the mount ends cleanly
    finally:
        server.close()


def test_a_late_listener_starts_from_now(hub):
    mount = hub.open("now", source=None)
    data = speech_webm("loud", 20.0)
    first: list[bytes] = []
    t1 = _record(mount, first)
    _feed_all(mount, data[: len(data) // 2])
    deadline = time.monotonic() + 10
    while mount.bytes_out < 40_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    late: list[bytes] = []
    t2 = _record(mount, late)
    _feed_all(mount, data[len(data) // 2:])
    mount.close(grace_s=10)
    t1.join(10)
    t2.join(10)
    assert len(b"".join(late)) < len(b"".join(first)) - 30_000  # no replay of what was already played
    assert len(decode(b"".join(late))) > 0


def test_a_listener_that_does_not_read_is_dropped_not_buffered(hub):
    mount = hub.open("slow", source=None)

    async def stalled() -> None:
        it = mount.listen().__aiter__()
        first = asyncio.ensure_future(it.__anext__())  # registers the listener, then reads one chunk only
        await asyncio.sleep(0.3)
        _feed_all(mount, speech_webm("loud", 65.0))
        deadline = time.monotonic() + 15
        while (mount.listeners or mount.alive and mount.bytes_out < 300_000) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # never reading further while ffmpeg produces far more than the bound
        await first

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(stalled())
        assert mount.listeners == 0
        assert mount.alive  # the mount goes on for the others
    finally:
        mount.close()
        loop.close()


def test_feed_after_ffmpeg_failed_is_refused_with_the_reason(hub):
    mount = hub.open("junk", source=None)
    with pytest.raises(MountClosed):
        for _ in range(200):
            mount.feed(b"this is not audio " * 2000)
            time.sleep(0.02)
    assert not mount.alive


def test_names_are_checked_and_unique_while_alive(hub):
    with pytest.raises(ValueError):
        hub.open("../etc", source=None)
    m = hub.open("one", source=None)
    with pytest.raises(MountExists):
        hub.open("one", source=None)
    m.close()
    assert hub.get("one") is None
    hub.open("one", source=None)  # a closed name can be reused
    assert hub.url_for("one") == "/api/device/v1/streams/one"


def test_at_scale_a_live_mount_is_pushed_to_icecast_and_levelled_there(tmp_path):
    """Icecast mode: the hub's ffmpeg is a source client of the real icecast2; a listener of the Icecast mount
    hears the phone's speech, levelled, and url_for names that mount."""
    import httpx

    from broadcaster.station.streams import IcecastTarget
    from tests.icecast import Icecast

    with Icecast() as ice:
        hub = StreamHub(ffmpeg=ffmpeg_exe(), icecast=IcecastTarget(
            f"icecast://source:{ice.source_password}@127.0.0.1:{ice.port}", ice.base))
        try:
            mount = hub.open("live-9", source=None)
            assert hub.url_for("live-9") == ice.url("live-9")
            data = speech_webm("quiet", 40.0)
            got = bytearray()

            def listen() -> None:
                ice.wait_mount("/live-9")
                with httpx.stream("GET", ice.url("live-9"), timeout=10) as r:
                    for chunk in r.iter_raw():
                        got.extend(chunk)

            feeder = threading.Thread(target=lambda: [(mount.feed(data[i:i + 1000]), time.sleep(0.025))
                                                      for i in range(0, len(data), 1000)], daemon=True)
            feeder.start()  # ~40 kB/s: about 4x real time, Icecast passes it through
            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            feeder.join(30)
            mount.close(grace_s=10)
            listener.join(15)
            x = decode(bytes(got))
            assert len(x) / 44100 > 5
            assert -20.0 <= window_loudness(x, window_s=min(30.0, len(x) / 44100 - 0.5))[0] <= -12.0
        finally:
            hub.close_all()
