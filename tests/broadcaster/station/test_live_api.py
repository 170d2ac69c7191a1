"""Live sessions through the real API and the real hub (ffmpeg): only a cadre goes on air, the signed `live`
command names the chosen villages' loudspeakers, the phone's numbered slices feed the mount, the stop goes out
as a signed stop, the session is audited and recorded, and its recording can enter the library as a draft."""
from __future__ import annotations

import time

import sqlalchemy as sa

from broadcaster.protocol.command import Command
from loa.audit.models import AuditEntry
from tests.broadcaster.station.device_rig import enroll_by_code
from tests.broadcaster.station.streams.audio import decode, speech_webm


def _slices(data: bytes, n: int = 4000) -> list[bytes]:
    return [data[i:i + n] for i in range(0, len(data), n)]


def _last_command(app) -> Command:
    return Command.from_dict(app.state.commander.sent[-1]["command"])


def test_only_a_cadre_goes_on_air(client, world):
    enroll_by_code(client, world)
    for who, status in (("secretary", 403), ("village_head", 403), ("admin", 403), ("outsider", 404)):
        r = client.post(f"/api/v1/communes/{world.a}/live", json={"villages": None}, headers=world.h(who))
        assert r.status_code == status, (who, r.text)
    r = client.post(f"/api/v1/communes/{world.a}/live", json={"villages": [world.village_b]}, headers=world.h("cadre"))
    assert r.status_code == 422 and r.json()["code"] == "village_not_found"
    r = client.post(f"/api/v1/communes/{world.a}/live", json={"villages": [world.village_a2]},
                    headers=world.h("cadre"))
    assert r.status_code == 422 and r.json()["code"] == "live_no_devices"  # nothing enrolled there
    assert client.get(f"/api/v1/communes/{world.a}/live", headers=world.h("cadre")).json() == []


def test_a_session_airs_is_audited_recorded_and_published(app, client, engine, world):
    device_id, _ = enroll_by_code(client, world)
    r = client.post(f"/api/v1/communes/{world.a}/live", json={"villages": [world.village_a]},
                    headers=world.h("cadre"))
    assert r.status_code == 201, r.text
    live = r.json()
    sid = live["id"]
    assert live["on_air"] and live["device_count"] == 1 and live["villages"] == [world.village_a]
    cmd = _last_command(app)
    assert cmd.action == "live" and cmd.source == f"l{sid}" and cmd.villages == (f"v{world.village_a}",)
    assert cmd.entries[0].url == f"/api/device/v1/streams/live-{sid}" and cmd.entries[0].priority == "live"
    r = client.post(f"/api/v1/communes/{world.a}/live", json={}, headers=world.h("cadre2"))
    assert r.status_code == 409 and r.json()["code"] == "live_busy"

    slices = _slices(speech_webm("quiet", 6.0))
    url = f"/api/v1/live/{sid}/audio"
    h = {**world.h("cadre"), "Content-Type": "audio/webm"}
    assert client.post(url, params={"seq": 1}, content=slices[1], headers=h).json()["code"] == "live_gap"
    assert client.post(url, params={"seq": 0}, content=slices[0], headers=world.h("cadre2")).status_code == 409
    for i, chunk in enumerate(slices):
        assert client.post(url, params={"seq": i}, content=chunk, headers=h).status_code == 204
    assert client.post(url, params={"seq": 0}, content=slices[0], headers=h).status_code == 204  # a repeat
    assert client.post(url, params={"seq": len(slices)}, content=b"", headers=h).status_code == 422

    r = client.post(f"/api/v1/live/{sid}/stop", headers=world.h("cadre2"))  # any cadre of the commune may stop
    assert r.status_code == 200, r.text
    ended = r.json()
    assert not ended["on_air"] and ended["end_reason"] == "stopped" and ended["ended_by"] == "cadre2"
    assert ended["recording"]
    stop = _last_command(app)
    assert stop.action == "stop" and stop.source == f"l{sid}"
    assert client.post(url, params={"seq": len(slices)}, content=slices[0], headers=h).json()["code"] == "live_ended"

    audio = client.get(f"/api/v1/live/{sid}/recording", headers=world.h("secretary"))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert len(decode(audio.content)) / 44100 > 4.5
    with engine.connect() as c:
        actions = [r[0] for r in c.execute(sa.select(AuditEntry.action, AuditEntry.detail).where(
            AuditEntry.object_type == "live").order_by(AuditEntry.id))]
    assert actions == ["live.start", "live.end"]

    r = client.post(f"/api/v1/live/{sid}/publish", json={"title": "Họp thôn"}, headers=world.h("secretary"))
    assert r.status_code == 403
    r = client.post(f"/api/v1/live/{sid}/publish", json={"title": "Họp thôn"}, headers=world.h("cadre"))
    assert r.status_code == 201, r.text
    item = client.get(f"/api/v1/content/{r.json()['content_item_id']}", headers=world.h("cadre")).json()
    assert item["status"] == "draft" and item["source"] == "recording"
    r = client.post(f"/api/v1/live/{sid}/publish", json={"title": "Họp thôn"}, headers=world.h("cadre"))
    assert r.status_code == 409 and r.json()["code"] == "live_published"


