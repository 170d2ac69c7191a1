from datetime import time

from schedules.conflicts import Resolution, check_conflicts
from schedules.model import Priority, StationSettings, Targets

from .helpers import ALL, at, commune, daily, item, prog, rule

TOPO = commune(villages=3, per_village=2)
H0, H1 = at(2026, 11, 20), at(2026, 11, 27)


def test_same_priority_overlap_is_refused_and_names_the_rule():
    existing = [rule("morning-news", daily(at(2026, 11, 1), time(6)), Targets.of(villages=["v1"]),
                     prog(item("n", 1800)), title="Bản tin sáng"),
                rule("elsewhere", daily(at(2026, 11, 1), time(6)), Targets.of(villages=["v3"]), prog(item("e", 1800)))]
    new = rule("vneid", daily(at(2026, 11, 1), time(6, 20)), Targets.of(villages=["v1", "v2"]), prog(item("v", 600)))
    rep = check_conflicts(new, existing, TOPO, H0, H1)
    assert rep.refused
    (c,) = rep.conflicts
    assert (c.rule_id, c.resolution, c.overlaps, c.devices) == (
        "morning-news", Resolution.REFUSED, 7, ("v1-d1", "v1-d2"))
    assert c.first_overlap == at(2026, 11, 20, 6, 20)
    msg = rep.message()
    assert "Bản tin sáng" in msg and "morning-news" in msg and "same priority" in msg and "cùng mức" in msg


def test_different_priority_is_resolvable_both_ways():
    news = rule("news", daily(at(2026, 11, 1), time(6)), ALL, prog(item("n", 1800)))
    pri = rule("pri", at(2026, 11, 21, 6, 10), Targets.of(devices=["v2-d2"]), prog(item("p", 300)), Priority.PRIORITY)
    up = check_conflicts(pri, [news], TOPO, H0, H1)
    assert not up.refused and [(c.rule_id, c.resolution, c.devices) for c in up.conflicts] == [
        ("news", Resolution.NEW_OUTRANKS, ("v2-d2",))]
    down = check_conflicts(news, [pri], TOPO, H0, H1)
    assert not down.refused and down.conflicts[0].resolution is Resolution.NEW_OUTRANKED
    assert down.conflicts[0].first_overlap == at(2026, 11, 21, 6)


def test_no_conflict_when_no_shared_device_or_no_overlap_or_same_rule_edited():
    a = rule("a", daily(at(2026, 11, 1), time(6)), Targets.of(villages=["v1"]), prog(item("a", 600)))
    b = rule("b", daily(at(2026, 11, 1), time(6)), Targets.of(villages=["v2"]), prog(item("b", 600)))
    c = rule("c", daily(at(2026, 11, 1), time(6, 10)), Targets.of(villages=["v1"]), prog(item("c", 600)))
    assert check_conflicts(b, [a], TOPO, H0, H1).conflicts == ()
    assert check_conflicts(c, [a], TOPO, H0, H1).conflicts == ()  # back to back is not an overlap
    edited = rule("a", daily(at(2026, 11, 1), time(6, 5)), Targets.of(villages=["v1"]), version=2)
    assert check_conflicts(edited, [a], TOPO, H0, H1).conflicts == ()


def test_overlap_only_at_night_is_not_a_conflict_because_quiet_hours_drop_it():
    a = rule("a", daily(at(2026, 11, 1), time(22, 30)), ALL)
    b = rule("b", daily(at(2026, 11, 1), time(22, 35)), ALL)
    assert check_conflicts(b, [a], TOPO, H0, H1).conflicts == ()


def test_emergencies_queue_and_too_long_is_refused():
    e1 = rule("e1", at(2026, 11, 20, 9), ALL, prog(item("e1", 600)), Priority.EMERGENCY)
    e2 = rule("e2", at(2026, 11, 20, 9, 5), ALL, prog(item("e2", 600)), Priority.EMERGENCY)
    rep = check_conflicts(e2, [e1], TOPO, H0, H1)
    assert not rep.refused and rep.conflicts[0].resolution is Resolution.QUEUED
    long_ = rule("long", at(2026, 11, 20, 9), ALL, prog(item("l", 3600)))
    rep = check_conflicts(long_, [], TOPO, H0, H1, StationSettings(max_programme_s=1800))
    assert rep.refused and "station maximum" in rep.message()
    nowhere = rule("nowhere", at(2026, 11, 20, 9), Targets.of(villages=["v99"]))
    assert check_conflicts(nowhere, [], TOPO, H0, H1).refused


def test_plays_the_quiet_hours_will_silence_are_a_warning_not_a_refusal():
    night = rule("night", daily(at(2026, 11, 1), time(22, 30)), ALL, title="Bản tin khuya")
    rep = check_conflicts(night, [], TOPO, H0, H1)
    assert not rep.refused and rep.problems == ()
    (w,) = rep.warnings
    assert "Mọi lần phát" in w and "giờ yên tĩnh (22:00–05:00)" in w and "quiet hours (22:00–05:00)" in w
    assert w in rep.message()
    both = rule("both", daily(at(2026, 11, 1), time(6), time(22, 30)), ALL)
    (w,) = check_conflicts(both, [], TOPO, H0, H1).warnings
    assert w.startswith("7 lần phát rơi vào giờ yên tĩnh")  # 20 → 27 November: seven nights
    # an emergency is never silenced; a station without quiet hours, or a daytime schedule, gets no warning
    assert check_conflicts(rule("e", daily(at(2026, 11, 1), time(22, 30)), ALL, priority=Priority.EMERGENCY),
                           [], TOPO, H0, H1).warnings == ()
    assert check_conflicts(night, [], TOPO, H0, H1, StationSettings(quiet_start=time(0), quiet_end=time(0))
                           ).warnings == ()
    assert check_conflicts(rule("day", daily(at(2026, 11, 1), time(6)), ALL), [], TOPO, H0, H1).warnings == ()
