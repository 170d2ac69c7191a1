from __future__ import annotations

import json
import shutil
import sys
import threading
from datetime import timedelta

import pytest

from broadcaster.agent.clock import VirtualClock
from broadcaster.agent.player import Player, PlayerState, Skip, Start, StartFallback, Stop, Wait, decide
from broadcaster.agent.playlog import PlayLog
from broadcaster.agent.sinks import FfmpegSink, FileSink, SinkItem
from broadcaster.agent.store import AudioStore
from broadcaster.protocol.wire import parse_time
from tests.broadcaster.helpers import T0, entry, manifest, tone_file

ALL = lambda e: True  # noqa: E731


def test_decisions_at_fixed_instants():
    normal = entry("n1", T0 + timedelta(minutes=10), 300)
    urgent = entry("e1", T0 + timedelta(minutes=12), 60, "emergency")
    fb = entry("fb", T0, 86400, "fallback")
    m = manifest([normal, urgent], fallback=fb)
    s = PlayerState()
    assert decide(m, T0, s, ALL) == StartFallback(fb)                       # idle → fallback
    assert decide(m, T0, s, lambda e: e.play_id != "fb") == Wait(normal.start)  # no fallback file → silence
    from broadcaster.agent.player import Playing
    s.current = Playing(fb, T0, is_fallback=True)
    assert decide(m, normal.start, s, ALL) == Start(normal, interrupt=s.current)
    s.current = Playing(normal, normal.start)
    assert decide(m, normal.start + timedelta(seconds=30), s, ALL) == Wait(urgent.start)
    assert decide(m, urgent.start, s, ALL) == Start(urgent, interrupt=s.current)  # pre-emption
    # a lower level never pre-empts a higher one; it waits
    s.current = Playing(urgent, urgent.start)
    later = entry("n2", urgent.start + timedelta(seconds=10), 20)
    m2 = manifest([normal, urgent, later], fallback=fb)
    s.handled = {"n1"}
    assert isinstance(decide(m2, later.start, s, ALL), Wait)
    # missed and missing content are skipped once the grace is over
    s2 = PlayerState()
    gone = normal.start + timedelta(seconds=121)
    assert decide(manifest([normal]), gone, s2, ALL) == Skip(normal, "missed_start")
    assert decide(manifest([normal]), gone, s2, lambda e: False) == Skip(normal, "content_missing")
    # muted skips all but emergencies
    muted = manifest([normal, urgent], muted=True)
    assert decide(muted, normal.start, PlayerState(), ALL) == Skip(normal, "muted")
    assert decide(muted, urgent.start, PlayerState(handled={"n1"}), ALL) == Start(urgent)
    # the station withdrew the playing item, or replaced the fallback
    s.current = Playing(normal, normal.start)
    assert decide(manifest([urgent], fallback=fb), normal.start, s, ALL) == Stop("cancelled")
    s.current = Playing(fb, T0, is_fallback=True)
    assert decide(manifest([normal], fallback=entry("fb2", T0, 600, "fallback")), T0, s, ALL) == \
        Stop("fallback_changed")
    # no manifest (revoked): stop
    s.current = Playing(normal, normal.start)
    assert decide(None, normal.start, s, ALL) == Stop("no_manifest")


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tones")
    out = {}
    for name, secs, freq in [("a", 2, 440), ("b", 3, 660), ("c", 1, 880)]:
        sha, size = tone_file(d / name, secs, freq)
        out[name] = (d / name, sha, size)
    return out


def _store_with(tmp_path, audio_files) -> AudioStore:
    store = AudioStore(tmp_path / "audio")
    for path, sha, _ in audio_files.values():
        shutil.copyfile(path, store.path(sha))
    return store


def _player(tmp_path, store, clock, **kw):
    sink = FileSink(tmp_path / "sink.jsonl")
    log = PlayLog(tmp_path / "log")
    return Player(sink, log, clock, store, **kw), log, sink


