"""The agent installs alone: `python3 dev.py agent-wheel` builds dist/loa_agent-<version>-py3-none-any.whl, which
installs into a fresh virtual environment without the station's stack, and `loa-agent --help` runs there.

pip resolves the dependencies through the indexes this machine is configured with (`pip config list`); on a
machine without PyPI or a local index this test cannot install them and fails, like `python3 dev.py test`'s own
install would."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from broadcaster.agent import AGENT_VERSION

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"fastapi", "starlette", "sqlmodel", "sqlalchemy", "numpy", "scipy", "psycopg", "psycopg-binary",
             "uvicorn", "loa",
             "typer", "click", "rich", "pydantic"}  # the command line is argparse: no Typer stack on the box

pytestmark = pytest.mark.slow

IMPORT_ALL = r"""
import json, pkgutil, sys
import broadcaster.agent, broadcaster.protocol
names = []
for pkg in (broadcaster.agent, broadcaster.protocol):
    for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
        __import__(info.name)
        names.append(info.name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


def _build(out: Path) -> Path:
    done = subprocess.run([sys.executable, str(ROOT / "dev.py"), "agent-wheel", str(out)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    wheel = Path(done.stdout.strip().splitlines()[-1])
    assert wheel == out / f"loa_agent-{AGENT_VERSION}-py3-none-any.whl" and wheel.is_file()
    return wheel


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    """This environment's pip acting on the box's venv (`--python`): the box needs no pip of its own here."""
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check",
                           *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _installed(python: Path) -> set[str]:
    listing = json.loads(_pip(python, "list", "--format", "json").stdout)
    return {d["name"].lower().replace("_", "-") for d in listing}


def test_wheel_holds_the_agent_and_the_protocol_only_and_is_reproducible(tmp_path):
    first = _build(tmp_path / "a")
    second = _build(tmp_path / "b")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    names = zipfile.ZipFile(first).namelist()
    code = [n for n in names if not n.startswith(f"loa_agent-{AGENT_VERSION}.dist-info/")]
    assert "broadcaster/__init__.py" in code and "broadcaster/agent/runner.py" in code
    assert "broadcaster/protocol/manifest.py" in code
    # nothing of the station: its signing key code, manifest builder, device endpoints
    assert all(n == "broadcaster/__init__.py" or n.startswith(("broadcaster/agent/", "broadcaster/protocol/"))
               for n in code), code
    meta = zipfile.ZipFile(first).read(f"loa_agent-{AGENT_VERSION}.dist-info/entry_points.txt").decode()
    assert "loa-agent = broadcaster.agent.cli:main" in meta


def test_fresh_venv_installs_the_agent_alone_and_its_command_runs(tmp_path):
    wheel = _build(tmp_path / "dist")
    env_dir = tmp_path / "box"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _pip(python, "install", "--quiet", str(wheel))
    installed = _installed(python)
    assert {"loa-agent", "cryptography", "paho-mqtt"} <= installed
    assert not installed & FORBIDDEN, installed & FORBIDDEN

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # only the venv's code
    helped = subprocess.run([str(env_dir / "bin" / "loa-agent"), "--help"], capture_output=True, text=True,
                            timeout=60, env={**env, "COLUMNS": "200"}, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "--station" in helped.stdout and "--enroll-code" in helped.stdout and "--ffmpeg" in helped.stdout

    # every module of the wheel imports with only these dependencies, and loads nothing of the station
    done = subprocess.run([str(python), "-c", IMPORT_ALL], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "broadcaster.agent.watchdog" in report["imported"] and "broadcaster.protocol.wire" in report["imported"]
    assert all(m.split(".")[0] not in ("api", "content", "schedules", "loa", "fastapi", "sqlalchemy", "numpy")
               for m in report["modules"])
    assert not [m for m in report["modules"] if m.startswith(("broadcaster.station", "broadcaster.signing"))]

    # the ffmpeg extra: a static ffmpeg the agent finds when the system has none
    _pip(python, "install", "--quiet", f"{wheel}[ffmpeg]")
    assert "imageio-ffmpeg" in _installed(python) and not _installed(python) & FORBIDDEN
    empty = tmp_path / "empty-path"
    empty.mkdir()
    found = subprocess.run([str(python), "-c", "from broadcaster.agent.playback import find_ffmpeg; print(find_ffmpeg())"],
                           capture_output=True, text=True, timeout=60, env={**env, "PATH": str(empty)}, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    exe = found.stdout.strip()
    assert exe.startswith(str(env_dir)) and "imageio_ffmpeg" in exe
    assert subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, timeout=60).returncode == 0