def _off_air(client, world, sid: int, within: float) -> dict:
    """The session's row once it is off air, or as it is after `within` seconds of polling."""
    started = time.monotonic()
    while True:
        row = client.get(f"/api/v1/live/{sid}", headers=world.h("cadre")).json()
        if not row["on_air"] or time.monotonic() - started >= within:
            return row
        time.sleep(0.1)


def test_a_phone_that_stops_sending_ends_the_session(app, client, world):
    enroll_by_code(client, world)
    sid = client.post(f"/api/v1/communes/{world.a}/live", json={}, headers=world.h("cadre")).json()["id"]
    h = {**world.h("cadre"), "Content-Type": "audio/webm"}
    for i, chunk in enumerate(_slices(speech_webm("loud", 2.0))):
        client.post(f"/api/v1/live/{sid}/audio", params={"seq": i}, content=chunk, headers=h)
    went_quiet = time.monotonic()
    row = _off_air(client, world, sid, 8)
    assert row["end_reason"] == "link_lost"
    assert time.monotonic() - went_quiet < 5  # link timeout 3 s + the watchdog's tick
    assert _last_command(app).action == "stop"


def test_a_phone_gets_time_for_its_first_slice_and_one_that_never_sends_ends_the_session(app, client, world):
    """Before its first slice a phone is starting its microphone and uploading over 3G: the 3 s link timeout
    starts counting at the first slice, not at going on air. One that never sends ends after the first-input
    timeout (15 s by default; 5 s here)."""
    app.state.live.first_input_timeout_s = 5.0
    enroll_by_code(client, world)
    h = {**world.h("cadre"), "Content-Type": "audio/webm"}
    sid = client.post(f"/api/v1/communes/{world.a}/live", json={}, headers=world.h("cadre")).json()["id"]
    time.sleep(3.5)  # longer than the link timeout, without a slice yet
    assert client.get(f"/api/v1/live/{sid}", headers=world.h("cadre")).json()["on_air"]
    for i, chunk in enumerate(_slices(speech_webm("loud", 1.0))):
        assert client.post(f"/api/v1/live/{sid}/audio", params={"seq": i}, content=chunk, headers=h).status_code == 204
    client.post(f"/api/v1/live/{sid}/stop", headers=world.h("cadre"))

    went_on_air = time.monotonic()  # before the request: the station's clock for the first slice starts inside it
    sid = client.post(f"/api/v1/communes/{world.a}/live", json={}, headers=world.h("cadre")).json()["id"]
    row = _off_air(client, world, sid, 10)
    assert row["end_reason"] == "link_lost"
    assert 5.0 <= time.monotonic() - went_on_air < 8.0  # the timeout, plus the watchdog's tick and our polling


