"""The agent must run on a village box without the server: importing it loads nothing from the server side."""
from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, sys
import broadcaster.agent.runner, broadcaster.agent.cli, broadcaster.agent.nudges, broadcaster.agent.enroll
import broadcaster.agent.verify, broadcaster.agent.state, broadcaster.agent.sinks, broadcaster.agent.simulation
import contextlib, io
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        broadcaster.agent.cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0, exc.code
assert "--station" in out.getvalue() and "--enroll-code" in out.getvalue()
print(json.dumps(sorted(sys.modules)))
"""

FORBIDDEN_PREFIXES = ("api", "schedules", "content", "loa", "broadcaster.signing", "broadcaster.manifest_builder",
                      "fastapi", "starlette", "sqlmodel", "sqlalchemy", "numpy", "pydub", "apscheduler", "psycopg",
                      "gtts", "piper", "pyloudnorm", "alembic", "jinja2", "uvicorn",
                      # the command line is argparse: none of Typer's stack on the box
                      "typer", "click", "rich", "pydantic")


def test_agent_imports_nothing_from_the_server_side():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    assert "broadcaster.agent.runner" in modules and "cryptography" in modules
    # HTTP is the standard library's (broadcaster/agent/http.py): no httpx stack on the box
    assert not [m for m in modules if m.split(".")[0] in ("httpx", "httpcore", "h11", "anyio")]
    bad = [m for m in modules if any(m == p or m.startswith(p + ".") for p in FORBIDDEN_PREFIXES)]
    assert bad == []
    # paho-mqtt is optional: loaded only when MQTT is configured
    assert not any(m.startswith("paho") for m in modules)
