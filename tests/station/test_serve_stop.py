"""`loa serve` stops when told (SIGTERM: `systemctl stop`, `docker stop`) even while loudspeakers hold their event
streams open, which never end by themselves: it gives requests in flight GRACEFUL_STOP_S, then closes the rest and
shuts the app down cleanly, rather than waiting until it is killed."""
from __future__ import annotations

import signal
import threading
import time
from datetime import datetime

import httpx

from station.cli.server_cmds import GRACEFUL_STOP_S
from tests.api.web.served import loa_serve_process
from tests.api.web.web_rig import PASSWORD, build_world
from tests.broadcaster.station.device_rig import DEV, INFO
from tests.station_rig import T0


def test_sigterm_with_loudspeakers_listening_stops_within_the_grace(tmp_path):
    from loa.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'loa.db'}")
    upgrade(engine)
    world = build_world(engine, datetime.now(T0.tzinfo))
    engine.dispose()
    with loa_serve_process(tmp_path) as (base, server):
        token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD}).json()
        cadre = {"Authorization": f"Bearer {token['access_token']}"}
        device_tokens = []
        for n in range(2):
            r = httpx.post(f"{base}/api/v1/communes/{world.a}/devices", headers=cadre,
                           json={"name": f"Cụm loa {n}", "village_id": world.village_a})
            assert r.status_code == 201, r.text
            r = httpx.post(f"{base}/api/v1/devices/{r.json()['id']}/enrollment-code", headers=cadre)
            r = httpx.post(f"{base}{DEV}/enroll/claim", json={"code": r.json()["code"], **INFO})
            assert r.status_code == 200, r.text
            device_tokens.append(r.json()["token"])
        opened = threading.Barrier(len(device_tokens) + 1, timeout=30)
        ended: list[float] = []

        def listen(device_token: str) -> None:
            with httpx.stream("GET", f"{base}{DEV}/events", timeout=60,
                              headers={"Authorization": f"Bearer {device_token}", "Accept": "text/event-stream"}) as r:
                assert r.status_code == 200
                opened.wait()
                try:
                    for _ in r.iter_raw():
                        pass
                except httpx.HTTPError:
                    pass
            ended.append(time.monotonic())

        listeners = [threading.Thread(target=listen, args=(t,), daemon=True) for t in device_tokens]
        for t in listeners:
            t.start()
        opened.wait()
        t_term = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=GRACEFUL_STOP_S + 10)  # without the limit: never, until killed
        took = time.monotonic() - t_term
        for t in listeners:
            t.join(timeout=5)
    assert took <= GRACEFUL_STOP_S + 5, took
    assert len(ended) == len(device_tokens)  # each loudspeaker saw its stream end (it reconnects, by its own rule)
    log = (tmp_path / "server.log").read_text(errors="replace")
    # uvicorn re-raises the signal once it has shut down: the exit systemd and Docker count as a clean stop
    assert server.returncode in (0, -signal.SIGTERM), log[-2000:]
    assert "Application shutdown complete" in log, log[-2000:]
