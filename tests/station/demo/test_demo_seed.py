"""The demo commune seeds through the real services: approved pack, daily schedule, one cluster per village."""
from __future__ import annotations

from datetime import timedelta

import pytest

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


@pytest.mark.parametrize("hhmm", ["05:58", "06:04", "16:59"])
def test_the_demo_starts_at_any_hour(engine, settings, clock, app, render_cache, hhmm):
    """Started in the minutes before 06:00 or 17:00, the welcome play (in two minutes, ~100 s long) overlapped
    the daily pack's first play, the conflict check refused it, and `loa demo` stopped with a traceback. It now
    waits for the first free minute after the pack. (Seeded at 06:04 the pack's 06:00 play never airs: the
    schedule did not exist yet.)"""
    from schedules.service import ScheduleService
    from schedules.store import device_plays

    hour, minute = map(int, hhmm.split(":"))
    now = clock().replace(hour=hour, minute=minute, second=0)
    created = seed(engine, now, settings=settings)
    ScheduleService(engine).materialize_commune(created.commune_id, now)
    with session_scope(engine) as s:
        plays = device_plays(s, created.device_ids[0], now - timedelta(minutes=10), now + timedelta(hours=25))
    local = [(p, p.planned_start.astimezone(settings.tz)) for p in plays]
    welcome = [p for p, at in local if at.minute != 0]
    assert len(welcome) == 1, plays
    assert welcome[0].planned_start >= now + timedelta(minutes=2)
    # never over the pack: the welcome starts within a minute of the later of "in two minutes" and the pack's end
    # (the pack's play at this hour airs only if the schedule existed by then: not when seeded at 06:04)
    packs = [p for p, at in local if at.minute == 0]
    assert all(p.end <= welcome[0].planned_start or welcome[0].end <= p.planned_start for p in packs), plays
    meets = [p.end for p in packs if p.planned_start <= now + timedelta(minutes=2) + (welcome[0].end - welcome[0].planned_start)]
    assert welcome[0].planned_start - max([now + timedelta(minutes=2), *meets]) < timedelta(minutes=1)
