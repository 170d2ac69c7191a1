"""deploy/Caddyfile for real: Caddy in front of two API replicas. Device audio comes straight from the store's
directory (the API only authorizes it), with ranges and immutable caching; refusals are the API's own
problem+json; /metrics is not reachable from outside; killing one replica loses no request."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from content.store import AudioStore
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.broadcaster.station.live import LiveStation
from tests.station.ops.proc import start_caddy, stop
from tests.ports import free_port
from tests.station_rig import make_item


@pytest.fixture
def replicas(settings, clock, client):
    from api.app import create_app

    stations = [LiveStation(lambda: create_app(settings, clock=clock, start_worker=False, start_scheduler=False))
                .start() for _ in range(2)]
    yield stations
    for s in stations:
        s.stop()


@pytest.fixture
def caddy(tmp_path, replicas, settings):
    port = free_port()
    proc = start_caddy(port, [s.url.removeprefix("http://") for s in replicas], settings.audio_dir,
                       tmp_path / "caddy.log")
    yield f"http://127.0.0.1:{port}"
    stop(proc)


def test_audio_from_disk_through_caddy_and_failover(caddy, replicas, client, world, facts, clock, engine,
                                                    schedules_service, settings):
    item = make_item(engine, world, facts, clock, status="approved")
    _, creds = enroll_by_code(client, world)
    schedule(engine, world, [item], clock() + timedelta(hours=1))
    schedules_service.materialize_commune(world.a, clock())
    sha = facts.sha256
    on_disk = AudioStore(settings.audio_dir).path_for(sha).read_bytes()
    with httpx.Client(base_url=caddy, timeout=30) as http:
        manifest = http.get(f"{DEV}/manifest", headers=dh(creds))
        assert manifest.status_code == 200, manifest.text  # grants the device its files
        r = http.get(f"{DEV}/audio/{sha}", headers=dh(creds))
        assert r.status_code == 200, r.text
        assert r.content == on_disk and r.headers["x-loa-served-by"] == "static"
        assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
        assert r.headers["accept-ranges"] == "bytes"
        r = http.get(f"{DEV}/audio/{sha}", headers={**dh(creds), "Range": "bytes=100-"})
        assert r.status_code == 206 and r.content == on_disk[100:]
        assert r.headers["content-range"] == f"bytes 100-{len(on_disk) - 1}/{len(on_disk)}"
        # refusals are the API's answers, passed through
        r = http.get(f"{DEV}/audio/{sha}")
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        r = http.get(f"{DEV}/audio/{'ab' * 32}", headers=dh(creds))
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert http.get("/metrics").status_code == 404
        # one replica dies: every request still answered by the other
        replicas[0].stop()
        codes = [http.get(f"{DEV}/manifest", headers=dh(creds)).status_code for _ in range(20)]
        codes += [http.get(f"{DEV}/audio/{sha}", headers=dh(creds)).status_code for _ in range(10)]
        assert set(codes) == {200}, codes
