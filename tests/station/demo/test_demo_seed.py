"""The demo commune seeds through the real services: approved pack, daily schedule, one cluster per village."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from content.library.models import ContentItem, Status
from content.packs import builtin_packs
from loa.accounts.models import User
from loa.accounts.passwords import verify_password
from loa.db import session_scope
from station.demo import ACCOUNTS, VILLAGES, find_demo_commune, seed
from loa.org.models import Device, Village


def test_seed_builds_a_working_commune(engine, settings, clock, app, render_cache):
    now = clock()
    created = seed(engine, now, settings=settings)
    pack = builtin_packs()[0]
    with session_scope(engine) as s:
        assert find_demo_commune(s) == created.commune_id
        villages = s.exec(select(Village).where(Village.commune_id == created.commune_id)).all()
        assert sorted(v.name for v in villages) == sorted(name for name, _ in VILLAGES)
        devices = s.exec(select(Device).where(Device.commune_id == created.commune_id)).all()
        assert sorted(d.village_id for d in devices) == sorted(v.id for v in villages)
        items = s.exec(select(ContentItem).where(ContentItem.commune_id == created.commune_id)).all()
        assert len(items) == len(pack.items)
        assert all(i.status == Status.approved.value and i.audio_sha256 for i in items)
        # Approved by a cadre who is not the author.
        assert all(i.reviewed_by != i.author_id for i in items)
        users = {u.username: u for u in s.exec(select(User))}
        assert set(users) == {name for name, _, _ in ACCOUNTS}
        for name, (_, password) in created.passwords.items():
            assert verify_password(users[name].password_hash, password)

    # The timetable: a test broadcast within minutes, then the pack every day at 06:00 and 17:00.
    from schedules.service import ScheduleService

    service = ScheduleService(engine)
    service.materialize_commune(created.commune_id, now)
    with session_scope(engine) as s:
        from schedules.store import device_plays

        plays = device_plays(s, created.device_ids[0], now, now + timedelta(hours=48))
    local = [p.planned_start.astimezone(settings.tz) for p in plays]
    assert local[0] - now <= timedelta(minutes=2, seconds=1)  # the first test broadcast
    daily = sorted({(t.hour, t.minute) for t in local[1:]})
    assert daily == [(6, 0), (17, 0)]
