"""`loa demo` end to end: the station starts, nine real agent processes enroll and play the first broadcast."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests import tools
from tests.hooks import loa_render_cache
from tests.ports import free_port as _free_port


def _answers_again_after_idle(port: int, idle_s: float) -> bool:
    """One keep-alive connection: a request, `idle_s` of silence, a second request on the same socket."""
    request = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for attempt in range(2):
            if attempt:
                time.sleep(idle_s)
            try:
                s.sendall(request)
                data = b""
                while not data.rstrip().endswith(b"}"):
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
            except OSError:
                return False
    return True


@pytest.mark.slow
def test_demo_runs_station_and_nine_playing_agents(tmp_path, render_cache_dir):
    port = _free_port()
    # only the demo child renders: it gets the shared cache through its environment (the `render_cache` fixture
    # would also patch, and so import, the content pipeline in this process, a CPU-second for nothing)
    env = {**os.environ, **loa_render_cache.env(render_cache_dir), "LOA_TTS_ONLINE": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli.main", "demo", "--port", str(port), "--data-dir", str(tmp_path),
         "--first-broadcast-in", "25"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        # Ctrl+C as at a terminal: a suite started as a background job hands its children SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        sinks = [tmp_path / "agents" / f"device-{i}" / "sink.jsonl" for i in range(1, 10)]
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not all(p.exists() and p.stat().st_size for p in sinks):
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(1)
        started = [json.loads(p.read_text().splitlines()[0]) for p in sinks if p.exists() and p.stat().st_size]
        assert len(started) == 9, f"{len(started)} of 9 agents played"
        assert all(e["event"] == "start" and e["kind"] == "audio" for e in started)
        # What plays is a file the agent verified and kept a copy of.
        assert all(list((p.parent / "played").iterdir()) for p in sinks)
        assert httpx.get(f"http://127.0.0.1:{port}/r", timeout=10).status_code == 200
        login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
        assert login.status_code == 200 and "<form" in login.text
        # the keep-alive of `loa serve` (LOA_HTTP_KEEP_ALIVE_S, 75 s), not uvicorn's own 5 s
        assert _answers_again_after_idle(port, 6.5)
    finally:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # pressed twice: the second must not cut the clean-up short
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    text = out.decode()
    assert "canbo" in text and "bithu" in text  # accounts printed once, at first start
    assert "Traceback" not in text and "Aborted" not in text, text[-3000:]
    assert proc.returncode == 0, (proc.returncode, text[-3000:])  # stopped as asked, not aborted mid-way
    # The agents are children of the demo: none survives it.
    leftover = tools.processes_running(f"--data-dir {tmp_path}/agents")
    assert leftover == []
    # and the station itself stopped, not only the demo around it: its shutdown closed the database, and SQLite
    # folds its write-ahead log back and removes it when the last connection closes. (A stop signal that landed
    # in Thread.join made the demo return with the station still running and its log left behind.)
    assert not (tmp_path / "loa.db-wal").exists(), "the station did not close its database"
