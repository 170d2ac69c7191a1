"""Issue 12, the pure parts: a play the station shortened stops at its new end, mute silences what is on air,
volume follows on air; the seq floor (persisted); signed commands (bad signature, wrong device, expired,
replayed, duplicate) and what they lay over the manifest."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.agent.clock import VirtualClock
from broadcaster.agent.control import DUPLICATE, NEW, Control, apply
from broadcaster.agent.player import Player, PlayerState, Playing, Stop, Wait, decide
from broadcaster.agent.playlog import PlayLog
from broadcaster.agent.sinks import FileSink
from broadcaster.protocol.command import Command, CommandRejected, sign_command, verify_command
from broadcaster.protocol.manifest import sign_manifest, verify_manifest
from broadcaster.protocol.wire import format_time, key_id_for
from tests.broadcaster.helpers import T0, entry, manifest, tone_file

ALL = lambda e: True  # noqa: E731
DEV, OTHER = "dev_0000000000000001", "dev_00000000000000ff"


def _key():
    from cryptography.hazmat.primitives import serialization

    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private, key_id_for(raw), {key_id_for(raw): raw}


def _stop(seq, source="e7", cut_at=T0, devices=(DEV,), villages=(), expires=timedelta(minutes=2)):
    return Command(seq=seq, issued_at=cut_at, expires_at=cut_at + expires, devices=tuple(devices),
                   villages=tuple(villages), action="stop", source=source, cut_at=cut_at)


# -- the player -------------------------------------------------------------------------------------------
def test_a_play_trimmed_by_a_cancel_stops_at_the_trim_not_at_the_files_end():
    """The bug of issue 12: the cancel keeps play id and hash and only moves the end."""
    full = replace(entry("e1", T0, 300, "emergency"), source="e7")
    trimmed = replace(full, end=T0 + timedelta(seconds=10), duration=10.0)
    s = PlayerState(current=Playing(full, T0))
    assert decide(manifest([trimmed]), T0 + timedelta(seconds=10, milliseconds=200), s, ALL) == Stop("cancelled")
    # trimmed to a later instant: keeps playing, and wakes exactly at the new end
    later = replace(full, end=T0 + timedelta(seconds=60), duration=60.0)
    assert decide(manifest([later]), T0 + timedelta(seconds=10), s, ALL) == Wait(later.end)
    # unchanged: plays on to its end
    assert decide(manifest([full]), T0 + timedelta(seconds=10), s, ALL) == Wait(full.end + timedelta(milliseconds=1))


def test_mute_stops_the_item_on_air_but_not_an_emergency():
    normal = entry("n1", T0, 300)
    s = PlayerState(current=Playing(normal, T0))
    assert decide(manifest([normal], muted=True), T0 + timedelta(seconds=5), s, ALL) == Stop("muted")
    urgent = entry("e1", T0, 300, "emergency")
    s = PlayerState(current=Playing(urgent, T0))
    assert isinstance(decide(manifest([urgent], muted=True), T0 + timedelta(seconds=5), s, ALL), Wait)


def _player(tmp_path, m):
    path = tmp_path / "a.ogg"
    tone_file(path, 1.0)
    sink = FileSink(tmp_path / "sink.jsonl")
    clock = VirtualClock(T0)
    cuts = []
    player = Player(sink, PlayLog(tmp_path / "log"), clock, _AllThere(path), on_cut=lambda: cuts.append(1))
    player.set_manifest(m)
    return player, sink, clock, cuts


class _AllThere:
    def __init__(self, path):
        self.path = path

    def locate(self, sha256):
        return self.path

    def touch(self, sha256):
        pass


def _events(sink):
    return [json.loads(line) for line in sink.log_path.read_text().splitlines()]


def test_player_cuts_on_a_trimmed_manifest_logs_interrupted_with_the_seconds_aired(tmp_path):
    full = replace(entry("e1", T0, 300, "emergency"), source="e7")
    player, sink, clock, cuts = _player(tmp_path, manifest([full]))
    player.step()
    clock.advance(10.0)
    player.set_manifest(manifest([replace(full, end=clock.now(), duration=10.0)]))
    player.step()
    assert [e["event"] for e in _events(sink)] == ["start", "stop"]
    record = player.playlog.records()[-1]
    assert record["result"] == "interrupted" and record["reason"] == "cancelled"
    assert record["actual_start"] == format_time(T0)
    assert record["actual_end"] == format_time(T0 + timedelta(seconds=10))  # the seconds that aired
    assert cuts == [1]  # the agent is told at once (heartbeat and upload)


def test_a_volume_change_reaches_the_item_on_air(tmp_path):
    normal = entry("n1", T0, 300)
    player, sink, clock, _ = _player(tmp_path, manifest([normal], volume=80))
    player.step()
    clock.advance(5.0)
    player.set_manifest(manifest([normal], volume=30))
    player.step()
    events = _events(sink)
    assert [e["event"] for e in events] == ["start", "volume"]
    assert events[0]["volume"] == 80 and events[1]["volume"] == 30


# -- seq floor -------------------------------------------------------------------------------------------
def test_floor_refuses_older_manifests_and_commands_and_survives_a_restart(tmp_path):
    _, _, pinned = _key()
    control = Control(tmp_path / "control.json", pinned, DEV, "v1")
    m5 = replace(manifest([]), seq=5)
    assert control.admits_manifest(m5)
    control.manifest_taken(m5)
    assert not control.admits_manifest(replace(m5, seq=4))
    assert control.admits_manifest(replace(m5, seq=5))  # the same one again (a re-fetch)
    again = Control(tmp_path / "control.json", pinned, DEV, "v1")
    assert again.floor == 5 and not again.admits_manifest(replace(m5, seq=3))
    with pytest.raises(CommandRejected) as exc:
        again.classify(_stop(4))
    assert exc.value.code == "command_replayed"
    assert again.classify(_stop(6)) == NEW


def test_commands_verify_and_lay_over_the_manifest(tmp_path):
    private, kid, pinned = _key()
    env = sign_command(_stop(7), private, kid)
    cmd = verify_command(env, pinned, device_id=DEV, village_id="v1", now=T0)
    assert cmd.action == "stop" and cmd.seq == 7
    # by village, not by device id
    by_village = sign_command(_stop(8, devices=(), villages=("v1",)), private, kid)
    assert verify_command(by_village, pinned, device_id=OTHER, village_id="v1", now=T0).seq == 8
    cases = {
        "command_signature_invalid": ({**env, "command": {**env["command"], "seq": 99}}, DEV, T0),
        "command_wrong_device": (env, OTHER, T0),
        "command_expired": (env, DEV, T0 + timedelta(minutes=3)),
    }
    for code, (envelope, device, now) in cases.items():
        with pytest.raises(CommandRejected) as exc:
            verify_command(envelope, pinned, device_id=device, village_id="v2", now=now)
        assert exc.value.code == code
    other_key, other_kid, _ = _key()
    with pytest.raises(CommandRejected) as exc:
        verify_command(sign_command(_stop(9), other_key, other_kid), pinned, device_id=DEV, village_id="v1", now=T0)
    assert exc.value.code == "command_signature_invalid"
    # taken: duplicate is quiet, the overlay cuts the rule's plays at cut_at and drops the later ones
    control = Control(tmp_path / "control.json", pinned, DEV, "v1")
    on_air = replace(entry("a", T0 - timedelta(seconds=10), 300, "emergency"), source="e7")
    repeat = replace(entry("b", T0 + timedelta(seconds=300), 300, "emergency"), source="e7")
    other = replace(entry("c", T0 + timedelta(seconds=600), 60), source="s1")
    m = replace(manifest([on_air, repeat, other]), seq=5)
    control.manifest_taken(m)
    assert control.classify(cmd) == NEW
    control.command_taken(env, cmd)
    assert control.classify(cmd) == DUPLICATE
    eff = control.effective(m)
    assert [(e.play_id, e.end) for e in eff.entries] == [("a", T0), ("c", other.end)]
    # it holds across a restart until the manifest that reflects it arrives
    again = Control(tmp_path / "control.json", pinned, DEV, "v1")
    assert [e.play_id for e in again.effective(m).entries] == ["a", "c"] and again.floor == 7
    newer = replace(manifest([other]), seq=12)
    again.manifest_taken(newer)
    assert again.commands == [] and again.effective(newer) is newer


def test_sound_command_overlay():
    cmd = Command(seq=3, issued_at=T0, expires_at=T0 + timedelta(minutes=1), devices=(DEV,), villages=(),
                  action="sound", volume=20, muted=True)
    m = apply(manifest([], volume=80), cmd)
    assert (m.volume, m.muted) == (20, True)


def test_manifest_seq_is_signed_but_not_part_of_the_version():
    private, kid, pinned = _key()
    m = replace(manifest([entry("n1", T0, 60)]), seq=41)
    envelope = sign_manifest(m, private, kid)
    assert verify_manifest(envelope, pinned, device_id=DEV, now=T0).seq == 41
    forged = json.loads(json.dumps(envelope))
    forged["manifest"]["seq"] = 10_000  # a replayer cannot lift an old manifest over the floor
    from broadcaster.protocol.manifest import ManifestRejected

    with pytest.raises(ManifestRejected):
        verify_manifest(forged, pinned, device_id=DEV, now=T0)
    assert replace(m, seq=42).to_dict()["version"] == m.version


def test_a_cut_play_ends_at_its_stored_end_in_the_manifest():
    """The store cuts a play on air by moving its `end` (its segments keep the file's length): the manifest
    entry must end there too, or the device plays the message to its end (issue 12, the manifest path)."""
    from broadcaster.manifest_builder import build_manifest

    sha = "ab" * 32
    play = {"start": T0, "end": T0 + timedelta(seconds=10), "priority": 4, "key": (1, "e7", T0), "source": "e7",
            "segments": [{"offset_s": 0.0, "duration_s": 27.0, "kind": "item", "sha256": sha, "title": "Lũ",
                          "language": "vi", "content_id": "1", "url": None}]}
    m = build_manifest(DEV, [play], T0, sizes={sha: 1000})
    (e,) = m.entries
    assert e.end == T0 + timedelta(seconds=10) and e.duration == 10.0 and e.source == "e7"
    # the same repetition has the same id on every device: a start command names it once per village
    other = build_manifest(OTHER, [{**play, "key": (2, "e7", T0)}], T0, sizes={sha: 1000})
    assert other.entries[0].play_id == e.play_id


def test_commands_and_seq_satisfy_the_documented_schemas():
    import jsonschema

    from broadcaster.protocol.schemas import schema_for

    private, kid, _ = _key()
    start = Command(seq=2, issued_at=T0, expires_at=T0 + timedelta(minutes=2), devices=(DEV,), villages=("v3",),
                    action="start", source="e7", entries=(replace(entry("e1", T0, 30, "emergency"), source="e7"),))
    for cmd in (_stop(1), start, Command(seq=3, issued_at=T0, expires_at=T0 + timedelta(minutes=2), devices=(DEV,),
                                          villages=(), action="sound", volume=40)):
        jsonschema.validate(sign_command(cmd, private, kid), schema_for("SignedCommand"),
                            cls=jsonschema.Draft202012Validator)
    jsonschema.validate(sign_manifest(replace(manifest([start.entries[0]]), seq=9), private, kid),
                        schema_for("SignedManifest"), cls=jsonschema.Draft202012Validator)


def test_a_play_cut_by_an_emergency_is_preempted_not_cancelled():
    """The station ends a normal play where an emergency starts: on the device that is a pre-emption."""
    normal = entry("n1", T0, 300)
    urgent = entry("e1", T0 + timedelta(seconds=30), 60, "emergency")
    s = PlayerState(current=Playing(normal, T0))
    cut = replace(normal, end=urgent.start, duration=30.0)
    from broadcaster.agent.player import Start

    assert decide(manifest([cut, urgent]), urgent.start, s, ALL) == Start(urgent, interrupt=s.current)
    assert decide(manifest([cut, urgent]), urgent.start, s, lambda e: e.play_id != "e1") == Stop("cancelled")
