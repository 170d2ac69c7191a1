"""The schedule form in plain words (a preset, times, days, villages, an item) turned into the API's ScheduleIn,
and a village's week timetable grouped by day for the calendar page."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from content.library.models import ContentItem
from loa.errors import Invalid
from schedules.schemas import ScheduleIn

# preset → (RRULE or None for a one-off, fixed times or None for "the times typed below")
PRESETS: dict[str, tuple[str | None, list[str] | None]] = {
    "daily_6_17": ("FREQ=DAILY", ["06:00", "17:00"]),
    "daily": ("FREQ=DAILY", None),
    "weekdays": ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", None),
    "weekly": ("FREQ=WEEKLY", None),
    "once": (None, None),
}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:hH.]([0-5]\d)?$")
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _bad(vi: str, en: str) -> Invalid:
    return Invalid("schedule_form", vi, en)


def parse_times(text: str) -> list[str]:
    """"6:00, 17h" → ["06:00", "17:00"]: people type times in many ways."""
    out: list[str] = []
    for part in re.split(r"[,;\s]+", text.strip()):
        if not part:
            continue
        match = _TIME.match(part)
        if not match:
            raise _bad(f"Giờ không hợp lệ: «{part}» (ví dụ 06:00, 17:30)",
                       f"Not a time: «{part}» (e.g. 06:00, 17:30)")
        value = f"{int(match.group(1)):02d}:{match.group(2) or '00'}"
        if value not in out:
            out.append(value)
    return sorted(out)


@dataclass
class ScheduleForm:
    title: str = ""
    item_id: str = ""
    with_pair: bool = True
    preset: str = "daily_6_17"
    times: str = "06:00, 17:00"
    start_date: str = ""
    until_date: str = ""
    whole_commune: bool = False
    villages: list[str] = field(default_factory=list)
    priority: str = "normal"
    repeat: str = "1"
    stream_id: str = ""      # a relay stream from the admin's list, instead of an announcement
    relay_minutes: str = "30"


def programme_for(item: ContentItem, partner: ContentItem | None, with_pair: bool) -> list[dict]:
    """One item, or the bilingual pair (Vietnamese first, then the village language)."""
    if partner is None or not with_pair:
        return [{"type": "item", "content_id": item.id}]
    first, second = (item, partner) if item.language == "vi" or partner.language != "vi" else (partner, item)
    return [{"type": "pair", "first": first.id, "second": second.id}]


def relay_programme(name: str, url: str, minutes_text: str) -> list[dict]:
    """Relay the stream for the minutes typed (the stream's name shows in the calendar)."""
    text = minutes_text.strip().replace(",", ".")
    try:
        minutes = float(text)
    except ValueError:
        minutes = 0.0
    if not 1 <= minutes <= 240:
        raise _bad("Thời lượng tiếp sóng từ 1 đến 240 phút", "Relay for 1 to 240 minutes")
    return [{"type": "relay", "url": url, "duration_s": round(minutes * 60), "title": name}]


def to_schedule(form: ScheduleForm, programme: list[dict], tz: ZoneInfo, today: date) -> ScheduleIn:
    if form.preset not in PRESETS:
        raise _bad("Hãy chọn cách lặp lại", "Choose how it repeats")
    rrule, fixed = PRESETS[form.preset]
    times = fixed or parse_times(form.times)
    if not times:
        raise _bad("Hãy nhập ít nhất một giờ phát", "Type at least one time")
    try:
        start = date.fromisoformat(form.start_date) if form.start_date else today
        until = date.fromisoformat(form.until_date) if form.until_date else None
    except ValueError:
        raise _bad("Ngày không hợp lệ", "Not a valid date") from None
    villages = [int(v) for v in form.villages if v.isdigit()]
    if not form.whole_commune and not villages:
        raise _bad("Hãy chọn toàn xã hoặc ít nhất một thôn", "Choose the whole commune or at least one village")
    data: dict = dict(title=form.title.strip() or "-", priority=form.priority, programme=programme,
                      targets={"commune": form.whole_commune, "villages": villages},
                      repeat=int(form.repeat) if form.repeat.isdigit() else 1)
    if rrule is None:
        hh, mm = (int(x) for x in times[0].split(":"))
        data["at"] = datetime.combine(start, time(hh, mm), tz)
    else:
        if rrule == "FREQ=WEEKLY":
            rrule += f";BYDAY={_DAYS[start.weekday()]}"
        if until is not None:
            if until < start:
                raise _bad("Ngày kết thúc trước ngày bắt đầu", "The end date is before the start date")
            rrule += f";UNTIL={until:%Y%m%d}"
        data.update(rrule=rrule, starts_at=datetime.combine(start, time(0), tz), times=times)
    try:
        return ScheduleIn(**data)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
        raise _bad(f"Lịch chưa đúng: {fields}", f"The schedule is not valid: {fields}") from None


@dataclass
class Slot:
    start: datetime
    end: datetime
    title: str
    priority: str
    schedule_id: int | None
    emergency_id: int | None
    shifted: bool = False
    interrupted: bool = False
    dropped: str | None = None  # the reason, for a play that will not air
    devices: int = 1
    device_ids: set[int] = field(default_factory=set)
    reported: dict[str, int] | None = None  # once it has begun: what the loudspeakers' play records say (onair.py)
    relay: str | None = None  # the name of the stream it relays, if it relays one


def week_by_day(timetable, first: date, titles: dict[str, str], days: int = 7) -> list[tuple[date, list[Slot]]]:
    """The union over the village's devices, one line per (rule, planned start): what a resident will hear."""
    slots: dict[tuple, Slot] = {}
    for dev in timetable.devices:
        for p in dev.plays:
            key = (p.rule_key, p.planned_start, p.start)
            if key in slots:
                slots[key].devices += 1
                slots[key].device_ids.add(dev.device_id)
                continue
            relays = [seg.title or seg.url or "" for seg in p.segments if seg.kind == "relay"]
            slots[key] = Slot(p.start, p.end, p.title, p.priority, p.schedule_id, p.emergency_id, p.shifted,
                              p.interrupted, device_ids={dev.device_id}, relay=", ".join(dict.fromkeys(relays)) or None)
        for d in dev.dropped:
            key = (d.rule_key, d.planned_start, None)
            if key not in slots:
                slots[key] = Slot(d.planned_start, d.planned_start, titles.get(d.rule_key, d.rule_key), d.priority,
                                  None, None, dropped=getattr(d.reason, "value", d.reason))
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        todays = sorted((s for s in slots.values() if s.start.date() == day), key=lambda s: s.start)
        out.append((day, todays))
    return out
