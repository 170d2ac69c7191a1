"""Late joiners (docs/device-protocol.md §4a "Live sessions"): what the station hands a loudspeaker that comes
(back) online, in the reply to its heartbeat.

- Every session on air that targets it: the ORIGINAL signed `live` command (the agent verifies signature and
  targets as for any command; the station's reply to the device's own request is what vouches that the session
  is still on, in place of the two-minute push expiry and the seq floor, §4a).
- Every session that ended while its `live` entry could still be in force (its `end`, the safety cap, is ahead):
  the original signed `stop`, so a box that took the `live` command and then missed the stop (offline, or
  restarted meanwhile) ends it at once instead of trying a dead stream until the cap.

What counts as a loudspeaker that joined is only ever the agent's own report (`joined`): a heartbeat saying it
plays `live-l<id>` (kept from the first one, `remember_aired`), or a play record of it. The station reports what
aired, never what it meant to air, and the count never drops while the cadre watches it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from broadcaster.protocol.wire import parse_time
from broadcaster.station.context import village_slug
from broadcaster.station.live.models import LiveAired, LiveSession
from broadcaster.station.models import DeviceReport, PlayRecordRow
from loa.db import UtcDateTime, table_of

# Sessions that ended longer ago than this are never looked at (the cap of a session is 2 h by default; a
# station configured for longer ones still finds their stops through the entry's own `end`, below this bound).
ENDED_LOOKBACK = timedelta(hours=24)


@dataclass
class LateCommands:
    live: list[dict[str, Any]] = field(default_factory=list)   # original `live` envelopes of sessions on air
    ended: list[dict[str, Any]] = field(default_factory=list)  # original `stop` envelopes of recent sessions

    def __bool__(self) -> bool:
        return bool(self.live or self.ended)


def targets(envelope: dict[str, Any], uid: str, village_id: int | None) -> bool:
    """Whether the signed command names this device (by uid, or its whole village)."""
    named = envelope.get("command", {}).get("targets", {})
    return uid in named.get("devices", []) or (
        village_id is not None and village_slug(village_id) in named.get("villages", []))


def _entry_end(envelope: dict[str, Any]) -> datetime | None:
    try:
        return parse_time(envelope["command"]["entries"][0]["end"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def for_device(session: Session, commune_id: int, uid: str, village_id: int | None, now: datetime) -> LateCommands:
    """The live commands a device should hold now, and the stops of sessions it may still hold. One indexed
    query on the commune's sessions (a handful a day)."""
    t = table_of(LiveSession).c
    rows = session.execute(sa.select(t.ended_at, t.command, t.stop_command).where(
        t.commune_id == commune_id, t.command.is_not(None),
        sa.or_(t.ended_at.is_(None), t.ended_at > now - ENDED_LOOKBACK))).all()
    out = LateCommands()
    for ended_at, command, stop in rows:
        if not isinstance(command, dict) or not targets(command, uid, village_id):
            continue
        end = _entry_end(command)
        if end is None or end <= now:
            continue  # past its cap: the agent drops it by itself
        if ended_at is None:
            out.live.append(command)
        elif isinstance(stop, dict):
            out.ended.append(stop)
    return out


_LIVE_PLAY = re.compile(r"live-l([0-9]{1,18})")


def remember_aired(session: Session, commune_id: int, device_id: int, playing: Any, now: datetime) -> None:
    """A heartbeat says the device plays `playing`: if that is a live session of its commune, keep that it aired
    it (once; later beats change nothing). One INSERT … SELECT, so a beat naming a session that does not exist,
    or another commune's, stores nothing."""
    play_id = playing.get("play_id") if isinstance(playing, dict) else None
    match = _LIVE_PLAY.fullmatch(play_id) if isinstance(play_id, str) else None
    if match is None:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # no race-free insert spelled for it: the play record still counts
        return
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    s, a = table_of(LiveSession).c, table_of(LiveAired)
    heard = sa.select(s.id, sa.literal(device_id), sa.literal(now, UtcDateTime())).where(
        s.id == int(match[1]), s.commune_id == commune_id)
    session.execute(insert(a).from_select(["session_id", "device_id", "first_heard_at"], heard)
                    .on_conflict_do_nothing())


def joined(session: Session, session_id: int, commune_id: int, device_ids: list[int]) -> int:
    """Loudspeakers (of those the session named) that reported airing it: a heartbeat of theirs said they play
    it (kept from the first, and their last one), or they sent a play record of it with an actual start (played,
    interrupted, or failed after it began)."""
    play_id = f"live-l{session_id}"
    if not device_ids:
        return 0
    r = table_of(DeviceReport).c
    seen = {d for d, playing in session.execute(sa.select(r.device_id, r.playing).where(
        r.device_id.in_(sorted(device_ids)), r.playing.is_not(None)))
        if isinstance(playing, dict) and playing.get("play_id") == play_id}
    a = table_of(LiveAired).c
    seen |= {d for (d,) in session.execute(sa.select(a.device_id).where(a.session_id == session_id))}
    p = table_of(PlayRecordRow).c
    seen |= {d for (d,) in session.execute(sa.select(p.device_id).distinct().where(
        p.commune_id == commune_id, p.play_id == play_id, p.actual_start.is_not(None)))}
    return len(seen & set(device_ids))
