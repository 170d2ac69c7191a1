"""The device fast path (api/devices/fastpath.py + broadcaster/station/identities.py): 304s from memory, yet a
revocation, a new timetable or a sound change takes effect at once in this process, and another replica's
changes (written straight to the database here) within the re-check interval. Heartbeats and plays uploads
answered there are the route's replies, byte for byte; whatever it cannot answer reaches the route intact."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from loa.db import session_scope
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.station_rig import make_item


def _fetch(client, creds, etag=None):
    headers = {**dh(creds), **({"If-None-Match": etag} if etag else {})}
    return client.get(f"{DEV}/manifest", headers=headers)


def _world(client, engine, world, facts, clock, schedules_service):
    item = make_item(engine, world, facts, clock, status="approved", title="Bản tin")
    dev, creds = enroll_by_code(client, world, name="A")
    schedule(engine, world, [item], clock() + timedelta(minutes=5), rrule="FREQ=HOURLY")
    schedules_service.materialize_commune(world.a, clock())
    return item, dev, creds


def test_304_from_memory_and_revocation_at_once(app, client, engine, world, facts, clock, schedules_service):
    _, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    cache = app.state.identities
    r = _fetch(client, creds)
    assert r.status_code == 200
    etag = r.headers["etag"]
    hits = cache.hits
    for _ in range(3):
        r2 = _fetch(client, creds, etag)
        assert r2.status_code == 304 and r2.headers["etag"] == etag and not r2.content
        assert "x-loa-server-time" in r2.headers  # the clock sample is on fast replies too
    assert cache.hits >= hits + 3  # answered from the identity cache, no lookup
    # a full 200 from the fast path is the route's manifest for the same version; the background nudger may have
    # re-signed it meanwhile (same content, a later control seq), never one signed earlier (manifest_replayed)
    full = _fetch(client, creds)
    if full.headers["etag"] == etag:
        first, again = r.json(), full.json()
        assert again["manifest"]["seq"] >= first["manifest"]["seq"]
        assert {**again["manifest"], "seq": 0} == {**first["manifest"], "seq": 0}
    else:
        assert full.content != r.content and _fetch(client, creds, full.headers["etag"]).status_code == 304
    assert client.post(f"/api/v1/devices/{dev}/revoke", headers=world.h("cadre")).status_code == 200
    r3 = _fetch(client, creds, etag)
    assert r3.status_code == 401 and r3.json()["code"] == "device_revoked"


def test_sound_and_timetable_changes_at_once(app, client, engine, world, facts, clock, schedules_service):
    item, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    etag = _fetch(client, creds).headers["etag"]
    assert _fetch(client, creds, etag).status_code == 304
    assert client.put(f"/api/v1/devices/{dev}/sound", json={"volume": 40},
                      headers=world.h("cadre")).status_code == 200
    r = _fetch(client, creds, etag)
    assert r.status_code == 200 and r.json()["manifest"]["volume"] == 40
    etag = r.headers["etag"]
    assert _fetch(client, creds, etag).status_code == 304
    schedule(engine, world, [item], clock() + timedelta(minutes=7), title="Thông báo thêm")
    schedules_service.materialize_commune(world.a, clock())
    r = _fetch(client, creds, etag)
    assert r.status_code == 200 and r.headers["etag"] != etag


def test_another_replicas_changes_within_the_recheck(app, client, engine, world, facts, clock, schedules_service):
    _, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    cache = app.state.identities
    etag = _fetch(client, creds).headers["etag"]
    assert _fetch(client, creds, etag).status_code == 304
    # Another API process revokes the credential: this process's cache knows nothing of it...
    fake_now = [1000.0]
    cache.monotonic = lambda: fake_now[0]
    cache._checked = fake_now[0]
    with session_scope(engine) as s:
        s.execute(sa.text("UPDATE device_credentials SET revoked_at = :t WHERE device_id = :d"),
                  {"t": clock() + timedelta(seconds=1), "d": dev})
        s.execute(sa.text("UPDATE devices SET revoked_at = :t WHERE id = :d"), {"t": clock() + timedelta(seconds=1),
                                                                                "d": dev})
    assert _fetch(client, creds, etag).status_code == 304  # within the re-check interval: still the cache
    fake_now[0] += cache.recheck_s + 0.01  # ...until the next check, at most recheck_s later
    r = _fetch(client, creds, etag)
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"


def _revoke(session, device_id, at) -> None:
    """As another replica would: through the column types, so stamps are stored exactly as the station stores them."""
    from broadcaster.station.models import DeviceCredential
    from loa.org.models import Device

    session.execute(sa.update(Device.__table__).where(Device.__table__.c.id == device_id).values(revoked_at=at))
    session.execute(sa.update(DeviceCredential.__table__)
                    .where(DeviceCredential.__table__.c.device_id == device_id).values(revoked_at=at))


def test_a_late_commit_behind_the_mark_is_still_seen(app, client, engine, world, facts, clock, schedules_service):
    """Stamps are written before commit: another process's change can appear with a stamp older than the newest
    one already seen (a scheduler run stamps every commune with its own start time). It must not be missed."""
    _, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    other, _ = enroll_by_code(client, world, name="B")
    cache = app.state.identities
    etag = _fetch(client, creds).headers["etag"]
    fake_now = [1000.0]
    cache.monotonic = lambda: fake_now[0]
    cache._checked = cache._late_checked = fake_now[0]
    # Another device's revocation is seen first and moves the devices table's mark two minutes ahead.
    with session_scope(engine) as s:
        _revoke(s, other, clock() + timedelta(minutes=2))
    fake_now[0] += cache.recheck_s + 0.01
    assert _fetch(client, creds, etag).status_code == 304
    # Now our device's revocation commits late, stamped one minute *before* that mark.
    with session_scope(engine) as s:
        _revoke(s, dev, clock() + timedelta(minutes=1))
    fake_now[0] += cache.recheck_s + 0.01
    assert _fetch(client, creds, etag).status_code == 304  # the quick check looks only ahead of the mark...
    fake_now[0] += cache.late_check_s
    r = _fetch(client, creds, etag)  # ...the look-back, within late_check_s, finds it
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"


def test_the_nudgers_own_changes_keep_identities_cached(app, client, engine, world, facts, clock, schedules_service):
    """The nudger reads each device's identity with its new timetable and writes its new manifest: the next
    change check must not drop those identities again (after an emergency every nudged device would miss once
    more, a database lookup each), yet another process's later change still is seen."""
    item, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    cache = app.state.identities
    etag = _fetch(client, creds).headers["etag"]
    fake_now = [1000.0]

    def monotonic() -> float:  # time passes a little with every look
        fake_now[0] += 0.001
        return fake_now[0]

    cache.monotonic = monotonic
    cache._checked = cache._late_checked = fake_now[0]
    schedule(engine, world, [item], clock() + timedelta(minutes=7), title="Thông báo thêm")
    schedules_service.materialize_commune(world.a, clock())
    app.state.nudger.flush()
    misses = cache.misses
    r = _fetch(client, creds, etag)
    assert r.status_code == 200 and r.headers["etag"] != etag
    etag = r.headers["etag"]
    for _ in range(2):  # a quick check, then one with the look-back
        fake_now[0] += cache.late_check_s + 0.01
        assert _fetch(client, creds, etag).status_code == 304
    assert cache.misses == misses  # every request answered from the identity the nudger put back
    with session_scope(engine) as s:
        _revoke(s, dev, clock() + timedelta(seconds=1))
    fake_now[0] += cache.recheck_s + 0.01
    r = _fetch(client, creds, etag)
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"


