"""systemd's notify protocol (sd_notify), standard library only: READY=1 once the agent runs, WATCHDOG=1 from
its main loop, STOPPING=1 on the way out.

deploy/loa-agent.service runs the agent with `Type=notify` and `WatchdogSec=`: when the pings stop — the main
loop stuck, or the player thread dead (the loop then stops pinging) — systemd kills and restarts the agent.
Without systemd (no NOTIFY_SOCKET) every call is a no-op, so `loa agent` behaves the same by hand.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping


class SystemdNotifier:
    def __init__(self, env: Mapping[str, str] | None = None, monotonic: Callable[[], float] = time.monotonic,
                 pid: int | None = None) -> None:
        env = os.environ if env is None else env
        self.monotonic = monotonic
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in Linux's abstract namespace (a leading NUL byte); anything else is a path.
        self.address: str | bytes | None = ("\0" + address[1:]) if address.startswith("@") else (address or None)
        self.interval: float | None = None  # seconds between pings: half of systemd's WatchdogSec
        usec, for_pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if self.address and usec.isdigit() and int(usec) > 0:
            # WATCHDOG_PID names the process systemd watches: a child that inherited the variables stays quiet.
            if not for_pid or (for_pid.isdigit() and int(for_pid) == (os.getpid() if pid is None else pid)):
                self.interval = int(usec) / 1_000_000 / 2
        self._last_ping = float("-inf")
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send one datagram of `KEY=value` lines. False (never an exception) if there is no systemd to tell."""
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(fields).encode("utf-8"), self.address)
            return True
        except OSError:
            return False  # systemd restarting or gone: playing on matters more than telling it

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def ping(self) -> bool:
        """WATCHDOG=1, at most every half WatchdogSec (the loop may call this every second)."""
        if self.interval is None:
            return False
        now = self.monotonic()
        if now - self._last_ping < self.interval:
            return False
        sent = self.notify("WATCHDOG=1")
        if sent:
            self._last_ping = now
        return sent

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
