"""dev.py, the README's commands: `test` runs on every core unless told otherwise; `agent-wheel` is listed."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dev():
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_test_command_is_parallel_and_the_callers_arguments_win():
    dev = _dev()
    assert dev.pytest_args([]) == ["-n", "auto", "--dist", "loadfile"]
    # the caller's `-n 0` comes last, and pytest takes the last value: one process
    assert dev.pytest_args(["-n", "0", "-k", "normalizer"])[-4:] == ["-n", "0", "-k", "normalizer"]
    assert dev.pytest_args(["-p", "no:xdist"]) == ["-p", "no:xdist"]  # no -n for a pytest without xdist


def test_usage_lists_the_commands():
    out = subprocess.run([sys.executable, str(ROOT / "dev.py")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "dev.py test" in out.stdout and "dev.py agent-wheel" in out.stdout and "-n 0" in out.stdout
