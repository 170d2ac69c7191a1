"""Simulation harness: N agents in one process on one virtual clock, with network faults.

Used by tests and benchmarks against a real station (or any HTTP server speaking the protocol). The agents are
the real `Agent` objects with `FileSink`s; only time and the network are controlled: `FaultyTransport` wraps
the agent's real HTTP transport and can drop requests, delay them, or act as if the server were down.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from broadcaster.agent.client import StationClient
from broadcaster.agent.http import HttpTransport, Request, Response, Transport, TransportError
from broadcaster.agent.clock import ClockEstimator, VirtualClock
from broadcaster.agent.runner import Agent
from broadcaster.agent.sinks import FileSink
from broadcaster.agent.state import AgentState


@dataclass
class Faults:
    drop_rate: float = 0.0      # share of requests failing with a connection error
    delay_s: float = 0.0        # real seconds added before each request
    down: bool = False          # every request fails (server restarting, 3G gone)
    seed: int = 0
    dropped: int = 0
    sent: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)


class FaultyTransport:
    def __init__(self, faults: Faults, inner: Transport | None = None) -> None:
        self.faults = faults
        self.inner = inner or HttpTransport()
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.faults.sent += 1
            fail = self.faults.down or self.faults._rng.random() < self.faults.drop_rate
            if fail:
                self.faults.dropped += 1
        if self.faults.delay_s:
            time.sleep(self.faults.delay_s)
        if fail:
            raise TransportError("simulated network fault")
        return self.inner.handle(request)

    def close(self) -> None:
        self.inner.close()


class Fleet:
    """N enrolled agents sharing one virtual clock and one fault plan."""

    def __init__(self, root: str | Path, station_url: str, credentials: list[dict[str, Any]], start: datetime,
                 faults: Faults | None = None, **agent_options: Any) -> None:
        self.root = Path(root)
        self.clock = VirtualClock(start)
        self.faults = faults or Faults()
        self.agents: list[Agent] = []
        for creds in credentials:
            creds = dict(creds)
            data = self.root / str(creds.pop("data_name", creds["device_id"]))  # data_name: several per device id
            AgentState(data).save_credentials({**creds, "station_url": station_url})
            client = StationClient(station_url, creds["token"], estimator=ClockEstimator(),
                                   raw_now=self.clock.raw_now, retries=0,
                                   transport=FaultyTransport(self.faults))
            self.agents.append(Agent(data, FileSink(data / "sink.jsonl"), clock=self.clock, client=client,
                                     **agent_options))

    def network_round(self, heartbeat: bool = True) -> None:
        for agent in self.agents:
            agent.network_round(do_heartbeat=heartbeat)

    def run_until(self, end: datetime, network_every_s: float | None = None) -> None:
        """Advance the shared clock from wake-up to wake-up, stepping every player; optionally a network round
        every `network_every_s` virtual seconds."""
        from datetime import timedelta

        next_net = self.clock.now() + timedelta(seconds=network_every_s) if network_every_s else None
        while self.clock.now() < end:
            wakes = [a.player.step() for a in self.agents]
            candidates = [w for w in wakes if w is not None] + [end] + ([next_net] if next_net else [])
            target = min(candidates)
            if target <= self.clock.now():
                target = self.clock.now() + timedelta(milliseconds=1)
            self.clock.sleep_until(target)
            if next_net is not None and network_every_s and self.clock.now() >= next_net:  # set only with it
                self.network_round()
                next_net = self.clock.now() + timedelta(seconds=network_every_s)
        for agent in self.agents:
            agent.player.step()

    def close(self) -> None:
        for agent in self.agents:
            agent.client.close()