def test_a_manifest_signed_earlier_never_replaces_a_later_one(app, client, engine, world, facts, clock,
                                                              schedules_service):
    """The nudger's batch and a device's own request may store the same device's manifest in either order: the
    one signed later (higher control seq) stays, in the database and in the cache, or a device that took it
    would be served the earlier one and refuse it (manifest_replayed) until the next change."""
    from broadcaster.station import manifests

    device_id, creds, earlier, later = _earlier_and_later(app, client, engine, world, facts, clock,
                                                          schedules_service)
    ctx = app.state.broadcaster
    manifests.store(engine, ctx, [later], clock())
    manifests.store(engine, ctx, [earlier], clock())  # finishes last, signed first
    stored = _fetch(client, creds)
    assert stored.status_code == 200 and stored.json()["manifest"]["seq"] == 10_001
    ctx.cache.drop(device_id)  # after a restart: read back from the row
    assert _fetch(client, creds).json()["manifest"]["seq"] == 10_001
    with session_scope(engine) as s:
        assert s.execute(sa.text("SELECT seq FROM device_manifests WHERE device_id = :d"),
                         {"d": device_id}).scalar_one() == 10_001



def _earlier_and_later(app, client, engine, world, facts, clock, schedules_service):
    """A device with a stored manifest, and two more for its current source, signed in this order."""
    from broadcaster.station import manifests
    from loa.org.models import Device

    _, device_id, creds = _world(client, engine, world, facts, clock, schedules_service)
    ctx = app.state.broadcaster
    uid = _fetch(client, creds).json()["manifest"]["device_id"]
    app.state.nudger.flush()  # the nudges _world's changes started are done: no other writer from here on
    with session_scope(engine) as s:
        device = s.get(Device, device_id)
        _, key = manifests.lookup(s, ctx, device, uid, manifests.timetable_version(s, device_id), clock())
        earlier = manifests.prepare(s, ctx, device, uid, key, clock(), seq=10_000)
        later = manifests.prepare(s, ctx, device, uid, key, clock(), seq=10_001)
    return device_id, creds, earlier, later


