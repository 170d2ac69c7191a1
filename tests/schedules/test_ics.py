from datetime import time

from dateutil import parser as dtparser

from schedules.ics import escape_text, fold, parse_ics, unescape_text, village_calendar
from schedules.model import Priority, Targets
from schedules.timetable import materialize

from .helpers import TZ, at, commune, daily, item, prog, rule


def test_village_calendar_round_trips():
    topo = commune(2, 3)
    title = "Hướng dẫn cài đặt VNeID; định danh điện tử, mức 2 — đọc bằng tiếng Việt rồi tiếng Giáy\\thôn Ún Tà"
    rules = [rule("vneid", daily(at(2026, 11, 1), time(6), time(17)), Targets.of(villages=["v1"]),
                  prog(item("vneid-vi", 300, title=title)), title=title),
             rule("storm", at(2026, 11, 20, 6, 2), Targets.of(devices=["v1-d3"]), prog(item("storm", 120)),
                  Priority.EMERGENCY)]
    tt = materialize(rules, topo, at(2026, 11, 20), at(2026, 11, 22), at(2026, 11, 19))
    plays = [p for d in ("v1-d1", "v1-d2", "v1-d3") for p in tt[d]]
    ics = village_calendar("v1", "Ún Tà", plays, at(2026, 11, 19, 12))
    raw = ics.encode("utf-8")
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert "TZID:Asia/Ho_Chi_Minh" in ics and "TZOFFSETTO:+0700" in ics
    events = parse_ics(ics)
    # d1/d2 share 4 plays; d3 has the emergency, a cut 06:00 play (distinct) and 3 more shared ones
    assert len(events) == 6
    first = events[0]
    assert first["SUMMARY"][1] == title
    params, value = first["DTSTART"]
    start = dtparser.parse(value).replace(tzinfo=TZ) if params.get("TZID") == "Asia/Ho_Chi_Minh" else None
    assert start == at(2026, 11, 20, 6)
    starts = sorted((dtparser.parse(e["DTSTART"][1]).replace(tzinfo=TZ), e["X-LOA-PRIORITY"][1]) for e in events)
    assert ("EMERGENCY" in [p for _, p in starts]) and starts[-1][0] == at(2026, 11, 21, 17)
    uids = [e["UID"][1] for e in events]
    assert len(set(uids)) == len(uids)
    cut = [e for e in events if "interrupted" in e["DESCRIPTION"][1]]
    assert len(cut) == 1 and dtparser.parse(cut[0]["DTEND"][1]).time() == time(6, 2)


def test_fold_never_splits_a_utf8_character_and_escape_round_trips():
    line = "SUMMARY:" + "ạ" * 100
    folded = fold(line)
    parts = folded.encode("utf-8").split(b"\r\n")
    assert all(len(p) <= 75 for p in parts) and len(parts) > 1
    for p in parts:
        p.decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert folded.replace("\r\n ", "") == line
    s = "a,b;c\\d\nnew line"
    assert escape_text(s) == "a\\,b\\;c\\\\d\\nnew line" and unescape_text(escape_text(s)) == s
