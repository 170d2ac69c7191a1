"""One slice of the fan-out benchmark's agents, run in its own process (bench/fanout.py starts several).

A real village box is its own computer: a thousand of them in ONE interpreter would measure its lock (the MQTT
thread starving behind the sync threads) rather than the protocol. Each process holds a slice of the real
agents (broadcaster/agent: Agent + MqttListener + FileSink, real clock, real HTTP), one shared epoll MQTT loop,
a few sync threads and a player thread that steps an agent when its player is woken (as `Player.run` does: a new
manifest, a file just downloaded), at the next change it names and at least every second, as `Player.run` does.

Talks to the parent over a pipe: ("ready", info), then per round ("arm", sha) → ("armed", info) → "all playing" →
("arm_stop",) → "armed_stop" → "all stopped" → ("round", n), with ("idle?",) → ("idle",) between rounds; at the
end ("stop",) → ("result", data), data["rounds"] one stage table per round. Every time is
`time.perf_counter()` (CLOCK_MONOTONIC: one clock for every process of the machine). Every wait is bounded.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
import time
from pathlib import Path

MAX_SLEEP = 1.0  # Player.run's default max_sleep
STAGES = ("command issued", "command received", "nudge published", "nudge received", "sync started", "manifest received",
          "manifest verified", "audio stored", "playing", "stop command issued", "stop command received", "stopped")


def thread_cpu() -> dict[int, float]:
    """native thread id → CPU seconds so far, for this process (/proc; Linux)."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return out


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc; Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WakeEvent(threading.Event):
    """The player's wake-up event, which also tells the bench's player thread whom to step."""

    def __init__(self, on_set) -> None:  # noqa: ANN001
        super().__init__()
        self.on_set = on_set

    def set(self) -> None:
        super().set()
        self.on_set()