def test_preemption_logged_interrupted_and_fallback_resumes(tmp_path, audio_files):
    store = _store_with(tmp_path, audio_files)
    _, sa, za = audio_files["a"]
    _, sb, zb = audio_files["b"]
    _, sc, zc = audio_files["c"]
    prog = entry("n1", T0 + timedelta(seconds=10), 300, sha=sa, size=za, title="Bản tin dài")
    alarm = entry("e1", T0 + timedelta(seconds=40), 30, "emergency", sha=sb, size=zb, title="Báo động lũ")
    fb = entry("fb", T0, 600, "fallback", sha=sc, size=zc, title="Nhạc nền")
    clock = VirtualClock(T0)
    marks = tmp_path / "hooks.txt"
    player, log, sink = _player(tmp_path, store, clock,
                                hook_before=[sys.executable, "-c", f"open({str(marks)!r},'a').write('on\\n')"],
                                hook_after=[sys.executable, "-c", f"open({str(marks)!r},'a').write('off\\n')"])
    player.set_manifest(manifest([prog, alarm], fallback=fb))
    player.run_until(T0 + timedelta(seconds=700))
    records = log.records()
    assert [(r["play_id"], r["result"]) for r in records] == [("n1", "interrupted"), ("e1", "played")]
    assert records[0]["reason"] == "preempted_by:e1"
    assert parse_time(records[0]["actual_end"]) == alarm.start == parse_time(records[1]["actual_start"])
    assert parse_time(records[1]["actual_end"]) == alarm.end
    events = [json.loads(line) for line in sink.log_path.read_text().splitlines()]
    started = [e["play_id"] for e in events if e["event"] == "start"]
    assert started[0] == "fb" and started[1] == "n1" and started[2] == "e1" and started[3] == "fb"
    assert [e for e in events if e["event"] == "start" and e["play_id"] == "e1"][0]["volume"] == 80
    assert marks.read_text().splitlines() == ["on", "off"]  # amplifier on once, off when the fallback window ends


def test_72_hours_offline_every_play_within_one_second(tmp_path, audio_files):
    """A programme every 20 minutes for 72 virtual hours, with no network: 100 % played on time."""
    store = _store_with(tmp_path, audio_files)
    files = list(audio_files.values())
    entries = []
    for i in range(72 * 3):
        _, sha, size = files[i % 3]
        entries.append(entry(f"p{i}", T0 + timedelta(minutes=20 * i, seconds=7), 60, sha=sha, size=size,
                             priority="priority" if i % 10 == 0 else "normal"))
    clock = VirtualClock(T0)
    player, log, _ = _player(tmp_path, store, clock)
    player.set_manifest(manifest(entries))
    player.run_until(T0 + timedelta(hours=72, minutes=5))
    records = log.records()
    assert len(records) == len(entries) == 216
    assert all(r["result"] == "played" for r in records)
    worst = max(abs((parse_time(r["actual_start"]) - parse_time(r["planned_start"])).total_seconds()) for r in records)
    assert worst <= 1.0
    assert [r["seq"] for r in records] == list(range(1, 217))


def _ran_until(tmp_path, audio_files, plays: list[tuple[str, int, int]], seconds: int):
    """A player from T0 on the manifest of `plays` (play id, start and length in seconds, all audio "a"), run
    to T0 + `seconds`: before the restarts below. Returns the entries, the store, the clock and the player."""
    store = _store_with(tmp_path, audio_files)
    _, sha, size = audio_files["a"]
    entries = [entry(pid, T0 + timedelta(seconds=start), length, sha=sha, size=size) for pid, start, length in plays]
    clock = VirtualClock(T0)
    player, _, _ = _player(tmp_path, store, clock)
    player.set_manifest(manifest(entries))
    player.run_until(T0 + timedelta(seconds=seconds))
    return entries, store, clock, player


def test_restart_does_not_replay_or_double_log(tmp_path, audio_files):
    (e1, e2), store, clock, _ = _ran_until(tmp_path, audio_files, [("p1", 5, 2), ("p2", 60, 2)], 30)
    # "reboot": a new player on the same log, same manifest, 20 s later (p1 would still be inside its grace)
    clock.advance(20)
    player2, log2, _ = _player(tmp_path, store, clock)
    player2.set_manifest(manifest([e1, e2]))
    player2.run_until(T0 + timedelta(seconds=120))
    assert [(r["seq"], r["play_id"], r["result"]) for r in log2.records()] == [(1, "p1", "played"), (2, "p2", "played")]


