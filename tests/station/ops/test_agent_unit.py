"""deploy/loa-agent.service: systemd accepts it (`systemd-analyze verify`), it waits for the agent's READY=1,
restarts it on exit or when the watchdog pings stop, and runs the console script of the loa-agent wheel."""
from __future__ import annotations

import subprocess
import sys

from tests.station.ops.proc import ROOT
from tests.tools import require_tool

UNIT = ROOT / "deploy" / "loa-agent.service"


def _settings() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in UNIT.read_text("utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def test_unit_waits_for_ready_and_restarts_on_exit_or_silence():
    s = _settings()
    assert s["Type"] == "notify" and s["NotifyAccess"] == "main"
    assert s["Restart"] == "always" and s["WatchdogSec"] == "15min" and s["StartLimitIntervalSec"] == "0"
    assert s["ExecStart"].split()[0].endswith("/bin/loa-agent")
    assert "--data-dir /var/lib/loa-agent" in s["ExecStart"] and s["StateDirectory"] == "loa-agent"


def test_systemd_accepts_the_unit(tmp_path):
    exe = require_tool("systemd-analyze", apt="systemd")
    unit = tmp_path / "loa-agent.service"
    # verify checks that ExecStart's binary exists: point it at one that does, change nothing else
    unit.write_text(UNIT.read_text("utf-8").replace("/opt/loa-agent/venv/bin/loa-agent", sys.executable))
    done = subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("Type=notify", "Type=notifyy"))
    bad = subprocess.run([exe, "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "notifyy" in bad.stderr  # the check is real: a typo is reported