def test_the_heartbeat_hands_the_original_live_command_to_its_targets_only_then_the_stop(app, client, world):
    """§4a late joiners: while the session is on air, a heartbeat of a loudspeaker it targets is answered 200
    with the session's signed `live` envelope exactly as pushed; one in another village still gets 204; after
    the stop the reply carries the original stop instead. `joined` counts only the boxes' own reports."""
    from tests.broadcaster.station.device_rig import dh

    _, named = enroll_by_code(client, world)
    _, elsewhere = enroll_by_code(client, world, village_id=world.village_a2)
    beat = {"sent_at": "2026-11-22T19:00:00Z", "manifest_version": None}
    assert client.post("/api/device/v1/heartbeat", json=beat, headers=dh(named)).status_code == 204
    r = client.post(f"/api/v1/communes/{world.a}/live", json={"villages": [world.village_a]},
                    headers=world.h("cadre"))
    assert r.status_code == 201, r.text
    sid, pushed = r.json()["id"], app.state.commander.sent[-1]
    assert r.json()["joined"] == 0
    reply = client.post("/api/device/v1/heartbeat", json=beat, headers=dh(named))
    assert reply.status_code == 200 and reply.json()["live"] == [pushed] and reply.json()["live_ended"] == []
    assert reply.json()["manifest_version"] == reply.headers["X-Loa-Manifest-Version"]
    assert client.post("/api/device/v1/heartbeat", json=beat, headers=dh(elsewhere)).status_code == 204
    playing = {**beat, "playing": {"play_id": f"live-l{sid}", "sha256": None, "title": "live", "priority": "live",
                                   "started_at": "2026-11-22T19:00:01Z"}}
    client.post("/api/device/v1/heartbeat", json=playing, headers=dh(named))
    assert client.get(f"/api/v1/live/{sid}", headers=world.h("cadre")).json()["joined"] == 1
    r = client.post(f"/api/v1/live/{sid}/stop", headers=world.h("cadre"))
    assert r.status_code == 200
    stop = app.state.commander.sent[-1]
    assert stop["command"]["action"] == "stop" and stop["command"]["source"] == f"l{sid}"
    reply = client.post("/api/device/v1/heartbeat", json=beat, headers=dh(named))
    assert reply.status_code == 200 and reply.json()["live"] == [] and reply.json()["live_ended"] == [stop]


def test_joined_never_drops_when_the_box_goes_idle_and_counts_only_real_named_boxes(client, engine, world):
    """A box's beat saying it plays the session is kept: its idle beat after the stop (the play record still on
    its way, or never sent by a box cut by its own restart) leaves `joined` as it was. A box the session did not
    name, a session of another commune or one that does not exist, add nothing and fail no beat."""
    from broadcaster.station.live.models import LiveAired
    from tests.broadcaster.station.device_rig import dh

    _, named = enroll_by_code(client, world)
    _, elsewhere = enroll_by_code(client, world, village_id=world.village_a2)
    r = client.post(f"/api/v1/communes/{world.a}/live", json={"villages": [world.village_a]},
                    headers=world.h("cadre"))
    sid = r.json()["id"]

    def beat(key, play_id: str | None) -> int:
        playing = play_id and {"play_id": play_id, "sha256": None, "title": "live", "priority": "live",
                               "started_at": "2026-11-22T19:00:01Z"}
        body = {"sent_at": "2026-11-22T19:00:02Z", "manifest_version": None, "playing": playing}
        return client.post("/api/device/v1/heartbeat", json=body, headers=dh(key)).status_code

    def joined() -> int:
        return client.get(f"/api/v1/live/{sid}", headers=world.h("cadre")).json()["joined"]

    assert beat(elsewhere, f"live-l{sid}") in (200, 204)  # not named by the session: never counted
    for nonsense in (f"live-l{sid + 1000}", "live-l99999999999999999999", "live-lx", "live-l", f"live-l{sid}x"):
        assert beat(named, nonsense) in (200, 204), nonsense
    assert joined() == 0
    assert beat(named, f"live-l{sid}") == 200
    assert joined() == 1
    assert client.post(f"/api/v1/live/{sid}/stop", headers=world.h("cadre")).status_code == 200
    assert beat(named, None) == 200  # idle now, and no play record sent
    assert joined() == 1
    assert beat(named, f"live-l{sid}") == 200  # a late beat: nothing doubles
    assert joined() == 1
    with engine.connect() as c:
        rows = c.execute(sa.select(LiveAired.session_id, LiveAired.device_id)).all()
    assert {s for s, _ in rows} == {sid} and len(rows) == 2  # the named box, and the other one's own report
