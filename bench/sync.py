"""Device sync benchmark (issue 5). One JSON line per figure (format: .helpers/COMMON.md).

1. Manifest requests per second for 10,000 enrolled devices (mostly `304`s: each device sends the ETag it has;
   1 % send none and get the 200 body) on ONE API process (uvicorn, real HTTP on 127.0.0.1), beside a bare
   Starlette endpoint answering a fixed 304 in the same kind of uvicorn process, driven by the same client
   (asyncio, keep-alive connections) in the same run. Target: at least half the bare rate.
2. Bytes one device exchanges with the station over a typical day, both directions, against the unique audio
   it aired; target ≤ 1.05×. Counted: every HTTP/1.1 request and reply as on the wire (start line, headers,
   body), i.e. heartbeats, manifest syncs, plays uploads and audio; not counted: TCP/IP framing, TLS, and no
   push channel (SSE/MQTT) is open. The real agent (broadcaster/agent) with its own network schedule
   (`Agent.network_step`: heartbeat every 300 s and on a status change, sync on the heartbeat's version or
   hourly) on a virtual clock, against the real station.

A typical day here: the morning (06:00) and evening (17:00) programmes of 15 minutes each, different audio each
time (real Opus files made by ffmpeg, 24 kbit/s speech bitrate, the store's format), plus one 2-minute notice
at 11:00 that repeats at 11:30.

Usage: .venv/bin/python bench/sync.py [--devices 10000] [--seconds 10] [--skip-bytes]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import emit  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


# -- a station world ------------------------------------------------------------------------------------------
def opus_file(path: Path, seconds: float, freq: int) -> None:
    from content.audio.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:duration={seconds}", "-f", "lavfi", "-i",
                    f"anoisesrc=d={seconds}:c=pink:a=0.05", "-filter_complex", "amix=inputs=2", "-ac", "1",
                    "-c:a", "libopus", "-b:a", "24k", str(path)], check=True)


def make_world(data_dir: Path, now: datetime, devices: int, villages: int,
               programmes: list[tuple]) -> dict:
    """Commune, villages, approved items (real Opus files), enrolled devices; returns ids and credentials.
    `programmes`: (title, seconds, tone Hz[, content kind]) per item."""
    from broadcaster.signing import KeyRing
    from broadcaster.station import enrollment
    from broadcaster.station.context import StationContext
    from broadcaster.station.models import Enrollment
    from content.library.models import ContentItem
    from content.store import AudioStore
    from loa.accounts.auth import CLI
    from loa.accounts.models import Membership
    from loa.accounts.service import create_user
    from loa.db import make_engine, session_scope, upgrade
    from loa.org import service as org
    from loa.org.models import Device

    engine = make_engine(f"sqlite:///{data_dir / 'loa.db'}")
    upgrade(engine)
    store = AudioStore(data_dir / "audio")
    ctx = StationContext(KeyRing(data_dir / "keys"), data_dir / "audio")
    out = {"items": [], "creds": [], "device_ids": [], "engine": engine}
    with session_scope(engine) as s:
        p = org.create_province(s, CLI, "Lào Cai", now)
        c = org.create_commune(s, CLI, p.id, "Cốc San", now)
        vs = [org.create_village(s, CLI, c.id, f"Thôn {i}", now).id for i in range(villages)]
        user = create_user(s, CLI, "bench", "mat-khau-rat-dai", now, is_admin=True)
        s.add(Membership(user_id=user.id, commune_id=c.id, role="cadre", created_at=now))  # starts emergencies
        tmp = Path(tempfile.mkdtemp())
        for i, (title, seconds, freq, *kind) in enumerate(programmes):
            f = tmp / f"{i}.ogg"
            opus_file(f, seconds, freq)
            size = f.stat().st_size
            sha = store.put_file(f, "ogg", move=True)
            # kind "emergency": an approved emergency message, which devices hold in standby (§4b)
            item = ContentItem(commune_id=c.id, title=title, kind=kind[0] if kind else "recording", language="vi",
                               source="upload", audio_sha256=sha, audio_format="ogg-opus", duration_s=seconds,
                               size_bytes=size, render_state="ready", status="approved", approved_version=1,
                               author_id=user.id, reviewed_at=now,
                               created_at=now, updated_at=now)  # approved_version: the approval covers version 1
            s.add(item)
            s.flush()
            out["items"].append((item.id, sha, size, seconds))
        out["commune"], out["villages"] = c.id, vs
    batch = 500
    for start in range(0, devices, batch):
        with session_scope(engine) as s:
            for i in range(start, min(devices, start + batch)):
                d = Device(commune_id=out["commune"], village_id=out["villages"][i % villages], name=f"Cụm {i}",
                           created_at=now)
                s.add(d)
                s.flush()
                e = Enrollment(public_id=f"enr_b{i}", kind="cadre", code_hash=f"{i:064d}", device_id=d.id,
                               created_at=now, expires_at=now, status="consumed", agent_version="0.1.0")
                out["creds"].append(enrollment.issue_credentials(s, ctx, d, e, now))
                out["device_ids"].append(d.id)
    return out


def add_rule(engine, commune_id: int, item_ids: list[int], at: datetime, title: str, rrule: str | None = None,
             times: tuple[str, ...] = ()) -> None:
    from loa.db import session_scope
    from schedules.tables import ScheduleRule

    with session_scope(engine) as s:
        s.add(ScheduleRule(commune_id=commune_id, title=title, priority="normal", at=None if rrule else at,
                           rrule=rrule, dtstart=at if rrule else None, times=list(times), target_commune=True,
                           programme=[{"type": "item", "content_id": i} for i in item_ids],
                           created_at=at - timedelta(days=2), updated_at=at - timedelta(days=2)))


# -- 1. manifest requests per second -----------------------------------------------------------------------------
BARE = '''
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def manifest(request):
    return Response(status_code=304, headers={"ETag": '"m-0123456789abcdef0123"', "Cache-Control": "no-cache"})
app = Starlette(routes=[Route("/api/device/v1/manifest", manifest)])
'''

STATION = '''
from api.app import create_app
from loa.settings import Settings
app = create_app(Settings(data_dir={data!r}, worker_enabled=False, print_setup_token=False))
'''


def serve(module_src: str, port: int, workdir: Path) -> subprocess.Popen:
    (workdir / f"app_{port}.py").write_text(module_src)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", f"app_{port}:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning", "--no-access-log"], cwd=workdir,
                            env={**os.environ, "PYTHONPATH": f"{workdir}:{Path(__file__).resolve().parent.parent}"})
    deadline = time.monotonic() + 60
    import socket
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


async def _conn_loop(port: int, requests: list[tuple[str, str | None]], counter: dict, deadline: float,
                     limit: int, start: int | None = None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = random.randrange(len(requests)) if start is None else start
    try:
        while time.monotonic() < deadline and counter["n"] < limit and (start is None or i < len(requests)):
            token, etag = requests[i % len(requests)]
            i += 1
            head = f"GET /api/device/v1/manifest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            if etag:
                head += f"If-None-Match: {etag}\r\n"
            writer.write((head + "\r\n").encode())
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            code = int(status.split()[1])
            counter[code] = counter.get(code, 0) + 1
            counter["n"] += 1
    finally:
        writer.close()


def drive(port: int, requests: list[tuple[str, str | None]], seconds: float, connections: int = 32,
          limit: int = 2_000_000, one_pass: bool = False) -> tuple[float, dict]:
    """`one_pass`: every request once (connection k takes the k-th slice), whatever `seconds` says."""
    counter = {"n": 0}

    async def main():
        deadline = time.monotonic() + (3600 if one_pass else seconds)
        if one_pass:
            step = -(-len(requests) // connections)
            await asyncio.gather(*[_conn_loop(port, requests[k:k + step], counter, deadline, 10**9, 0)
                                   for k in range(0, len(requests), step)])
            return
        await asyncio.gather(*[_conn_loop(port, requests, counter, deadline, limit) for _ in range(connections)])

    t0 = time.perf_counter()
    asyncio.run(main())
    return counter["n"] / (time.perf_counter() - t0), counter


def manifest_rate(devices: int, seconds: float) -> None:
    import httpx

    from tests.ports import free_port

    now = datetime.now(TZ)
    root = Path(tempfile.mkdtemp(prefix="loa-bench-sync-"))
    world = make_world(root, now, devices, max(1, devices // 10), [("Bản tin", 60.0, 440)])
    item = world["items"][0][0]
    add_rule(world["engine"], world["commune"], [item], now.replace(hour=6, minute=0, second=0, microsecond=0),
             "Bản tin sáng chiều", rrule="FREQ=DAILY", times=("06:00", "11:00", "17:00"))
    from schedules.service import ScheduleService

    t = time.perf_counter()
    ScheduleService(world["engine"]).materialize_commune(world["commune"], now, notify=False)
    materialize_s = time.perf_counter() - t
    world["engine"].dispose()
    port, bare_port = free_port(), free_port()
    station = serve(STATION.format(data=str(root)), port, root)
    bare = serve(BARE, bare_port, root)
    try:
        # every device fetches its manifest once (builds and signs 10,000 manifests), keeping the ETag
        t = time.perf_counter()
        etags = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for c in world["creds"]:
                r = client.get("/api/device/v1/manifest", headers={"Authorization": f"Bearer {c['token']}"})
                r.raise_for_status()
                etags.append(r.headers["etag"])
        first_s = time.perf_counter() - t
        reqs = [(c["token"], e if i % 100 else None) for i, (c, e) in enumerate(zip(world["creds"], etags))]
        # One pass over every device: the process's identity cache is filled by each device's first request
        # (a database lookup), as it is once per device after a restart. Its rate is reported, not the figure.
        cold_rate, _ = drive(port, reqs, 0, one_pass=True)
        drive(port, reqs, 1.0)  # warm the connections
        print(f"bench: measuring (station pid {station.pid}, bare pid {bare.pid})", file=sys.stderr, flush=True)
        drive(bare_port, reqs, 1.0)
        # Interleaved rounds (station, bare, station, bare …): a shared machine's load drifts, and measuring
        # one side after the other would hand the drift to one of them.
        counts: dict = {}
        done = {"station": [0, 0.0], "bare": [0, 0.0]}
        for _ in range(4):
            for name, p in (("station", port), ("bare", bare_port)):
                t = time.perf_counter()
                r, c = drive(p, reqs, seconds / 4)
                done[name][0] += c["n"]
                done[name][1] += time.perf_counter() - t
                if name == "station":
                    for k, v in c.items():
                        counts[k] = counts.get(k, 0) + v
        rate = done["station"][0] / done["station"][1]
        bare_rate = done["bare"][0] / done["bare"][1]
    finally:
        for p in (station, bare):
            p.terminate()
            p.wait(10)
    emit("manifest requests per second, 10,000 devices (99 % 304), one uvicorn process", round(rate),
         "req/s", f">= {round(bare_rate / 2)} (half the bare rate)", "bare Starlette 304 endpoint, same client",
         round(bare_rate), ratio=round(rate / bare_rate, 3), statuses={str(k): v for k, v in counts.items() if k != "n"},
         devices=devices, cold_pass_req_s=round(cold_rate), first_sync_all_devices_s=round(first_s, 1), materialize_s=round(materialize_s, 1))


# -- 2. bytes per device per day ---------------------------------------------------------------------------------
def bytes_per_day() -> None:
    from api.app import create_app
    from broadcaster.agent.simulation import Fleet
    from loa.settings import Settings
    from schedules.service import ScheduleService
    from tests.broadcaster.station.live import LinkedClock, LiveStation

    start = datetime(2026, 11, 23, 0, 0, tzinfo=TZ)
    root = Path(tempfile.mkdtemp(prefix="loa-bench-bytes-"))
    progs = [("Chương trình sáng", 900.0, 330), ("Chương trình chiều", 900.0, 550), ("Thông báo", 120.0, 770)]
    world = make_world(root, start, 1, 1, progs)
    (morning, _, _, _), (evening, _, _, _), (notice, _, _, _) = world["items"]
    add_rule(world["engine"], world["commune"], [morning], start.replace(hour=6), "Sáng")
    add_rule(world["engine"], world["commune"], [evening], start.replace(hour=17), "Chiều")
    add_rule(world["engine"], world["commune"], [notice], start.replace(hour=11), "Thông báo 1")
    add_rule(world["engine"], world["commune"], [notice], start.replace(hour=11, minute=30), "Thông báo 2")
    svc = ScheduleService(world["engine"])
    svc.materialize_commune(world["commune"], start, notify=False)
    clock = LinkedClock(start)
    settings = Settings(data_dir=root, worker_enabled=False, print_setup_token=False)
    station = LiveStation(lambda: create_app(settings, clock=clock, start_worker=False)).start()
    counted = {"bytes": 0, "requests": 0, "sent": 0, "received": 0}
    by_path: dict[str, int] = {}
    calls: dict[str, int] = {}

    def count(kind: str, n: int, direction: str) -> None:
        counted["bytes"] += n
        counted[direction] += n
        by_path[kind] = by_path.get(kind, 0) + n

    from broadcaster.agent.http import Response

    class Counting:
        """Counts each exchange as HTTP/1.1 puts it on the wire: the agent's transport writes exactly the
        request's start line and header lines; the reply's come from http.client as received."""

        def __init__(self, inner):
            self.inner = inner

        def handle(self, request):
            path = request.url.split("?", 1)[0]
            kind = "audio" if "/audio/" in path else path.rsplit("/", 1)[-1]
            head = len(f"{request.method} {request.target} HTTP/1.1\r\n".encode()) + sum(
                len(k.encode()) + len(v.encode()) + 4 for k, v in request.headers) + 2
            count(kind, head + len(request.body or b""), "sent")
            response = self.inner.handle(request)
            counted["requests"] += 1
            calls[f"{kind} {response.status_code}"] = calls.get(f"{kind} {response.status_code}", 0) + 1
            count(kind, len(b"HTTP/1.1 000 \r\n") + len(response.reason_phrase.encode()) + sum(
                len(k.encode()) + len(v.encode()) + 4 for k, v in response.headers.raw) + 2, "received")

            def body():
                for chunk in response.iter_raw():  # raw bytes as received
                    count(kind, len(chunk), "received")
                    yield chunk

            return Response(response.status_code, response.reason_phrase, response.headers, stream=body(),
                            on_close=response.close)

        def close(self):
            self.inner.close()

    try:
        creds = [{k: v for k, v in c.items()} for c in world["creds"]]
        fleet = Fleet(root / "agents", station.url, creds, start)
        clock.follow(fleet.clock)
        agent = fleet.agents[0]
        agent.client.transport = Counting(agent.client.transport)
        end = start + timedelta(days=1)
        last_materialize = start
        steps = 0
        while fleet.clock.now() < end and steps < 10_000:  # 10 s steps: 8,640 in a day
            steps += 1
            fleet.run_until(min(end, fleet.clock.now() + timedelta(seconds=10)))
            agent.network_step((fleet.clock.now() - start).total_seconds())  # the agent's own schedule
            # the station re-materializes hourly, as the scheduler does (new hours enter the window)
            if fleet.clock.now() - last_materialize >= timedelta(hours=1):
                svc.materialize_commune(world["commune"], fleet.clock.now(), notify=False)
                last_materialize = fleet.clock.now()
        played = [r for r in agent.playlog.records() if r["result"] == "played"]
        aired = {r["sha256"] for r in played}
        sizes = {sha: size for _, sha, size, _ in world["items"]}
        unique = sum(sizes[s] for s in aired)
        fleet.close()
    finally:
        station.stop()
    emit("bytes exchanged by one device over a typical day (requests + replies, headers included) / unique audio "
         "aired", round(counted["bytes"] / unique, 4), "ratio", "<= 1.05", "unique audio bytes aired", unique,
         counted="HTTP/1.1 start lines + headers + bodies, both directions; not TCP/IP, TLS or push channels",
         device_bytes=counted["bytes"], sent=counted["sent"], received=counted["received"],
         requests=counted["requests"], calls=calls, plays=len(played), bytes_by_endpoint=by_path,
         overhead_bytes=counted["bytes"] - unique)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--skip-bytes", action="store_true")
    ap.add_argument("--skip-rate", action="store_true")
    args = ap.parse_args()
    if not args.skip_bytes:
        bytes_per_day()
    if not args.skip_rate:
        manifest_rate(min(args.devices, 20_000), min(args.seconds, 60.0))


if __name__ == "__main__":
    main()
