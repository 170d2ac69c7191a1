"""The real station over real HTTP: uvicorn on 127.0.0.1 in a thread (restartable on the same port), a clock
shared by the station and the simulated agents, and a tampering proxy.

The fixtures `clock` (a LinkedClock at T0) and `live` (the station on that clock) are imported by name by the
test modules that use them (`from tests.broadcaster.station.live import clock, live  # noqa: F401`)."""
from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import httpx
import pytest
import uvicorn

from tests.station_rig import T0, RealClock  # noqa: F401  (RealClock: imported from here by the live tests)

from tests.serving import FAST_SHUTDOWN
from tests.ports import free_port


def wait_until(cond: Callable[[], object], seconds: float = 10.0) -> bool:
    """Poll `cond` every 20 ms until it is true or `seconds` passed; its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


class LiveStation:
    def __init__(self, app_factory: Callable[[], object], port: int | None = None) -> None:
        self.app_factory = app_factory
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.app = None

    def start(self) -> "LiveStation":
        self.app = self.app_factory()
        # An agent's open SSE stream never ends by itself: without a graceful-shutdown limit uvicorn waits for it
        # and stop() gave up only at its 15 s join, leaving the server thread running (15 s per such test).
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout=15)
            self.server = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_station(settings, clock: Callable[[], datetime] | None = None) -> LiveStation:
    """The station app of `settings` (no job worker: tests run jobs themselves), serving on its own port."""
    from api.app import create_app

    return LiveStation(lambda: create_app(settings, clock=clock, start_worker=False)).start()


class LinkedClock:
    """The station's clock; once `follow(virtual_clock)` it reads the simulated agents' time, so both sides
    agree (X-Loa-Server-Time then measures no offset, as on a box with a good clock)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.source = None

    def follow(self, vclock) -> None:
        self.source = vclock

    def __call__(self) -> datetime:
        if self.source is not None:
            return self.source.raw_now().astimezone(self.now.tzinfo)
        return self.now

    def advance(self, **kw):
        from datetime import timedelta

        if self.source is not None:
            self.source.advance(timedelta(**kw).total_seconds())
        else:
            self.now += timedelta(**kw)
        return self()


@pytest.fixture
def clock():
    return LinkedClock(T0)


@pytest.fixture
def live(settings, clock, engine):
    """The real station on `clock`; `engine` first, so the database is ready before it starts."""
    station = start_station(settings, clock)
    yield station
    station.stop()


class TamperProxy:
    """Forwards to the station; can rewrite manifest bodies or cut audio bodies after N bytes."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.rewrite_manifest: Callable[[bytes], bytes] | None = None
        self.cut_audio_after: int | None = None
        self.requests: list[tuple[str, str | None, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                r = httpx.request(method, proxy.target + self.path, headers=headers, content=body, timeout=30)
                proxy.requests.append((self.path, self.headers.get("Range"), r.status_code))
                data = r.content
                if self.path.endswith("/manifest") and r.status_code == 200 and proxy.rewrite_manifest:
                    data = proxy.rewrite_manifest(data)
                cut = "/audio/" in self.path and proxy.cut_audio_after is not None
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if cut:
                    self.wfile.write(data[:proxy.cut_audio_after])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs=FAST_SHUTDOWN, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
