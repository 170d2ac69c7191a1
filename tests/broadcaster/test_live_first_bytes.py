"""A loudspeaker joining a live session waits for the phone's first slice (the station opens the session at
once; the phone may take seconds to open its microphone or upload over 3G), and once the stream has begun, a
silent link is still a lost link within LIVE_READ_TIMEOUT_S. The agent's own FfmpegSink and HTTP client against a
real local server that plays the station's part, with the timeouts scaled down."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from broadcaster.agent import sinks
from broadcaster.agent.http import HttpTransport, Request
from broadcaster.agent.sinks import SinkItem
from content.audio.ffmpeg import ffmpeg_exe
from tests.broadcaster.helpers import tone_file
from tests.broadcaster.relaying import RecordingSink
from tests.serving import FAST_SHUTDOWN

FIRST_BYTES_S = 3.0  # scaled down from 20 s
BETWEEN_S = 0.5      # scaled down from 3 s


class Mount(BaseHTTPRequestHandler):
    """`/late`: nothing for 1.5 s (the phone's first slice on its way), then 2 s of tone.
    `/stalls`: 1 s of tone at once, then nothing for 10 s (the link dropped)."""
    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.end_headers()
        self.wfile.flush()
        if self.path == "/late":
            time.sleep(1.5)
            self.wfile.write(self.server.tone)  # type: ignore[attr-defined]
        else:
            self.wfile.write(self.server.short)  # type: ignore[attr-defined]
            self.wfile.flush()
            time.sleep(10)


@pytest.fixture
def mount(tmp_path, monkeypatch):
    monkeypatch.setattr(sinks, "LIVE_FIRST_BYTES_TIMEOUT_S", FIRST_BYTES_S)
    monkeypatch.setattr(sinks, "LIVE_READ_TIMEOUT_S", BETWEEN_S)
    tone_file(tmp_path / "tone.mp3", 2.0, 440)
    tone_file(tmp_path / "short.mp3", 1.0, 440)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Mount)
    srv.daemon_threads = True
    srv.tone = (tmp_path / "tone.mp3").read_bytes()  # type: ignore[attr-defined]
    srv.short = (tmp_path / "short.mp3").read_bytes()  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, kwargs=FAST_SHUTDOWN, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _play(sink: RecordingSink, url: str, within: float) -> tuple[sinks.SinkStatus, float]:
    transport = HttpTransport()
    feed = lambda timeout: transport.handle(Request("GET", url, [("Host", "127.0.0.1")], None, timeout))  # noqa: E731
    t0 = time.monotonic()
    sink.start(SinkItem("live-l1", "live", url, 30.0, 100, feed=feed), datetime.now(timezone.utc))
    while time.monotonic() - t0 < within:
        status = sink.poll(datetime.now(timezone.utc))
        if status.state != "playing":
            return status, time.monotonic() - t0
        time.sleep(0.05)
    sink.stop(datetime.now(timezone.utc))
    raise AssertionError(f"still playing after {within} s")


def test_a_box_waits_for_the_first_slice_longer_than_between_two(mount, tmp_path):
    sink = RecordingSink(ffmpeg_exe(), tmp_path / "takes")
    status, _ = _play(sink, mount + "/late", 15)
    # the 1.5 s before the first bytes was 3x the read timeout between two reads: it waited and played them
    assert sink._feed_error == "", sink._feed_error
    assert status.state == "finished", status
    # all of it: nothing read while ffmpeg looked at the stream is thrown away (8 kB of probe lost the first
    # second of every take)
    assert sink.of("live-l1")[0].loud_seconds() >= 1.8


def test_once_begun_a_silent_link_is_lost_within_the_read_timeout(mount, tmp_path):
    sink = RecordingSink(ffmpeg_exe(), tmp_path / "takes")
    status, elapsed = _play(sink, mount + "/stalls", 15)
    assert status.state == "failed" and status.code == "live_lost", status
    assert "timed out" in sink._feed_error or "timeout" in sink._feed_error.lower(), sink._feed_error
    # 1 s of tone in real time while the 0.5 s read timeout runs out behind it: over in ~1 s, not at the 3 s
    # allowed for the first bytes (nor at the end of the server's 10 s stall)
    assert elapsed < FIRST_BYTES_S - 0.5, elapsed
    assert sink.of("live-l1")[0].loud_seconds() >= 0.7
