"""Relay benchmark (issue 15): one scheduled relay of a radio on N loudspeakers, three ways. One JSON line per
figure (house format), each with the direct way of the same run as its baseline.

The real path: a real Icecast (Debian's icecast2) carries "the radio" (ffmpeg feeding an MP3 file in a loop,
tests/icecast.py); the station runs as `uvicorn` in its own process (SQLite) with N enrolled devices and a relay
scheduled for all of them; N real agents (broadcaster/agent: the runner, its player, RelayRetry and the agent's
FfmpegSink, decoding to files in real time) on the wall clock. Ways:
- `station`: the embedded default, the station pulls the radio once and the agents fetch its device route;
- `icecast`: the station's hub pushes the mount to Icecast and the agents listen there (at scale);
- `direct` (baseline): LOA_RELAY_VIA_STATION=false, every agent pulls the radio itself (before issue 15).

Figures per way: seconds from the relay's scheduled start to the first sound each loudspeaker decoded (p50, max;
a watcher stamps each output file as it grows), the radio's listener count at Icecast mid-relay (how many pulls
the radio serves), and the CPU seconds of the station process and its children (the hub's ffmpeg) during the
relay.

Usage: .venv/bin/python bench/relay.py [--agents 10] [--seconds 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync import emit, make_world, serve  # noqa: E402  (bench/sync.py: world builder, uvicorn runner)
from tests.broadcaster.helpers import tone_file  # noqa: E402
from tests.broadcaster.relaying import RecordingSink  # noqa: E402
from tests.icecast import Feeder, Icecast
from tests.ports import free_port  # noqa: E402

STATION = '''
from api.app import create_app
from loa.settings import Settings
app = create_app(Settings(data_dir={data!r}, worker_enabled=False, print_setup_token=False,
                          relay_allowed_hosts="127.0.0.1", relay_via_station={via!r},
                          stream_icecast_source_url={source!r}, stream_icecast_listen_url={listen!r}))
'''
LEAD_S = 25.0  # the relay starts this long after the timetable is written (the runner opens its mount 20 s ahead)


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds by process: the station and its children alive now (the hub's ffmpeg is the relay's cost)."""
    import os

    out: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        me = int(stat.parent.name)
        if me == pid or int(fields[1]) == pid:
            out[me] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def one_way(way: str, ice: Icecast, radio_url: str, agents_n: int, seconds: float) -> dict:
    from broadcaster.agent.clock import SystemClock
    from broadcaster.agent.runner import Agent
    from broadcaster.agent.state import AgentState
    from content.audio.ffmpeg import ffmpeg_exe
    from loa.db import session_scope
    from schedules.service import ScheduleService
    from schedules.tables import ScheduleRule, StationSettingsRow

    work = Path(tempfile.mkdtemp(prefix=f"loa-bench-relay-{way}-"))
    data = work / "data"
    data.mkdir()
    now = datetime.now(timezone.utc)
    world = make_world(data, now, agents_n, 1, [])
    engine = world["engine"]
    port = free_port()
    source = f"icecast://source:{ice.source_password}@127.0.0.1:{ice.port}" if way == "icecast" else None
    station = serve(STATION.format(data=str(data), via=way != "direct", source=source,
                                   listen=ice.base if way == "icecast" else None), port, work)
    url = f"http://127.0.0.1:{port}"
    agents, sinks, stop, threads = [], [], threading.Event(), []
    try:
        start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=LEAD_S)
        with session_scope(engine) as s:
            s.merge(StationSettingsRow(commune_id=world["commune"], quiet_start="00:00", quiet_end="00:00",
                                       updated_at=now))
            s.add(ScheduleRule(commune_id=world["commune"], title="Tiếp âm VOV1", priority="normal", at=start,
                               target_commune=True, created_at=now, updated_at=now,
                               programme=[{"type": "relay", "url": radio_url, "duration_s": seconds,
                                           "title": "VOV1"}]))
        ScheduleService(engine).materialize_commune(world["commune"], datetime.now(timezone.utc))
        for i, creds in enumerate(world["creds"]):
            d = work / f"agent{i}"
            AgentState(d).save_credentials({**creds, "station_url": url})
            sink = RecordingSink(ffmpeg_exe(), d / "takes")
            agent = Agent(d, sink, clock=SystemClock(), heartbeat_every=3600)
            agent.sync()
            agents.append(agent)
            sinks.append(sink)
        first_sound: dict[int, float] = {}

        def watch() -> None:  # stamp the first loud output of each loudspeaker as its file grows
            while not stop.is_set() and len(first_sound) < len(sinks):
                for i, sink in enumerate(sinks):
                    if i not in first_sound and any(t.loud_seconds() > 0 for t in sink.takes if t.kind == "relay"):
                        first_sound[i] = time.time()
                time.sleep(0.05)

        for agent in agents:
            threads.append(threading.Thread(target=agent.player.run, args=(stop, 0.2), daemon=True))
        threads.append(threading.Thread(target=watch, daemon=True))
        for t in threads:
            t.start()
        wait = (start - datetime.now(timezone.utc)).total_seconds()
        time.sleep(max(0.0, wait))
        cpu0 = cpu_seconds(station.pid)
        time.sleep(seconds / 2)
        pulls = int((ice.mounts().get("/vov1.mp3") or {}).get("listeners") or 0)
        time.sleep(seconds / 2 + 3)
        cpu1 = cpu_seconds(station.pid)
        cpu = sum(v - cpu0.get(k, 0.0) for k, v in cpu1.items())
        t0 = start.timestamp()
        delays = sorted(first_sound.get(i, float("nan")) - t0 for i in range(len(sinks)))
        played = sum(1 for a in agents for r in a.playlog.records() if r["result"] == "played")
        return {"delays": delays, "pulls": pulls, "cpu": round(cpu, 2), "played": played}
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        station.terminate()
        station.wait(15)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="loa-bench-radio-"))
    tone_file(tmp / "radio.mp3", 10.0, 500)
    results = {}
    with Icecast() as ice, Feeder(ice, "/vov1.mp3", tmp / "radio.mp3", "mp3"):
        for way in ("direct", "station", "icecast"):
            results[way] = one_way(way, ice, ice.url("/vov1.mp3"), args.agents, args.seconds)
    base = results["direct"]
    base_p50 = round(statistics.median(base["delays"]), 2)
    for way in ("station", "icecast"):
        r = results[way]
        emit(f"relay {way}: scheduled start -> first sound, p50 ({args.agents} loudspeakers)",
             round(statistics.median(r["delays"]), 2), "s", "< 2.0", "direct (each pulls the radio)", base_p50,
             max_s=round(max(r["delays"]), 2), played=f"{r['played']}/{args.agents}")
        emit(f"relay {way}: pulls the radio serves", r["pulls"], "connections", "== 1",
             "direct (each pulls the radio)", base["pulls"])
        emit(f"relay {way}: station CPU during the relay", r["cpu"], "s", f"< {args.seconds / 2:.1f}",
             "direct (each pulls the radio)", base["cpu"], relay_s=args.seconds)


if __name__ == "__main__":
    main()
