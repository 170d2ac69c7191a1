"""Lint is part of the README's test command (and so of `.ci/run`): ruff with the rules of pyproject.toml's
[tool.ruff] (errors, warnings, bugbear) over the whole tree. A loop variable a closure catches late, an unused
name or a blind `pytest.raises(Exception)` fails here in seconds, with ruff's own message."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
