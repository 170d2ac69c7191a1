"""A refused overlap with a way forward: up to three changes of the cadre's own form, each checked with the
real conflict check before it is offered, each a one-tap button that saves the form with that change —
another free time, a higher priority, or just after the clashing play."""
from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from zoneinfo import ZoneInfo

from api.web.schedule_form import PRESETS, ScheduleForm, parse_times, to_schedule
from loa.accounts.principal import Principal
from loa.errors import DomainError
from schedules import mapping
from schedules import rules_service as rules
from schedules.limits import RecurrenceLimits
from schedules.schemas import CheckOut
from schedules.way_forward import after_clash, time_candidates

MAX_TRIES = 14  # conflict checks spent looking for a free time (each expands two months of plays)


@dataclass(frozen=True)
class Way:
    kind: str            # "after", "priority" or "time"
    form: ScheduleForm   # the cadre's form with the change: the button posts exactly these fields
    times: str           # the times it would play, for the label
    clash: str           # the title of the schedule it clashed with

    @property
    def fields(self) -> list[tuple[str, str]]:
        """Every field of the form as the page posts it (a ticked box is "1", an unticked one absent), so a
        field added to ScheduleForm travels with the button too."""
        out: list[tuple[str, str]] = []
        for f in dataclass_fields(self.form):
            value = getattr(self.form, f.name)
            if isinstance(value, bool):
                out += [(f.name, "1")] if value else []
            elif isinstance(value, list):
                out += [(f.name, str(v)) for v in value]
            else:
                out.append((f.name, str(value)))
        return out


def _form_times(form: ScheduleForm) -> list[str]:
    fixed = PRESETS.get(form.preset, (None, None))[1]
    times = fixed or parse_times(form.times)
    return times[:1] if form.preset == "once" else times


def _with_times(form: ScheduleForm, times: list[str]) -> ScheduleForm:
    # the "06:00 and 17:00" preset has its times built in: a change of time makes it "every day at these times"
    preset = "daily" if form.preset == "daily_6_17" else form.preset
    return replace(form, preset=preset, times=", ".join(times))


def propose(session, user: Principal, commune_id: int, form: ScheduleForm, programme: list[dict], tz: ZoneInfo,
            today: date, now: datetime, limits: RecurrenceLimits, report: CheckOut) -> list[Way]:
    tries = 0

    def check(candidate: ScheduleForm) -> CheckOut | None:
        """The real conflict check of the changed form; None when the form itself is refused."""
        nonlocal tries
        tries += 1
        try:
            body = to_schedule(candidate, programme, tz, today)
            return rules.preview(session, user, commune_id, body, now, limits=limits)
        except DomainError:
            return None

    def passes(candidate: ScheduleForm) -> bool:
        out = check(candidate)
        return out is not None and not out.refused

    seen: set[int] = set()

    def clashes_of(out: CheckOut) -> list[tuple[str, list[str], float]]:
        found = []
        for c in out.conflicts:
            if c.schedule_id is None or c.schedule_id in seen:
                continue
            seen.add(c.schedule_id)
            row = rules.get_schedule(session, user, c.schedule_id)
            at = [row.at.astimezone(tz).strftime("%H:%M:%S")] if row.at else []  # a one-off, to the second
            found.append((row.title, list(row.times) if row.times else at, rules.schedule_out(session, row).duration_s))
        return found

    clashes = clashes_of(report)
    if not clashes:
        return []
    title = clashes[0][0]
    times = _form_times(form)
    library = mapping.Library.load(session, mapping.content_ids(programme))
    own_s = mapping.programme(programme, int(form.repeat) if form.repeat.isdigit() else 1, library).duration_s
    ways: list[Way] = []

    # just after the play it clashes with (and after the next one, if the moved time meets another play)
    moved, after_title = times, title
    for _ in range(4):
        step = moved
        for clash_title, clash_times, clash_s in clashes:
            later = after_clash(step, own_s, clash_times, clash_s)
            if later is not None:
                step, after_title = later, clash_title  # named after the play it now follows
        if step == moved:
            break
        moved = step
        candidate = _with_times(form, moved)
        out = check(candidate)
        if out is not None and not out.refused:
            ways.append(Way("after", candidate, ", ".join(moved), after_title))
            break
        if out is None or out.problems:
            break
        clashes += clashes_of(out)
    # the same times, first in line: the other schedule's play moves later
    if form.priority in ("normal", "fallback"):
        candidate = replace(form, priority="priority")
        if passes(candidate):
            ways.append(Way("priority", candidate, ", ".join(times), title))
    # the nearest times that are free
    taken = {w.times for w in ways}
    for other in time_candidates(times):
        if tries >= MAX_TRIES:
            break
        if ", ".join(other) in taken:
            continue
        candidate = _with_times(form, other)
        if passes(candidate):
            ways.append(Way("time", candidate, ", ".join(other), title))
            break
    return ways
