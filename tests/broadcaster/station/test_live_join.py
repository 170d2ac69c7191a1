"""Late joiners of a live session, end to end: the real station (uvicorn), real agents (the agent's runner: SSE,
heartbeats, signed commands, the player, its FfmpegSink decoding the stream), the phone's slices at real pace.

- A loudspeaker switched on after the session began joins it within seconds (the heartbeat reply hands it the
  session's original signed `live` command) and the station counts it as joined only once it reports so.
- An agent restarted mid-session joins again.
- One whose link dropped (`live_lost`) joins again once its link is back.
- One switched on after the stop stays silent, and the original `live` replayed to it is refused.
- The device token is on no ffmpeg command line (the process list)."""
from __future__ import annotations

import time
from pathlib import Path

import httpx

from sqlmodel import select

from broadcaster.station.live.models import LiveSession
from broadcaster.station.models import PlayRecordRow
from content.audio.ffmpeg import ffmpeg_exe
from loa.db import session_scope
from tests.broadcaster.station.agentproc import enrollment_code
from tests.broadcaster.station.live import wait_until
from tests.broadcaster.station.streams.audio import speech_webm
from tests.broadcaster.station.streams.feeder import PhoneFeeder
from tests.broadcaster.station.streams.liverig import (  # noqa: F401  (fixtures)
    LiveAgent, SilentableLink, boxes, live_station, real_clock, wall_clock_station,
)

JOIN_WITHIN = 8.0  # switched on → the session's audio out of its ffmpeg (enrollment done, manifest to fetch)


def _box(station_url: str, cadre: httpx.Client, world, tmp_path: Path, boxes: list[LiveAgent], n: int,
         run: bool = True) -> LiveAgent:
    device_id, code = enrollment_code(cadre, world, world.village_a)
    box = LiveAgent(station_url, tmp_path / f"box{n}", code, ffmpeg_exe(), run=run)
    box.device_id = device_id
    boxes.append(box)
    return box


def _hears(box: LiveAgent, play_id: str, seconds: float = 1.0, take: int = 0) -> bool:
    """The box played more than `seconds` of the session in one of its takes from the `take`-th on (a box whose
    link stalled under load reports `live_lost` and joins again: a new take of the same session)."""
    return any(t.loud_seconds() > seconds for t in box.sink.of(play_id)[take:])


def _takes(box: LiveAgent, play_id: str) -> list[tuple[float, float]]:
    """What each take of the session held (seconds, loud seconds): a failure message pytest prints whole."""
    return [(round(t.seconds(), 2), round(t.loud_seconds(), 2)) for t in box.sink.of(play_id)]


def _session(cadre: httpx.Client, sid: int) -> dict:
    r = cadre.get(f"/api/v1/live/{sid}")
    assert r.status_code == 200, r.text
    return r.json()


def _why_joined(engine, boxes: list[LiveAgent], sid: int) -> str:
    """For a failing count: per box, what the station holds (last heartbeat's play, play records) and what the
    agent holds (its play log's records of the session, and how far the station acknowledged them)."""
    from broadcaster.station.models import DeviceReport

    play_id, out = f"live-l{sid}", []
    with session_scope(engine) as s:
        for box in boxes:
            report = s.get(DeviceReport, box.device_id)
            records = s.exec(select(PlayRecordRow).where(PlayRecordRow.device_id == box.device_id,
                                                         PlayRecordRow.play_id == play_id)).all()
            agent = getattr(box, "agent", None)
            out.append({
                "device": box.device_id,
                "beat_playing": report.playing if report is not None else "no report",
                "station_records": [(r.seq, r.result, r.actual_start is not None) for r in records],
                "agent_records": [(r["seq"], r["result"], r["actual_start"] is not None)
                                  for r in agent.playlog.records() if r["play_id"] == play_id] if agent else None,
                "agent_acked_seq": agent.playlog.acked_seq if agent else None,
                "agent_events": agent.events[-5:] if agent else None})
    return "\n".join(map(str, out))  # a string: pytest prints it whole (a list's repr is cut short)


def _no_token_on_any_command_line(box: LiveAgent) -> None:
    token = box.agent.creds["token"]
    assert box.sink.argv and all(token not in " ".join(argv) and "Bearer" not in " ".join(argv)
                                 for argv in box.sink.argv)
    proc = box.sink._proc
    if proc is not None and proc.poll() is None:  # what `ps` shows of the ffmpeg playing now
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "pipe:0" in cmdline and token not in cmdline


