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


def _runs_in_parallel(args: list[str]) -> bool:
    """Whether pytest_args(...) hands the run to several xdist workers (not `-n 0`, `-n 1`, `-p no:xdist`)."""
    if any(a in ("no:xdist", "-pno:xdist") for a in args):
        return False
    workers = "auto"  # pytest_args' own, unless the caller's later one says otherwise
    for i, a in enumerate(args):
        if a in ("-n", "--numprocesses") and i + 1 < len(args):
            workers = args[i + 1]
        elif a.startswith("--numprocesses="):
            workers = a.split("=", 1)[1]
        elif a.startswith("-n") and a[2:].lstrip("=").isdigit():
            workers = a[2:].lstrip("=")
    return workers not in ("0", "1")


def _names_tests(args: list[str]) -> bool:
    """Whether the caller names test files, folders or node ids (`tests/x.py::test_y`): only those are collected."""
    return any((ROOT / a.split("::", 1)[0]).exists() for a in args if not a.startswith("-"))


def cold_test_modules(tests: Path) -> list[Path]:
    """The test modules that pytest has not yet compiled and assertion-rewritten (its cached .pyc in
    __pycache__, named `<module>.<python>-pytest-<version>.pyc`, missing or older than the source)."""
    cold = []
    for path in sorted(tests.rglob("test_*.py")):
        cached = list(path.parent.glob(f"__pycache__/{path.stem}.*-pytest-*.pyc"))
        if not cached or max(c.stat().st_mtime for c in cached) < path.stat().st_mtime:
            cold.append(path)
    return cold


def warm_test_modules(rest: list[str], env: dict[str, str]) -> None:
    """On a fresh clone, collect the suite once, split over the cores, before xdist's workers start: each worker
    would otherwise compile and assertion-rewrite every module itself, all at once. Measured on a 2-core machine
    with six workers: starting them took 21 s and 42 CPU-s cold, 12 s and 24 CPU-s warm; this warm-up 5 s and
    10 CPU-s. Skipped when the caches are warm, when the run is not parallel, or when the caller names test
    paths (then only those are collected)."""
    tests = ROOT / "tests"
    if not _runs_in_parallel(rest) or _names_tests(rest):
        return
    cold = cold_test_modules(tests)
    if len(cold) < 20:  # a few edited files: the workers redo those few, cheaper than starting more processes
        return
    parts = max(1, min(os.cpu_count() or 1, 4))
    procs = [subprocess.Popen([str(PYTHON), "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
                               "--collect-only", "-q", *map(str, cold[i::parts])],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i in range(parts)]
    try:
        for proc in procs:  # a module that fails to import fails here silently, and in the real run loudly
            proc.wait()
    except KeyboardInterrupt:  # Ctrl+C in the first seconds: stop quietly, as the run itself would
        for proc in procs:
            proc.terminate()
        raise SystemExit(130) from None


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
    warm_test_modules(rest, env)
    return run_to_end([str(PYTHON), "-m", "pytest", *pytest_args(rest)], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
