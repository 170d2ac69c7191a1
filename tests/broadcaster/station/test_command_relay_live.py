"""Signed commands reach SSE streams held by ANY API process (issue 12, docs/device-protocol.md §4a, §8): a
command issued by another replica (or by `loa scheduler` / `loa worker`, which hold no streams) is stored and
relayed by the process that holds the device's stream within the re-check interval; one issued here is pushed
once, not relayed again; a device not targeted gets nothing. Real uvicorn, real HTTP, SQLite and PostgreSQL."""
from __future__ import annotations

import json
import time

import httpx

from broadcaster.station.commands import Commander
from broadcaster.station.push.sse import SseHub
from tests.broadcaster.station.device_rig import enroll_by_code
from tests.broadcaster.station.live import clock, live, wait_until  # noqa: F401  (fixtures)
from tests.broadcaster.station.test_sse_limits_live import Stream


def _commands(stream: Stream) -> list[dict]:
    lines = [line for _, line in stream.lines]
    out = []
    for i, line in enumerate(lines):
        if line == "event: command" and i + 1 < len(lines) and lines[i + 1].startswith("data: "):
            out.append(json.loads(lines[i + 1][6:]))
    return out


def _set_volume(engine, device_id: int, volume: int) -> None:
    import sqlalchemy as sa

    from loa.org.models import Device

    with engine.begin() as conn:
        conn.execute(sa.update(Device.__table__).where(Device.__table__.c.id == device_id).values(volume=volume))


def test_a_command_from_another_process_reaches_the_stream_held_here(live, world, engine, clock):
    with httpx.Client(base_url=live.url, headers=world.h("cadre"), timeout=30) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
        other_id, other_creds = enroll_by_code(cadre, world, village_id=world.village_a2)
    stream, bystander = Stream(live.url, creds), Stream(live.url, other_creds)
    try:
        assert wait_until(stream.synced, 10) and wait_until(bystander.synced, 10)
        # another replica (its own hub: it holds none of these streams) changes the device's volume
        replica = Commander(engine, live.app.state.broadcaster, clock, SseHub(), None)
        replica.origin = "another-replica"
        _set_volume(engine, device_id, 35)
        t0 = time.monotonic()
        envelope = replica.sound_changed(device_id)
        assert envelope is not None
        assert wait_until(lambda: _commands(stream), 3), stream.lines[-5:]
        assert time.monotonic() - t0 < live.app.state.command_relay.interval_s + 1.0
        got = _commands(stream)
        assert got == [envelope] and got[0]["command"]["volume"] == 35
        assert _commands(bystander) == []  # not targeted: never pushed

        # issued by this process: pushed once at once, and not relayed a second time
        _set_volume(engine, device_id, 40)
        live.app.state.commander.sound_changed(device_id)
        assert wait_until(lambda: len(_commands(stream)) == 2, 3)
        time.sleep(3 * live.app.state.command_relay.interval_s)
        assert len(_commands(stream)) == 2 and _commands(stream)[1]["command"]["volume"] == 40
    finally:
        stream.close()
        bystander.close()


def test_commands_issued_before_this_process_started_are_not_replayed(live, world, engine, clock):
    from broadcaster.station.push.command_relay import CommandRelay

    with httpx.Client(base_url=live.url, headers=world.h("cadre"), timeout=30) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
    replica = Commander(engine, live.app.state.broadcaster, clock, SseHub(), None)
    replica.origin = "another-replica"
    replica.sound_changed(device_id)
    hub = SseHub()
    late = CommandRelay(engine, hub, origin="a-process-started-later")
    late.start()
    try:
        assert late.last_seq is not None and late.last_seq >= 1
        assert late.poll() == 0
    finally:
        late.stop()
