"""A real `loa serve` for the browser tests: its own process on a free port of 127.0.0.1 over a data dir whose
database the test wrote first, and a phone logging in to it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.web.web_rig import PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def loa_serve(data: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The station's base URL once /api/v1/health answers (the test fails with the server's log if it does not
    within a minute); stopped at the end. `env` adds to this process's environment; its output goes to
    data/server.log."""
    with loa_serve_process(data, env) as (base, _proc):
        yield base


@contextmanager
def loa_serve_process(data: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`loa_serve`, with the server's process too (a test that signals it)."""
    port = free_port()
    env = {**os.environ, "LOA_TTS_ONLINE": "0", "LOA_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1", **(env or {})}
    log = (data / "server.log").open("wb")
    loa = Path(sys.executable).with_name("loa")
    proc = subprocess.Popen([str(loa), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the server did not start:\n" + (data / "server.log").read_text(errors="replace")[-3000:])
        time.sleep(0.2)
    yield base, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def login(page, base: str, username: str) -> None:
    """Log this phone in as `username` (any earlier session of it forgotten) and wait to leave the login page."""
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda url: "/login" not in url)
