"""Emergency fan-out benchmark (issues 5, 12). One JSON line per figure (format: .helpers/COMMON.md).

Two rounds, each an emergency started through the cadre's API, then stopped (cancelled) 1 s after every agent
is on air: first a **pre-fetched alert** (an approved item of kind `emergency`, which every manifest lists as a
standby file, docs/device-protocol.md §4b, so the agents hold it before the call: `held_audio_before`), then a
**new message** (an approved item no manifest listed: each agent downloads it on the start command). Each round
gives start and stop p50/p99 lines with the raw Mosquitto baseline; the cold round is never left out.

1,000 real agents (broadcaster/agent: MqttListener + Agent with a file sink, real clock) enrolled with the real
station (uvicorn on 127.0.0.1, SQLite) which publishes nudges to the real Mosquitto at 127.0.0.1:1883. A cadre's
emergency is stored and materialized (the schedules service) at t0; the station's nudger publishes the village
topics and the device topics; each agent syncs (manifest + the emergency audio it did not have) on a pool of
worker threads and starts playing. Figure: t0 → "playing the emergency" per agent, p50/p99. Baseline, same
run, same 1,000 MQTT clients: raw Mosquitto publish → receive latency of one QoS 1 message to all of them.

The agents run in --procs processes (bench/fanout_fleet.py, a slice each): a village box is its own computer,
and one interpreter for a thousand of them measured its lock instead (the MQTT thread starving behind the sync
threads). Each agent's way is timed stage by stage (`stages_p50_p99_n`, seconds after the cadre's click): nudge
published (the station stamps `at` as it publishes) → received → sync started → manifest received → verified →
emergency audio stored → playing; `cpu_during_fanout` gives the CPU seconds each side spent meanwhile.

All MQTT clients share ONE network thread (broadcaster/protocol/mqttloop.py, selectors/epoll): paho's own
loop_start() is a thread per client waiting in select(), which fails for sockets numbered above 1024, so with
1,000 agents (MQTT + HTTP sockets) almost no client ever got its CONNECT out. Every wait is bounded, and a
watchdog ends the process after --hard-limit seconds whatever happens (printing an error line).

Usage: .venv/bin/python bench/fanout.py [--agents 1000] [--procs 2] [--workers 32] [--timeout 60] [--hard-limit 900]
                                       [--dump stages.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import threading
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout_fleet import STAGES, proc_cpu, run_slice  # noqa: E402  (the agents, a slice per process)
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


CHILDREN: list = []  # the station and agent processes: ended on every way out


def _end_children() -> None:
    for proc in CHILDREN:
        if isinstance(proc, subprocess.Popen):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except Exception:  # noqa: BLE001
                    proc.kill()
        elif proc.is_alive():  # an agent process
            proc.terminate()
            proc.join(10)


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


def stage_figures(stages: dict[str, dict[int, float]], t0: float) -> dict[str, list[float | None]]:
    """stage → [p50, p99, count] in seconds after t0."""
    out = {}
    for name in STAGES:
        values = [v - t0 for v in stages[name].values()]
        out[name] = [round(statistics.median(values), 3), round(pct(values, 99), 3), len(values)] if values else \
            [None, None, 0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=32, help="sync threads in all, shared out over the processes")
    ap.add_argument("--procs", type=int, default=2, help="agent processes (each a slice of the agents)")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--hard-limit", type=float, default=900.0)
    ap.add_argument("--dump", help="write every agent's stage times (s after the emergency) to this JSON file")
    ap.add_argument("--agents-dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                    help="where the agents keep their data (default tmpfs: a thousand boxes have a thousand SD "
                         "cards, not one shared disk whose fsync queue the bench would measure instead)")
    args = ap.parse_args()
    n = min(args.agents, 2000)
    watchdog(min(args.hard_limit, 3600.0))

    from schedules.service import ScheduleService
    from tests.ports import free_port

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
    world = make_world(root, now, n, villages, [("Bản tin", 30.0, 440), ("Cảnh báo lũ quét", 8.0, 880, "emergency"),
                                                 ("Tin khẩn mới soạn", 8.0, 660, "news")])
    station_context.StationContext.__init__ = original
    # the alert: an approved emergency message (held in standby by every device, §4b); the new message: a
    # freshly made item no manifest listed before its emergency (what a cadre's new TTS text is)
    (normal_item, _, _, _), (alert_item, alert_sha, _, _), (fresh_item, fresh_sha, _, _) = world["items"]
    add_rule(world["engine"], world["commune"], [normal_item], now + timedelta(hours=2), "Bản tin chiều")
    svc = ScheduleService(world["engine"])
    svc.materialize_commune(world["commune"], now, notify=False)
    world["engine"].dispose()
    # The station in its own uvicorn process, as in real life (not sharing the agents' interpreter lock)
    port = free_port()
    station_proc = serve(STATION_MQTT.format(data=str(root)), port, root)
    CHILDREN.append(station_proc)
    station_url = f"http://127.0.0.1:{port}"

    import multiprocessing as mp

    raw_topic = f"loa-bench/raw/{uuid.uuid4().hex[:8]}"
    procs = max(1, min(args.procs, n))
    ctx = mp.get_context("fork")  # the children inherit the imported modules; no thread of ours is mid-work
    slices = [world["creds"][k::procs] for k in range(procs)]
    pipes, fleet = [], []
    for creds in slices:
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=run_slice, args=(child_end, creds, station_url, raw_topic,
                                                 max(1, args.workers // procs), args.agents_dir, args.timeout),
                        daemon=True)
        p.start()
        CHILDREN.append(p)
        pipes.append(parent_end)
        fleet.append(p)
    ready = [recv(c, 600, "ready") for c in pipes]
    agents_n = sum(r["agents"] for r in ready)
    connected = sum(r["connected"] for r in ready)

    # baseline: one raw QoS 1 publish to every subscriber
    import paho.mqtt.client as mqtt

    from broadcaster.protocol.mqttloop import MqttLoop

    mqtt_loop = MqttLoop()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw-" + uuid.uuid4().hex[:6])
    mqtt_loop.add(pub, "127.0.0.1", 1883)
    deadline = time.monotonic() + 20
    while not pub.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    tr = time.perf_counter()
    pub.publish(raw_topic, b"x", qos=1).wait_for_publish(10)
    time.sleep(2.0)  # every subscriber got it long before (p99 is tens of ms); counted from the results

    import httpx

    cadre = httpx.Client(base_url=station_url, timeout=60)
    r = cadre.post("/api/v1/auth/token", json={"username": "bench", "password": "mat-khau-rat-dai", "name": "bench"})
    r.raise_for_status()
    cadre.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def one_round(item_id: int, sha: str) -> dict:
        """The emergency, as a cadre starts it (the station's own API: it stores, commands, materializes and
        nudges), 1 s of everyone on air, then the cadre's stop. Times are perf_counter (one clock)."""
        for c in pipes:
            c.send(("idle?",))
        for c in pipes:
            recv(c, 180, "idle")
        time.sleep(1.0)
        for c in pipes:
            c.send(("arm", sha))
        held = sum(recv(c, 60, "armed")["held_before"] for c in pipes)
        print(f"bench: emergency now ({held} of {agents_n} hold its audio)", file=sys.stderr, flush=True)
        cpu0 = proc_cpu(station_proc.pid)
        t0 = time.perf_counter()
        r = cadre.post(f"/api/v1/communes/{world['commune']}/emergencies", json={
            "title": "Cảnh báo lũ quét", "programme": [{"type": "item", "content_id": item_id}],
            "villages": world["villages"], "repeat": 5})  # 5 × 8 s: still on air when the cadre stops it
        cadre_s = time.perf_counter() - t0  # the cadre's request: store + command + materialize
        r.raise_for_status()
        emergency_id = r.json()["id"]
        deadline = time.monotonic() + args.timeout
        waiting = list(pipes)
        while waiting and time.monotonic() < deadline:
            waiting = [c for c in waiting if not c.poll(0.02)]
        fanout_s = time.perf_counter() - t0
        station_cpu = proc_cpu(station_proc.pid) - cpu0
        for c in pipes:
            if c.poll(0):
                recv(c, 1, "all playing")
        time.sleep(1.0)
        for c in pipes:
            c.send(("arm_stop",))
        for c in pipes:
            recv(c, 60, "armed_stop")
        t1 = time.perf_counter()
        r = cadre.post(f"/api/v1/emergencies/{emergency_id}/cancel")
        cancel_s = time.perf_counter() - t1
        r.raise_for_status()
        deadline = time.monotonic() + args.timeout
        waiting = list(pipes)
        while waiting and time.monotonic() < deadline:
            waiting = [c for c in waiting if not c.poll(0.02)]
        for c in pipes:
            if c.poll(0):
                recv(c, 1, "all stopped")
            c.send(("next",))
        for c in pipes:
            recv(c, 60, "round")
        return {"t0": t0, "t1": t1, "cadre_s": cadre_s, "cancel_s": cancel_s, "fanout_s": fanout_s,
                "station_cpu": station_cpu, "held": held}

    rounds = [("pre-fetched alert (standby)", one_round(alert_item, alert_sha)),
              ("new message (cold download)", one_round(fresh_item, fresh_sha))]
    results = []
    for c in pipes:
        c.send(("stop",))
    for c in pipes:
        results.append(recv(c, 60, "result"))
    for p in fleet:
        p.join(30)
    raw = [v - tr for res in results for v in res["raw"]]
    # leave the shared broker clean: clear the retained nudges of this run's topics
    infos = [pub.publish(topic, b"", qos=1, retain=True) for c in world["creds"] for topic in c["mqtt"]["topics"]]
    deadline = time.monotonic() + 20
    while not all(i.is_published() for i in infos) and time.monotonic() < deadline:
        time.sleep(0.05)
    mqtt_loop.stop()
    station_proc.terminate()
    station_proc.wait(15)
    dump = {}
    for k, (label, rd) in enumerate(rounds):
        stages = {name: {} for name in STAGES}
        for p_i, res in enumerate(results):
            for name in STAGES:
                stages[name].update({(p_i, i): v for i, v in res["rounds"][k]["stages"][name].items()})
        t0, t1 = rd["t0"], rd["t1"]
        lat = [v - t0 for v in stages["playing"].values()]
        stop_lat = [v - t1 for v in stages["stopped"].values()]
        dump[label] = {name: {f"{p_i}/{i}": v - t0 for (p_i, i), v in stages[name].items()} for name in STAGES}
        base = f"raw Mosquitto publish->receive p{{}}, same {connected:,} subscribers"
        raw50 = round(statistics.median(raw), 4) if raw else None
        raw99 = round(pct(raw, 99), 4) if raw else None
        emit(f"emergency -> playing, p50, {agents_n:,} agents over MQTT, {label}",
             round(statistics.median(lat), 3) if lat else None, "s", "< 1.0", base.format(50), raw50,
             agents=agents_n, playing=len(lat), held_audio_before=rd["held"], agent_processes=procs,
             workers=args.workers, first_sync_all_s=round(max(r["first_sync_s"] for r in ready), 1),
             mqtt_connected=connected, mqtt_connect_all_s=round(max(r["connect_s"] for r in ready), 1),
             threads_per_process=max(r["threads"] for r in ready))
        emit(f"emergency -> playing, p99, {agents_n:,} agents over MQTT, {label}",
             round(pct(lat, 99), 3) if lat else None, "s", "< 1.0", base.format(99), raw99, received_raw=len(raw),
             max_s=round(max(lat), 3) if lat else None, cadre_request_s=round(rd["cadre_s"], 3),
             stages_p50_p99_n=stage_figures(stages, t0),
             cpu_during_fanout={"station_s": round(rd["station_cpu"], 2), "wall_s": round(rd["fanout_s"], 2)},
             not_playing_events=sorted({e for res in results for e in res["rounds"][k]["not_playing_events"]}))
        emit(f"emergency stop -> silent, p50, {agents_n:,} agents over MQTT, {label}",
             round(statistics.median(stop_lat), 3) if stop_lat else None, "s", "< 1.0", base.format(50), raw50,
             stopped=len(stop_lat), were_playing=len(lat))
        emit(f"emergency stop -> silent, p99, {agents_n:,} agents over MQTT, {label}",
             round(pct(stop_lat, 99), 3) if stop_lat else None, "s", "< 1.0", base.format(99), raw99,
             max_s=round(max(stop_lat), 3) if stop_lat else None, cadre_request_s=round(rd["cancel_s"], 3),
             stages_p50_p99_n={k2: v for k2, v in stage_figures(stages, t1).items()
                               if k2 in ("stop command issued", "stop command received", "stopped")})
    print(json.dumps({"agents_cpu_s": round(sum(res["cpu_s"] for res in results), 2)}), file=sys.stderr)
    if args.dump:
        Path(args.dump).write_text(json.dumps(dump))


def recv(conn, timeout: float, *kinds: str):  # noqa: ANN001, ANN201
    """The next message of an agent process, which must be one of `kinds` within `timeout` seconds."""
    if not conn.poll(timeout):
        raise RuntimeError(f"agent process silent for {timeout:.0f} s (waiting for {kinds})")
    msg = conn.recv()
    if msg[0] not in kinds:
        raise RuntimeError(f"agent process said {msg[0]!r}, expected {kinds}")
    return msg[1] if len(msg) > 1 else msg[0]


if __name__ == "__main__":
    main()
