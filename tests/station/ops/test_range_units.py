"""A Range header in a unit other than bytes is ignored (RFC 9110 §14.2): 200 with the whole body, not 416, on
every endpoint that handles Range — the content API, the residents' audio, the device audio route, and the
device audio Caddy sends from disk (issue 13, Low)."""
from __future__ import annotations

from datetime import timedelta

import httpx

from content.store import AudioStore
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.station.ops.test_proxy import caddy, replicas  # noqa: F401  (fixtures: real Caddy over two replicas)
from tests.station_rig import make_item

OTHER_UNITS = ("items=0-5", "seconds=1-2", "Bytes 0-5", "none")


def _check(get, url: str, whole: bytes, headers: dict | None = None) -> None:
    for value in OTHER_UNITS:
        r = get(url, headers={**(headers or {}), "Range": value})
        assert r.status_code == 200 and r.content == whole, (url, value, r.status_code)
        assert "content-range" not in r.headers
    part = get(url, headers={**(headers or {}), "Range": "bytes=0-5"})
    assert part.status_code == 206 and part.content == whole[:6]
    assert get(url, headers={**(headers or {}), "Range": "bytes=abc"}).status_code == 416  # bytes, but malformed


def test_other_units_are_ignored_by_every_audio_route(client, engine, world, facts, clock, schedules_service,
                                                      settings):
    item = make_item(engine, world, facts, clock, status="approved", title="Bản tin")
    whole = AudioStore(settings.audio_dir).path_for(facts.sha256).read_bytes()
    _check(client.get, f"/api/v1/content/{item}/audio", whole, world.h("cadre"))
    _check(client.get, f"/r/audio/{item}.ogg", whole)
    _, creds = enroll_by_code(client, world)
    schedule(engine, world, [item], clock() + timedelta(hours=1))
    schedules_service.materialize_commune(world.a, clock())
    assert client.get(f"{DEV}/manifest", headers=dh(creds)).status_code == 200
    _check(client.get, f"{DEV}/audio/{facts.sha256}", whole, dh(creds))


def test_caddy_ignores_other_units_too(caddy, replicas, client, world, facts, clock, engine,  # noqa: F811
                                       schedules_service, settings):
    item = make_item(engine, world, facts, clock, status="approved")
    _, creds = enroll_by_code(client, world)
    schedule(engine, world, [item], clock() + timedelta(hours=1))
    schedules_service.materialize_commune(world.a, clock())
    whole = AudioStore(settings.audio_dir).path_for(facts.sha256).read_bytes()
    with httpx.Client(base_url=caddy, timeout=30) as http:
        assert http.get(f"{DEV}/manifest", headers=dh(creds)).status_code == 200
        r = http.get(f"{DEV}/audio/{facts.sha256}", headers={**dh(creds), "Range": "items=0-5"})
        assert r.headers["x-loa-served-by"] == "static"
        _check(http.get, f"{DEV}/audio/{facts.sha256}", whole, dh(creds))
