"""What the loudspeakers really did, from their own reports, never from the timetable's intent (issue 12).

Two pure rules, functions of their arguments and `now` only (the database loaders are in `airviews.py`):

- `now_state`: what a loudspeaker is doing now is its last heartbeat's `playing`, together with when it said so.
  A report older than one heartbeat interval plus a margin is *old* (the device should have beaten by then), one
  older than the offline limit means the device is out of contact: its last word is then only the past.
- `confirm_stop`: after a stop (a cadre cancelled an emergency) each targeted loudspeaker is `waiting` until it
  confirms, `unconfirmed` if it has not confirmed within `CONFIRM_WITHIN_S`, and `confirmed` once the latest
  thing it told the station after the stop says it no longer plays the stopped broadcast. What counts as told:
  a heartbeat received after the stop (its `playing`), and its proof-of-play records of the stopped broadcast
  (a record is written when a play ends: at `actual_end` it was no longer playing it; a play that *started*
  after the stop is proof that it was still playing then). The latest of these facts wins; so a loudspeaker
  that kept playing and then went silent is confirmed, with the time it really stopped from its play record.

Which plays belong to the stopped broadcast is a `Span`: a priority and the planned starts it covers on that
device (for an emergency: from its start until the next emergency for the same loudspeaker, or its natural
end). Heartbeats carry the actual start, which is never before the planned start but may be a little early on
a device whose clock correction is off, hence `EARLY_SLACK`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from broadcaster.protocol.wire import parse_time

CONFIRM_WITHIN_S = 10.0        # issue 12: name every loudspeaker that has not confirmed the stop within 10 s
OLD_MARGIN_S = 60.0            # a report is old when a heartbeat (plus this margin) should have come since
EARLY_SLACK = timedelta(seconds=5)

StopState = Literal["confirmed", "waiting", "unconfirmed"]


@dataclass(frozen=True, slots=True)
class Heard:
    """A device's last heartbeat as the station stored it."""
    received_at: datetime
    playing: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class PlayFact:
    """One proof-of-play record (docs/device-protocol.md §7) as the station stored it."""
    play_id: str
    priority: str
    planned_start: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    result: str
    received_at: datetime


def base_play_id(play_id: Any) -> str:
    """A programme of several items has one entry per item, `<play id>.<n>` (manifest_builder.expand_play)."""
    return str(play_id or "").split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Span:
    """The plays of one broadcast on one device: `priority`, planned to start in [since, until); or, when
    `play_ids` is given, exactly those plays (any of their items)."""
    priority: str
    since: datetime
    until: datetime
    play_ids: frozenset[str] = frozenset()

    def holds(self, priority: str | None, at: datetime | None, play_id: Any = None) -> bool:
        if priority != self.priority:
            return False
        if self.play_ids:
            return base_play_id(play_id) in self.play_ids
        return at is not None and self.since - EARLY_SLACK <= at < self.until

    def holds_record(self, rec: PlayFact) -> bool:
        return self.holds(rec.priority, rec.planned_start, rec.play_id)

    def holds_playing(self, playing: Mapping[str, Any] | None) -> bool:
        if not playing:
            return False
        return self.holds(playing.get("priority"), _time(playing.get("started_at")), playing.get("play_id"))


def _time(text: Any) -> datetime | None:
    try:
        return parse_time(str(text)) if text else None
    except ValueError:
        return None


# ------------------------------------------------------------------ what a loudspeaker does now


@dataclass(frozen=True, slots=True)
class NowState:
    playing: Mapping[str, Any] | None   # its last report's `playing` (None: it said it was silent, or never said)
    reported_at: datetime | None        # when the station received that report
    age_s: float | None                 # how long ago
    old: bool                           # a heartbeat should have come since: the report may be out of date
    out_of_contact: bool                # no report for the offline limit: what it says is only the past


def now_state(report: Heard | None, now: datetime, offline_after_s: float) -> NowState:
    """What the loudspeaker itself last said it was doing. The heartbeat interval is a third of the offline
    limit (docs/device-protocol.md §6), so a report older than that plus a margin has missed a beat."""
    if report is None:
        return NowState(None, None, None, False, True)
    age = max(0.0, (now - report.received_at).total_seconds())
    beat = offline_after_s / 3
    return NowState(report.playing or None, report.received_at, age, age > beat + OLD_MARGIN_S,
                    age >= offline_after_s)


# ------------------------------------------------------------------ did it stop?


