"""`loa agent` is registered on the `loa` command and its help loads nothing from the server side."""
from __future__ import annotations

import subprocess
import sys

CODE = r'''
import sys
from typer.testing import CliRunner
from station.cli.main import app
r = CliRunner().invoke(app, ["agent", "--help"])
assert r.exit_code == 0, r.output
assert "--station" in r.output and "--enroll-code" in r.output
# the same argparse command as the wheel's `loa-agent`: every option passes through, errors keep their code
assert "usage: loa agent" in r.output and "URL của đài / the station's base URL" in r.output
bad = CliRunner().invoke(app, ["agent", "--station", "http://x", "--data-dir", "/nonexistent", "--volume", "101"])
assert bad.exit_code == 2 and "--volume" in bad.output and "0–100" in bad.output, bad.output
v = CliRunner().invoke(app, ["agent", "--version"])
assert v.exit_code == 0 and v.output.strip() == "loa-agent " + __import__("broadcaster.agent").agent.AGENT_VERSION, v.output
server = sorted(m for m in sys.modules if m.split(".")[0] in ("api", "schedules", "fastapi", "sqlmodel", "sqlalchemy")
                or m.startswith(("broadcaster.station", "broadcaster.signing", "broadcaster.manifest_builder", "content.")))
print(server)
'''


def test_loa_agent_help_imports_nothing_server_side():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
