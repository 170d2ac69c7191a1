"""Nudge pacing (broadcaster/station/nudges.py): devices that a signed start command already put on air get
their manifest nudges spread over a few seconds (their manifests only confirm the command), every other device
at once; the manifests are stored before the first nudge, and a device nudged again meanwhile is left to the
newer batch."""
from __future__ import annotations

import time
from datetime import timedelta

from broadcaster.station import nudges as nudges_mod
from broadcaster.station.nudges import Nudger
from tests.broadcaster.station.device_rig import enroll_by_code, schedule
from tests.station_rig import make_item


class RecordingHub:
    def __init__(self) -> None:
        self.sent: list[tuple[float, int, dict]] = []

    def publish(self, device_id: int, message: dict) -> int:
        self.sent.append((time.monotonic(), device_id, dict(message)))
        return 0


def test_covered_devices_are_paced_the_others_nudged_at_once(app, client, engine, world, facts, clock,
                                                             schedules_service, monkeypatch):
    monkeypatch.setattr(nudges_mod, "PACE_S", 1.0)
    item = make_item(engine, world, facts, clock, status="approved")
    devices = [enroll_by_code(client, world, village_id=world.village_a, name=f"Loa {i}")[0] for i in range(6)]
    schedule(engine, world, [item], clock() + timedelta(minutes=5))
    schedules_service.materialize_commune(world.a, clock(), notify=False)
    ctx = app.state.broadcaster
    hub = RecordingHub()
    nudger = Nudger(engine, ctx, clock, hub, None, background=True)
    covered, free = devices[:4], devices[4:]
    for d in covered:
        ctx.commanded[d] = time.monotonic() + 30.0  # on air by command for 30 s more
    nudger.nudge(set(devices))
    assert nudger.flush(30)
    nudger.stop()
    at = {d: t for t, d, _ in hub.sent}
    assert set(at) == set(devices) and len(hub.sent) == len(devices)
    first_covered = min(at[d] for d in covered)
    assert all(at[d] <= first_covered for d in free)  # the others first, at once
    assert max(at[d] for d in covered) - min(at[d] for d in covered) >= 0.7  # spread over PACE_S (4 slices)
    # every nudge names the manifest stored before it went out
    from broadcaster.station import manifests
    from loa.db import session_scope

    with session_scope(engine) as s:
        stored = manifests.stored_keys(s, devices)
    assert set(stored) == set(devices)


def test_nothing_is_paced_without_a_command_or_once_it_has_ended(app, client, engine, world, facts, clock,
                                                                  schedules_service):
    item = make_item(engine, world, facts, clock, status="approved")
    devices = [enroll_by_code(client, world, village_id=world.village_a, name=f"Loa {i}")[0] for i in range(3)]
    schedule(engine, world, [item], clock() + timedelta(minutes=5))
    schedules_service.materialize_commune(world.a, clock(), notify=False)
    ctx = app.state.broadcaster
    ctx.commanded[devices[0]] = time.monotonic() - 1.0  # its command's repetition is over
    hub = RecordingHub()
    nudger = Nudger(engine, ctx, clock, hub, None, background=True)
    t0 = time.monotonic()
    nudger.nudge(set(devices))
    assert nudger.flush(30)
    nudger.stop()
    assert len(hub.sent) == 3 and max(t for t, _, _ in hub.sent) - t0 < 0.9
