"""Real `loa agent` processes (file sink) for end-to-end tests, and a plain-HTTP man in the middle that can
replay a captured manifest and forge nudges (what an attacker on an unencrypted 3G link can do)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from broadcaster.protocol.wire import parse_time

from tests.serving import FAST_SHUTDOWN

LOA = str(Path(sys.executable).with_name("loa"))


def enrollment_code(cadre: httpx.Client, world, village_id: int) -> tuple[int, str]:
    """What a real agent is given to enroll: a cadre makes a loudspeaker cluster in `village_id` and its code.
    Returns (device row id, code)."""
    r = cadre.post(f"/api/v1/communes/{world.a}/devices", json={"name": "Cụm loa", "village_id": village_id})
    assert r.status_code == 201, r.text
    device_id = r.json()["id"]
    r = cadre.post(f"/api/v1/devices/{device_id}/enrollment-code")
    assert r.status_code == 201, r.text
    return device_id, r.json()["code"]


def _ctrl_c_default() -> None:
    """In the child before exec: SIGINT as at a terminal. A suite started as a background job (and so its xdist
    workers) has SIGINT ignored, which a child inherits: `stop()`'s Ctrl+C was then ignored and every box was
    killed only after its 15 s wait (30-45 s of teardown per test, and no graceful stop where one was meant)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class AgentProc:
    """One village box: `loa agent --sink file` in its own process, enrolled with a cadre's code."""

    def __init__(self, station_url: str, data_dir: Path, code: str | None = None, *,
                 command: list[str] | None = None, sink: tuple[str, ...] = ("--sink", "file"),
                 env: dict[str, str] | None = None) -> None:
        """`command` is the agent's command line before its options: `loa agent` of this environment by
        default, or a box's own `loa-agent` (tests/broadcaster/station/test_agent_pythons.py)."""
        self.station_url, self.dir, self.code = station_url, Path(data_dir), code
        self.command, self.sink_args = command or [LOA, "agent"], list(sink)
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    def start(self) -> "AgentProc":
        args = [*self.command, "--station", self.station_url, "--data-dir", str(self.dir), *self.sink_args]
        if self.code:
            args += ["--enroll-code", self.code]
            self.code = None  # once: a restart runs on the stored credentials
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.dir / "agent.out", "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env if self.env is not None else os.environ.copy(),
                                     preexec_fn=_ctrl_c_default)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL if kill else signal.SIGINT)
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
        self.proc = None

    def output(self) -> str:
        path = self.dir / "agent.out"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    # -- what it did -----------------------------------------------------------------------------------------
    def _lines(self, name: str) -> list[dict]:
        path = self.dir / name
        if not path.exists():
            return []
        out = []
        for line in path.read_text("utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written
        return out

    def sink(self) -> list[dict]:
        return self._lines("sink.jsonl")

    def plays(self) -> list[dict]:
        return self._lines("log/plays.jsonl")

    def events(self, kind: str, after: datetime | None = None, **match) -> list[dict]:
        return [e for e in self.sink() if e["event"] == kind and (after is None or parse_time(e["at"]) >= after)
                and all(e.get(k) == v for k, v in match.items())]

    def creds(self) -> dict:
        return json.loads((self.dir / "credentials.json").read_text())

    def floor(self) -> int:
        path = self.dir / "control.json"
        return json.loads(path.read_text())["floor"] if path.exists() else 0

    def has_manifest(self) -> bool:
        return (self.dir / "manifest.json").exists()


class Attacker:
    """Sits on the agent's plain-HTTP link: forwards everything (streaming the SSE nudges through), and on demand
    answers `GET manifest` with a captured body and forges a `sync` nudge. Records heartbeat bodies. `down`
    makes the link drop every request and close the open stream (a cut 3G link)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.replay: bytes | None = None
        self.down = threading.Event()
        self.heartbeats: list[dict] = []
        self.streams: list = []
        self.log: list[tuple[float, str, str]] = []  # (time, method path, what happened)
        self._forge = threading.Event()
        attacker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _drop(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def _forward(self, method: str) -> None:
                import time as _t

                attacker.log.append((_t.time(), f"{method} {self.path}", "dropped" if attacker.down.is_set() else "ok"))
                if attacker.down.is_set():
                    return self._drop()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path.endswith("/heartbeat") and body:
                    attacker.heartbeats.append(json.loads(body))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                if self.path.endswith("/events"):
                    return self._stream(headers)
                if self.path.endswith("/manifest") and attacker.replay is not None:
                    data = attacker.replay
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("ETag", '"replayed"')
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                try:
                    r = httpx.request(method, attacker.target + self.path, headers=headers, content=body, timeout=30)
                except httpx.HTTPError:
                    return self._drop()
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def _stream(self, headers: dict) -> None:
                """SSE through, chunk by chunk; a forged `sync` nudge can be slipped in between."""
                with httpx.stream("GET", attacker.target + self.path, headers=headers,
                                  timeout=httpx.Timeout(30, read=None)) as r:
                    self.send_response(r.status_code)
                    self.send_header("Content-Type", r.headers.get("content-type", "text/event-stream"))
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    self.close_connection = True
                    attacker.streams.append(self)
                    chunks = r.iter_raw()
                    pending = {}

                    def pump():
                        try:
                            for chunk in chunks:
                                if attacker.down.is_set():
                                    break
                                self.wfile.write(chunk)
                                self.wfile.flush()
                        except (OSError, httpx.HTTPError):
                            pass
                        pending["done"] = True

                    t = threading.Thread(target=pump, daemon=True)
                    t.start()
                    while t.is_alive() and not attacker.down.is_set():
                        if attacker._forge.wait(0.05):
                            attacker._forge.clear()
                            try:
                                self.wfile.write(b'event: sync\ndata: {"version":"m-forged","emergency":true}\n\n')
                                self.wfile.flush()
                            except OSError:
                                break
                    self._drop()
                    # Hang up on the station too, now: closing the response while `pump` sits in a read of it
                    # sends nothing until that read returns (the station's next event, or its ping 20 s on), so
                    # the station saw the link go down only by luck within a test's 10 s.
                    upstream = r.extensions.get("network_stream")
                    if upstream is not None:
                        try:
                            upstream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs=FAST_SHUTDOWN, daemon=True).start()

    def forge_nudge(self) -> None:
        self._forge.set()

    def close(self) -> None:
        self.down.set()
        self.httpd.shutdown()
        self.httpd.server_close()