def _stop_agent(player: Player) -> None:
    """What the agent's clean stop does (systemd stop, an upgrade): the player's loop ends with this event set."""
    stop = threading.Event()
    stop.set()
    player.run(stop)


def test_a_play_on_air_when_the_agent_stops_is_logged_then_starts_over_within_its_grace(tmp_path, audio_files):
    """The station hears what aired: the play cut by the agent's own stop is logged interrupted (agent_stopped)
    at the instant it stopped, and on the next run, still within its grace, it starts over as before."""
    store = _store_with(tmp_path, audio_files)
    _, sha, size = audio_files["a"]
    e1 = entry("p1", T0 + timedelta(seconds=5), 60, sha=sha, size=size)
    clock = VirtualClock(T0)
    player, log, sink = _player(tmp_path, store, clock)
    player.set_manifest(manifest([e1]))
    player.run_until(T0 + timedelta(seconds=20))
    _stop_agent(player)
    stopped = log.records()
    assert [(r["play_id"], r["result"], r["reason"]) for r in stopped] == [("p1", "interrupted", "agent_stopped")]
    assert parse_time(stopped[0]["actual_start"]) == e1.start
    assert parse_time(stopped[0]["actual_end"]) == T0 + timedelta(seconds=20)
    events = [json.loads(line)["event"] for line in sink.log_path.read_text().splitlines()]
    assert events[-1] == "stop"  # the sink really stopped
    clock.advance(30)  # back 35 s after the start: inside the 120 s grace
    player2, log2, _ = _player(tmp_path, store, clock)
    player2.set_manifest(manifest([e1]))
    player2.run_until(T0 + timedelta(seconds=200))
    records = log2.records()
    assert [(r["seq"], r["play_id"], r["result"]) for r in records] == [(1, "p1", "interrupted"), (2, "p1", "played")]
    assert parse_time(records[1]["actual_start"]) == T0 + timedelta(seconds=50)


def test_past_its_grace_a_play_cut_by_the_stop_is_not_logged_skipped_and_an_emergency_resumes(tmp_path, audio_files):
    (normal, later), store, clock, player = _ran_until(tmp_path, audio_files, [("n1", 5, 600), ("n2", 900, 30)], 60)
    _stop_agent(player)
    clock.advance(240)  # back after the grace (5 s + 120 s) but while the programme would still run
    player2, log2, _ = _player(tmp_path, store, clock)
    player2.set_manifest(manifest([normal, later]))
    player2.run_until(T0 + timedelta(seconds=1000))
    assert [(r["play_id"], r["result"], r["reason"]) for r in log2.records()] == [
        ("n1", "interrupted", "agent_stopped"), ("n2", "played", None)]  # no "skipped: missed_start" for n1

    alarm = entry("e1", T0 + timedelta(seconds=1100), 900, "emergency", sha=normal.sha256, size=normal.size)
    player2.set_manifest(manifest([alarm]))
    player2.run_until(T0 + timedelta(seconds=1200))
    _stop_agent(player2)
    clock.advance(300)  # an emergency is due until its end: it airs again after the restart
    player3, log3, _ = _player(tmp_path, store, clock)
    player3.set_manifest(manifest([alarm]))
    player3.run_until(T0 + timedelta(seconds=2500))
    assert [(r["play_id"], r["result"], r["reason"]) for r in log3.records()][2:] == [
        ("e1", "interrupted", "agent_stopped"), ("e1", "played", None)]