@dataclass(frozen=True, slots=True)
class Target:
    device_id: int
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class DeviceStop:
    device_id: int
    name: str
    state: StopState
    stopped_at: datetime | None          # when it really stopped, from its play record (None: not known)
    confirmed_at: datetime | None        # when the station learnt it
    playing_after_stop_at: datetime | None  # the last time it said (after the stop) it still played it
    last_heard: datetime | None          # its last heartbeat, whatever it said
    delay_s: float | None = None         # how long after the stop it really stopped (None: not known)


@dataclass(frozen=True, slots=True)
class StopStatus:
    stopped_at: datetime
    devices: tuple[DeviceStop, ...]

    @property
    def total(self) -> int:
        return len(self.devices)

    @property
    def confirmed(self) -> int:
        return sum(1 for d in self.devices if d.state == "confirmed")

    @property
    def done(self) -> bool:
        """Every targeted loudspeaker confirmed (an emergency that reached none is done at once)."""
        return self.confirmed == self.total

    @property
    def unconfirmed(self) -> tuple[DeviceStop, ...]:
        return tuple(d for d in self.devices if d.state == "unconfirmed")


@dataclass(frozen=True, slots=True)
class _Fact:
    at: datetime          # when it was so on the device (or, for a heartbeat, when the station heard it)
    playing: bool         # it was playing the stopped broadcast then
    learnt_at: datetime   # when the station learnt it
    ended: bool = False   # a record's end: `at` is when it really stopped


def _facts(target: Target, stopped_at: datetime, report: Heard | None,
           records: Sequence[PlayFact]) -> list[_Fact]:
    facts: list[_Fact] = []
    if report is not None and report.received_at >= stopped_at:
        facts.append(_Fact(report.received_at, target.span.holds_playing(report.playing), report.received_at))
    for rec in records:
        if not target.span.holds_record(rec):
            continue
        if rec.actual_start is not None and rec.actual_start >= stopped_at:
            facts.append(_Fact(rec.actual_start, True, rec.received_at))
        if rec.actual_end is not None and rec.actual_end >= stopped_at:
            facts.append(_Fact(rec.actual_end, False, rec.received_at, ended=True))
    # At one instant a start beats an end (back-to-back repetitions: one ends as the next begins).
    facts.sort(key=lambda f: (f.at, f.playing))
    return facts


def device_stop(target: Target, stopped_at: datetime, report: Heard | None, records: Sequence[PlayFact],
                now: datetime) -> DeviceStop:
    facts = _facts(target, stopped_at, report, records)
    last_heard = report.received_at if report is not None else None
    playing_after = max((f.at for f in facts if f.playing), default=None)
    latest = facts[-1] if facts else None
    if latest is not None and not latest.playing:
        # Only what came after the last "still playing" fact settles it.
        trailing = [f for f in facts if playing_after is None or f.at > playing_after]
        ends = [f for f in trailing if f.ended]
        stopped = ends[0].at if ends else None
        # The station knew it once it held one of those facts, and every "still playing" one (records may
        # arrive late, out of order).
        learnt = max([min(f.learnt_at for f in trailing)] + [f.learnt_at for f in facts if f.playing])
        delay = None if stopped is None else max(0.0, (stopped - stopped_at).total_seconds())
        return DeviceStop(target.device_id, target.name, "confirmed", stopped, learnt, playing_after, last_heard,
                          delay)
    waited = (now - stopped_at).total_seconds()
    state: StopState = "waiting" if waited < CONFIRM_WITHIN_S else "unconfirmed"
    return DeviceStop(target.device_id, target.name, state, None, None, playing_after, last_heard)


def confirm_stop(stopped_at: datetime, targets: Sequence[Target], reports: Mapping[int, Heard],
                 records: Mapping[int, Sequence[PlayFact]], now: datetime) -> StopStatus:
    """Per targeted loudspeaker, has it confirmed the stop at `stopped_at`, as of `now`?"""
    return StopStatus(stopped_at, tuple(device_stop(t, stopped_at, reports.get(t.device_id),
                                                    records.get(t.device_id, ()), now) for t in targets))


# ------------------------------------------------------------------ counting what aired


def counted_as(result: str, actual_end: datetime | None, stopped_at: datetime | None) -> str:
    """How a report counts a proof-of-play record: `completed` only for a play that ended by itself; a play of
    a broadcast the cadre stopped that still ran past the stop is `played_after_stop`, never completed."""
    if result == "played":
        if stopped_at is not None and actual_end is not None and actual_end > stopped_at:
            return "played_after_stop"
        return "completed"
    return result  # interrupted, skipped, failed: as reported
