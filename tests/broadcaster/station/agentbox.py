"""A village box for end-to-end tests of the loa-agent wheel: a fresh venv of a given interpreter (this
machine's CPython 3.11–3.13, or Debian bookworm's aarch64 Python under qemu-user) with only the wheel, and a
real station for it to enroll with and play from. Fixtures here are imported by test_agent_pythons.py and
test_agent_aarch64.py (two files so pytest-xdist runs the emulated one beside the others)."""
from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from broadcaster.agent import AGENT_VERSION
from tests.broadcaster.station.agentproc import AgentProc, enrollment_code
from tests.broadcaster.station.device_rig import schedule
from tests.broadcaster.station.live import LiveStation, RealClock, start_station, wait_until
from tests.station_rig import make_item
from tests.tools import missing, require_python, require_tool

ROOT = Path(__file__).resolve().parents[3]
ARM64_ROOT = Path(os.environ.get("LOA_ARM64_ROOT", "/opt/loa-arm64"))
# The station's stack, and Typer's (the agent's command line is argparse): none of it on a box.
FORBIDDEN = {"fastapi", "starlette", "sqlmodel", "sqlalchemy", "numpy", "scipy", "psycopg", "psycopg-binary",
             "uvicorn", "loa", "typer", "click", "rich", "pydantic"}


@pytest.fixture
def clock():
    return RealClock()


@pytest.fixture
def db_url(tmp_path, sqlite_template):
    """SQLite only: what is under test is the box's interpreter, not the station's database (the PostgreSQL
    matrix of the same station code runs in test_control_live.py and test_agents_live.py)."""
    path = tmp_path / "loa.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def station(settings, engine):
    live = start_station(settings)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, str(ROOT / "dev.py"), "agent-wheel", str(out)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.name == f"loa_agent-{AGENT_VERSION}-py3-none-any.whl" and path.is_file()
    return path


@dataclass(frozen=True)
class Interpreter:
    version: str                 # "3.12"
    python: str                  # its executable
    machine: str                 # what platform.machine() says under it
    emulator: tuple[str, ...]    # () native, or qemu-aarch64-static -L <aarch64 root>

    def run(self, *args: str | Path) -> list[str]:
        return [*self.emulator, *map(str, args)]


def interpreter(label: str) -> Interpreter:
    """`3.12`: this machine's CPython 3.12; `3.11-aarch64`: the aarch64 root's, under qemu-user. Skips (fails
    when strict) with how to get it."""
    if not label.endswith("-aarch64"):
        return Interpreter(label, require_python(label), platform.machine(), ())
    qemu = require_tool("qemu-aarch64-static", apt="qemu-user-static", why="chạy aarch64 / runs aarch64 code")
    python = ARM64_ROOT / "usr" / "bin" / "python3.11"
    if not python.is_file():
        missing(f"{python}: chưa có Python aarch64, chạy `.ci/arm64-root` (debootstrap bookworm arm64) / no aarch64 "
                f"Python here: run `.ci/arm64-root` (LOA_ARM64_ROOT={ARM64_ROOT}; .ci/run does)")
    return Interpreter("3.11", str(python), "aarch64", (qemu, "-L", str(ARM64_ROOT)))


def _pip(box: "Box", *args: str) -> str:
    """pip acting on the box's venv. Natively this suite's pip with `--python` (the box needs no pip of its
    own); under emulation pip must run inside the emulated interpreter (a foreign executable cannot be
    started directly without binfmt_misc), so this suite's pip package goes on that interpreter's path."""
    if box.interp.emulator:
        import pip

        pip_path = box.dest.parent / "pip-src"
        if not pip_path.exists():
            shutil.copytree(Path(pip.__file__).parent, pip_path / "pip")
        cmd = box.interp.run(box.python, "-m", "pip", "--disable-pip-version-check", *args)
        env = clean_env(PYTHONPATH=str(pip_path))
    else:
        cmd = [sys.executable, "-m", "pip", "--python", str(box.python), "--disable-pip-version-check", *args]
        env = None
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a box: nothing of this suite's venv or source tree on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, **extra}


@dataclass(frozen=True)
class Box:
    interp: Interpreter
    dest: Path

    @property
    def python(self) -> Path:
        return self.dest / "bin" / "python"

    def loa_agent(self) -> list[str]:
        """The console script; under emulation run by the box's python (its #! names a foreign executable)."""
        script = self.dest / "bin" / "loa-agent"
        return self.interp.run(self.python, script) if self.interp.emulator else [str(script)]


