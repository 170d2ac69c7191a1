"""Manifests of an emergency "until cancelled" of a short clip. One JSON line per figure (format: .helpers/COMMON.md).

A 1.6 s alert repeated until cancelled is ~13,500 plays per loudspeaker over the station's 6 h maximum
(schedules/limits.py allows 21,600), and every loudspeaker of the village lists all of them: in a flood, each of a
commune's loudspeakers fetches such a manifest. Figure: CPU seconds per signed manifest as the station builds it
(broadcaster/station/manifests.py `prepare`: each stored play's entries expanded and encoded once per process,
broadcaster/station/entries.py, the manifest assembled around them), for every loudspeaker of a village, the
process starting cold. Baseline, same run, same rows: the per-entry path (every play decoded, expanded, converted
and encoded for each manifest: `build_manifest` + `sign_manifest`, as the station built them before); both must
give the same bytes. `materialize_cpu_s`: the emergency's materialization for the village, for information.

Usage: .venv/bin/python bench/emergency_manifest.py [--devices 20] [--clip 1.6]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync import emit, make_world  # noqa: E402  (bench/sync.py: the shared world builder)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def per_entry_body(session, ctx, device, uid: str, now: datetime, seq: int) -> bytes:  # noqa: ANN001
    """The reference: the manifest built entry by entry, as one piece of work per device."""
    import sqlalchemy as sa

    from broadcaster.manifest_builder import build_manifest, coverage
    from broadcaster.station import manifests
    from broadcaster.station.stored import stored_id
    from broadcaster.station.timetable_plays import StationPlay
    from loa.db import table_of
    from schedules.tables import TimetablePlay

    device_id = stored_id(device)
    start, end = coverage(now, ctx.timezone)
    t = table_of(TimetablePlay)
    rows = session.execute(sa.select(t.c.device_id, t.c.start, t.c.end, t.c.priority, t.c.segments, t.c.rule_key,
                                     t.c.planned_start).where(t.c.device_id == device_id, t.c.start < end,
                                                              t.c.end > start).order_by(t.c.start, t.c.id)).all()
    stored = [StationPlay.from_row(r, ctx.relays.segments) for r in rows]
    unsized = set().union(*(p.unsized() for p in stored)) if stored else set()
    sizes = manifests.sizes_of(ctx, unsized) if unsized else {}
    plays = [p for p in (s.airable(sizes) for s in stored) if p is not None]
    standby = manifests._standby(session, ctx, device.commune_id, device.village_id, now)
    manifest = build_manifest(uid, plays, now, volume=int(device.volume), muted=bool(device.muted),
                              tz=ctx.timezone, standby=standby.files)
    envelope = ctx.active_key().sign(replace(manifest, seq=seq))
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=20, help="loudspeakers of the village")
    ap.add_argument("--clip", type=float, default=1.6, help="the alert's length, seconds")
    args = ap.parse_args()

    from broadcaster.signing import KeyRing
    from broadcaster.station import manifests
    from broadcaster.station.context import StationContext
    from broadcaster.station.standby import StandbyCache
    from loa.db import session_scope
    from loa.org.models import Device
    from schedules.service import ScheduleService
    from schedules.tables import EmergencyRow

    now = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)
    root = Path(tempfile.mkdtemp(prefix="loa-bench-emergency-"))
    world = make_world(root, now, args.devices, 1, [("Lũ quét: sơ tán ngay", args.clip, 880)])
    engine = world["engine"]
    (item_id, _, _, _), = world["items"]
    with session_scope(engine) as s:
        s.add(EmergencyRow(commune_id=world["commune"], title="Lũ quét", villages=world["villages"], devices=[],
                           programme=[{"type": "item", "content_id": item_id}], repeat=None, gap_s=0.0,
                           status="airing", source="cadre", created_at=now, started_at=now))
    cpu = time.process_time()
    ScheduleService(engine).materialize_commune(world["commune"], now, notify=False)
    materialize_s = time.process_time() - cpu

    ctx = StationContext(KeyRing(root / "keys"), root / "audio")
    ctx.standby = StandbyCache()
    ids = world["device_ids"]
    new_s: list[float] = []
    old_s: list[float] = []
    entries = size = 0
    with session_scope(engine) as s:
        devices = [s.get(Device, d) for d in ids]
        manifests.prepare(s, ctx, devices[0], "warm-up", "k", now, seq=1)  # imports, the standby read
        ctx.entries = type(ctx.entries)()  # ... and the entry cache starts cold: the first manifest pays it
        for i, device in enumerate(devices):
            uid = f"uid-{device.id}"
            cpu = time.process_time()
            built = manifests.prepare(s, ctx, device, uid, "k", now, seq=100 + i)
            new_s.append(time.process_time() - cpu)
            cpu = time.process_time()
            body = per_entry_body(s, ctx, device, uid, now, seq=100 + i)
            old_s.append(time.process_time() - cpu)
            if body != built.entry.body:
                raise SystemExit(f"bench: the manifests differ for device {device.id}")
            size = len(body)
            entries = len(json.loads(body)["manifest"]["entries"])
    emit(f"until-cancelled emergency of a {args.clip:g} s clip: CPU per signed manifest, "
         f"{args.devices} loudspeakers of a village", round(statistics.mean(new_s), 4), "s", "< 0.2",
         "per-entry path (build_manifest + sign_manifest)", round(statistics.mean(old_s), 4),
         first_manifest_s=round(new_s[0], 4), later_median_s=round(statistics.median(new_s[1:] or new_s), 4),
         baseline_median_s=round(statistics.median(old_s), 4), entries=entries, manifest_bytes=size,
         same_bytes=True, materialize_cpu_s=round(materialize_s, 3))


if __name__ == "__main__":
    main()
