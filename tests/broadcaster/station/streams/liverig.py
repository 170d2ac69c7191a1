"""Real village agents for the live tests and bench/live.py: the agent's own runner (enrollment, SSE push,
signed commands, the player) in this process, playing through the agent's FfmpegSink with the ALSA output
swapped for raw 8 kHz PCM on a pipe, every chunk stamped with the wall-clock instant ffmpeg wrote it. And a TCP
relay in front of the station that can go silent (a cut 3G link: no packets, no FIN)."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from broadcaster.agent.enroll import enroll
from broadcaster.agent.nudges import sse_loop
from broadcaster.agent.runner import Agent
from broadcaster.agent.sinks import FfmpegSink, SinkItem

RATE = 8000


@dataclass
class Take:
    play_id: str
    kind: str
    started_wall: float
    rate: int = RATE
    chunks: list[tuple[float, int]] = field(default_factory=list)  # (time.time() at arrival, samples so far)
    pcm: bytearray = field(default_factory=bytearray)
    stopped_wall: float | None = None
    ended_wall: float | None = None

    def samples(self) -> np.ndarray:
        return np.frombuffer(bytes(self.pcm[: len(self.pcm) // 2 * 2]), dtype="<i2").astype(np.float32) / 32768

    def wall_of(self, sample: int) -> float:
        """When the chunk holding `sample` came out of ffmpeg (wall clock)."""
        for at, upto in self.chunks:
            if upto > sample:
                return at
        return self.chunks[-1][0] if self.chunks else float("nan")

    def loud_seconds(self) -> float:
        s = self.samples()
        n = len(s) // (self.rate // 10)
        if n == 0:
            return 0.0
        rms = np.sqrt((s[: n * (self.rate // 10)].reshape(n, -1) ** 2).mean(axis=1))
        return float((rms > 0.01).sum()) / 10


class TimedSink(FfmpegSink):
    """The agent's FfmpegSink: the same input options and command line; PCM out on a pipe, timestamped."""

    def __init__(self, ffmpeg: str, rate: int = RATE) -> None:
        super().__init__(ffmpeg, output=("-ac", "1", "-ar", str(rate), "-f", "s16le", "-flush_packets", "1",
                                         "pipe:1"))
        self.rate = rate
        self.takes: list[Take] = []
        self.argv: list[list[str]] = []  # every ffmpeg command line it ran (what `ps` would show)
        self._reader: threading.Thread | None = None

    def start(self, item: SinkItem, now: datetime) -> None:
        self.stop(now)
        take = Take(item.play_id, item.kind, time.time(), self.rate)
        self.takes.append(take)
        self._item, self._started = item, now
        self.argv.append(self.command(item))
        self._proc = self._spawn(self.command(item), item, subprocess.PIPE)  # a fed stream: piped in, like the agent
        self._reader = threading.Thread(target=self._read, args=(self._proc, take), daemon=True)
        self._reader.start()

    @staticmethod
    def _read(proc: subprocess.Popen, take: Take) -> None:
        fd = proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the pipe was closed under us (a stop that could not wait for the end)
                break
            if not chunk:
                break
            take.pcm += chunk
            take.chunks.append((time.time(), len(take.pcm) // 2))
        take.ended_wall = time.time()

    def stop(self, now: datetime) -> None:
        if self._proc is not None and self.takes:
            self.takes[-1].stopped_wall = time.time()
        proc, reader = self._proc, self._reader
        super().stop(now)
        if reader is not None:  # ffmpeg has ended: let the reader take the last bytes and the end of the pipe
            reader.join(timeout=5)
        if proc is not None and proc.stdout:
            proc.stdout.close()

    def of(self, play_id: str) -> list[Take]:
        return [t for t in self.takes if t.play_id == play_id]


class LiveAgent:
    """One box: enrolled with a cadre's code, SSE push, the runner's loops on threads."""

    def __init__(self, station_url: str, data_dir: Path, code: str | None, ffmpeg: str, rate: int = RATE,
                 run: bool = True) -> None:
        """`code`: enroll first (None: the box is enrolled already, e.g. a restart). `run=False`: enrolled but
        switched off until `start()` (a loudspeaker that is offline for now)."""
        if code is not None:
            enroll(data_dir, station_url, code=code, show=lambda line: None)
        self.data_dir, self.ffmpeg, self.rate = data_dir, ffmpeg, rate
        self.sink = TimedSink(ffmpeg, rate)
        self.threads: list[threading.Thread] = []
        if run:
            self.start()

    def start(self) -> "LiveAgent":
        """Switch the box on: a new agent on its data directory (what a restart of the agent process does)."""
        self.agent = Agent(self.data_dir, self.sink)
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(target=sse_loop, args=(self.agent.client, self.agent.on_nudge, self.stop_event),
                             kwargs={"on_command": self.agent.on_command,
                                     "on_connect": self.agent.on_push_connected}, daemon=True),
            threading.Thread(target=self.agent.run, args=(self.stop_event,), daemon=True)]
        for t in self.threads:
            t.start()
        return self

    def has_manifest(self) -> bool:
        return bool(self.threads) and self.agent.manifest is not None

    def plays(self) -> list[dict]:
        return self.agent.playlog.records()

    def reported(self) -> list[str]:
        return [e.get("code", "") for e in self.agent.events]

    def close(self) -> None:
        if not self.threads:
            return
        self.stop_event.set()
        self.agent.wake.set()
        self.agent.nudge.set()
        runner, push = self.threads[1], self.threads[0]
        runner.join(timeout=5)
        # The push thread sits in a read of the station's open event stream, which only the station's stop ends
        # (it checks `stop_event` between events, as the real agent does, whose process exit ends it). It was
        # left running after a 5 s join before too; waiting for that cost 5 s per box in every live test.
        push.join(timeout=0.2)
        self.threads = []


class SilentableLink:
    """A TCP relay to the station. `silence()` keeps every connection open but forwards nothing more either
    way (what a dropped mobile link looks like to both ends); `restore()` forwards again for new connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.silent = threading.Event()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.sockets: list[socket.socket] = []  # every connection either side, hung up by close()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.silent.is_set():
                    continue  # swallowed: the other end hears nothing, not even a close
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not self.silent.is_set():
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def silence(self) -> None:
        self.silent.set()

    def restore(self) -> None:
        self.silent.clear()

    def close(self) -> None:
        """Stop accepting and hang up every connection, so a box still waiting on the silenced link (its
        read timeout is tens of seconds) sees the end now rather than after the test."""
        self.server.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---- fixtures of the live tests with real agents (tests/broadcaster/station/test_live_*.py) ----
@pytest.fixture(name="clock")
def real_clock():  # noqa: ANN201
    """`clock` for the tests that import it: the world, the tokens and the station on the wall clock."""
    from tests.broadcaster.station.live import RealClock

    return RealClock()


@pytest.fixture
def wall_clock_station(settings, engine):
    """The station on the wall clock (the agents play in real time), serving on its own port."""
    from tests.broadcaster.station.live import start_station

    live = start_station(settings)
    yield live
    live.stop()


@pytest.fixture(name="station")
def live_station(wall_clock_station):  # noqa: ANN001, ANN201
    """`station` for the tests that import it: the wall-clock station."""
    return wall_clock_station


@pytest.fixture
def boxes():
    """The LiveAgents a test starts, closed after it."""
    made: list[LiveAgent] = []
    yield made
    for box in made:
        box.close()
