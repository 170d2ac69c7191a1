"""Helpers for tests that run real processes: free ports, waiting for a port, stopping what we started."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.tools import require_tool

ROOT = Path(__file__).resolve().parents[3]
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def wait_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop one process we started (by its pid, never by name)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def caddy_exe() -> str:
    return require_tool("caddy", apt="caddy", why="chạy deploy/Caddyfile thật / to run deploy/Caddyfile for real")


def start_caddy(port: int, upstreams: list[str], audio_dir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LOA_SITE_ADDRESS": f"http://127.0.0.1:{port}", "LOA_UPSTREAMS": " ".join(upstreams),
           "LOA_AUDIO_DIR": str(audio_dir), "HOME": str(log.parent), "XDG_DATA_HOME": str(log.parent),
           "XDG_CONFIG_HOME": str(log.parent)}
    proc = subprocess.Popen([caddy_exe(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=log.parent)
    wait_port(port, 30, proc)
    return proc