def test_late_and_restarted_loudspeakers_join_and_one_switched_on_after_the_stop_stays_silent(
        station, world, tmp_path, boxes, engine):
    with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
        early = _box(station.url, cadre, world, tmp_path, boxes, 0)
        late = _box(station.url, cadre, world, tmp_path, boxes, 1, run=False)   # enrolled, switched off
        after = _box(station.url, cadre, world, tmp_path, boxes, 2, run=False)  # switched on after the stop
        assert wait_until(early.has_manifest, 30)
        assert wait_until(lambda: station.app.state.sse_hub.connected(early.device_id) > 0, 30)
        r = cadre.post(f"/api/v1/communes/{world.a}/live", json={"villages": [world.village_a]})
        assert r.status_code == 201, r.text
        sid, play_id = r.json()["id"], f"live-l{r.json()['id']}"
        phone = PhoneFeeder(station.url, world.h("cadre"), sid, speech_webm("loud", 60.0), 60.0).start()
        try:
            assert wait_until(lambda: _hears(early, play_id), 20), _takes(early, play_id)
            # named three, heard by one: the station counts what the loudspeakers reported, not its plan
            assert wait_until(lambda: _session(cadre, sid)["joined"] == 1, 5), _session(cadre, sid)
            assert _session(cadre, sid)["device_count"] >= 3

            # switched on mid-session: its first heartbeat's reply hands it the original signed live command
            t_on = time.monotonic()
            late.start()
            assert wait_until(lambda: _hears(late, play_id, 0.5), JOIN_WITHIN), _takes(late, play_id)
            assert time.monotonic() - t_on <= JOIN_WITHIN
            with session_scope(engine) as s:
                original = s.get(LiveSession, sid).command
            assert original is not None and original["command"]["seq"] <= late.agent.control.floor
            held = [env for env, c in late.agent.control.commands if c.action == "live"]
            assert held == [original]  # the very envelope the station signed at the start, not a new one
            assert wait_until(lambda: _session(cadre, sid)["joined"] == 2, 5), _session(cadre, sid)
            _no_token_on_any_command_line(late)

            # the early one's agent restarts mid-session: it joins again
            early.close()
            taken = len(early.sink.of(play_id))
            early.start()
            assert wait_until(lambda: _hears(early, play_id, 0.5, take=taken), JOIN_WITHIN), _takes(early, play_id)
            _no_token_on_any_command_line(early)
        finally:
            r = cadre.post(f"/api/v1/live/{sid}/stop")
            phone.stop()
        assert r.status_code == 200 and r.json()["end_reason"] == "stopped"
        # afterwards the count comes from their play records (uploaded right after the stop cut them)
        assert wait_until(lambda: _session(cadre, sid)["joined"] == 2, 5), _why_joined(engine, boxes, sid)

        # switched on after the stop: its heartbeat reply hands it the stop, nothing plays
        after.start()
        assert wait_until(lambda: after.has_manifest() and after.agent._acked_beat is not None, 15)
        assert wait_until(lambda: ("l%d" % sid) in after.agent.control.ended, 5)
        # the original live command replayed to it (a captured push) is refused, and so is a late copy of it
        assert after.agent.on_command(original) in ("command_replayed", "command_expired")
        assert after.agent.late_commands({"live": [original]}) == []
        time.sleep(1.5)  # what it would take to start a stream (it joined within 1 s above)
        assert after.sink.of(play_id) == [] and after.agent.player.state.current is None
        # counted from the play records the two uploaded (the station accepts a `live` record: §7)
        assert _session(cadre, sid)["joined"] == 2, _why_joined(engine, boxes, sid)
        with session_scope(engine) as s:
            records = s.exec(select(PlayRecordRow).where(PlayRecordRow.play_id == play_id)).all()
            assert {r.device_id for r in records} == {early.device_id, late.device_id}


def test_a_loudspeaker_whose_link_dropped_joins_again_when_it_is_back(station, world, tmp_path, boxes):
    link = SilentableLink(station.port)
    with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
        device_id, code = enrollment_code(cadre, world, world.village_a)
        far = LiveAgent(link.url, tmp_path / "far", code, ffmpeg_exe())
        far.agent.client.read_timeout = 3.0  # a silent link costs a heartbeat 3 s, not 30 (the test's pace)
        boxes.append(far)
        assert wait_until(far.has_manifest, 30)
        assert wait_until(lambda: station.app.state.sse_hub.connected(device_id) > 0, 30)
        r = cadre.post(f"/api/v1/communes/{world.a}/live", json={"villages": None})
        assert r.status_code == 201, r.text
        sid, play_id = r.json()["id"], f"live-l{r.json()['id']}"
        phone = PhoneFeeder(station.url, world.h("cadre"), sid, speech_webm("loud", 60.0), 60.0).start()
        try:
            assert wait_until(lambda: _hears(far, play_id), 20), _takes(far, play_id)
            taken = len(far.sink.of(play_id))  # the take the drop cuts is the last of these
            link.silence()
            assert wait_until(lambda: any(p["play_id"] == play_id and p["result"] == "failed"
                                          and p["reason"].startswith("live_lost:") for p in far.plays()), 10)
            link.restore()  # new connections pass again: its next beat's reply says the session is still on
            t_back = time.monotonic()
            assert wait_until(lambda: _hears(far, play_id, 0.5, take=taken), 20), _takes(far, play_id)
            assert time.monotonic() - t_back <= 20
        finally:
            cadre.post(f"/api/v1/live/{sid}/stop")
            phone.stop()
    link.close()
