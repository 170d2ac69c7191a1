"""The test rigs' port allocator: ports outside the ephemeral range, one slice per worker, held ports skipped."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests import ports

ROOT = Path(__file__).resolve().parents[1]


def test_ports_lie_below_the_range_outgoing_connections_use():
    low = ports._ephemeral_start()
    got = [ports.free_port() for _ in range(20)]
    assert all(10000 <= p < low for p in got)
    assert len(set(got)) == 20


def test_a_port_somebody_listens_on_is_never_handed_out(monkeypatch):
    at = len(ports._ports) // 2
    with socket.socket() as held:
        held.bind(("127.0.0.1", ports._ports[at]))
        held.listen()
        monkeypatch.setattr(ports, "_walk", iter(range(at, at + 10)))
        assert ports.free_port() == ports._ports[at + 1]


def _slice_of(worker: str, count: int) -> range:
    env = {**os.environ, "PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": str(count)}
    code = "from tests import ports; r = ports._ports; print(r.start, r.stop)"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    start, stop = map(int, out.stdout.split())
    return range(start, stop)


def test_each_worker_has_its_own_slice():
    slices = [_slice_of(f"gw{i}", 4) for i in range(4)]
    for a, b in zip(slices, slices[1:]):
        assert a.stop <= b.start
    assert all(len(s) >= 1000 for s in slices)
