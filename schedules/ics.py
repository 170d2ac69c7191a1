"""iCalendar (RFC 5545) export of a village's plays, written by hand.

One VEVENT per play (concrete instances, not RRULEs: the export shows what will really air
after priority resolution). Lines end in CRLF and are folded at 75 octets without splitting a
UTF-8 character; text is escaped twice: for HTML (`< > &`, since Outlook, Google Calendar and others
render DESCRIPTION and sometimes SUMMARY as HTML: a title "<a href=…>" must stay text), then as iCalendar text
(backslash, semicolon, comma, newline), and control characters other than newline are dropped. Times carry
TZID=Asia/Ho_Chi_Minh with a VTIMEZONE block (fixed +07:00, no DST), or are UTC when the
station zone has no fixed offset. `parse_ics` is the small reader the tests round-trip with.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from schedules.model import DEFAULT_TZ, Play, Priority, require_aware

PRODID = "-//Loa//Dai truyen thanh xa//VI"
_PRIORITY_VI = {Priority.FALLBACK: "Dự phòng", Priority.NORMAL: "Thông thường",
                Priority.PRIORITY: "Ưu tiên", Priority.EMERGENCY: "Khẩn cấp"}


def escape_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # RFC 5545 TEXT allows no CTL but HTAB


def text_value(value: str) -> str:
    """A user's words (titles, names) as an iCalendar TEXT value that no client can render as markup."""
    return escape_text(html.escape(_CONTROLS.sub("", value.replace("\t", " ")), quote=False))


def unescape_text(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def fold(line: str) -> str:
    """Fold a content line at 75 octets (continuations start with one space)."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts: list[str] = []
    limit = 75
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # do not split a UTF-8 sequence
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
        limit = 74  # the leading space counts
    return "\r\n ".join(parts)


def _fixed_offset(tz: ZoneInfo, around: datetime) -> timedelta | None:
    """The zone's offset if it did not change in the year around `around` (Vietnam: +07:00)."""
    probes = [around + timedelta(days=d) for d in range(-366, 367, 30)]
    offsets = {p.astimezone(tz).utcoffset() for p in probes}
    return offsets.pop() if len(offsets) == 1 else None


def _fmt_offset(off: timedelta) -> str:
    total = int(off.total_seconds())
    sign = "+" if total >= 0 else "-"
    h, m = divmod(abs(total) // 60, 60)
    return f"{sign}{h:02d}{m:02d}"


def village_calendar(village_id: str, village_name: str, plays: Iterable[Play], now: datetime,
                     tz_name: str = DEFAULT_TZ) -> str:
    """A VCALENDAR of the village's plays (deduplicated across its devices), as a str with CRLF."""
    require_aware(now, "now")
    tz = ZoneInfo(tz_name)
    offset = _fixed_offset(tz, now)
    unique: dict[tuple[str, datetime, datetime, datetime], Play] = {}
    for p in plays:
        unique.setdefault((p.rule_id, p.planned_start, p.start, p.end), p)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{text_value('Lịch phát thanh ' + village_name)}", f"X-WR-TIMEZONE:{tz_name}"]
    if offset is not None:
        o = _fmt_offset(offset)
        lines += ["BEGIN:VTIMEZONE", f"TZID:{tz_name}", "BEGIN:STANDARD", "DTSTART:19700101T000000",
                  f"TZOFFSETFROM:{o}", f"TZOFFSETTO:{o}", f"TZNAME:{escape_text(now.astimezone(tz).tzname() or o)}",
                  "END:STANDARD", "END:VTIMEZONE"]

    def stamp(name: str, dt: datetime) -> str:
        if offset is not None:
            return f"{name};TZID={tz_name}:{dt.astimezone(tz).strftime('%Y%m%dT%H%M%S')}"
        return f"{name}:{dt.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"

    dtstamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    used_uids: set[str] = set()
    for p in sorted(unique.values(), key=lambda p: (p.start, p.rule_id)):
        titles = [s.title for s in p.segments if s.title]
        summary = p.title or (titles[0] if titles else p.rule_id)
        uid = f"{p.rule_id}-{p.planned_start.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}@{village_id}.loa"
        if uid in used_uids:  # the same occurrence differs between devices (e.g. cut on one of them)
            uid = uid.replace("@", f"-{p.start.astimezone(timezone.utc).strftime('%H%M%S')}"
                                   f"-{p.end.astimezone(timezone.utc).strftime('%H%M%S')}@")
        used_uids.add(uid)
        desc = "\n".join(titles)
        if p.interrupted:
            desc += "\n(bị ngắt / interrupted)"
        lines += ["BEGIN:VEVENT", f"UID:{escape_text(uid)}", f"DTSTAMP:{dtstamp}", stamp("DTSTART", p.start),
                  stamp("DTEND", p.end), f"SUMMARY:{text_value(summary)}",
                  f"DESCRIPTION:{text_value(desc)}",
                  f"CATEGORIES:{escape_text(_PRIORITY_VI.get(p.priority, p.priority.name))}",
                  f"X-LOA-PRIORITY:{p.priority.name}", f"X-LOA-RULE:{text_value(p.rule_id)}",
                  "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def parse_ics(text: str) -> list[dict[str, tuple[dict[str, str], str]]]:
    """Minimal reader: unfold, split name;params:value, unescape; returns each VEVENT's props."""
    if "\r\n" not in text:
        raise ValueError("iCalendar lines must end in CRLF")
    unfolded = text.replace("\r\n ", "").replace("\r\n\t", "")
    events: list[dict[str, tuple[dict[str, str], str]]] = []
    current: dict[str, tuple[dict[str, str], str]] | None = None
    for line in unfolded.split("\r\n"):
        if not line:
            continue
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        pdict = dict(p.split("=", 1) for p in params)
        if name == "BEGIN" and value == "VEVENT":
            current = {}
        elif name == "END" and value == "VEVENT" and current is not None:  # (an END without its BEGIN: skipped)
            events.append(current)
            current = None
        elif current is not None:
            current[name] = (pdict, unescape_text(value))
    return events
