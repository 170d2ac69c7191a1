"""The agent end to end on its side: enrolled state, sync from an HTTP server holding a signed manifest and the
audio files (the test's own static file server: the station's endpoints arrive in phase 2), verification,
offline play from the persisted manifest."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from broadcaster.agent.client import StationClient, StationError
from broadcaster.agent.clock import VirtualClock
from broadcaster.agent.runner import Agent, NotEnrolled
from broadcaster.agent.sinks import FileSink
from broadcaster.agent.state import AgentState
from broadcaster.manifest_builder import build_manifest
from broadcaster.protocol.wire import parse_time
from broadcaster.signing import generate_key
from tests.broadcaster.fileserver import FileServer
from tests.broadcaster.helpers import tone_file

DEVICE = "dev_00000000000000aa"
# The virtual clock starts at the real time: the file server's Date header then agrees with it (no correction).
T0 = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def station(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    files = []
    for i, secs in enumerate((2, 3)):
        sha, size = tone_file(root / f"t{i}", secs, 400 + 200 * i)
        shutil.move(root / f"t{i}", root / sha)
        files.append({"sha256": sha, "size": size, "duration": secs, "title": f"Bản tin {i}"})
    key = generate_key()
    server = FileServer(root)
    yield server, key, files
    server.close()


def _publish(server, key, files, device=DEVICE, hours=72, every_min=30, t0=None):
    t0 = t0 or T0
    plays = [{"device_id": DEVICE, "start": t0 + timedelta(minutes=every_min * i, seconds=3),
              "priority": "normal", "entries": [files[i % len(files)]]} for i in range(hours * 60 // every_min)]
    m = build_manifest(device, plays, t0)
    (server.root / "manifest").write_text(json.dumps(key.sign(m), ensure_ascii=False))
    return m


def _enrolled(tmp_path, server, key):
    state = AgentState(tmp_path / "agent")
    state.save_credentials({"device_id": DEVICE, "token": "loa_dev_test", "station_url": server.url,
                            "commune_id": "cocsan", "village_id": "unta",
                            "station_keys": [key.public_info()], "mqtt": None})
    return state


def _agent(tmp_path, server, clock):
    client = StationClient(server.url, "loa_dev_test", estimator=clock.estimator, raw_now=clock.raw_now, retries=0)
    return Agent(tmp_path / "agent", FileSink(tmp_path / "sink.jsonl"), clock=clock, client=client)


def test_not_enrolled_is_a_clear_error(tmp_path):
    with pytest.raises(NotEnrolled, match="chưa đăng ký"):
        Agent(tmp_path / "nothing", FileSink(tmp_path / "s.jsonl"), clock=VirtualClock(datetime.now(timezone.utc)))


def test_sync_then_72_hours_offline_then_reconnect(tmp_path, station):
    server, key, files = station
    # the test's own start (T0 is taken at import: later in a long run, its first play would already be past)
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    m = _publish(server, key, files, t0=t0)
    _enrolled(tmp_path, server, key)
    clock = VirtualClock(t0)
    agent = _agent(tmp_path, server, clock)
    agent.sync()
    assert agent.manifest == m and agent.store.missing(m.sizes()) == []
    n = len(server.requests)
    assert agent.sync() is False and len(server.requests) == n + 1  # a 304, nothing downloaded
    server.close()  # the network is gone for three days
    with pytest.raises(StationError):  # the link is gone: the station's client says so, nothing else
        agent.sync()
    # and the box reboots while offline: a new agent from disk only
    agent = _agent(tmp_path, server, clock)
    assert agent.manifest == m
    agent.player.run_until(t0 + timedelta(hours=72, minutes=5))
    records = agent.playlog.records()
    assert len(records) == len(m.entries) == 144
    assert all(r["result"] == "played" for r in records)
    assert max(abs((parse_time(r["actual_start"]) - parse_time(r["planned_start"])).total_seconds())
               for r in records) <= 1.0
    assert len(agent.playlog.pending()) == 144  # all waiting for the upload after reconnection
    payload = agent.heartbeat_payload()
    import jsonschema

    from broadcaster.protocol.schemas import schema_for
    jsonschema.validate(payload, schema_for("Heartbeat"), cls=jsonschema.Draft202012Validator)
    assert payload["playlog"] == {"last_seq": 144, "acked_seq": 0}
    assert payload["manifest_version"] == m.version and payload["cache"]["missing"] == []


def test_tampered_manifest_refused_reported_and_old_one_kept(tmp_path, station):
    server, key, files = station
    good = _publish(server, key, files)
    _enrolled(tmp_path, server, key)
    clock = VirtualClock(datetime.now(timezone.utc))
    agent = _agent(tmp_path, server, clock)
    agent.sync()
    assert agent.events == []
    env = json.loads((server.root / "manifest").read_text())
    env["manifest"]["entries"][0]["sha256"] = "0" * 64  # swap in other audio
    (server.root / "manifest").write_text(json.dumps(env))
    agent.sync()
    assert agent.manifest == good
    assert [e["code"] for e in agent.events] == ["manifest_signature_invalid"]
    # another station's key, even with a valid signature
    (server.root / "manifest").write_text(json.dumps(generate_key().sign(good)))
    agent.sync()
    assert agent.manifest == good and agent.events[-1]["code"] == "manifest_signature_invalid"
    # a manifest for another device, properly signed
    other = _publish(server, key, files, device="dev_00000000000000bb")
    agent.sync()
    assert agent.manifest == good and agent.events[-1]["code"] == "manifest_wrong_device"
    # a manifest file edited on the device's disk is refused at the next start
    path = AgentState(tmp_path / "agent").manifest_path
    body = json.loads(path.read_text())
    body["envelope"]["manifest"]["volume"] = 55
    path.write_text(json.dumps(body))
    agent2 = _agent(tmp_path, server, clock)
    assert agent2.manifest is None and agent2.events[-1]["code"] == "manifest_signature_invalid"
    assert other.version != good.version


def test_tampered_audio_refused_deleted_reported_then_recovers(tmp_path, station):
    server, key, files = station
    m = _publish(server, key, files)
    _enrolled(tmp_path, server, key)
    victim = files[0]["sha256"]
    original = (server.root / victim).read_bytes()
    (server.root / victim).write_bytes(original[:-10] + b"0123456789")  # same size, other bytes
    agent = _agent(tmp_path, server, VirtualClock(datetime.now(timezone.utc)))
    agent.sync()
    assert agent.store.missing(m.sizes()) == [victim]
    assert not list((tmp_path / "agent" / "audio").glob("*.part"))
    assert [e["code"] for e in agent.events] == ["audio_hash_mismatch"]
    (server.root / victim).write_bytes(original)
    assert agent.fetch_missing() == []
    # later the SD card flips a bit in the installed file: caught at the next start, deleted, fetched again
    installed = agent.store.path(victim)
    data = bytearray(installed.read_bytes())
    data[100] ^= 0x01
    installed.write_bytes(bytes(data))
    agent2 = _agent(tmp_path, server, VirtualClock(datetime.now(timezone.utc)))
    assert agent2.verify_cache() == [victim] and not installed.exists()
    assert agent2.events[-1]["code"] == "audio_hash_mismatch"
    assert agent2.fetch_missing() == [] and installed.read_bytes() == original


def test_emergency_nudge_syncs_and_preempts_at_once(tmp_path, station):
    from broadcaster.agent.clock import ClockEstimator

    server, key, files = station
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=5)
    normal = {"device_id": DEVICE, "play_id": "n1", "start": start, "priority": "normal",
              "entries": [dict(files[1], duration=600)]}
    m1 = build_manifest(DEVICE, [normal], start)
    (server.root / "manifest").write_text(json.dumps(key.sign(m1)))
    _enrolled(tmp_path, server, key)
    clock = VirtualClock(start - timedelta(seconds=5))
    client = StationClient(server.url, "loa_dev_test", estimator=ClockEstimator(), raw_now=clock.raw_now, retries=0)
    agent = Agent(tmp_path / "agent", FileSink(tmp_path / "sink.jsonl"), clock=clock, client=client)
    agent.sync()
    agent.player.run_until(start + timedelta(seconds=60))
    assert agent.player.state.current.entry.play_id == "n1"
    # the station publishes a flood warning for right now, then nudges
    alarm_at = start + timedelta(seconds=60)
    alarm = {"device_id": DEVICE, "play_id": "e1", "start": alarm_at, "priority": "emergency",
             "entries": [dict(files[0], title="Cảnh báo lũ quét")]}
    m2 = build_manifest(DEVICE, [normal, alarm], alarm_at)
    assert m2.emergency
    (server.root / "manifest").write_text(json.dumps(key.sign(m2), ensure_ascii=False))
    agent.on_nudge(m2.version, True)
    assert agent.nudge.is_set() and agent.emergency.is_set()
    assert agent.sync() is True
    agent.player.step()
    assert agent.player.state.current.entry.play_id == "e1"
    agent.player.run_until(alarm_at + timedelta(seconds=30))
    records = agent.playlog.records()
    assert [(r["play_id"], r["result"], r["reason"]) for r in records] == [
        ("n1", "interrupted", "preempted_by:e1"), ("e1", "played", None)]
    assert parse_time(records[1]["actual_start"]) == alarm_at
    assert records[1]["title"] == "Cảnh báo lũ quét"


def test_enrollment_reply_checked_before_pinning(tmp_path):
    from broadcaster.agent.enroll import EnrollmentError, check_credentials

    key = generate_key()
    good = {"device_id": DEVICE, "token": "t", "station_keys": [key.public_info()]}
    check_credentials(good, expected_key_id=key.key_id)
    with pytest.raises(EnrollmentError, match="not offered"):
        check_credentials(good, expected_key_id="0" * 16)
    lying = {**good, "station_keys": [{"key_id": "0" * 16, "public_key": key.public_info()["public_key"]}]}
    with pytest.raises(EnrollmentError):
        check_credentials(lying)
    with pytest.raises(EnrollmentError, match="token"):
        check_credentials({**good, "token": ""})


def test_real_time_run_loop_syncs_plays_and_stops(tmp_path, station):
    """The threaded loop on the system clock: sync on startup, play on time, stop cleanly."""
    import threading
    import time as _time

    from broadcaster.agent.clock import SystemClock

    server, key, files = station
    start = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    plays = [{"device_id": DEVICE, "play_id": "rt1", "start": start, "priority": "normal", "entries": [files[0]]}]
    (server.root / "manifest").write_text(json.dumps(key.sign(build_manifest(DEVICE, plays, start))))
    _enrolled(tmp_path, server, key)
    agent = Agent(tmp_path / "agent", FileSink(tmp_path / "sink.jsonl"), clock=SystemClock(),
                  heartbeat_every=3600)
    stop = threading.Event()
    t = threading.Thread(target=agent.run, args=(stop,))
    t.start()
    deadline = _time.monotonic() + 15
    while not agent.playlog.records() and _time.monotonic() < deadline:
        _time.sleep(0.1)
    stop.set()
    agent.nudge.set()
    t.join(15)
    assert not t.is_alive()
    [r] = agent.playlog.records()
    assert r["result"] == "played"
    assert abs((parse_time(r["actual_start"]) - start).total_seconds()) < 1.0
    # the file server has no heartbeat endpoint: reported as an event, not a crash
    assert any(e["code"].startswith("http_") for e in agent.events)


def test_new_identity_starts_a_new_play_log(tmp_path):
    from broadcaster.agent.playlog import PlayLog

    state = AgentState(tmp_path / "agent")
    state.save_credentials({"device_id": DEVICE, "token": "t", "station_keys": []})
    log = PlayLog(tmp_path / "agent" / "log")
    for i in range(3):
        log.append(play_id=f"p{i}", sha256=None, title="", priority="normal", planned_start="2026-11-23T00:00:00Z",
                   actual_start=None, actual_end=None, result="skipped", reason="missed_start")
    state.start_new_identity(DEVICE, T0)  # same identity: nothing moves
    assert PlayLog(tmp_path / "agent" / "log").last_seq == 3
    state.forget()  # revoked
    state.start_new_identity("dev_00000000000000cc", T0)
    assert PlayLog(tmp_path / "agent" / "log").last_seq == 0
    [archived] = list((tmp_path / "agent").glob("log.before-dev_00000000000000cc-*"))
    assert PlayLog(archived).last_seq == 3


def test_fleet_with_network_faults_all_sync_and_play(tmp_path, station):
    """Harness check: 5 agents, 40 % of requests dropped, then the network down for a day; every play on time."""
    from broadcaster.agent.simulation import Faults, Fleet

    server, key, files = station
    m = _publish(server, key, files, hours=48, every_min=60)
    creds = [{"device_id": DEVICE, "token": "loa_dev_test", "station_keys": [key.public_info()], "mqtt": None}]
    fleet_creds = [dict(creds[0]) for _ in range(5)]
    for i, c in enumerate(fleet_creds):  # one device id for all: the file server holds one manifest
        c["data_name"] = f"box{i}"
    faults = Faults(drop_rate=0.4, seed=7)
    fleet = Fleet(tmp_path / "fleet", server.url, fleet_creds, T0, faults)
    for _ in range(30):
        if all(a.manifest == m and not a.store.missing(m.sizes()) for a in fleet.agents):
            break
        fleet.network_round(heartbeat=False)
    assert all(a.manifest == m and not a.store.missing(m.sizes()) for a in fleet.agents)
    assert faults.dropped > 0
    faults.down = True
    fleet.run_until(T0 + timedelta(hours=48, minutes=5), network_every_s=600)
    for agent in fleet.agents:
        records = agent.playlog.records()
        assert len(records) == len(m.entries) == 48
        assert all(r["result"] == "played" for r in records)
        assert max(abs((parse_time(r["actual_start"]) - parse_time(r["planned_start"])).total_seconds())
                   for r in records) <= 1.0
        assert any(e["code"] == "offline" for e in agent.events)
    fleet.close()


def test_standby_files_are_held_ahead_and_an_emergency_is_then_only_a_command(tmp_path, station):
    """§4b: the manifest's standby files are downloaded with the rest (never played by themselves); a start
    command naming one plays it at once, with no download and no manifest request."""
    from broadcaster.manifest_builder import expand_play
    from broadcaster.protocol.command import Command, sign_command

    server, key, files = station
    alert_sha, alert_size = tone_file(server.root / "alert", 2, 900)
    shutil.move(server.root / "alert", server.root / alert_sha)
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    plays = [{"device_id": DEVICE, "start": t0 + timedelta(hours=1), "priority": "normal", "entries": [files[0]]}]
    m = build_manifest(DEVICE, plays, t0, standby={alert_sha: alert_size})
    assert [s.sha256 for s in m.standby] == [alert_sha] and m.sizes()[alert_sha] == alert_size
    (server.root / "manifest").write_text(json.dumps(key.sign(m), ensure_ascii=False))
    _enrolled(tmp_path, server, key)
    clock = VirtualClock(t0)
    agent = _agent(tmp_path, server, clock)
    agent.sync()
    assert agent.store.locate(alert_sha) is not None  # held before any emergency
    assert agent.store.missing(agent.manifest.sizes()) == []
    agent.player.run_until(t0 + timedelta(minutes=30))
    assert agent.player.state.current is None  # a standby file never airs by itself
    n = len(server.requests)
    at = clock.now()
    play = {"start": at, "end": at + timedelta(seconds=2), "priority": "emergency", "key": (None, "e5", at), "source": "e5",
            "segments": [{"kind": "item", "sha256": alert_sha, "size": alert_size, "duration_s": 2,
                          "title": "Cảnh báo lũ quét"}]}
    entries = tuple(expand_play(play, ""))
    cmd = Command(seq=m.seq + 1, issued_at=at, expires_at=at + timedelta(minutes=2), devices=(DEVICE,),
                  villages=(), action="start", source="e5", entries=entries)
    assert agent.on_command(sign_command(cmd, key.private_key, key.key_id)) == "applied"
    assert not agent._fetch_first.is_set()  # nothing to download
    agent.player.step()
    assert agent.player.state.current.entry.sha256 == alert_sha
    assert len(server.requests) == n  # not one request: the command was enough


def test_a_standby_list_is_signed_and_checked(tmp_path, station):
    from broadcaster.protocol.manifest import ManifestRejected, verify_manifest

    server, key, files = station
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    bare = build_manifest(DEVICE, [], t0)
    assert "standby" not in bare.to_dict()  # no standby: the canonical bytes (and version) of before
    m = build_manifest(DEVICE, [], t0, standby={files[0]["sha256"]: files[0]["size"]})
    assert m.version != bare.version
    envelope = key.sign(m)
    pinned = {key.key_id: key.public_raw}
    assert verify_manifest(envelope, pinned).standby == m.standby
    forged = json.loads(json.dumps(envelope))
    forged["manifest"]["standby"][0]["sha256"] = files[1]["sha256"]
    with pytest.raises(ManifestRejected, match="signature"):
        verify_manifest(forged, pinned)
    bad = build_manifest(DEVICE, [], t0)
    body = {**bad.to_dict(), "standby": [{"sha256": "not-a-hash", "size": 10, "url": "/x"}]}
    from broadcaster.protocol.wire import canonical_json, b64encode

    envelope = {"manifest": body, "signature": b64encode(key.private_key.sign(canonical_json(body))),
                "key_id": key.key_id}
    with pytest.raises(ManifestRejected) as exc:
        verify_manifest(envelope, pinned)
    assert exc.value.code == "manifest_invalid"