def run_slice(conn, creds: list[dict], station_url: str, raw_topic: str, workers: int,  # noqa: ANN001
              agents_dir: str | None, timeout: float) -> None:
    from broadcaster.agent.client import StationClient
    from broadcaster.agent.clock import SystemClock
    from broadcaster.agent.nudges import MqttListener
    from broadcaster.agent.runner import Agent
    from broadcaster.agent.sinks import FileSink
    from broadcaster.agent.state import AgentState
    from broadcaster.protocol.mqttloop import MqttLoop
    from broadcaster.protocol.wire import parse_time
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="loa-fanout-agents-", dir=agents_dir))
    armed = threading.Event()
    stop_armed = threading.Event()  # the second phase: the cadre cancels; each agent's way to silence
    # The round being measured: its emergency's audio and its stage times (replaced for each round).
    rnd: dict = {"sha": None, "stages": {k: {} for k in STAGES}}
    stages = _StagesOf(rnd)
    lock = threading.Lock()
    woken: set[int] = set()
    have_woken = threading.Event()
    agents = []
    for i, c in enumerate(creds):
        data = root / c["device_id"]
        AgentState(data).save_credentials({**c, "station_url": station_url})
        clock = SystemClock()
        client = StationClient(station_url, c["token"], estimator=clock.estimator, raw_now=clock.raw_now,
                               retries=2, backoff=0.2)
        a = Agent(data, FileSink(data / "sink.jsonl"), clock=clock, client=client)

        def wake(i=i) -> None:
            with lock:
                woken.add(i)
            have_woken.set()

        a.player.wake = WakeEvent(wake)
        agents.append(a)
    _instrument(agents, rnd, stages, armed)
    # A village box holds one agent; this process holds hundreds, whose long-lived objects would make every full
    # garbage collection hundreds of times longer than on a box. Set-up objects are frozen out of the collector.
    import gc

    gc.freeze()
    t = time.perf_counter()
    for a in agents:
        a.network_round(do_heartbeat=False)
    first_sync_s = time.perf_counter() - t

    work: queue.Queue = queue.Queue()
    stop = threading.Event()
    # One sync at a time per agent, as on a box (its one network thread): a start command and the nudge that
    # follows would otherwise download the same file on two threads at once.
    sync_locks = [threading.Lock() for _ in agents]

    def worker() -> None:
        while not stop.is_set():
            try:
                i = work.get(timeout=0.2)
            except queue.Empty:
                continue
            if armed.is_set():
                stages["sync started"].setdefault(i, time.perf_counter())
            try:
                with sync_locks[i]:
                    if agents[i]._fetch_first.is_set() and not agents[i].nudge.is_set():
                        agents[i].fetch_started()  # a start command: its audio, no manifest request
                    else:
                        agents[i].sync()
            except Exception as exc:  # noqa: BLE001
                print("sync failed", repr(exc), file=sys.stderr)

    due: dict[int, float] = {}  # agent → when its own loop would wake by itself (monotonic)

    def player() -> None:
        """Steps each player when `Player.run` would: when woken (a new manifest, a file just downloaded), at
        the next change `step()` names, and at least every `max_sleep` (1 s), until each plays the emergency."""
        while not stop.is_set():
            have_woken.wait(0.05)
            have_woken.clear()
            with lock:
                todo = set(woken)
                woken.clear()
            now = time.monotonic()
            todo |= {i for i, t in due.items() if t <= now}
            for i in todo:
                a = agents[i]
                until = a.player.step()
                if not armed.is_set():
                    continue
                cur = a.player.state.current
                if stop_armed.is_set():
                    if i in stages["playing"] and (cur is None or cur.entry.priority != "emergency"):
                        stages["stopped"].setdefault(i, time.perf_counter())
                        due.pop(i, None)
                        continue
                elif cur is not None and cur.entry.priority == "emergency":
                    stages["playing"].setdefault(i, time.perf_counter())
                    due.pop(i, None)
                    continue
                wait = MAX_SLEEP if until is None else \
                    min(MAX_SLEEP, max(0.0, (until - a.clock.now()).total_seconds()))
                due[i] = time.monotonic() + wait

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    threads.append(threading.Thread(target=player, daemon=True))
    for th in threads:
        th.start()

    wall_offset = time.time() - time.perf_counter()
    raw_recv: list[float] = []
    mqtt_loop = MqttLoop()
    listeners = []
    for i, (_agent, c) in enumerate(zip(agents, creds)):
        def on_nudge(version: str, emergency: bool, i: int = i) -> None:
            if armed.is_set():
                stages["nudge received"].setdefault(i, time.perf_counter())
            agents[i].on_nudge(version, emergency)
            if agents[i].nudge.is_set():
                agents[i].nudge.clear()
                work.put(i)

        def on_command(envelope: dict, i: int = i) -> None:
            """A signed command (§4a) on the village or device topic: verified and applied by the agent."""
            if armed.is_set():  # the station stamps a command as it signs it (same machine, same wall clock)
                try:
                    issued = parse_time(envelope["command"]["issued_at"]).timestamp() - wall_offset
                except (KeyError, TypeError, ValueError):
                    issued = None
                prefix = "stop " if stop_armed.is_set() else ""
                stages[prefix + "command received"].setdefault(i, time.perf_counter())
                if issued is not None:
                    stages[prefix + "command issued"].setdefault(i, issued)
            agents[i].on_command(envelope)
            if agents[i]._fetch_first.is_set():  # a start: fetch its audio now
                work.put(i)

        m = c["mqtt"]
        lst = MqttListener(m["url"], m["username"], c["token"], m["topics"], on_nudge, loop=mqtt_loop,
                           on_command=on_command)
        lst.client.message_callback_add(raw_topic, lambda cl, ud, msg: raw_recv.append(time.perf_counter()))

        def on_message(cl, ud, msg, i=i, _f=lst.client.on_message) -> None:  # noqa: ANN001
            if armed.is_set():
                try:  # the station stamps a nudge as it publishes it (same machine, same wall clock)
                    body = json.loads(msg.payload)
                    if body.get("emergency"):
                        stages["nudge published"].setdefault(i, parse_time(body["at"]).timestamp() - wall_offset)
                except (ValueError, KeyError, TypeError):
                    pass
            _f(cl, ud, msg)

        lst.client.on_message = on_message
        lst.start()
        listeners.append(lst)
    t = time.perf_counter()
    deadline = time.monotonic() + 120
    while not all(li.connected.is_set() for li in listeners) and time.monotonic() < deadline:
        time.sleep(0.1)
    connect_s = time.perf_counter() - t
    for li in listeners:
        li.client.subscribe(raw_topic, 1)
    time.sleep(2.0)
    deadline = time.monotonic() + 120  # the retained nudges of the connect cost at most one 304 each
    while not work.empty() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    conn.send(("ready", {"agents": len(agents), "first_sync_s": first_sync_s, "connect_s": connect_s,
                         "connected": sum(li.connected.is_set() for li in listeners),
                         "threads": threading.active_count()}))
    rounds = []
    cpu = 0.0
    while True:  # one round per emergency the parent starts: ("arm", sha) … ("arm_stop",) …; ("stop",) ends
        msg = conn.recv() if conn.poll(900) else ("stop",)
        if msg[0] == "idle?":  # the manifest syncs of the previous round are done
            deadline, quiet_since = time.monotonic() + 120, time.monotonic()
            while time.monotonic() < deadline and time.monotonic() - quiet_since < 3.0:
                time.sleep(0.1)
                if not work.empty() or any(a.nudge.is_set() for a in agents):
                    quiet_since = time.monotonic()  # quiet for 3 s: the rebuilt manifests were all taken
            conn.send(("idle",))
            continue
        if msg[0] != "arm":
            break
        rnd["sha"], rnd["stages"] = msg[1], {k: {} for k in STAGES}
        held = sum(a.store.locate(msg[1]) is not None for a in agents)  # the file already on the box
        cpu0 = proc_cpu(os.getpid())
        armed.set()
        conn.send(("armed", {"held_before": held}))
        deadline = time.monotonic() + timeout + 5
        while time.monotonic() < deadline and not conn.poll(0.02):
            if len(stages["playing"]) == len(agents):
                conn.send(("all playing",))
                break
        msg = conn.recv() if conn.poll(timeout + 10) else ("stop",)
        if msg[0] == "arm_stop":  # phase two: the cadre cancels the emergency
            tc0 = thread_cpu()
            stop_armed.set()
            with lock:
                woken.update(stages["playing"])  # step them again from now on
            have_woken.set()
            conn.send(("armed_stop",))
            deadline = time.monotonic() + timeout + 5
            while time.monotonic() < deadline and not conn.poll(0.02):
                if len(stages["stopped"]) >= len(stages["playing"]):
                    conn.send(("all stopped",))
                    break
            tc1 = thread_cpu()
            roles = {mqtt_loop._thread.native_id: "mqtt", threads[-1].native_id: "player",
                     **{t.native_id: "worker" for t in threads[:-1]}}
            by_role: dict[str, float] = {}
            for tid, v in tc1.items():
                role = roles.get(tid, "other")
                by_role[role] = round(by_role.get(role, 0.0) + v - tc0.get(tid, 0.0), 3)
            print("bench: thread CPU during the stop", by_role, file=sys.stderr, flush=True)
            msg = conn.recv() if conn.poll(timeout + 10) else ("stop",)  # ("next",) or ("stop",)
        cpu += proc_cpu(os.getpid()) - cpu0
        not_playing = sorted({e["code"] for i, a in enumerate(agents) if i not in stages["playing"]
                              for e in a.events})
        armed.clear()
        stop_armed.clear()
        with lock:
            woken.update(range(len(agents)))
        have_woken.set()
        rounds.append({"stages": rnd["stages"], "not_playing_events": not_playing})
        if msg[0] == "stop":
            break
        conn.send(("round", len(rounds)))
    stop.set()
    conn.send(("result", {"rounds": rounds, "raw": raw_recv, "cpu_s": cpu}))
    mqtt_loop.stop()
    for a in agents:
        a.client.close()
    shutil.rmtree(root, ignore_errors=True)


