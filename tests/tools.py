"""System tools and services some tests need, and what happens when they are missing.

On a developer's fresh machine (only Python, `python3 dev.py test`) a test that needs Chromium, Caddy,
docker-compose, Mosquitto's binary, or the PostgreSQL / Mosquitto servers *skips*, with a reason that says how
to get the tool. In CI (`.ci/run` sets LOA_TEST_STRICT=1) every skip is a failure instead: CI installs and
starts all of them, so a missing one there is a broken CI machine, never a silently thinner run.
tests/conftest.py applies this to the whole suite (markers `postgres`, `mqtt`, `browser`, and any other skip).
"""
from __future__ import annotations

import os
import shutil
import socket

import pytest

STRICT_ENV = "LOA_TEST_STRICT"
# Debian keeps daemons in sbin, which a normal user's PATH often lacks.
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip the test for `reason`, or fail it when LOA_TEST_STRICT=1 (CI)."""
    if strict():
        pytest.fail(f"{STRICT_ENV}=1: {reason}", pytrace=False)
    pytest.skip(reason)


def find_tool(name: str) -> str | None:
    """The executable's path: PATH first, then the sbin folders."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))


def require_tool(name: str, *, apt: str, why: str = "") -> str:
    """The path of system tool `name` (a Debian package `apt` provides it), or skip (fail in strict mode)."""
    exe = find_tool(name)
    if exe is None:
        what = f" ({why})" if why else ""
        missing(f"{name}{what}: không có trên máy này, cài bằng `apt-get install {apt}` (.ci/run tự cài) / "
                f"missing here: `apt-get install {apt}` (.ci/run installs it)")
    return exe  # type: ignore[return-value]  # missing() never returns


# Services this project's machines start (.ci/run starts them if they are down). Checked once per process.
SERVICES = {
    "postgres": ("PostgreSQL", "127.0.0.1", 5432, "postgresql",
                 "pg_ctlcluster <version> main start"),
    "mqtt": ("Mosquitto", "127.0.0.1", 1883, "mosquitto", "mosquitto -d"),
}
_reachable: dict[str, bool] = {}


def service_up(key: str) -> bool:
    if key not in _reachable:
        _, host, port, _, _ = SERVICES[key]
        try:
            socket.create_connection((host, port), timeout=2).close()
            _reachable[key] = True
        except OSError:
            _reachable[key] = False
    return _reachable[key]


def require_service(key: str) -> None:
    """Skip (fail in strict mode) unless the service the marker `key` names answers on its port."""
    if service_up(key):
        return
    name, host, port, apt, start = SERVICES[key]
    missing(f"{name} không chạy ở {host}:{port}: cài `apt-get install {apt}` rồi chạy `{start}` (.ci/run tự chạy) / "
            f"{name} is not running at {host}:{port}: `apt-get install {apt}`, then `{start}` (.ci/run does)")


def chromium() -> str:
    """Debian's Chromium, which Playwright drives (the suite never runs `playwright install`)."""
    return require_tool("chromium", apt="chromium", why="trình duyệt cho kiểm thử giao diện / for the browser tests")
