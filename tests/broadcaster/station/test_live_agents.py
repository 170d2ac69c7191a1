"""Live end to end: the real station (uvicorn), real agents (the agent's runner: SSE, signed commands, the
player, its FfmpegSink decoding the stream to timestamped PCM), the phone's slices at real pace. The chosen
village hears it and the other does not; the stop silences every loudspeaker within 2 s; a phone that goes
quiet ends the session and the loudspeakers within 5 s; a loudspeaker whose own link drops stops by its read
timeout, logs the play failed and reports."""
from __future__ import annotations

import json
import time

import httpx

from content.audio.ffmpeg import ffmpeg_exe
from tests.broadcaster.station.agentproc import enrollment_code
from tests.broadcaster.station.live import wait_until
from tests.broadcaster.station.streams.audio import speech_webm
from tests.broadcaster.station.streams.feeder import PhoneFeeder
from tests.broadcaster.station.streams.liverig import (  # noqa: F401  (fixtures)
    LiveAgent, SilentableLink, boxes, live_station, real_clock, wall_clock_station,
)

STOP_WITHIN, QUIET_WITHIN = 2.0, 5.0


def _box(station_url, cadre, world, village, tmp_path, boxes, n) -> LiveAgent:
    device_id, code = enrollment_code(cadre, world, village)
    box = LiveAgent(station_url, tmp_path / f"box{n}", code, ffmpeg_exe())
    box.device_id = device_id
    boxes.append(box)
    return box


def _what_boxes_did(boxes, sid) -> str:
    """For a failed wait: what each box received of the session, played, logged and reported (as text: pytest
    shortens a long repr to '...')."""
    return json.dumps([{"device": b.device_id, "takes": [(t.play_id, t.kind, len(t.pcm), t.stopped_wall, t.ended_wall)
                                              for t in b.sink.takes],
             "loud_s": [t.loud_seconds() for t in b.sink.of(f"live-l{sid}")],
             "plays": b.plays(), "reported": b.reported(), "events": b.agent.events} for b in boxes], default=str)


def _on_air_now(box, sid):
    """The box's latest take of the session: a box whose first try found no audio yet (the phone's first slice
    still on its way) times out and joins again (§4a), so the session may have several takes."""
    takes = box.sink.of(f"live-l{sid}")
    return takes[-1] if takes else None


def _hears(box, sid, seconds: float) -> bool:
    take = _on_air_now(box, sid)
    return take is not None and take.loud_seconds() > seconds


def _lost(box, sid) -> int:
    return sum(1 for p in box.plays() if p["play_id"] == f"live-l{sid}" and p["result"] == "failed"
               and (p["reason"] or "").startswith("live_lost:"))


def _on_air(cadre, world, villages) -> int:
    r = cadre.post(f"/api/v1/communes/{world.a}/live", json={"villages": villages})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _ready(station, boxes) -> None:
    hub = station.app.state.sse_hub
    for box in boxes:
        assert wait_until(box.has_manifest, 30)
        assert wait_until(lambda b=box: hub.connected(b.device_id) > 0, 30)  # its SSE stream is open


def test_the_chosen_village_hears_it_and_the_stop_silences_it(station, world, tmp_path, boxes):
    with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
        heard = [_box(station.url, cadre, world, world.village_a, tmp_path, boxes, i) for i in range(2)]
        other = _box(station.url, cadre, world, world.village_a2, tmp_path, boxes, 9)
        _ready(station, boxes)
        sid = _on_air(cadre, world, [world.village_a])
        phone = PhoneFeeder(station.url, world.h("cadre"), sid, speech_webm("loud", 20.0), 20.0).start()
        assert wait_until(lambda: all(_hears(b, sid, 4) for b in heard), 20), _what_boxes_did(heard, sid)
        t_stop = time.time()
        r = cadre.post(f"/api/v1/live/{sid}/stop")
        assert r.status_code == 200 and r.json()["end_reason"] == "stopped"
        phone.stop()
        for box in heard:
            take = _on_air_now(box, sid)
            assert wait_until(lambda t=take: t.stopped_wall or t.ended_wall, STOP_WITHIN + 1)
            quiet_at = min(x for x in (take.stopped_wall, take.ended_wall) if x)
            assert quiet_at - t_stop <= STOP_WITHIN, quiet_at - t_stop
            assert wait_until(lambda b=box: any(p["play_id"] == f"live-l{sid}" for p in b.plays()), 3)
        assert other.sink.of(f"live-l{sid}") == []
        assert phone.errors == [] or "live_ended" in phone.errors[0]


def test_a_silent_phone_ends_the_session_and_a_silent_loudspeaker_stops_and_reports(station, world, tmp_path,
                                                                                      boxes):
    link = SilentableLink(station.port)
    with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
        near = _box(station.url, cadre, world, world.village_a, tmp_path, boxes, 0)
        far = _box(link.url, cadre, world, world.village_a, tmp_path, boxes, 1)  # its link can drop
        _ready(station, boxes)
        sid = _on_air(cadre, world, None)
        phone = PhoneFeeder(station.url, world.h("cadre"), sid, speech_webm("quiet", 60.0), 60.0).start()
        assert wait_until(lambda: all(_hears(b, sid, 2) for b in (near, far)), 20), _what_boxes_did((near, far), sid)

        # the far loudspeaker's link drops: its ffmpeg gives up after the read timeout, the play is failed
        lost_before = _lost(far, sid)
        link.silence()
        t_cut = time.time()
        take = _on_air_now(far, sid)
        assert wait_until(lambda: take.ended_wall is not None, 8)
        assert take.ended_wall - t_cut <= 5.0
        assert wait_until(lambda: _lost(far, sid) == lost_before + 1, 3), far.plays()
        assert "live_lost" in far.reported()

        # the phone goes quiet: the station ends the session, the near loudspeaker is quiet within 5 s
        phone.stop()
        t_quiet = time.time()
        take = _on_air_now(near, sid)
        assert wait_until(lambda: take.stopped_wall or take.ended_wall, QUIET_WITHIN + 1)
        assert min(x for x in (take.stopped_wall, take.ended_wall) if x) - t_quiet <= QUIET_WITHIN
        assert wait_until(lambda: not cadre.get(f"/api/v1/live/{sid}").json()["on_air"], 3)
        assert cadre.get(f"/api/v1/live/{sid}").json()["end_reason"] == "link_lost"
    link.restore()
    link.close()
