"""The loa-agent wheel on every Python a village box may have, end to end against the real station.

For each of Python 3.11, 3.12 and 3.13 (aarch64: test_agent_aarch64.py): a fresh virtual environment of that
interpreter gets only the wheel built by `python3 dev.py agent-wheel` (its dependencies from the configured
index); none of the station's stack (nor Typer's) is installed; `loa-agent --help` runs; then that `loa-agent`
enrolls with a cadre's code at the real station (uvicorn on 127.0.0.1, run by this suite's own Python), plays a
scheduled item on time, stops, restarts on its stored credentials and the station receives the proof of play.
Then the two ways a box makes sound: Debian's ffmpeg straight to ALSA, and the `[ffmpeg]` extra's static ffmpeg
through `aplay` when the system has no ffmpeg (the ALSA `null` device stands in for the sound card). An
interpreter or tool this machine lacks skips with how to get it; `.ci/run` installs them and runs strict, so CI
fails instead.
"""
from __future__ import annotations

import shutil
import sys

import pytest

from tests.broadcaster.station.agentbox import (  # noqa: F401  (fixtures)
    check_box, clean_env, clock, db_url, enroll_and_play, interpreter, make_box, station, wheel,
)
from tests.broadcaster.station.agentproc import AgentProc
from tests.tools import require_tool

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("label", ["3.11", "3.12", "3.13"])
def test_the_wheel_installs_alone_and_plays_on_python(label, wheel, tmp_path, station, world, facts, clock, engine):
    check_box(label, wheel, tmp_path, station, world, facts, clock, engine)


@pytest.mark.parametrize("ffmpeg", ["system", "extra"])
def test_the_wheel_plays_through_the_system_ffmpeg_or_the_extra(ffmpeg, wheel, tmp_path, station, world, facts,
                                                                clock, engine):
    """`--sink alsa` for real on the ALSA `null` device: Debian's ffmpeg writes to ALSA itself; without it,
    the `[ffmpeg]` extra's static ffmpeg (no ALSA output) decodes into `aplay`."""
    from broadcaster.agent.playback import has_alsa_output

    interp = interpreter(f"{sys.version_info[0]}.{sys.version_info[1]}")
    aplay = require_tool("aplay", apt="alsa-utils", why="phát qua ALSA / plays to ALSA")
    if ffmpeg == "system":
        system = require_tool("ffmpeg", apt="ffmpeg", why="ffmpeg của hệ thống / the system's ffmpeg")
        assert has_alsa_output(system)
        box = make_box(interp, wheel, tmp_path / "box")
        env = clean_env()
        expected = f"{shutil.which('ffmpeg', path=env['PATH'])} → ALSA null"
    else:
        box = make_box(interp, wheel, tmp_path / "box", extra="ffmpeg")
        bin_dir = tmp_path / "bin"  # a box without Debian's ffmpeg: only aplay on its PATH
        bin_dir.mkdir()
        (bin_dir / "aplay").symlink_to(aplay)
        env = clean_env(PATH=str(bin_dir))
        assert shutil.which("ffmpeg", path=env["PATH"]) is None
        expected = f"→ {bin_dir / 'aplay'} -q -D null"
    agent, record = enroll_and_play(tmp_path, station, world, facts, clock, engine, env=env,
                                    command=box.loa_agent(), sink=("--sink", "alsa", "--alsa-device", "null"))
    said = [line for line in agent.output().splitlines() if line.startswith("Phát qua / playing through:")]
    assert len(said) == 2 and all(expected in line for line in said), agent.output()  # at each of its 2 starts
    if ffmpeg == "extra":
        exe = said[0].split("through: ", 1)[1].split(" → ")[0]
        assert "imageio_ffmpeg" in exe and exe.startswith(str(box.dest)), said  # the extra inside the box's venv


def test_a_wrong_code_is_refused_with_a_message_and_exit_code_1(tmp_path, station):
    """`loa agent` (the station install's command, handing its arguments to the same argparse command) with a
    code nobody made: no traceback, a sentence, exit code 1, nothing stored."""
    agent = AgentProc(station.url, tmp_path / "agent", "000000").start()
    assert agent.proc is not None
    agent.proc.wait(120)
    agent.stop()
    assert agent.returncode == 1, agent.output()
    out = agent.output()
    assert "Đăng ký không được / enrollment failed:" in out and "Traceback" not in out, out
    assert not (tmp_path / "agent" / "credentials.json").exists()
