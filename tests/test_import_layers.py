"""The import boundaries of docs/architecture.md, held by import-linter (pyproject.toml [tool.importlinter]):
the `loa` kernel at the bottom, then content, schedules, broadcaster, then the job handlers and operations, the
API and the demo, and the `loa` command on top; domain packages never import the API; the village agent imports
nothing from the server side. Function-level imports count too, so hiding an import in a function does not
get it past the contract."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    # cwd first on sys.path (lint-imports puts it there), so the checked tree is this checkout, not an installed copy
    result = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
                             "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout, result.stdout[-2000:]
