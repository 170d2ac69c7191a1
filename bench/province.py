"""Province benchmark (issue 8). One JSON line per figure (format: .helpers/COMMON.md).

A province on this machine (2 cores): 10,000 devices in 1,000 villages of 100 communes, served by the compose
topology without Docker (tests/station/ops/topology.py): two `loa serve` processes behind Caddy (deploy/Caddyfile), one
`loa scheduler`, one `loa worker`, PostgreSQL, Mosquitto. The 10,000 devices speak the device protocol through
Caddy from one asyncio client in this process (httpx, 32 keep-alive connections): it fetches and verifies the
signed manifest (Ed25519, pinned key), downloads the audio, heartbeats. Real agents (Fleet) are too heavy for
10,000 in one process (8 GB and most of the CPU); tests/station/ops/test_topology.py runs 1,000 of them through the same
topology. The client shares the 2 cores with the station, so the figures are a floor.

Figures:
1. first sync of every device (signed manifest 200 + its audio + heartbeat): devices/s and requests/s;
2. steady state (manifest 304 + heartbeat): devices/s and requests/s — the rate that sets devices per process;
3. emergency start: the cadres of the 100 communes start an emergency at about the same time (16 requests at
   once); per device, from its commune's request to the signed start command (docs/device-protocol.md §4a)
   received over MQTT and verified as the device verifies it, with the audio already held (the scheduled
   bulletin's file, or a standby file, §4b), p50/p99: that is when the loudspeaker plays. Then, as before,
   the emergency manifest that follows (devices poll it every 0.5 s), p50/p99. The emergency is one
   repetition of a ~4 s bulletin: a manifest rebuilt after it ended says `emergency: false`, so with the
   16 requests at once most devices never see an emergency manifest (docs/operations.md);
4. CPU seconds and peak memory (RSS) per component over the run.

Usage: .venv/bin/python bench/province.py [--devices 10000] [--villages 1000] [--communes 100] [--connections 32]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import emit  # noqa: E402

import httpx  # noqa: E402
import psutil  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _listener_pid(port: int) -> int | None:
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


class Meter:
    """CPU seconds and peak RSS per component (a process and its children), sampled every 0.5 s. `components()`
    gives the current pid of each (a restarted scheduler counts as the same component); CPU is summed per pid
    from its last sample, so short-lived children (database backends) count too."""

    def __init__(self, components) -> None:
        self.components = components
        self.cpu: dict[str, dict[int, float]] = {}
        self.base: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self._sample()
        self.base = {name: sum(per.values()) for name, per in self.cpu.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for name, pid in self.components().items():
            if not pid:
                continue
            try:
                root = psutil.Process(pid)
                # the bench process started the station's processes: count only itself for the client
                family = [root] if pid == os.getpid() else [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            rss = 0
            per = self.cpu.setdefault(name, {})
            for q in family:
                try:
                    t = q.cpu_times()
                    per[q.pid] = t.user + t.system
                    rss += q.memory_info().rss
                except psutil.Error:
                    pass
            self.peak[name] = max(self.peak.get(name, 0), rss)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def result(self) -> dict[str, dict]:
        self._stop.set()
        self._thread.join(2)
        self._sample()
        return {name: {"cpu_s": round(sum(per.values()) - self.base.get(name, 0.0), 1),
                       "peak_rss_mb": round(self.peak.get(name, 0) / 2**20)} for name, per in self.cpu.items()}


class Devices:
    """N devices on the wire: token, pinned keys, ETag of the manifest in hand."""

    def __init__(self, base_url: str, creds: list[dict], connections: int) -> None:
        from broadcaster.protocol.wire import b64decode

        self.base_url, self.creds, self.connections = base_url, creds, connections
        self.pinned = [{k["key_id"]: b64decode(k["public_key"]) for k in c["station_keys"]} for c in creds]
        self.etag: list[str | None] = [None] * len(creds)
        self.held: list[set[str]] = [set() for _ in creds]  # the files each device holds (verified)
        self.requests = 0
        self.errors = 0
        self.error_kinds: dict[str, int] = {}  # "heartbeat 503" → count: what went wrong, not only how often

    def _error(self, what: str, status: int) -> None:
        self.errors += 1
        key = f"{what} {status}"
        self.error_kinds[key] = self.error_kinds.get(key, 0) + 1

    def heartbeat_body(self, i: int) -> dict:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return {"sent_at": now, "local_time": now, "clock_offset_s": 0.0, "agent_version": "0.1.0",
                "manifest_version": (self.etag[i] or "").strip('"') or None, "playing": None, "volume": 80,
                "muted": False, "local_volume": 100, "cache": {}, "playlog": {"last_seq": 0, "acked_seq": 0},
                "events": []}

    async def sync(self, client, i: int, heartbeat: bool = True, fetch_audio: bool = True):
        """One device's round; returns the verified manifest when a new one came (else None)."""
        from broadcaster.protocol.manifest import verify_manifest

        h = {"Authorization": f"Bearer {self.creds[i]['token']}"}
        manifest = None
        r = await client.get("/api/device/v1/manifest", headers={**h, **({"If-None-Match": self.etag[i]}
                                                                         if self.etag[i] else {})})
        self.requests += 1
        if r.status_code == 200:
            manifest = verify_manifest(r.json(), self.pinned[i], device_id=self.creds[i]["device_id"],
                                       now=datetime.now(timezone.utc))
            self.etag[i] = r.headers["etag"]
            if fetch_audio:
                for sha in sorted(manifest.sizes()):
                    a = await client.get(f"/api/device/v1/audio/{sha}", headers=h)
                    self.requests += 1
                    if a.status_code != 200 or hashlib.sha256(a.content).hexdigest() != sha:
                        self._error("audio", a.status_code)
                    else:
                        self.held[i].add(sha)
        elif r.status_code != 304:
            self._error("manifest", r.status_code)
        if heartbeat:
            b = await client.post("/api/device/v1/heartbeat", headers=h, json=self.heartbeat_body(i))
            self.requests += 1
            if b.status_code >= 300:
                self._error("heartbeat", b.status_code)
        return manifest

    def run(self, fn) -> float:
        """fn(client, i) for every device, `connections` at a time. Returns the wall time."""
        import asyncio

        async def main():
            queue = list(range(len(self.creds)))[::-1]
            limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
            async with httpx.AsyncClient(base_url=self.base_url, timeout=120, limits=limits) as client:
                async def worker():
                    while queue:
                        await fn(client, queue.pop())
                await asyncio.gather(*[worker() for _ in range(self.connections)])

        t = time.perf_counter()
        asyncio.run(main())
        return time.perf_counter() - t


