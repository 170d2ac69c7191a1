"""Heartbeat and plays benchmark: the station's CPU per `POST /api/device/v1/heartbeat` and per
`POST /api/device/v1/plays`, answered by the device fast path (api/devices/fastpath.py), against the old way, the
full FastAPI stack (the same app with its fast path off), measured in the same run on the same world.

One process, no HTTP server: the requests go to the ASGI app directly (the socket and HTTP parsing cost the same
either way), from one asyncio loop, `--concurrency` at a time; the route's work runs on the app's worker threads
as it does under uvicorn. CPU is this process's (all threads) per request; the two ways alternate in rounds and
the figure is the median round. Each device's first beat (which builds its manifest) is made before measuring.

Usage: .venv/bin/python bench/heartbeat.py [--devices 200] [--rounds 5] [--postgres]
(default: SQLite in a temporary directory; --postgres: a fresh database on 127.0.0.1:5432, dropped at the end).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import emit  # noqa: E402


async def post(app, path: str, token: str, body: bytes) -> int:
    """One request through the ASGI interface; returns the status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 40000),
             "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
                         (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    sent = False
    status = [0]

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(scope, receive, send)
    return status[0]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()

    from tests.station.ops.topology import create_database, drop_database

    tmp = Path(tempfile.mkdtemp(prefix="loa-bench-hb-"))
    db_url = create_database() if args.postgres else f"sqlite:///{tmp / 'loa.db'}"
    try:
        await run(args, tmp, db_url)
    finally:
        if args.postgres:
            drop_database(db_url)


async def run(args: argparse.Namespace, tmp: Path, db_url: str) -> None:
    from tests.station.ops.topology import build_world  # the enrolled devices of tests/station/ops

    os.environ.update({"LOA_DATABASE_URL": db_url, "LOA_DATA_DIR": str(tmp / "data"), "LOA_WORKER_ENABLED": "false",
                       "LOA_SCHEDULER_ENABLED": "false", "LOA_PRINT_SETUP_TOKEN": "false"})
    os.environ.pop("LOA_MQTT_URL", None)
    now = datetime.now(timezone.utc)
    world = build_world(db_url, tmp / "data", args.devices, max(1, args.devices // 10), now, None)

    from api.app import create_app
    from loa.settings import Settings

    app = create_app(Settings.load(str(tmp / "data")))
    tokens = [c["token"] for c in world.creds]
    seqs = {t: 0 for t in tokens}

    def beat() -> bytes:
        return json.dumps({"sent_at": datetime.now(timezone.utc).isoformat(), "manifest_version": None,
                           "clock_offset_s": 0.0, "playing": None, "cache": {"files": 3}, "disk_free_bytes": 10**9,
                           "uptime_s": 3600, "playlog": {"pending": 0}, "events": []},
                          separators=(",", ":")).encode()

    def plays(token: str) -> bytes:
        seqs[token] += 1
        at = (now + timedelta(minutes=seqs[token])).isoformat()
        return json.dumps({"records": [{"seq": seqs[token], "play_id": f"p{seqs[token]}", "title": "Bản tin",
                                        "priority": "normal", "planned_start": at, "actual_start": at,
                                        "actual_end": at, "result": "played"}]}, separators=(",", ":")).encode()

    async def batch(path: str, make) -> float:
        """CPU seconds per request over one request of every device."""
        sem = asyncio.Semaphore(args.concurrency)

        async def one(token: str) -> None:
            async with sem:
                status = await post(app, path, token, make(token))
                assert status in (200, 204), (path, status)

        cpu = time.process_time()
        await asyncio.gather(*(one(t) for t in tokens))
        return (time.process_time() - cpu) / len(tokens)

    async with app.router.lifespan_context(app):
        fast_path = app.fast_path
        await batch("/api/device/v1/heartbeat", lambda t: beat())  # every manifest built, identities cached
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for way, fp in (("fast", fast_path), ("full", None)):
                app.fast_path = fp
                for name, path, make in (("heartbeat", "/api/device/v1/heartbeat", lambda t: beat()),
                                         ("plays", "/api/device/v1/plays", plays)):
                    results.setdefault((name, way), []).append(await batch(path, make))
        app.fast_path = fast_path

    for name in ("heartbeat", "plays"):
        fast = statistics.median(results[(name, "fast")]) * 1000
        full = statistics.median(results[(name, "full")]) * 1000
        emit(f"station CPU per {name} (fast path)", round(fast, 3), "ms", f"< {round(full, 3)}",
             "full FastAPI stack (the route, before)", round(full, 3),
             devices=args.devices, rounds=args.rounds, database=db_url.split(":")[0])


if __name__ == "__main__":
    asyncio.run(main())