def _another_replica(ctx):
    """The same station's keys and database, with its own memory (another API replica)."""
    from dataclasses import replace

    from broadcaster.station.manifest_cache import GrantCache, ManifestCache

    return replace(ctx, cache=ManifestCache(), grants=GrantCache())


def test_a_manifest_that_lost_the_race_is_not_cached_by_a_replica_that_never_saw_the_winner(
        app, client, engine, world, facts, clock, schedules_service):
    """Another replica stored the manifest signed later; this one, which never cached it, then stores the one
    signed earlier. The database keeps the later one, and so must this replica's cache: its own guard (the
    newest seq it has seen) cannot know of the other's. Cached, the earlier one was served (seq 10000)."""
    from broadcaster.station import manifests

    device_id, creds, earlier, later = _earlier_and_later(app, client, engine, world, facts, clock,
                                                          schedules_service)
    ctx = app.state.broadcaster
    ctx.cache.drop(device_id)  # this replica has not cached the device's manifest since
    assert manifests.store(engine, _another_replica(ctx), [later], clock()) == [later]
    assert manifests.store(engine, ctx, [earlier], clock()) == []  # not stored, and not cached
    assert _fetch(client, creds).json()["manifest"]["seq"] == 10_001


def test_a_request_whose_manifest_lost_the_race_serves_the_one_stored(
        app, client, engine, world, facts, clock, schedules_service, monkeypatch):
    """A device's request builds its manifest while another replica stores one signed later: the request's
    write loses, and the device gets the stored one, not its own older one (which it would refuse, as
    `manifest_replayed`, had it taken the other)."""
    from broadcaster.station import manifests

    device_id, creds, _, later = _earlier_and_later(app, client, engine, world, facts, clock, schedules_service)
    ctx = app.state.broadcaster
    ctx.cache.drop(device_id)
    with session_scope(engine) as s:  # nothing stored: the request builds and signs its own
        s.execute(sa.text("DELETE FROM device_manifests WHERE device_id = :d"), {"d": device_id})
    real_store, raced = manifests.store, []

    def store_after_the_other_replica(engine_, ctx_, built, now, **kw):  # noqa: ANN001, ANN003, ANN202
        if ctx_ is ctx and not raced:  # the request's write: the other replica commits first
            raced.append(built[0].entry.seq)
            real_store(engine_, _another_replica(ctx), [later], now)
        return real_store(engine_, ctx_, built, now, **kw)

    monkeypatch.setattr(manifests, "store", store_after_the_other_replica)
    got = _fetch(client, creds)
    assert raced and raced[0] < 10_001  # the request did build its own, signed earlier
    assert got.status_code == 200 and got.json()["manifest"]["seq"] == 10_001
    assert _fetch(client, creds).json()["manifest"]["seq"] == 10_001  # and so does the next, from memory