class CommandTap:
    """Every signed command the station publishes on the MQTT command topics, with when it arrived. One client
    stands in for the 10,000 devices' subscriptions (a village's devices share one topic and one body)."""

    def __init__(self, url: str) -> None:
        import paho.mqtt.client as mqtt
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.messages: list[tuple[float, str, dict]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-province-{os.getpid()}")
        subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(
            [("loa/+/village/+/command", 1), ("loa/+/device/+/command", 1)])
        self.client.on_subscribe = lambda *a: subscribed.set()
        # (perf_counter, wall clock, topic, body): a device verifies a command as it arrives (its expiry too)
        self.client.on_message = lambda c, u, m: self.messages.append(
            (time.perf_counter(), datetime.now(timezone.utc), m.topic, json.loads(m.payload)))
        self.client.connect(parts.hostname, parts.port or 1883)
        self.client.loop_start()
        if not subscribed.wait(20):
            raise RuntimeError("MQTT subscription to the command topics failed")

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def per_device(self, creds, devices, emergency_of, commune_of, posted_at):
        """device index → seconds from its commune's request to its start command verified (as the device does:
        its own pinned keys, its ids, the expiry); the verification's own time is added."""
        from broadcaster.protocol.command import CommandRejected, verify_command

        by_topic: dict[str, list] = {}
        for t, wall, topic, env in self.messages:
            if env.get("command", {}).get("action") == "start":
                by_topic.setdefault(topic, []).append((t, wall, env))
        out, held, refused = {}, 0, 0
        for i, c in enumerate(creds):
            source = f"e{emergency_of.get(commune_of[i])}"
            mine = [f"loa/{c['commune_id']}/village/{c['village_id']}/command",
                    f"loa/{c['commune_id']}/device/{c['device_id']}/command"]  # what this device subscribes to
            for t, wall, env in sorted(by_topic.get(mine[0], []) + by_topic.get(mine[1], []), key=lambda x: x[0]):
                if env["command"].get("source") != source:
                    continue
                v0 = time.perf_counter()
                try:
                    cmd = verify_command(env, devices.pinned[i], device_id=c["device_id"],
                                         village_id=c["village_id"], now=wall)
                except CommandRejected:
                    refused += 1
                    continue
                out[i] = t + (time.perf_counter() - v0) - posted_at[commune_of[i]]
                held += all(e.sha256 in devices.held[i] for e in cmd.entries if e.sha256)
                break
        return out, held, refused


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--villages", type=int, default=1_000)
    ap.add_argument("--communes", type=int, default=100)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    from tests.station.ops.topology import (
        Topology, add_rule, approved_text_item, build_world, copy_item, create_database, drop_database, scalar,
        wait_for,
    )

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="loa-bench-province-"))
    db_url = create_database()
    topo = Topology(db_url, root / "data", root / "logs")
    try:
        now = datetime.now(timezone.utc)
        t = time.perf_counter()
        world = build_world(db_url, topo.data_dir, args.devices, args.villages, now, topo.mqtt_url, args.communes)
        setup_s = time.perf_counter() - t
        topo.start()
        fixed = {"postgresql": _listener_pid(5432), "mosquitto": _listener_pid(1883), "bench client (devices)": os.getpid()}
        meter = Meter(lambda: {**{name: p.pid for name, p in topo.processes().items() if p}, **fixed})
        item = approved_text_item(topo.url, world, "Bản tin của tỉnh: lịch tiêm chủng cho trẻ em.", "Bản tin tỉnh")
        items = copy_item(db_url, item["id"], world.communes)
        play_at = now.replace(microsecond=0) + timedelta(minutes=15)
        for c in world.communes:
            add_rule(db_url, c, items[c], play_at, "Bản tin tỉnh")
        t = time.perf_counter()
        topo.restart_scheduler()
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM timetable_plays") >= args.devices, 300,
                 what="materialized")
        materialize_s = time.perf_counter() - t
        devices = Devices(topo.url, world.creds, args.connections)
        # 1. first sync
        first_s = devices.run(lambda client, i: devices.sync(client, i))
        first_requests = devices.requests
        without = sum(1 for e in devices.etag if e is None)
        emit("first sync of every device (signed manifest 200 + audio + heartbeat), 2 API processes behind Caddy",
             round(args.devices / first_s, 1), "devices/s", f"all {args.devices} within 10 min",
             requests_per_s=round(first_requests / first_s, 1), seconds=round(first_s, 1), devices=args.devices,
             devices_without_manifest=without, errors=devices.errors, error_kinds=dict(devices.error_kinds),
             materialize_all_s=round(materialize_s, 1), world_setup_s=round(setup_s, 1))
        # 2. steady state
        devices.requests = devices.errors = 0
        devices.error_kinds.clear()
        steady_s = devices.run(lambda client, i: devices.sync(client, i))
        steady_rps = devices.requests / steady_s
        per_device_per_min = 1 + 1 / 5  # one heartbeat a minute + one sync every 5 minutes
        emit("steady state round (manifest 304 + heartbeat), 2 API processes behind Caddy",
             round(args.devices / steady_s, 1), "devices/s", f"> {round(args.devices / 60)} (every device once a minute)",
             requests_per_s=round(steady_rps, 1), seconds=round(steady_s, 1), errors=devices.errors,
             error_kinds=dict(devices.error_kinds),
             devices_per_api_process_at_1_heartbeat_and_0_2_syncs_per_min=round(steady_rps / 2 * 60 / per_device_per_min))
        # 3. emergency fan-out: the cadres of the 100 communes start it at about the same time (a provincial
        # alert), 16 requests at once. Each device's figure counts from its own commune's request.
        commands = CommandTap(topo.mqtt_url)
        h = {"Authorization": f"Bearer {world.tokens['can-bo']}"}
        posted_at: dict[int, float] = {}
        emergency_of: dict[int, int] = {}
        got: dict[int, float] = {}
        t0 = time.perf_counter()

        def post(commune: int) -> None:
            with httpx.Client(base_url=topo.url, timeout=120) as c:
                posted_at[commune] = time.perf_counter()
                r = c.post(f"/api/v1/communes/{commune}/emergencies", headers=h, json={
                    "title": "Cảnh báo lũ quét", "programme": [{"type": "item", "content_id": items[commune]}],
                    "villages": world.villages[commune], "repeat": 1})
                r.raise_for_status()
                emergency_of[commune] = r.json()["id"]

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(post, world.communes))
        posted_s = time.perf_counter() - t0
        commune_of = [int(c["commune_id"].lstrip("c")) for c in world.creds]
        deadline = t0 + 180  # bounded: a device still without it then counts as not reached

        async def until_emergency(client, i):
            import asyncio

            while time.perf_counter() < deadline:
                manifest = await devices.sync(client, i, heartbeat=False, fetch_audio=False)
                if manifest is not None and manifest.emergency:
                    got[i] = time.perf_counter() - posted_at[commune_of[i]]
                    return
                await asyncio.sleep(0.5)

        devices.run(until_emergency)
        commands.stop()
        on_air, held, refused = commands.per_device(world.creds, devices, emergency_of, commune_of, posted_at)
        lat = sorted(on_air.values())
        emit("emergency start: cadres of all 100 communes start one at once (16 requests at a time); per device, "
             "its commune's request -> signed start command received over MQTT and verified (Ed25519, pinned "
             "key, targets, seq), audio already held; p99", round(pct(lat, 99), 3) if lat else None, "s", "< 10",
             "p50", round(statistics.median(lat), 3) if lat else None, devices=args.devices, reached=len(lat),
             audio_held=held, refused=refused, p90=round(pct(lat, 90), 3) if lat else None,
             max=round(lat[-1], 3) if lat else None, post_emergencies_s=round(posted_s, 1),
             command_bodies=len(commands.messages))
        lat = list(got.values())
        emit("emergency manifest: per device, its commune's request -> verified emergency manifest in hand (the "
             "manifests follow the command, their nudges paced; devices poll every 0.5 s here), p99",
             round(pct(lat, 99), 2) if lat else None, "s", "—", "p50", round(statistics.median(lat), 2) if lat else None,
             devices=args.devices, reached=len(lat), not_reached_within_180_s=args.devices - len(lat),
             p90=round(pct(lat, 90), 2) if lat else None)
        usage = meter.result()
        for name, u in usage.items():
            emit(f"CPU and peak memory: {name}", u["cpu_s"], "cpu-seconds", "—", peak_rss_mb=u["peak_rss_mb"])
        emit("bench wall time", round(time.perf_counter() - started, 1), "s", "< 600")
    finally:
        topo.close()
        drop_database(db_url)


if __name__ == "__main__":
    main()
