"""Fixtures of the schedules API tests: the station server's (SQLite and PostgreSQL), plus loudspeakers and
approved items in commune A. Fixed instants: the clock starts Monday 2026-03-02 08:00 Asia/Ho_Chi_Minh."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.replay import Replay
from tests.station_rig import (  # noqa: F401  (fixtures re-exported for this folder)
    PASSWORD, T0, TZ, Clock, World, _cheap_argon2, app, client, clock, db_url, engine, facts, make_item, mastered,
    settings, wav_bytes, world,
)


@dataclass
class Station:
    """World + devices: two in village A (Ún Tà), one in village A2, one in commune B; and approved items."""

    w: World
    dev_a1: int
    dev_a2: int
    dev_a2v: int
    dev_b: int
    items: dict[str, int] = field(default_factory=dict)


def add_device(engine, commune_id: int, village_id: int | None, name: str, clock) -> int:
    from loa.accounts.auth import CLI
    from loa.db import session_scope
    from loa.org import service as org

    with session_scope(engine) as s:
        return org.create_device(s, CLI, commune_id, name, clock(), village_id).id


_replay = Replay()


@pytest.fixture
def station(engine, world, facts, clock) -> Station:
    """Built through the services by the first test of a worker, replayed as rows after that (tests/replay.py);
    the audio files come from `facts` either way."""
    return _replay.build(engine, ("schedules-station", clock()), lambda: _build_station(engine, world, facts, clock))


def _build_station(engine, world, facts, clock) -> Station:
    st = Station(world, add_device(engine, world.a, world.village_a, "Cụm 1 Ún Tà", clock),
                 add_device(engine, world.a, world.village_a, "Cụm 2 Ún Tà", clock),
                 add_device(engine, world.a, world.village_a2, "Cụm Cốc San 2", clock),
                 add_device(engine, world.b, world.village_b, "Cụm Làng Mới", clock))
    st.items["vneid"] = make_item(engine, world, facts, clock, status="approved", title="Hướng dẫn VNeID")
    st.items["giay"] = make_item(engine, world, facts, clock, status="approved", title="VNeID tiếng Giáy",
                                 language="pcc")
    st.items["draft"] = make_item(engine, world, facts, clock, status="draft", title="Bản nháp")
    return st


def h(st: Station, role: str | None) -> dict[str, str]:
    return st.w.h(role)


def daily(st: Station, title: str = "Đọc hướng dẫn VNeID", times=("06:00", "17:00"), priority: str = "normal",
          targets: dict | None = None, rrule: str = "FREQ=DAILY;UNTIL=20260331", **extra) -> dict:
    body = {"title": title, "priority": priority, "rrule": rrule, "starts_at": "2026-03-02T00:00:00+07:00",
            "times": list(times), "targets": targets or {"commune": True},
            "programme": [{"type": "pair", "first": st.items["vneid"], "second": st.items["giay"]}]}
    body.update(extra)
    return body


def once(st: Station, at: str, title: str = "Thông báo một lần", priority: str = "normal",
         targets: dict | None = None, programme: list | None = None, **extra) -> dict:
    body = {"title": title, "priority": priority, "at": at, "targets": targets or {"commune": True},
            "programme": programme or [{"type": "item", "content_id": st.items["vneid"]}]}
    body.update(extra)
    return body
