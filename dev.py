#!/usr/bin/env python3
"""Set up and run Loa on a fresh machine that has only Python 3.11+.

    python3 dev.py run          # create .venv, install Loa, start the station (embedded default)
    python3 dev.py test         # create .venv, install Loa with test extras, run the whole test suite
    python3 dev.py agent-wheel  # build dist/loa_agent-<version>-py3-none-any.whl (the village agent alone)

Extra arguments go to the command: `python3 dev.py test -k normalizer`, `python3 dev.py run --port 8080`.
`test` runs on every core (pytest-xdist, `-n auto`); `python3 dev.py test -n 0` runs in one process.
Only the standard library is used here, so it works before anything is installed.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("LOA_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _stamp(extras: str) -> str:
    # Reinstall only when the declared dependencies change: a second run starts in a second.
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    return digest


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Loa cần Python 3.11 trở lên (đang có {sys.version.split()[0]}). / Loa needs Python 3.11+.")
    if not PYTHON.exists():
        print(f"Tạo môi trường ảo / creating virtual environment: {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp_file = VENV / ".loa-install-stamp"
    wanted = _stamp(extras)
    have = stamp_file.read_text().strip() if stamp_file.exists() else ""
    # The test install is a superset of the plain one, so `run` after `test` installs nothing.
    if have in {wanted, _stamp("test")} and (extras == "" or have == wanted):
        return
    print("Cài đặt Loa và các gói cần thiết / installing Loa and its dependencies…", flush=True)
    spec = f".[{extras}]" if extras else "."
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", spec], check=True, cwd=ROOT)
    stamp_file.write_text(wanted)


def pytest_args(rest: list[str]) -> list[str]:
    """Parallel by default: `-n auto` is three workers per core (4 to 12), as the suite mostly waits on real
    processes and the clock (tests/scheduling.py); each test file on one worker, longest files first (its
    module-scoped browser or server is built once; see tests/conftest.py for what keeps workers apart).
    `--dist loadgroup` would be finer, but xdist 3.8 marks groups by rewriting `item._nodeid`, which pytest 9.2
    no longer reads, so groups are silently ignored. The caller's own `-n 0` / `-n 2` comes later and wins;
    `-p no:xdist` turns it off."""
    if any(a in ("no:xdist", "-pno:xdist") for a in rest):
        return rest
    return ["-n", "auto", "--dist", "loadfile", *rest]


def build_agent_wheel(out_dir: Path) -> Path:
    """The village agent as its own wheel, built by packaging/agent's stdlib-only backend (no pip, no network)."""
    sys.path.insert(0, str(ROOT / "packaging" / "agent"))
    import loa_agent_build

    return out_dir / loa_agent_build.build_wheel(str(out_dir))


def run_to_end(cmd: list[str], **kwargs) -> int:
    """Run `cmd` and return its exit code; Ctrl+C stops it, not this script.

    Ctrl+C in a terminal reaches the whole process group: the station (or pytest) stops by itself and is waited
    for here, instead of this script dying in the middle of the wait with a KeyboardInterrupt traceback (what a
    cadre saw after "press Ctrl+C to stop"). If only this script got the signal (`kill -INT`), it is passed on,
    so the station is never left running on its own. A second Ctrl+C terminates it, a third kills it."""
    child = subprocess.Popen(cmd, **kwargs)
    presses, passed_on = 0, False
    while True:
        try:
            code = child.wait(timeout=2.0 if presses and not passed_on else None)
            return 128 - code if code < 0 else code  # killed by signal N: what a shell reports, 128 + N
        except subprocess.TimeoutExpired:  # still running 2 s after Ctrl+C: the signal reached only this script
            child.send_signal(signal.SIGINT)
            passed_on = True
        except KeyboardInterrupt:
            presses += 1
            if presses == 2:
                child.terminate()
            elif presses > 2:
                child.kill()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "agent-wheel"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "agent-wheel":
        out = Path(rest[0]) if rest else ROOT / "dist"
        print(build_agent_wheel(out))
        return 0
    if command == "run":
        ensure_venv("")
        return run_to_end([str(BIN / "loa"), "demo", *rest], cwd=ROOT)
    ensure_venv("test")
    # Bytecode on for the tests even where the shell turns it off: without it every xdist worker compiles and
    # assertion-rewrites every test module again (measured ~8 CPU-s per worker instead of ~4 to collect).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return run_to_end([str(PYTHON), "-m", "pytest", *pytest_args(rest)], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