class _StagesOf:
    """`stages[name]` of the round being measured (the dicts are replaced for each round)."""

    def __init__(self, cur: dict) -> None:
        self.cur = cur

    def __getitem__(self, name: str) -> dict[int, float]:
        return self.cur["stages"][name]


def _instrument(agents: list, rnd: dict, stages: _StagesOf, armed: threading.Event) -> None:
    """Per-agent stage times once armed, by wrapping the agent's own calls."""
    for i, a in enumerate(agents):
        def get_manifest(etag, _f=a.client.get_manifest, i=i):  # noqa: ANN001, ANN202
            out = _f(etag)
            if armed.is_set() and out[0] is not None:
                stages["manifest received"].setdefault(i, time.perf_counter())
            return out

        def verify(envelope, now, _f=a.verifier.manifest, i=i):  # noqa: ANN001, ANN202
            out = _f(envelope, now)
            if armed.is_set() and out is not None and out.emergency:
                stages["manifest verified"].setdefault(i, time.perf_counter())
            return out

        def fetch(sha, *args, _f=a.store.fetch, i=i, **kw):  # noqa: ANN001, ANN202
            out = _f(sha, *args, **kw)
            if armed.is_set() and sha == rnd["sha"]:
                stages["audio stored"].setdefault(i, time.perf_counter())
            return out

        a.client.get_manifest, a.verifier.manifest, a.store.fetch = get_manifest, verify, fetch
