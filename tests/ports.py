"""Ports for the servers the tests start: one allocator, outside the kernel's ephemeral range.

The old way (bind port 0, read the port, close, let the server bind it later) hands out a port from the
ephemeral range (32768–60999 on Linux). Between the close and the server's bind, any outgoing connection of any
test worker may get that very port as its local end, and the server dies with "address already in use" (seen in
CI: a `loa serve` of the topology test, port 37113). The kernel never picks a local port for an outgoing
connection below the ephemeral range, so ports there stay free until somebody binds them on purpose.

Each pytest-xdist worker walks its own slice of [10000, start of the ephemeral range), starting at an offset taken
from its pid (so two test runs on one machine rarely meet), and skips any port that something already holds.
"""
from __future__ import annotations

import itertools
import os
import socket
import threading

_LOW = 10000
_DEFAULT_EPHEMERAL_START = 32768


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def _slice() -> range:
    """This process's ports: one slice per xdist worker (a run without xdist is worker 0)."""
    high = max(_ephemeral_start(), _LOW + 2000)
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (high - _LOW) // workers
    start = _LOW + (index % workers) * size
    return range(start, start + size)


_lock = threading.Lock()
_ports = _slice()
_walk = itertools.count((os.getpid() * 7919) % len(_ports))


def _bindable(port: int) -> bool:
    """Nothing holds `port` on any address (a server may bind 0.0.0.0 or 127.0.0.1)."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port nothing listens on, for a server this test starts (or for a "nothing answers here" address)."""
    with _lock:
        for _ in range(len(_ports)):
            port = _ports[next(_walk) % len(_ports)]
            if _bindable(port):
                return port
    raise RuntimeError(f"no free port left in {_ports.start}–{_ports.stop - 1}")
