"""Fixtures: the station's server fixtures (SQLite and PostgreSQL, the world of two communes, real mastered
audio) plus device helpers: enroll a device through the real endpoints, schedule plays through the real
schedules service."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.station_rig import (  # noqa: F401  (fixtures)
    Clock, World, _cheap_argon2, app, client, clock, db_url, engine, facts, make_item, mastered, settings,
    wav_bytes, world,
)

DEV = "/api/device/v1"
INFO = {"agent_version": "0.1.0", "hardware": "Raspberry Pi 4 Model B", "hostname": "loa-unta"}


def enroll_by_code(client, world, village_id=None, name="Cụm loa đầu thôn") -> tuple[int, dict]:
    """2b: a cadre makes the device and a code; the device claims it. Returns (device row id, credentials)."""
    r = client.post(f"/api/v1/communes/{world.a}/devices", json={"name": name, "village_id": village_id or world.village_a},
                    headers=world.h("cadre"))
    assert r.status_code == 201, r.text
    device_id = r.json()["id"]
    r = client.post(f"/api/v1/devices/{device_id}/enrollment-code", headers=world.h("cadre"))
    assert r.status_code == 201, r.text
    r = client.post(f"{DEV}/enroll/claim", json={"code": r.json()["code"], **INFO})
    assert r.status_code == 200, r.text
    return device_id, r.json()


def dh(creds: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds['token']}"}


def schedule(engine, world, item_ids: list[int], at: datetime, *, priority="normal", village_id=None, rrule=None,
             times=(), title="Bản tin sáng") -> int:
    """A schedule rule row, as the schedules API stores it."""
    from loa.db import session_scope
    from schedules.tables import ScheduleRule

    with session_scope(engine) as s:
        row = ScheduleRule(commune_id=world.a, title=title, priority=priority, at=None if rrule else at,
                           rrule=rrule, dtstart=at if rrule else None, times=list(times),
                           target_villages=[village_id or world.village_a],
                           programme=[{"type": "item", "content_id": i} for i in item_ids],
                           created_at=at - timedelta(days=1), updated_at=at - timedelta(days=1))
        s.add(row)
        s.flush()
        return row.id


def emergency(engine, world, item_id: int, started_at: datetime, repeat: int = 1, village_id=None) -> int:
    from loa.db import session_scope
    from schedules.tables import EmergencyRow

    with session_scope(engine) as s:
        row = EmergencyRow(commune_id=world.a, title="Cảnh báo lũ quét", programme=[{"type": "item", "content_id": item_id}],
                           villages=[village_id or world.village_a], repeat=repeat, status="airing",
                           created_at=started_at, started_at=started_at)
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def schedules_service(app, engine):
    """The schedules service of the app if it has one (helper wiring), else a real one subscribed the same way."""
    from api.devices import setup
    from schedules.service import ScheduleService

    service = getattr(app.state, "schedules", None)
    if service is None:
        service = ScheduleService(engine)
        app.state.schedules = service
    setup.subscribe(app)
    return service
