"""systemd's notify protocol against a real AF_UNIX datagram socket (what systemd listens on): READY=1,
WATCHDOG=1 pings from the agent's main loop while its player thread lives, STOPPING=1; and the real `loa-agent`
process doing it under NOTIFY_SOCKET/WATCHDOG_USEC as deploy/loa-agent.service runs it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from broadcaster.agent.client import StationClient
from broadcaster.agent.clock import SystemClock
from broadcaster.agent.runner import Agent
from broadcaster.agent.sinks import FileSink
from broadcaster.agent.state import AgentState
from broadcaster.agent.watchdog import SystemdNotifier
from broadcaster.signing import generate_key
from tests.broadcaster.fileserver import FileServer


class Listener:
    """The systemd side: a datagram socket that collects what arrives."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def next(self, timeout: float = 5.0) -> str | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode("utf-8")
        except socket.timeout:
            return None

    def until(self, text: str, timeout: float = 20.0) -> list[str]:
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.next(max(0.05, deadline - time.monotonic()))
            if msg is not None:
                seen.append(msg)
                if text in msg.splitlines():
                    return seen
        raise AssertionError(f"{text} never arrived; got {seen}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(tmp_path):
    path = str(tmp_path / "notify.sock")
    ear = Listener(path)
    yield path, ear
    ear.close()


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ready_watchdog_and_stopping_reach_the_socket(listener):
    path, ear = listener
    ticks = Ticks()
    n = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}, monotonic=ticks)
    assert n.enabled and n.interval == 1.0  # half of WatchdogSec
    assert n.ready("device dev_1")
    assert ear.next() == "READY=1\nSTATUS=device dev_1"
    assert n.ping() and ear.next() == "WATCHDOG=1"
    ticks.now += 0.5
    assert not n.ping() and ear.next(0.2) is None  # at most every half interval
    ticks.now += 0.6
    assert n.ping() and ear.next() == "WATCHDOG=1"
    assert n.stopping() and ear.next() == "STOPPING=1"
    n.close()


def test_abstract_socket_address():
    name = f"loa-test-{uuid.uuid4().hex}"
    ear = Listener("\0" + name)
    try:
        n = SystemdNotifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "1000000"})
        assert n.ping() and ear.next() == "WATCHDOG=1"
    finally:
        ear.close()


def test_without_systemd_or_for_another_pid_nothing_is_sent(listener, tmp_path):
    path, ear = listener
    quiet = SystemdNotifier({})
    assert not quiet.enabled and not quiet.ready() and not quiet.ping()
    # WATCHDOG_PID names the watched process: a child that inherited the variables does not ping
    other = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}, pid=4242)
    assert other.interval is None and not other.ping()
    assert other.ready() and ear.next() == "READY=1"  # READY still goes: it is not a watchdog message
    assert ear.next(0.2) is None
    # systemd gone (nobody bound at the path): False, never an exception that would stop the agent
    gone = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody.sock"), "WATCHDOG_USEC": "1000000"})
    assert gone.ping() is False


def _enrolled_agent(tmp_path, station_url: str) -> Agent:
    key = generate_key()
    AgentState(tmp_path / "agent").save_credentials({
        "device_id": "dev_00000000000000ab", "token": "loa_dev_test", "station_url": station_url,
        "commune_id": "c1", "village_id": "v1", "station_keys": [key.public_info()], "mqtt": None})
    client = StationClient(station_url, "loa_dev_test", retries=0, connect_timeout=1, read_timeout=2)
    return Agent(tmp_path / "agent", FileSink(tmp_path / "sink.jsonl"), clock=SystemClock(), client=client,
                 heartbeat_every=3600)


def _run(agent: Agent, watchdog):  # noqa: ANN001, ANN202
    stop = threading.Event()
    t = threading.Thread(target=agent.run, args=(stop,), kwargs={"watchdog": watchdog})
    t.start()

    def end() -> None:
        stop.set()
        agent.nudge.set()
        t.join(15)
        assert not t.is_alive()
    return end


def _drain(ear: Listener) -> list[str]:
    got = []
    while (msg := ear.next(0.2)) is not None:
        got.append(msg)
    return got


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the crash we cause
def test_main_loop_pings_while_the_player_lives_and_stops_when_it_dies(tmp_path, listener):
    path, ear = listener
    server = FileServer(tmp_path)  # no manifest there: the agent reports it and keeps turning
    try:
        alive = _enrolled_agent(tmp_path / "a", server.url)
        pings = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})  # a ping per 0.1 s at most
        end = _run(alive, pings.ping)
        time.sleep(2.5)
        end()
        got = _drain(ear)
        assert len(got) >= 2 and set(got) == {"WATCHDOG=1"}  # the loop turns about once a second

        dead = _enrolled_agent(tmp_path / "b", server.url)

        def crash(stop):  # noqa: ANN001
            raise RuntimeError("player crashed")

        dead.player.run = crash
        end = _run(dead, pings.ping)
        time.sleep(1.0)
        _drain(ear)  # a turn that began before the crashed thread had ended may still ping once
        time.sleep(1.5)  # the loop turns at least once more here
        try:
            assert ear.next(0.2) is None  # no pings once the player is dead: systemd restarts the agent
        finally:
            end()
    finally:
        server.close()


def test_loa_agent_process_notifies_systemd(tmp_path, listener):
    """The console script's code path (`broadcaster.agent.cli:main`) as systemd starts it."""
    path, ear = listener
    server = FileServer(tmp_path)
    try:
        agent_dir = tmp_path / "box"
        _enrolled_agent(agent_dir, server.url)
        env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000", "PYTHONUNBUFFERED": "1"}
        env.pop("WATCHDOG_PID", None)
        proc = subprocess.Popen([sys.executable, "-c", "from broadcaster.agent.cli import main; main()",
                                 "--station", server.url, "--data-dir", str(agent_dir / "agent"), "--sink", "file",
                                 "--no-push"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            first = ear.until("READY=1", timeout=60)
            assert "WATCHDOG=1" not in first[0]
            ear.until("WATCHDOG=1")
            ear.until("WATCHDOG=1")  # again: from the loop, not once at start
        finally:
            proc.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert proc.returncode == 0, out
        ear.until("STOPPING=1", timeout=5)
    finally:
        server.close()

