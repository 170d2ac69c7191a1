"""Emergency fan-out benchmark (issue 5). One JSON line per figure (format: .helpers/COMMON.md).

1,000 real agents (broadcaster/agent: MqttListener + Agent with a file sink, real clock) enrolled with the real
station (uvicorn on 127.0.0.1, SQLite) which publishes nudges to the real Mosquitto at 127.0.0.1:1883. A cadre's
emergency is stored and materialized (the schedules service) at t0; the station's nudger publishes the village
topics and the device topics; each agent syncs (manifest + the emergency audio it did not have) on a pool of
worker threads and starts playing. Figure: t0 → "playing the emergency" per agent, p50/p99. Baseline, same
run, same 1,000 MQTT clients: raw Mosquitto publish → receive latency of one QoS 1 message to all of them.

All MQTT clients share ONE network thread (broadcaster/protocol/mqttloop.py, selectors/epoll): paho's own
loop_start() is a thread per client waiting in select(), which fails for sockets numbered above 1024, so with
1,000 agents (MQTT + HTTP sockets) almost no client ever got its CONNECT out. Every wait is bounded, and a
watchdog ends the process after --hard-limit seconds whatever happens (printing an error line).

Usage: .venv/bin/python bench/fanout.py [--agents 1000] [--workers 32] [--timeout 60] [--hard-limit 900]
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync import add_rule, emit, make_world, serve  # noqa: E402  (bench/sync.py: the shared world builder)

STATION_MQTT = '''
from api.app import create_app
from loa.settings import Settings
app = create_app(Settings(data_dir={data!r}, worker_enabled=False, print_setup_token=False,
                          mqtt_url="mqtt://127.0.0.1:1883"))
'''

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


CHILDREN: list = []  # the station process: ended on every way out


def _end_children() -> None:
    for proc in CHILDREN:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except Exception:  # noqa: BLE001
                proc.kill()


def watchdog(seconds: float) -> None:
    """The bench stops by itself: after `seconds` it prints an error line and exits the process."""
    import atexit

    atexit.register(_end_children)

    def fire():
        _end_children()
        print(json.dumps({"figure": "emergency -> playing (fan-out)", "value": None, "unit": "s",
                          "error": f"hard time limit of {seconds:.0f} s reached"}), flush=True)
        os._exit(2)

    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--hard-limit", type=float, default=900.0)
    ap.add_argument("--agents-dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                    help="where the agents keep their data (default tmpfs: a thousand boxes have a thousand SD "
                         "cards, not one shared disk whose fsync queue the bench would measure instead)")
    args = ap.parse_args()
    n = min(args.agents, 2000)
    watchdog(min(args.hard_limit, 3600.0))

    from broadcaster.agent.client import StationClient
    from broadcaster.agent.clock import SystemClock
    from broadcaster.agent.nudges import MqttListener
    from broadcaster.agent.runner import Agent
    from broadcaster.agent.sinks import FileSink
    from broadcaster.agent.state import AgentState
    from broadcaster.protocol.mqttloop import MqttLoop
    from schedules.service import ScheduleService
    from tests.broadcaster_station.live import free_port

    import broadcaster.station.enrollment  # noqa: F401

    now = datetime.now(TZ)
    root = Path(tempfile.mkdtemp(prefix="loa-bench-fanout-"))
    villages = max(1, n // 100)
    # the station knows its broker: credentials carry the MQTT topics
    from broadcaster.station import context as station_context

    original = station_context.StationContext.__init__

    def with_broker(self, *a, **kw):
        original(self, *a, **kw)
        self.mqtt_device_url = "mqtt://127.0.0.1:1883"

    station_context.StationContext.__init__ = with_broker
    world = make_world(root, now, n, villages, [("Bản tin", 30.0, 440), ("Cảnh báo lũ quét", 8.0, 880)])
    station_context.StationContext.__init__ = original
    (normal_item, _, _, _), (alert_item, alert_sha, _, _) = world["items"]
    add_rule(world["engine"], world["commune"], [normal_item], now + timedelta(hours=2), "Bản tin chiều")
    svc = ScheduleService(world["engine"])
    svc.materialize_commune(world["commune"], now, notify=False)
    world["engine"].dispose()
    # The station in its own uvicorn process, as in real life (not sharing the agents' interpreter lock)
    port = free_port()
    station_proc = serve(STATION_MQTT.format(data=str(root)), port, root)
    CHILDREN.append(station_proc)
    station_url = f"http://127.0.0.1:{port}"

    agents = []
    agents_root = Path(tempfile.mkdtemp(prefix="loa-fanout-agents-", dir=args.agents_dir))
    for c in world["creds"]:
        data = agents_root / c["device_id"]
        AgentState(data).save_credentials({**c, "station_url": station_url})
        clock = SystemClock()
        client = StationClient(station_url, c["token"], estimator=clock.estimator, raw_now=clock.raw_now, retries=2,
                               backoff=0.2)
        agents.append(Agent(data, FileSink(data / "sink.jsonl"), clock=clock, client=client))
    t = time.perf_counter()
    for a in agents:
        a.network_round(do_heartbeat=False)
    first_sync_s = time.perf_counter() - t

    work: queue.Queue = queue.Queue()
    playing_at: dict[int, float] = {}
    nudged_at: dict[int, float] = {}   # first nudge after t0
    synced_at: dict[int, float] = {}   # first sync finished after t0
    stepping: set[int] = set()         # synced, waiting for the player to start the emergency
    t0_box = {"t0": None}
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                i = work.get(timeout=0.2)
            except queue.Empty:
                continue
            a = agents[i]
            try:
                a.sync()
            except Exception as exc:  # noqa: BLE001
                print("sync failed", repr(exc), file=sys.stderr)
            if t0_box["t0"] is not None:
                synced_at.setdefault(i, time.perf_counter())
                with lock:
                    stepping.add(i)

    def ticker():
        """The agents' players: the real agent steps its player on its own thread, waking when something is due;
        here one thread steps every synced agent until it plays the emergency (every 10 ms)."""
        while not stop.is_set():
            with lock:
                todo = list(stepping)
            for i in todo:
                a = agents[i]
                a.player.step()
                cur = a.player.state.current
                if cur is not None and cur.entry.priority == "emergency":
                    playing_at.setdefault(i, time.perf_counter())
                    with lock:
                        stepping.discard(i)
            time.sleep(0.01)

    lock = threading.Lock()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
    threads.append(threading.Thread(target=ticker, daemon=True))
    for th in threads:
        th.start()

    def on_nudge_for(i):
        def on_nudge(version, emergency):
            if t0_box["t0"] is not None:
                nudged_at.setdefault(i, time.perf_counter())
            agents[i].on_nudge(version, emergency)
            if agents[i].nudge.is_set():
                agents[i].nudge.clear()
                work.put(i)
        return on_nudge

    raw_topic = f"loa-bench/raw/{uuid.uuid4().hex[:8]}"
    raw_recv: dict[int, float] = {}
    listeners = []
    mqtt_loop = MqttLoop()
    assert len({c["mqtt"]["username"] for c in world["creds"]}) == len(world["creds"])  # unique client ids
    for i, (a, c) in enumerate(zip(agents, world["creds"])):
        m = c["mqtt"]
        lst = MqttListener(m["url"], m["username"], c["token"], m["topics"], on_nudge_for(i), loop=mqtt_loop)
        lst.client.message_callback_add(raw_topic, lambda cl, ud, msg, i=i: raw_recv.setdefault(i, time.perf_counter()))
        lst.start()
        listeners.append(lst)
    t = time.perf_counter()
    deadline = time.monotonic() + 120
    while not all(l.connected.is_set() for l in listeners) and time.monotonic() < deadline:
        time.sleep(0.1)
    connect_s = time.perf_counter() - t
    connected = sum(l.connected.is_set() for l in listeners)
    for l in listeners:
        l.client.subscribe(raw_topic, 1)
    time.sleep(2.0)
    deadline = time.monotonic() + 120  # the retained nudges of the connect cost at most one 304 each
    while not work.empty() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)

    # baseline: one raw QoS 1 publish to every subscriber
    import paho.mqtt.client as mqtt

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw-" + uuid.uuid4().hex[:6])
    mqtt_loop.add(pub, "127.0.0.1", 1883)
    deadline = time.monotonic() + 20
    while not pub.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    threads = threading.active_count()
    tr = time.perf_counter()
    pub.publish(raw_topic, b"x", qos=1).wait_for_publish(10)
    deadline = time.monotonic() + 20
    while len(raw_recv) < len(listeners) and time.monotonic() < deadline:
        time.sleep(0.01)
    raw = [v - tr for v in raw_recv.values()]

    # the emergency, as a cadre starts it: the station's own API (it stores, materializes and nudges)
    import httpx

    cadre = httpx.Client(base_url=station_url, timeout=60)
    r = cadre.post("/api/v1/auth/token", json={"username": "bench", "password": "mat-khau-rat-dai", "name": "bench"})
    r.raise_for_status()
    cadre.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    print("bench: emergency now", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    t0_box["t0"] = t0
    r = cadre.post(f"/api/v1/communes/{world['commune']}/emergencies", json={
        "title": "Cảnh báo lũ quét", "programme": [{"type": "item", "content_id": alert_item}],
        "villages": world["villages"], "repeat": 1})
    materialize_s = time.perf_counter() - t0  # the cadre's request: store + materialize (nudges run after it)
    r.raise_for_status()
    deadline = time.monotonic() + args.timeout
    while len(playing_at) < len(agents) and time.monotonic() < deadline:
        time.sleep(0.02)
    lat = [v - t0 for v in playing_at.values()]
    stop.set()
    # leave the shared broker clean: clear the retained nudges of this run's topics
    infos = [pub.publish(topic, b"", qos=1, retain=True) for c in world["creds"] for topic in c["mqtt"]["topics"]]
    deadline = time.monotonic() + 20
    while not all(i.is_published() for i in infos) and time.monotonic() < deadline:
        time.sleep(0.05)
    mqtt_loop.stop()
    station_proc.terminate()
    station_proc.wait(15)
    import shutil

    shutil.rmtree(agents_root, ignore_errors=True)
    emit(f"emergency -> playing, p50, {len(agents):,} agents over MQTT", round(statistics.median(lat), 3) if lat else None, "s",
         "p99 < 1.5", f"raw Mosquitto publish->receive p50, same {len(listeners):,} subscribers",
         round(statistics.median(raw), 4) if raw else None, agents=len(agents), playing=len(lat),
         workers=args.workers, first_sync_all_s=round(first_sync_s, 1), mqtt_connected=connected,
         mqtt_connect_all_s=round(connect_s, 1), threads=threads)
    emit(f"emergency -> playing, p99, {len(agents):,} agents over MQTT", round(pct(lat, 99), 3) if lat else None, "s", "< 1.5",
         f"raw Mosquitto publish->receive p99, same {len(listeners):,} subscribers", round(pct(raw, 99), 4) if raw else None,
         received_raw=len(raw), max_s=round(max(lat), 3) if lat else None,
         nudged_p50_s=round(statistics.median(v - t0 for v in nudged_at.values()), 3) if nudged_at else None,
         nudged_p99_s=round(pct([v - t0 for v in nudged_at.values()], 99), 3) if nudged_at else None,
         synced_p50_s=round(statistics.median(v - t0 for v in synced_at.values()), 3) if synced_at else None,
         synced_p99_s=round(pct([v - t0 for v in synced_at.values()], 99), 3) if synced_at else None,
         cadre_request_s=round(materialize_s, 3), nudged=len(nudged_at), synced=len(synced_at),
         not_playing_events=sorted({e["code"] for i, a in enumerate(agents) if i not in playing_at
                                    for e in a.events}))


if __name__ == "__main__":
    main()