# -- heartbeat and plays: the fast path answers as the route would ------------------------------------------
_VOLATILE = {b"date", b"server", b"x-loa-server-time"}


class _FullStackCalls:
    """Counts the requests the fast path hands to the full stack (and passes them on)."""

    def __init__(self, fast_path) -> None:
        self.fast_path, self.inner, self.calls = fast_path, fast_path.app, 0
        fast_path.app = self

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await self.inner(scope, receive, send)


def _raw(r) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers in order (the per-request ones by name only) and body."""
    headers = [(k, b"" if k in _VOLATILE else v) for k, v in r.headers.raw]
    return r.status_code, headers, r.content


def _both(app, client, path, **kw):
    """The same request through the fast path, then the full stack alone (fast path off)."""
    fast = client.post(path, **kw)
    saved, app.fast_path = app.fast_path, None
    try:
        full = client.post(path, **kw)
    finally:
        app.fast_path = saved
    return fast, full


def _record(seq: int, at, result="played") -> dict:
    return {"seq": seq, "play_id": f"p{seq}", "title": "Bản tin", "priority": "normal",
            "planned_start": at.isoformat(), "actual_start": at.isoformat(), "actual_end": at.isoformat(),
            "result": result, **({"reason": "sink_failed: no card"} if result == "failed" else {})}


def test_heartbeat_and_plays_answered_as_the_route_would(app, client, engine, world, facts, clock,
                                                         schedules_service):
    _, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    spy = _FullStackCalls(app.fast_path)
    beat = {"sent_at": clock().isoformat(), "manifest_version": None, "volume": 80, "events": []}
    fast, full = _both(app, client, f"{DEV}/heartbeat", json=beat, headers=dh(creds))
    assert spy.calls == 0  # the fast request never reached the full stack; the second went there on purpose
    assert fast.status_code == 204 and fast.headers["x-loa-manifest-version"]
    assert "x-loa-server-time" in fast.headers and "content-security-policy" in fast.headers
    assert _raw(fast) == _raw(full)
    # a lean beat keeps what it left out (the same function as the route: status.heartbeat)
    fast, _ = _both(app, client, f"{DEV}/heartbeat", json={"sent_at": clock().isoformat()}, headers=dh(creds))
    assert fast.status_code == 204
    with session_scope(engine) as s:
        assert s.execute(sa.text("SELECT status FROM devices WHERE id = :d"), {"d": dev}).scalar() == "online"
    # plays: stored once, acknowledged alike (the second request resends the same records)
    records = [_record(1, clock()), _record(2, clock(), "failed")]
    calls = spy.calls
    fast, full = _both(app, client, f"{DEV}/plays", json={"records": records}, headers=dh(creds))
    assert spy.calls == calls
    assert fast.status_code == 200 and fast.json() == {"acked_through": 2}
    assert _raw(fast) == _raw(full)
    with session_scope(engine) as s:
        assert s.execute(sa.text("SELECT count(*) FROM device_plays WHERE device_id = :d"), {"d": dev}).scalar() == 2
        assert s.execute(sa.text("SELECT count(*) FROM device_alerts WHERE device_id = :d AND kind = 'play_failed'"),
                         {"d": dev}).scalar() == 1


def test_what_the_fast_path_leaves_to_the_route(app, client, engine, world, facts, clock, schedules_service):
    """Bad bodies, other content types, missing, unknown and revoked tokens: the full stack answers, with the
    body the fast path read handed on, so the replies are the route's (422, 401, 413…)."""
    _, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    spy = _FullStackCalls(app.fast_path)
    path, now = f"{DEV}/heartbeat", clock().isoformat()
    cases = [
        dict(json={"manifest_version": None}, headers=dh(creds)),  # sent_at missing: 422
        dict(json={"sent_at": now, "local_volume": 101}, headers=dh(creds)),  # out of range: 422
        dict(json=["not", "an", "object"], headers=dh(creds)),
        dict(content=b"{not json", headers={**dh(creds), "Content-Type": "application/json"}),
        dict(content=json.dumps({"sent_at": now}).encode(), headers={**dh(creds), "Content-Type": "text/plain"}),
        dict(json={"sent_at": now}),  # no token: 401
        dict(json={"sent_at": now}, headers={"Authorization": "Bearer ldt_nope"}),  # unknown token: 401
        # two tokens: the route reads the first (unknown: 401), and so does the fast path
        dict(json={"sent_at": now}, headers=[("Authorization", "Bearer ldt_nope"), *dh(creds).items()]),
        dict(content=b"{" + b" " * (1024 * 1024 + 1) + b"}",
             headers={**dh(creds), "Content-Type": "application/json"}),  # over the JSON limit: 413
    ]
    for kw in cases:
        calls = spy.calls
        fast, full = _both(app, client, path, **kw)
        assert spy.calls == calls + 1, kw.get("json")  # the fast path answered none of them
        assert fast.status_code in (401, 413, 415, 422) and _raw(fast) == _raw(full), (kw.get("json"), fast.text)
    bad_plays = {"records": [{**_record(1, clock()), "result": "maybe"}]}
    fast, full = _both(app, client, f"{DEV}/plays", json=bad_plays, headers=dh(creds))
    assert fast.status_code == 422 and _raw(fast) == _raw(full)
    # Revoked by another replica, within this process's re-check interval: the identity is still cached, the beat's
    # own check refuses it inside the function (rolled back), and the route, given the same body, answers 401.
    cache = app.state.identities
    fake_now = [1000.0]
    cache.monotonic = lambda: fake_now[0]
    cache._checked = cache._late_checked = fake_now[0]
    with session_scope(engine) as s:
        _revoke(s, dev, clock() + timedelta(seconds=1))
    calls = spy.calls
    r = client.post(path, json={"sent_at": now}, headers=dh(creds))
    assert spy.calls == calls + 1 and r.status_code == 401 and r.json()["code"] == "device_revoked"
    with session_scope(engine) as s:
        # no beat of this device was ever stored: the refused one left nothing behind either
        assert s.execute(sa.text("SELECT count(*) FROM device_reports WHERE device_id = :d"), {"d": dev}).scalar() == 0


