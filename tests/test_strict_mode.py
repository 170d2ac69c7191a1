"""tests/tools.py and tests/conftest.py: a missing tool or service skips with how to get it, and with
LOA_TEST_STRICT=1 (CI) every skip is a failure. Checked on an inner pytest run with the suite's own hooks."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests import tools
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]

INNER = '''
import socket
import pytest
from tests import tools

def test_needs_a_tool():
    tools.require_tool("loa-no-such-tool", apt="loa-no-such-package")

def test_needs_a_service():
    tools.SERVICES["nothing"] = ("Nothing", "127.0.0.1", {port}, "nothing-server", "nothing -d")
    tools.require_service("nothing")

def test_plain_skip():
    pytest.skip("some other reason")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False

def test_present_tool():
    assert tools.require_tool("sh", apt="dash").endswith("/sh")
'''


def _closed_port() -> int:
    return free_port()  # nothing listens there, and no server of another worker will take it


def _run(tmp_path: Path, strict: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_inner.py").write_text(INNER.replace("{port}", str(_closed_port())))
    # not LOA_TEST_DURATIONS_WRITE either: this inner run would write its own file into the suite's record
    env = {k: v for k, v in os.environ.items() if k not in ("LOA_TEST_STRICT", "LOA_TEST_DURATIONS_WRITE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the suite's hooks: schemathesis & co. take seconds to load
    if strict is not None:
        env["LOA_TEST_STRICT"] = strict
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-rA", "-q", str(tmp_path / "test_inner.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_missing_tools_skip_with_how_to_get_them(tmp_path):
    done = _run(tmp_path, None)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in done.stdout, done.stdout
    assert "apt-get install loa-no-such-package" in done.stdout and "không có trên máy này" in done.stdout
    assert "Nothing is not running at 127.0.0.1:" in done.stdout and "apt-get install nothing-server" in done.stdout
    assert _run(tmp_path, "0").returncode == 0  # "0" is not strict


def test_strict_mode_turns_every_skip_into_a_failure(tmp_path):
    done = _run(tmp_path, "1")
    assert done.returncode == 1, done.stdout
    assert "1 passed" in done.stdout and "1 xfailed" in done.stdout  # an expected failure is not a skip
    assert "skipped" not in done.stdout.splitlines()[-1], done.stdout
    assert done.stdout.count("LOA_TEST_STRICT=1") >= 3, done.stdout
    assert "apt-get install loa-no-such-package" in done.stdout and "some other reason" in done.stdout


def test_processes_running_finds_a_process_by_its_arguments_until_it_ends(tmp_path):
    """The demo tests' "no village agent outlived the demo" check, without procps' pgrep."""
    marker = f"--data-dir {tmp_path}/agents"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *marker.split(" ")])
    try:
        # Popen returns once exec closed the child's error pipe, which the kernel does before it writes the new
        # command line into the process: on a loaded machine /proc/<pid>/cmdline is empty for a moment after.
        deadline = time.monotonic() + 10
        while not (found := tools.processes_running(marker)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(found) == 1 and found[0].endswith(marker), found
    finally:
        proc.kill()
        proc.wait()
    assert tools.processes_running(marker) == []
