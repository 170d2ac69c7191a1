"""Builders shared by the schedules tests (fixed instants, Asia/Ho_Chi_Minh)."""

from __future__ import annotations

import hashlib
from datetime import datetime, time
from zoneinfo import ZoneInfo

from schedules.model import (
    Item, OneOff, Priority, Programme, Recurring, Rule, StationSettings, Targets, Topology,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LONG_AGO = datetime(2025, 1, 1, tzinfo=TZ)
NO_QUIET = StationSettings(quiet_start=time(0), quiet_end=time(0))


def at(y, mo, d, h=0, mi=0, s=0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ)


def item(cid: str, seconds: float = 600, lang: str = "vi", title: str | None = None) -> Item:
    return Item(cid, hashlib.sha256(cid.encode()).hexdigest(), seconds, title or f"Bản tin {cid}", lang)


def prog(*items, repeat: int = 1) -> Programme:
    return Programme(tuple(items), repeat)


def rule(rid, rec, targets, programme=None, priority=Priority.NORMAL, created_at=LONG_AGO, **kw) -> Rule:
    if isinstance(rec, datetime):
        rec = OneOff(rec)
    return Rule(rid, rec, targets, programme or prog(item(f"c-{rid}")), priority, created_at, **kw)


def daily(dtstart: datetime, *times: time, extra: str = "") -> Recurring:
    return Recurring("FREQ=DAILY" + extra, dtstart, tuple(times))


def commune(villages: int = 3, per_village: int = 2) -> Topology:
    vs = tuple(f"v{i}" for i in range(1, villages + 1))
    return Topology({"xa": vs}, {v: tuple(f"{v}-d{j}" for j in range(1, per_village + 1)) for v in vs})


ALL = Targets.of(communes=["xa"])


def brief(plays) -> list[tuple[str, str, str, bool]]:
    return [(p.rule_id, p.start.strftime("%m-%d %H:%M"), p.end.strftime("%m-%d %H:%M"), p.interrupted)
            for p in plays]
