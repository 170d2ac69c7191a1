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


def processes_running(fragment: str) -> list[str]:
    """The command lines (arguments joined by spaces) of this machine's processes that contain `fragment`, read
    from /proc as `pgrep -f` would (procps, which gives pgrep, is not on a minimal machine with only Python)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                line = f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked, or is not ours to read
            continue
        if fragment in line:
            found.append(line)
    return found


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


# Where CI machines keep extra interpreters (pyenv), besides PATH (`python3.12`, Debian's or deadsnakes').
PYENV_VERSIONS = ("/root/.pyenv/versions", os.path.expanduser("~/.pyenv/versions"))


def find_python(version: str) -> str | None:
    """A CPython `version` ("3.12") executable: `python3.12` on PATH, else the newest pyenv build of it."""
    import glob
    import subprocess

    candidates = [shutil.which(f"python{version}")]
    roots = [os.environ["PYENV_ROOT"] + "/versions"] if os.environ.get("PYENV_ROOT") else []
    for root in dict.fromkeys([*roots, *PYENV_VERSIONS]):
        found = glob.glob(f"{root}/{version}.*/bin/python{version}")
        # newest patch release first: 3.12.10 after 3.12.9
        candidates += sorted(found, key=lambda p: [int(x) for x in p.split("/")[-3].split(".") if x.isdigit()],
                             reverse=True)
    for exe in candidates:
        if not exe:
            continue
        try:
            out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out == version:
            return exe
    return None


def require_python(version: str) -> str:
    """Python `version` for tests that run the agent on every Python a village box may have, or skip."""
    exe = find_python(version)
    if exe is None:
        missing(f"python{version}: không có trên máy này, cài bằng `pyenv install {version}` (hoặc gói python{version} "
                f"của bản phân phối); .ci/run tìm trong /root/.pyenv/versions / missing here: `pyenv install "
                f"{version}` (or your distribution's python{version}); .ci/run looks in /root/.pyenv/versions")
    return exe  # type: ignore[return-value]  # missing() never returns
