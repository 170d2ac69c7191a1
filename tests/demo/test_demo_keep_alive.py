"""`loa demo` serves with the keep-alive `loa serve` uses (LOA_HTTP_KEEP_ALIVE_S), not uvicorn's 5 s default:
an idle connection is closed by the server after exactly that long (issue 13, Low)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.ops.proc import free_port, wait_port


def _idle_close_after(port: int, wait_s: float) -> bool:
    """True if the server closed an idle keep-alive connection within `wait_s` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            data += s.recv(4096)
        s.settimeout(wait_s)
        try:
            return s.recv(1) == b""
        except (socket.timeout, TimeoutError):
            return False


@pytest.mark.slow
def test_demo_uses_the_keep_alive_setting(tmp_path):
    port = free_port()
    env = {**os.environ, "LOA_TTS_ONLINE": "0", "LOA_HTTP_KEEP_ALIVE_S": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "loa.cli.main", "demo", "--no-agents", "--port", str(port),
                             "--data-dir", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        wait_port(port, 240, proc)
        time.sleep(0.5)
        assert _idle_close_after(port, 3.0)  # 1 s setting; uvicorn's own default (5 s) would keep it open
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