def test_a_stop_while_idle_or_on_the_fallback_logs_nothing(tmp_path, audio_files):
    store = _store_with(tmp_path, audio_files)
    _, sha, size = audio_files["c"]
    fb = entry("fb", T0, 600, "fallback", sha=sha, size=size)
    clock = VirtualClock(T0)
    player, log, _ = _player(tmp_path, store, clock)
    _stop_agent(player)  # nothing on air
    player.set_manifest(manifest([], fallback=fb))
    player.run_until(T0 + timedelta(seconds=30))
    assert player.state.current is not None and player.state.current.is_fallback
    _stop_agent(player)  # the fallback loops and is never logged
    assert log.records() == []


def test_file_missing_at_play_time_fails_and_is_logged(tmp_path, audio_files):
    store = _store_with(tmp_path, audio_files)
    _, sha, size = audio_files["a"]
    e1 = entry("p1", T0 + timedelta(seconds=5), 2, sha=sha, size=size)
    clock = VirtualClock(T0)
    player, log, sink = _player(tmp_path, store, clock)
    player.set_manifest(manifest([e1]))
    player.run_until(T0 + timedelta(seconds=1))
    store.path(sha).write_bytes(b"")  # truncated behind our back
    player.run_until(T0 + timedelta(seconds=30))
    r = log.records()[0]
    assert r["result"] == "failed" and r["reason"].startswith("sink_error:")


def test_ffmpeg_sink_really_decodes(tmp_path, audio_files):
    from content.audio.ffmpeg import ffmpeg_exe

    path, sha, _ = audio_files["c"]
    out = tmp_path / "out.wav"
    sink = FfmpegSink(ffmpeg_exe(), ("-y", "-f", "wav", str(out)))
    now = T0
    sink.start(SinkItem("p1", "audio", str(path), 1.0, 50, sha256=sha), now)
    sink.wait(30)
    assert sink.poll(now).state == "finished"
    assert out.stat().st_size > 40_000  # ~1 s of 44.1/48 kHz 16-bit audio
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    sink.start(SinkItem("p2", "audio", str(bad), 1.0, 50), now)
    sink.wait(30)
    status = sink.poll(now)
    assert status.state == "failed" and "ffmpeg exit" in status.detail
    assert "-f" in sink.command(SinkItem("r", "relay", "http://x/live", 5, 100)) and \
        "5.000" in sink.command(SinkItem("r", "relay", "http://x/live", 5, 100))


def test_relay_and_silence_items_and_audio_copies(tmp_path, audio_files):
    store = _store_with(tmp_path, audio_files)
    path_c, sc, zc = audio_files["c"]
    relay = entry("r1", T0 + timedelta(seconds=10), 1800, kind="relay", title="Tiếp sóng VOV1")
    hush = entry("s1", T0 + timedelta(seconds=1900), 60, kind="silence", title="Mặc niệm")
    fb = entry("fb", T0, 4000, "fallback", sha=sc, size=zc)
    clock = VirtualClock(T0)
    sink = FileSink(tmp_path / "sink.jsonl", copy_dir=tmp_path / "copies")
    log = PlayLog(tmp_path / "log")
    player = Player(sink, log, clock, store)
    player.set_manifest(manifest([relay, hush], fallback=fb))
    player.run_until(T0 + timedelta(seconds=2000))
    assert [(r["play_id"], r["result"], r["actual_start"], r["actual_end"]) for r in log.records()] == [
        ("r1", "played", "2026-11-23T00:00:10Z", "2026-11-23T00:30:10Z"),
        ("s1", "played", "2026-11-23T00:31:40Z", "2026-11-23T00:32:40Z")]
    events = [json.loads(line) for line in sink.log_path.read_text().splitlines()]
    relay_start = [e for e in events if e["event"] == "start" and e["play_id"] == "r1"][0]
    assert relay_start["source"] == "http://radio.example/live" and relay_start["duration"] == 1800
    # during the minute of silence nothing starts, not even the fallback
    starts = [parse_time(e["at"]) for e in events if e["event"] == "start"]
    assert not [t for t in starts if hush.start <= t < hush.end]
    assert any(t >= hush.end for t in starts)  # the fallback comes back afterwards
    copies = sorted((tmp_path / "copies").iterdir())
    assert copies and copies[0].read_bytes() == path_c.read_bytes()
