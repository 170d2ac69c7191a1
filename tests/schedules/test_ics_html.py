"""Escape HTML in .ics output (issue 13, Low): calendar apps render DESCRIPTION (and sometimes SUMMARY) as HTML,
so a title or a village name with markup stays text; RFC 5545 escaping still applies on top."""
from __future__ import annotations

from datetime import time

from schedules.ics import parse_ics, text_value, village_calendar
from schedules.model import Targets
from schedules.timetable import materialize

from .helpers import at, commune, daily, item, prog, rule

EVIL = '<a href="https://evil.example">Bấm</a><img src=x onerror=alert(1)>; họp, & bàn'


def test_markup_in_titles_and_names_is_escaped():
    topo = commune(1, 1)
    rules = [rule("r", daily(at(2026, 11, 1), time(6)), Targets.of(villages=["v1"]),
                  prog(item("x", 60, title=EVIL)), title=EVIL)]
    tt = materialize(rules, topo, at(2026, 11, 20), at(2026, 11, 21), at(2026, 11, 19))
    ics = village_calendar("v1", "<b>Ún Tà</b>", [p for d in tt for p in tt[d]], at(2026, 11, 19, 12))
    raw = ics.replace("\r\n ", "")
    assert "<" not in raw and ">" not in raw and "onerror=alert(1)&gt\\;" in raw
    assert "X-WR-CALNAME:Lịch phát thanh &lt\\;b&gt\\;Ún Tà&lt\\;/b&gt\\;" in raw
    (event,) = parse_ics(ics)
    assert event["SUMMARY"][1] == EVIL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert event["DESCRIPTION"][1].startswith("&lt;a href=")


def test_control_characters_are_dropped_and_text_rules_kept():
    assert text_value("a\x00b\x1bc\td\ne,f;g\\h") == "abc d\\ne\\,f\\;g\\\\h"
