"""Standby files (docs/device-protocol.md §4b) and the audio fast path.

A device's manifest lists its commune's approved emergency messages as `standby` (held ahead, so an emergency
that airs one is only a signed command); drafts, other kinds, other communes' and other villages' messages are
not listed. The audio endpoint (fast path or route) serves a device only what its manifests or a start command
granted it, and never an unauthenticated or revoked device."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from loa.db import session_scope
from tests.broadcaster.helpers import tone_file
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code
from tests.station_rig import make_item


def _own_audio(engine, settings, tmp_path, item_id: int, freq: int) -> tuple[str, int]:
    """Give the item audio of its own (the shared mastered fixture would make every item the same file)."""
    from content.store import AudioStore

    sha, size = tone_file(tmp_path / f"{freq}.mp3", 1.0, freq)
    assert AudioStore(settings.audio_dir).put_file(tmp_path / f"{freq}.mp3", "mp3") == sha
    with session_scope(engine) as s:
        s.execute(sa.text("UPDATE content_items SET audio_sha256 = :s, size_bytes = :n WHERE id = :i"),
                  {"s": sha, "n": size, "i": item_id})
    return sha, size


def _standby(client, creds) -> dict[str, int]:
    r = client.get(f"{DEV}/manifest", headers=dh(creds))
    assert r.status_code == 200, r.text
    return {s["sha256"]: s["size"] for s in r.json()["manifest"].get("standby", [])}


def _forget(app) -> None:
    app.state.broadcaster.standby.forget()  # as if its 30 s had passed


def test_manifest_lists_the_approved_emergency_messages_of_its_commune_and_village(
        app, client, engine, world, facts, clock, settings, tmp_path):
    alert = make_item(engine, world, facts, clock, status="approved", kind="emergency", title="Lũ quét")
    mine = make_item(engine, world, facts, clock, status="approved", kind="emergency", title="Sạt lở thôn",
                     village_id=world.village_a)
    theirs = make_item(engine, world, facts, clock, status="approved", kind="emergency", title="Sạt lở thôn 2",
                       village_id=world.village_a2)
    draft = make_item(engine, world, facts, clock, status="submitted", kind="emergency", title="Chưa duyệt")
    news = make_item(engine, world, facts, clock, status="approved", kind="news", title="Tin tức")
    other = make_item(engine, world, facts, clock, author="outsider", status="draft", kind="emergency")
    shas = {i: _own_audio(engine, settings, tmp_path, i, 300 + 50 * k)
            for k, i in enumerate([alert, mine, theirs, draft, news, other])}
    with session_scope(engine) as s:  # the other commune's message approved there (its own cadre)
        s.execute(sa.text("UPDATE content_items SET status = 'approved', approved_version = version WHERE id = :i"),
                  {"i": other})
    _, creds = enroll_by_code(client, world, village_id=world.village_a)
    standby = _standby(client, creds)
    assert standby == {shas[alert][0]: shas[alert][1], shas[mine][0]: shas[mine][1]}
    # the device may fetch them (the listing is the grant), not the others' files, which exist on the station
    for item in (alert, mine):
        r = client.get(f"{DEV}/audio/{shas[item][0]}", headers=dh(creds))
        assert r.status_code == 200 and len(r.content) == shas[item][1]
    for item in (theirs, draft, news, other):
        r = client.get(f"{DEV}/audio/{shas[item][0]}", headers=dh(creds))
        assert r.status_code == 404, (item, r.status_code)


def test_a_newly_approved_message_changes_the_manifest_and_a_withdrawn_one_leaves_it(
        app, client, engine, world, facts, clock, settings, tmp_path):
    _, creds = enroll_by_code(client, world, village_id=world.village_a)
    r = client.get(f"{DEV}/manifest", headers=dh(creds))
    etag = r.headers["etag"]
    assert "standby" not in r.json()["manifest"]  # none yet: the manifest keeps its former canonical form
    alert = make_item(engine, world, facts, clock, status="approved", kind="emergency", title="Lũ quét")
    sha, _ = _own_audio(engine, settings, tmp_path, alert, 520)
    _forget(app)
    r = client.get(f"{DEV}/manifest", headers={**dh(creds), "If-None-Match": etag})
    assert r.status_code == 200 and [s["sha256"] for s in r.json()["manifest"]["standby"]] == [sha]
    etag = r.headers["etag"]
    assert client.get(f"{DEV}/manifest", headers={**dh(creds), "If-None-Match": etag}).status_code == 304
    # the heartbeat names the new version too (a device learns it within its 5-minute beat)
    with session_scope(engine) as s:  # withdrawn: a new version awaits review
        s.execute(sa.text("UPDATE content_items SET version = version + 1 WHERE id = :i"), {"i": alert})
    _forget(app)
    r = client.get(f"{DEV}/manifest", headers={**dh(creds), "If-None-Match": etag})
    assert r.status_code == 200 and "standby" not in r.json()["manifest"]


def test_fast_audio_path_refuses_unauthenticated_revoked_and_unlisted(
        app, client, engine, world, facts, clock, settings, tmp_path):
    alert = make_item(engine, world, facts, clock, status="approved", kind="emergency", title="Lũ quét")
    sha, size = _own_audio(engine, settings, tmp_path, alert, 610)
    news = make_item(engine, world, facts, clock, status="approved", kind="news", title="Tin tức")
    unlisted, _ = _own_audio(engine, settings, tmp_path, news, 640)
    dev, creds = enroll_by_code(client, world, village_id=world.village_a)
    _, creds_b = enroll_by_code(client, world, village_id=world.village_a2)
    assert sha in _standby(client, creds) and sha in _standby(client, creds_b)
    grants = app.state.broadcaster.grants
    assert grants.allows(dev, sha, clock())  # this process stored the manifest: the fast path knows the grant
    r = client.get(f"{DEV}/audio/{sha}", headers=dh(creds))
    assert r.status_code == 200 and len(r.content) == size
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert "x-loa-server-time" in r.headers
    assert client.get(f"{DEV}/audio/{sha}").status_code == 401
    assert client.get(f"{DEV}/audio/{sha}", headers={"Authorization": "Bearer loa_dev_forged"}).status_code == 401
    assert client.get(f"{DEV}/audio/{unlisted}", headers=dh(creds)).status_code == 404
    assert not grants.allows(dev, unlisted, clock())
    # revoked: refused at once, though the grant is recent
    assert client.post(f"/api/v1/devices/{dev}/revoke", headers=world.h("cadre")).status_code == 200
    r = client.get(f"{DEV}/audio/{sha}", headers=dh(creds))
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"
    assert not grants.allows(dev, sha, clock())
    # another device of the commune is not affected
    assert client.get(f"{DEV}/audio/{sha}", headers=dh(creds_b)).status_code == 200


def test_grants_age_out_in_the_fast_path_as_in_the_database(app, client, engine, world, facts, clock, settings,
                                                            tmp_path):
    from broadcaster.station.manifest_cache import RECENT_GRANT, GrantCache

    cache = GrantCache(limit=3)
    now = clock()
    cache.add([1], ["a" * 64], now)
    assert cache.allows(1, "a" * 64, now + RECENT_GRANT - timedelta(seconds=1))
    assert not cache.allows(1, "a" * 64, now + RECENT_GRANT)
    assert not cache.allows(2, "a" * 64, now)
    cache.add([1, 2], ["b" * 64, "c" * 64], now)  # over its limit: emptied (the database answers meanwhile)
    assert not cache.allows(1, "a" * 64, now)


def test_start_command_grants_a_fresh_file_before_any_manifest_lists_it(
        app, client, engine, world, facts, clock, settings, tmp_path, schedules_service):
    """A brand-new message (not in standby): the start command's grant lets the device fetch it at once, from
    the fast path, while the manifests are still being rebuilt."""
    fresh = make_item(engine, world, facts, clock, status="approved", kind="news", title="Tin khẩn mới")
    sha, size = _own_audio(engine, settings, tmp_path, fresh, 700)
    dev, creds = enroll_by_code(client, world, village_id=world.village_a)
    assert sha not in _standby(client, creds)
    assert client.get(f"{DEV}/audio/{sha}", headers=dh(creds)).status_code == 404
    sent = []
    app.state.commander.publish = lambda envelope, targets: sent.append(envelope)
    r = client.post(f"/api/v1/communes/{world.a}/emergencies", headers=world.h("cadre"), json={
        "title": "Khẩn", "programme": [{"type": "item", "content_id": fresh}], "villages": [world.village_a],
        "repeat": 1})
    assert r.status_code == 201, r.text
    assert any(e["command"]["action"] == "start" for e in sent)
    assert app.state.broadcaster.grants.allows(dev, sha, clock())
    r = client.get(f"{DEV}/audio/{sha}", headers=dh(creds))
    assert r.status_code == 200 and len(r.content) == size
