"""A real `loa serve` for the browser tests: its own process on a free port of 127.0.0.1 over a data dir whose
database the test wrote first, and a phone logging in to it."""
from __future__ import annotations

import copy
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.api.web.web_rig import PASSWORD, T0, World, build_world
from tests.ports import free_port


@pytest.fixture(scope="session")
def world_template(tmp_path_factory) -> tuple[Path, World]:
    """The browser stations' starting database: migrated and with the web world (build_world) written once per
    worker, then copied into each module's data dir by `station_data` (migrating and building it per module cost
    ~1.2 CPU-s of the test process each). The world's `now` is the worker's first use of it, minutes before a
    later module's: its rows carry creation times, which no page shows as more than a date."""
    from loa.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("browser-world") / "loa.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    world = build_world(engine, datetime.now(T0.tzinfo))
    engine.dispose()
    return path, world


def station_data(tmp_path_factory, template: tuple[Path, World], name: str = "station") -> tuple[Path, World]:
    """A fresh data dir holding a copy of the template's database (SQLite's backup: whole, whatever its journal
    mode left beside it), and the world's ids (a copy: a module may add to its dicts)."""
    path, world = template
    data = tmp_path_factory.mktemp(name)
    src, dst = sqlite3.connect(path), sqlite3.connect(data / "loa.db")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return data, copy.deepcopy(world)


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
    # The station imports ~160 of the project's modules on every start: with PYTHONDONTWRITEBYTECODE set (as in
    # some shells and sandboxes) each start compiled them all again from source, ~0.5 CPU-s of its ~3 (the
    # __pycache__ it writes instead is what Python does by default, and git ignores it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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