def test_a_new_identity_starts_from_an_empty_report(app, client, engine, world, facts, clock, schedules_service):
    """§6: a re-enrolled box's first beat, lean or not, finds nothing of the old identity's report; its later
    beats update only what they carry (the one-statement way of broadcaster/station/status.py)."""
    from broadcaster.station import enrollment
    from tests.broadcaster.station.device_rig import INFO

    _, dev, creds = _world(client, engine, world, facts, clock, schedules_service)
    now = clock().isoformat()
    full = {"sent_at": now, "manifest_version": None, "uptime_s": 5, "disk_free_bytes": 123, "cache": {"files": 2}}
    assert client.post(f"{DEV}/heartbeat", json=full, headers=dh(creds)).status_code == 204
    code = client.post(f"/api/v1/devices/{dev}/enrollment-code", headers=world.h("cadre")).json()["code"]
    with session_scope(engine) as s:
        new = enrollment.claim(s, app.state.broadcaster, code, INFO, "198.51.100.9", clock())

    def report() -> dict:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT uid, uptime_s, disk_free_bytes, cache FROM device_reports "
                                             "WHERE device_id = :d"), {"d": dev}).mappings().one())

    assert client.post(f"{DEV}/heartbeat", json={"sent_at": now}, headers=dh(new)).status_code == 204
    r = report()
    assert r["uid"] == new["device_id"] and r["uptime_s"] is None and r["disk_free_bytes"] is None
    assert r["cache"] in ({}, "{}")
    assert client.post(f"{DEV}/heartbeat", json={"sent_at": now, "uptime_s": 7}, headers=dh(new)).status_code == 204
    assert client.post(f"{DEV}/heartbeat", json={"sent_at": now, "disk_free_bytes": 9}, headers=dh(new)).status_code \
        == 204
    r = report()
    assert r["uid"] == new["device_id"] and r["uptime_s"] == 7 and r["disk_free_bytes"] == 9
