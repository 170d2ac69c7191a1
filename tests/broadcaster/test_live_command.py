"""The `live` command on the agent, the pure parts: it is verified like every command, it cuts normal and
priority plays and never an emergency, it outlives the manifests that follow it until its session's stop,
and after it the timetable's own rules decide (a play still within its grace starts, an interrupted one is
not restarted)."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from broadcaster.agent.clock import VirtualClock
from broadcaster.agent.control import Control
from broadcaster.agent.player import Player
from broadcaster.agent.playlog import PlayLog
from broadcaster.agent.sinks import FfmpegSink, FileSink, SinkItem
from broadcaster.protocol.command import Command, CommandRejected, sign_command, verify_command
from broadcaster.protocol.manifest import Entry
from tests.broadcaster.helpers import T0, entry, manifest, tone_file
from tests.broadcaster.test_control import DEV, _AllThere, _key

URL = "/api/device/v1/streams/live-3"


def _live_entry(start=T0, minutes=120, source="l3") -> Entry:
    return Entry(play_id=f"live-{source}", kind="live", priority="live", start=start,
                 end=start + timedelta(minutes=minutes), sha256=None, size=0, duration=minutes * 60.0, url=URL,
                 title="Phát trực tiếp", source=source)


def _live(seq, at=T0, source="l3") -> Command:
    return Command(seq=seq, issued_at=at, expires_at=at + timedelta(minutes=2), devices=(), villages=("v1",),
                   action="live", source=source, entries=(_live_entry(at, source=source),))


def _stop(seq, at, source="l3") -> Command:
    return Command(seq=seq, issued_at=at, expires_at=at + timedelta(minutes=2), devices=(), villages=("v1",),
                   action="stop", source=source, cut_at=at)


def _take(keyed, cmd, now):
    private, kid, pinned, control = keyed
    env = sign_command(cmd, private, kid)
    got = verify_command(env, pinned, device_id=DEV, village_id="v1", now=now)
    control.classify(got)
    control.command_taken(env, got)


@pytest.fixture
def keyed(tmp_path):
    private, kid, pinned = _key()
    return private, kid, pinned, Control(tmp_path / "control.json", pinned, DEV, "v1")


def test_a_live_command_must_be_well_formed_and_signed(keyed):
    private, kid, pinned, _ = keyed
    bad = [replace(_live(4), entries=()), replace(_live(4), source=None),
           replace(_live(4), entries=(replace(_live_entry(), priority="emergency"),)),
           replace(_live(4), entries=(replace(_live_entry(), url=""),)),
           replace(_live(4), entries=(replace(_live_entry(), source="l9"),))]
    for cmd in bad:
        with pytest.raises(CommandRejected) as exc:
            verify_command(sign_command(cmd, private, kid), pinned, device_id=DEV, village_id="v1",
                           now=T0)
        assert exc.value.code == "command_invalid"
    env = sign_command(_live(4), private, kid)
    forged = {**env, "command": {**env["command"], "entries": [{**env["command"]["entries"][0],
                                                                "url": "http://evil.example/x"}]}}
    with pytest.raises(CommandRejected) as exc:
        verify_command(forged, pinned, device_id=DEV, village_id="v1", now=T0)
    assert exc.value.code == "command_signature_invalid"


def test_live_outlives_later_manifests_until_its_stop(keyed, tmp_path):
    pinned, control = keyed[2], keyed[3]
    normal = entry("n1", T0 + timedelta(minutes=1), 60)
    control.manifest_taken(replace(manifest([normal]), seq=3))
    _take(keyed, _live(4), T0)
    newer = replace(manifest([normal], now=T0 + timedelta(seconds=30)), seq=9)  # a timetable change meanwhile
    control.manifest_taken(newer)
    assert [e.play_id for e in control.effective(newer).entries] == ["live-l3", "n1"]
    again = Control(tmp_path / "control.json", pinned, DEV, "v1")  # and across a restart
    assert [e.play_id for e in again.effective(newer).entries] == ["live-l3", "n1"]
    _take(keyed, _stop(10, T0 + timedelta(minutes=5)), T0 + timedelta(minutes=5))
    assert [e.play_id for e in control.effective(newer).entries] == ["n1"]
    later = replace(manifest([normal], now=T0 + timedelta(minutes=6)), seq=11)
    control.manifest_taken(later)
    assert control.commands == [] and control.effective(later) is later


def _player(tmp_path, m):
    path = tmp_path / "a.ogg"
    tone_file(path, 1.0)
    sink = FileSink(tmp_path / "sink.jsonl")
    clock = VirtualClock(T0)
    player = Player(sink, PlayLog(tmp_path / "log"), clock, _AllThere(path))
    player.set_manifest(m)
    return player, sink, clock


def _events(sink):
    return [json.loads(line) for line in sink.log_path.read_text().splitlines()]


@pytest.mark.parametrize("priority", ["normal", "priority"])
def test_live_cuts_normal_and_priority_then_the_timetable_resumes(tmp_path, priority):
    on_air = entry("p1", T0, 600, priority)
    soon = entry("n2", T0 + timedelta(seconds=40), 60)      # due while live: still within its grace after
    base = manifest([on_air, soon])
    player, sink, clock = _player(tmp_path, base)
    player.step()
    clock.advance(5)
    live = _live_entry(clock.now())
    player.set_manifest(replace(base, entries=(live, on_air, soon)))
    player.step()
    ev = _events(sink)
    assert [(e["event"], e["play_id"]) for e in ev] == [("start", "p1"), ("stop", "p1"), ("start", "live-l3")]
    assert ev[-1]["source"] == URL and ev[-1]["kind"] == "live"
    cut = player.playlog.records()[-1]
    assert cut["play_id"] == "p1" and cut["result"] == "interrupted" and cut["reason"] == "preempted_by:live-l3"
    clock.advance(60)  # the live session ends (the stop command cut its entry) at T0 + 65 s
    player.set_manifest(replace(base, entries=(replace(live, end=clock.now()), on_air, soon)))
    player.step()
    ev = _events(sink)
    assert [(e["event"], e["play_id"]) for e in ev][-2:] == [("stop", "live-l3"), ("start", "n2")]  # in grace
    assert "p1" not in [e["play_id"] for e in ev[3:]]  # the interrupted play is not restarted


def test_live_never_cuts_an_emergency(tmp_path):
    emergency = entry("e1", T0, 120, "emergency")
    player, sink, clock = _player(tmp_path, manifest([emergency]))
    player.step()
    clock.advance(5)
    player.set_manifest(manifest([_live_entry(clock.now()), emergency]))
    player.step()
    assert [(e["event"], e["play_id"]) for e in _events(sink)] == [("start", "e1")]
    clock.advance(120)  # the emergency ends; the live session is still on: it is joined late
    player.step()
    assert [(e["event"], e["play_id"]) for e in _events(sink)][-2:] == [("end", "e1"), ("start", "live-l3")]


def test_the_agents_ffmpeg_opens_a_live_stream_with_low_latency_options_and_never_sees_the_token():
    """The station's own route is fetched by the agent (its token, its TLS trust) and piped into ffmpeg, like a
    relay: the token is on no command line (`ps` shows every process's argv to every user of the box)."""
    token = "loa_dev_" + "S" * 43
    fed = SinkItem("live-l3", "live", URL, 7200.0, 80, feed=lambda timeout: None)
    cmd = FfmpegSink("ffmpeg").command(fed)
    i = cmd.index("-i")
    assert cmd[i + 1] == "pipe:0" and "-t" not in cmd  # it ends when the session's stream ends
    before = cmd[:i]
    assert "nobuffer" in " ".join(before) and "-analyzeduration" in before and "-headers" not in cmd
    # MP3 by protocol, decoded from its first frame: no probe whose bytes `+nobuffer` would throw away
    assert before[before.index("-f") + 1] == "mp3" and int(before[before.index("-probesize") + 1]) <= 64
    assert token not in " ".join(cmd) and "Bearer" not in " ".join(cmd)
    # an absolute URL (an Icecast mount) is opened by ffmpeg itself, with its own read timeout, and no token
    icecast = SinkItem("live-l3", "live", "http://icecast.example/live-3", 7200.0, 80)
    cmd = FfmpegSink("ffmpeg").command(icecast)
    assert cmd[cmd.index("-i") + 1] == icecast.source and "-rw_timeout" in cmd and "-headers" not in cmd


def test_a_late_live_command_is_taken_below_the_floor_but_never_after_its_stop(keyed, tmp_path):
    """§4a late joiners: the original `live` of a session on air, handed over by the station after this box took
    newer manifests (its seq is below the floor, its push expiry is long past), is taken; once the box took the
    session's stop (pushed, or handed over late), the same original `live` is refused, across a restart."""
    private, kid, pinned, control = keyed
    env = sign_command(_live(4), private, kid)
    control.manifest_taken(replace(manifest([]), seq=12))  # the box synced after the session began
    later = T0 + timedelta(minutes=30)
    cmd = verify_command(env, pinned, device_id=DEV, village_id="v1", now=None)
    with pytest.raises(CommandRejected) as exc:  # as a push it is refused: expired, and below the floor
        verify_command(env, pinned, device_id=DEV, village_id="v1", now=later)
    assert exc.value.code == "command_expired"
    with pytest.raises(CommandRejected) as exc:
        control.classify(cmd)
    assert exc.value.code == "command_replayed"
    assert control.late_live(env, cmd) == "new" and control.floor == 12
    assert [e.play_id for e in control.effective(replace(manifest([]), seq=12)).entries] == ["live-l3"]
    assert control.late_live(env, cmd) == "duplicate"
    stop_env = sign_command(_stop(20, later), private, kid)
    assert control.late_stop(verify_command(stop_env, pinned, device_id=DEV, village_id="v1", now=None))
    assert control.effective(replace(manifest([]), seq=12)).entries == ()
    again = Control(tmp_path / "control.json", pinned, DEV, "v1")  # the stop is final, also after a restart
    for c in (control, again):
        with pytest.raises(CommandRejected) as exc:
            c.late_live(env, cmd)
        assert exc.value.code == "live_ended"
    # a pushed stop ends it too (and is remembered): the late copy of another session's live is refused then
    env5 = sign_command(_live(21, later, source="l5"), private, kid)
    _take(keyed, _live(21, later, source="l5"), later)
    _take(keyed, _stop(22, later, source="l5"), later)
    with pytest.raises(CommandRejected):
        control.late_live(env5, verify_command(env5, pinned, device_id=DEV, village_id="v1", now=None))
