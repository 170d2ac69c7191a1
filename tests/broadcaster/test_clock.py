from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from broadcaster.agent.client import StationClient
from broadcaster.agent.clock import ClockEstimator, VirtualClock
from broadcaster.agent.player import Player
from broadcaster.agent.playlog import PlayLog
from broadcaster.agent.sinks import FileSink
from broadcaster.agent.store import AudioStore
from broadcaster.protocol.wire import format_time
from tests.broadcaster.fileserver import FileServer
from tests.broadcaster.helpers import T0, entry, manifest, tone_file


def test_estimator_uses_zero_when_consistent_and_narrows_with_samples():
    est = ClockEstimator()
    t = datetime(2026, 11, 23, 0, 0, 0, 300_000, tzinfo=timezone.utc)
    # our clock agrees with the server within Date's one-second resolution: no correction
    assert est.add_reply(t, t + timedelta(milliseconds=40), format_datetime(t.replace(microsecond=0), usegmt=True)) == 0.0
    # our clock is 42.3 s slow: Date says 00:00:42, we read 00:00:00.3 → offset in [41.66, 42.7]
    est = ClockEstimator()
    off = est.add_reply(t, t + timedelta(milliseconds=40), format_datetime(t + timedelta(seconds=42), usegmt=True))
    assert 41.6 < off < 42.8 and est.high - est.low < 1.1
    # a millisecond header pins it much tighter
    est = ClockEstimator()
    server = t + timedelta(seconds=42.3, milliseconds=20)
    off = est.add_reply(t, t + timedelta(milliseconds=40), None, format_time(server))
    assert abs(off - 42.3) < 0.03
    # the local clock jumps: intervals stop overlapping and the estimate restarts from the newest sample
    off = est.add_reply(t, t + timedelta(milliseconds=40), None, format_time(t - timedelta(seconds=10)))
    assert -10.05 < off < -9.95


def test_offset_measured_from_a_real_http_date_header(tmp_path):
    server = FileServer(tmp_path)
    (tmp_path / "x").write_bytes(b"x")
    skew = timedelta(hours=-1, seconds=-17)  # the device clock is 1 h 17 s slow (no RTC after a power cut)
    client = StationClient(server.url, raw_now=lambda: datetime.now(timezone.utc) + skew, retries=0)
    try:
        for _ in range(5):
            client.request("GET", "/x")
    finally:
        client.close()
        server.close()
    assert abs(client.estimator.offset - 3617) <= 1.0


def test_schedule_is_corrected_by_the_measured_offset(tmp_path):
    """The device clock is 50 s slow; after one reply from the station it plays on the station's time."""
    sha, size = tone_file(tmp_path / "t.mp3", 1)
    store = AudioStore(tmp_path / "audio")
    shutil.copyfile(tmp_path / "t.mp3", store.path(sha))
    clock = VirtualClock(T0, offset_s=-50.0)
    # the station's reply: true time T0 with milliseconds, as our own station sends
    clock.estimator.add_reply(clock.raw_now(), clock.raw_now(), None, format_time(clock._now))
    true_starts = []

    class Spy(FileSink):
        def start(self, item, now):
            true_starts.append(clock._now)
            super().start(item, now)

    e = entry("p1", T0 + timedelta(minutes=5), 1, sha=sha, size=size)
    player = Player(Spy(tmp_path / "sink.jsonl"), PlayLog(tmp_path / "log"), clock, store)
    player.set_manifest(manifest([e]))
    player.run_until(T0 + timedelta(minutes=10))
    assert true_starts == [e.start]
    assert abs(clock.estimator.offset - 50.0) < 1e-6


def test_problem_json_errors_parsed_into_codes():
    import json

    from broadcaster.agent.client import DeviceRevoked, StationError
    from broadcaster.agent.http import Response

    def reply(status: int, body, headers=()):  # noqa: ANN001, ANN202
        content = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
        return Response.of(status, content, [("Content-Type", "application/json"), *headers])

    body = {"type": "urn:loa:problem:device_revoked", "title": "Chưa đăng nhập", "status": 401,
            "detail": "Thiết bị đã bị thu hồi", "code": "device_revoked",
            "message_vi": "Thiết bị đã bị thu hồi", "message_en": "The device has been revoked"}
    err = StationClient._error(reply(401, body))
    assert isinstance(err, DeviceRevoked) and err.status == 401 and "The device has been revoked" in err.message
    err = StationClient._error(reply(429, {**body, "code": "rate_limited", "status": 429},
                                            [("Retry-After", "30")]))
    assert type(err) is StationError and err.code == "rate_limited" and err.retry_after == 30.0
    err = StationClient._error(reply(502, "<html>Bad gateway</html>"))
    assert err.code == "http_502"