def make_box(interp: Interpreter, wheel: Path, dest: Path, extra: str = "") -> Box:
    """A fresh venv of `interp` with the wheel (and `extra`) installed from the configured index."""
    done = subprocess.run(interp.run(interp.python, "-m", "venv", "--without-pip", dest), capture_output=True,
                          text=True, timeout=300, env=clean_env())
    assert done.returncode == 0, done.stderr
    box = Box(interp, dest)
    _pip(box, "install", "--quiet", f"{wheel}[{extra}]" if extra else str(wheel))
    # What the venv holds, read from its dist-info folders by this suite (a second pip run under emulation costs
    # half a minute and would read the same files).
    site = dest / "lib" / f"python{interp.version}" / "site-packages"
    assert site.is_dir(), sorted(dest.glob("lib/*"))
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in metadata.distributions(path=[str(site)])}
    assert {"loa-agent", "cryptography", "paho-mqtt"} <= installed, installed
    assert not installed & FORBIDDEN, installed & FORBIDDEN
    return box


def _station_plays(engine, device_id: int) -> list:
    from sqlmodel import select

    from broadcaster.station.models import PlayRecordRow
    from loa.db import session_scope

    with session_scope(engine) as s:
        return list(s.exec(select(PlayRecordRow).where(PlayRecordRow.device_id == device_id)))


def enroll_and_play(tmp_path: Path, station: LiveStation, world, facts, clock, engine, *, command: list[str],
                    sink: tuple[str, ...] = ("--sink", "file"), env: dict[str, str], lead_s: float = 5.0,
                    wait_s: float = 60.0) -> tuple[AgentProc, dict]:
    """The box's `command` enrolls with a cadre's code, gets its manifest, plays an item scheduled `lead_s`
    ahead, and the station receives the play. Returns the agent (stopped) and its play record."""
    item = make_item(engine, world, facts, clock, status="approved")
    with httpx.Client(base_url=station.url, headers=world.h("cadre"), timeout=30) as cadre:
        device_id, code = enrollment_code(cadre, world, world.village_a)
    agent = AgentProc(station.url, tmp_path / "agent", code, command=command, sink=sink, env=env).start()
    try:
        assert wait_until(agent.has_manifest, wait_s), agent.output()
        assert "Đã đăng ký / enrolled as" in agent.output()
        at = clock() + timedelta(seconds=lead_s)
        schedule(engine, world, [item], at, title="Bản tin thử")
        station.app.state.schedules.materialize_commune(world.a, clock())
        assert wait_until(lambda: agent.plays(), wait_s), agent.output()
        record = agent.plays()[0]
        assert record["result"] == "played", (record, agent.output())
        late = (datetime.fromisoformat(record["actual_start"]) - at).total_seconds()
        assert -0.5 <= late <= 2.0, record
        agent.stop()  # SIGINT, as Ctrl-C on the box
        assert agent.returncode == 0, agent.output()
        # A normal play goes up with the 5-minute heartbeat; a box that restarts sends it at start-up, on its
        # stored credentials: the station has the proof of play.
        agent.start()
        assert wait_until(lambda: [p for p in _station_plays(engine, device_id) if p.play_id == record["play_id"]
                                   and p.result == "played"], wait_s), agent.output()
    finally:
        agent.stop()
    assert agent.returncode == 0, agent.output()
    assert agent.output().count("Đã đăng ký / enrolled as") == 1  # the restart did not enroll again
    return agent, record


def check_box(label: str, wheel: Path, tmp_path: Path, station: LiveStation, world, facts, clock, engine) -> None:
    """The whole check for one interpreter: installs alone, runs, enrolls, plays on time, reports."""
    interp = interpreter(label)
    box = make_box(interp, wheel, tmp_path / "box")
    env = clean_env(COLUMNS="200")
    ran = subprocess.run(interp.run(box.python, "-c", "import sys, platform, broadcaster.agent as a, "
                                    "cryptography.hazmat.bindings._rust as r; "
                                    "print('%d.%d' % sys.version_info[:2], platform.machine(), a.__file__, r.__file__)"),
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    version, machine, agent_file, native_lib = ran.stdout.split()
    # the box's own interpreter, architecture and compiled signature library, nothing of this suite's
    assert (version, machine) == (interp.version, interp.machine), ran.stdout
    assert agent_file.startswith(str(box.dest)) and native_lib.startswith(str(box.dest)), ran.stdout
    helped = subprocess.run(box.loa_agent() + ["--help"], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "--station" in helped.stdout and "--enroll-code" in helped.stdout and "--ffmpeg" in helped.stdout
    assert "URL của đài" in helped.stdout  # Vietnamese first
    slow = bool(interp.emulator)  # qemu-user runs Python several times slower
    agent, record = enroll_and_play(tmp_path, station, world, facts, clock, engine, command=box.loa_agent(), env=env,
                                    lead_s=20.0 if slow else 5.0, wait_s=180.0 if slow else 60.0)
    # the file sink kept what it "played": the station's approved audio, byte for byte
    played = sorted((agent.dir / "played").iterdir())
    assert len(played) == 1 and record["sha256"] == facts.sha256, record
    assert hashlib.sha256(played[0].read_bytes()).hexdigest() == facts.sha256
