"""Signed commands from the station (docs/device-protocol.md §4a): a stop or a sound change reaches the air in
the time of one push, not of a rebuild, a nudge and a manifest round trip.

Order, so a command and the manifests rebuilt for the same change never refuse each other: the change is
committed first, then the command takes its seq (and is signed and pushed), and only then is the timetable
re-materialized and are the manifests rebuilt, each taking a higher seq. A device that applied the command
therefore takes the manifest that follows; one that got the new manifest first refuses the (older) command,
which asks nothing the manifest does not already say.

One body per change and commune: targets name whole villages when every device of the village is concerned
(the village's MQTT command topic fans it out) and single devices otherwise. SSE connections of this process get
it as `event: command`; MQTT topics are not retained (a device away at that moment syncs its manifest when it
is back, and that manifest says the same).
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from broadcaster.manifest_builder import expand_play
from broadcaster.protocol.command import Command, sign_command
from broadcaster.station import manifests
from broadcaster.station.context import StationContext, device_command_topic, village_command_topic, village_slug
from broadcaster.station.models import DeviceCredential
from broadcaster.station.push import command_relay
from broadcaster.station.push.sse import COMMAND, SseHub
from broadcaster.station.seq import allocate
from broadcaster.station.timetable_plays import PlaySegment, StationPlay
from loa.db import session_scope, table_of
from loa.org.models import Device

log = logging.getLogger("loa.broadcaster.commands")


COMMAND_TTL = timedelta(minutes=2)  # a command later than this is stale: the manifest has long said the same
STOP_COVER_S = 8.0  # after a stop command, its manifests may be paced over up to half of this (nudges.py)


class Commander:
    def __init__(self, engine: Engine, ctx: StationContext, clock: Callable[[], datetime], hub: SseHub,
                 mqtt: Any | None = None) -> None:
        self.engine, self.ctx, self.clock, self.hub, self.mqtt = engine, ctx, clock, hub, mqtt
        self.sent: list[dict[str, Any]] = []  # envelopes issued by this process (newest last, bounded)
        self.origin = command_relay.ORIGIN  # the other processes relay what this one stores to their streams

    # -- what a change asks of the devices ----------------------------------------------------------------
    def rule_stopped(self, commune_id: int, rule_key: str, at: datetime) -> dict[str, Any] | None:
        """A schedule or emergency (`rule_key` "s7" / "e12") was stopped or cancelled at `at`: every device whose
        stored timetable still has one of its plays on air or to come ends them at `at`. Call after the
        change is committed and before the timetable is re-materialized (the stored plays say who is concerned)."""
        from schedules.tables import TimetablePlay

        t = table_of(TimetablePlay)
        with session_scope(self.engine) as s:
            ids = [r[0] for r in s.execute(sa.select(t.c.device_id).distinct().where(
                t.c.commune_id == commune_id, t.c.rule_key == rule_key, t.c.end > at))]
        envelope = self._issue(ids, lambda seq, devices, villages: Command(
            seq=seq, issued_at=self.clock(), expires_at=self.clock() + COMMAND_TTL, devices=devices,
            villages=villages, action="stop", source=rule_key, cut_at=at))
        if envelope is not None:  # cut by command: the manifests that follow only confirm it
            self._covered(ids, STOP_COVER_S)
        return envelope

    def plays_withdrawn(self, commune_id: int, rule_key: str, at: datetime, device_ids: set[int]
                        ) -> dict[str, Any] | None:
        """The plays of `rule_key` on air on `device_ids` were withdrawn or replaced by an edit (committed and
        re-materialized; the manifests follow with higher seqs): cut them now. Its later plays, if any, come
        back with those manifests, which supersede this command."""
        return self._issue(sorted(device_ids), lambda seq, devices, villages: Command(
            seq=seq, issued_at=self.clock(), expires_at=self.clock() + COMMAND_TTL, devices=devices,
            villages=villages, action="stop", source=rule_key, cut_at=at))

    def rule_started(self, commune_id: int, rule_key: str, at: datetime) -> dict[str, Any] | None:
        """An emergency (`rule_key` "e12") started (committed): every device it targets gets its first repetition
        now, under the play ids its manifest will list, and may fetch the audio (granted before the push). Its
        later repetitions come with the manifest, which follows within seconds."""
        if not rule_key.startswith("e"):
            return None
        from schedules import mapping
        from schedules.model import Play, Priority
        from schedules.store import segments_json
        from schedules.tables import EmergencyRow

        with session_scope(self.engine) as s:
            row = s.get(EmergencyRow, int(rule_key[1:]))
            if row is None or row.started_at is None or row.status != "airing" or row.commune_id != commune_id:
                return None
            library = mapping.Library.load(s, mapping.content_ids(row.programme))
            prog = mapping.programme(row.programme, 1, library)
            start, end = row.started_at, row.started_at + timedelta(seconds=prog.once_s)
            # its first repetition as the timetable stores it (segments_json reads the segments only)
            raw = segments_json(Play("", rule_key, start, end, Priority.EMERGENCY, prog.segments(), start))
            segments = tuple(PlaySegment.from_json(g) for g in (self.ctx.relays.segments(raw) if self.ctx.relays else raw))
            village_ids, extra = list(row.villages), list(row.devices)
            d = table_of(Device)
            ids = [i for (i,) in s.execute(sa.select(d.c.id).where(sa.or_(
                d.c.village_id.in_(village_ids or [-1]), d.c.id.in_(extra or [-1]))))]
            stored = StationPlay(start, end, int(Priority.EMERGENCY), segments,
                                 (None, rule_key, start), rule_key)
            play = stored.airable(manifests.sizes_of(self.ctx, stored.unsized()))
        entries = tuple(expand_play(play, "")) if play is not None else ()
        if not entries or not ids:
            return None
        hashes = {e.sha256 for e in entries if e.sha256}
        if hashes:  # the audio endpoint serves only granted hashes: grant before the push
            manifests.grant(self.engine, ids, hashes, self.clock(), self.ctx)
        envelope = self._issue(ids, lambda seq, devices, villages: Command(
            seq=seq, issued_at=self.clock(), expires_at=self.clock() + COMMAND_TTL, devices=devices,
            villages=villages, action="start", source=rule_key, entries=entries))
        if envelope is not None:  # their first repetition is on air by command: the manifests may follow paced
            self._covered(ids, (max(e.end for e in entries) - self.clock()).total_seconds())
        return envelope

    def live_started(self, device_ids: list[int], source: str, url: str, start: datetime, end: datetime,
                     title: str) -> dict[str, Any] | None:
        """A live session (`source` "l3") went on air: the devices play `url` (the hub's mount) from now until
        its stop, or `end` at the latest. Manifests never list it; the agent keeps the command until the stop."""
        from broadcaster.protocol.manifest import Entry

        entry = Entry(play_id=f"live-{source}", kind="live", priority="live", start=start, end=end, sha256=None,
                      size=0, duration=(end - start).total_seconds(), url=url, title=title, source=source)
        return self._issue(sorted(device_ids), lambda seq, devices, villages: Command(
            seq=seq, issued_at=self.clock(), expires_at=self.clock() + COMMAND_TTL, devices=devices,
            villages=villages, action="live", source=source, entries=(entry,)))

    def live_stopped(self, device_ids: list[int], source: str, at: datetime) -> dict[str, Any] | None:
        """The live session ended at `at`: its devices cut it and go back to their timetable."""
        return self._issue(sorted(device_ids), lambda seq, devices, villages: Command(
            seq=seq, issued_at=self.clock(), expires_at=self.clock() + COMMAND_TTL, devices=devices,
            villages=villages, action="stop", source=source, cut_at=at))

    def _covered(self, device_ids: list[int], seconds: float) -> None:
        """A command put this change on air for `seconds`: the nudger may pace their manifests meanwhile."""
        until = time.monotonic() + seconds
        covered = self.ctx.commanded
        if len(covered) > 100_000:
            covered.clear()
        for d in device_ids:
            covered[d] = max(covered.get(d, 0.0), until)

    def sound_changed(self, device_id: int) -> dict[str, Any] | None:
        """The device's remote volume or mute changed (committed): it applies it to what is on air at once."""
        with session_scope(self.engine) as s:
            device = s.get(Device, device_id)
            if device is None:
                return None
            volume, muted = int(device.volume), bool(device.muted)
        return self._issue([device_id], lambda seq, devices, villages: Command(
            seq=seq, issued_at=self.clock(), expires_at=self.clock() + COMMAND_TTL, devices=devices,
            villages=villages, action="sound", volume=volume, muted=muted))

    # -- sign and push --------------------------------------------------------------------------------------
    def _issue(self, device_ids: list[int], make: Callable[[int, tuple[str, ...], tuple[str, ...]], Command]
               ) -> dict[str, Any] | None:
        if not device_ids:
            return None
        targets = self._targets(device_ids)
        if not targets:
            return None
        devices = tuple(sorted(uid for (_, uid, _, _), whole in targets if not whole))
        villages = tuple(sorted({village_slug(v) for (_, _, _, v), whole in targets if whole}))
        seq = allocate(self.engine)  # after the commit of the change, before the manifests it implies
        key = self.ctx.active_key()
        envelope = sign_command(make(seq, devices, villages), key.private_key, key.key_id)
        self.publish(envelope, targets)
        self.sent = (self.sent + [envelope])[-100:]
        try:  # for the SSE streams other API processes hold (push/command_relay.py)
            command_relay.store(self.engine, seq, self.clock(), [t[0][0] for t in targets], envelope,
                                 self.origin)
        except Exception:  # noqa: BLE001 — pushed here and over MQTT already; the manifest says the same
            log.exception("storing command %s for the other processes failed", seq)
        return envelope

    def _targets(self, device_ids: list[int]) -> list[tuple[tuple[int, str, int, int], bool]]:
        """((device id, uid, commune, village), whole village?) for each live device among `device_ids`."""
        with session_scope(self.engine) as s:
            villages = select(Device.village_id).where(col(Device.id).in_(sorted(device_ids)))
            live = s.exec(select(Device.id, DeviceCredential.uid, Device.commune_id, Device.village_id)
                          .join(DeviceCredential, col(DeviceCredential.device_id) == col(Device.id))
                          .where(col(DeviceCredential.revoked_at).is_(None), col(Device.revoked_at).is_(None),
                                 col(Device.village_id).in_(villages))).all()
        wanted = set(device_ids)
        by_village: dict[int, list[tuple[int, str, int, int]]] = defaultdict(list)
        for device_id, uid, commune_id, village_id in live:
            # stored rows have an id, and a village by the query (a NULL village is in no `IN`)
            if device_id is not None and village_id is not None:
                by_village[village_id].append((device_id, uid, commune_id, village_id))
        out = []
        for rows in by_village.values():
            chosen = [r for r in rows if r[0] in wanted]
            whole = len(chosen) == len(rows)
            out += [(r, whole) for r in chosen]
        return out

    def publish(self, envelope: dict[str, Any], targets: list[tuple[tuple[int, str, int, int], bool]]) -> None:
        for (device_id, _, _, _), _ in targets:
            self.hub.publish(device_id, {COMMAND: envelope})
        if self.mqtt is None:
            return
        topics = {village_command_topic(c, v) if whole else device_command_topic(c, uid)
                  for (_, uid, c, v), whole in targets}
        for topic in sorted(topics):
            try:
                self.mqtt.publish(topic, envelope, retain=False)
            except Exception:  # noqa: BLE001 — the manifest that follows says the same
                log.exception("MQTT command to %s failed", topic)
