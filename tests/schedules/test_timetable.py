from datetime import datetime, time, timedelta

import pytest

from schedules.model import (
    BilingualPair, DropReason, Every, Priority, Recurring, Relay, Silence, StationSettings, Targets,
)
from schedules.timetable import materialize, rematerialize, what_plays

from .helpers import ALL, LONG_AGO, NO_QUIET, at, brief, commune, daily, item, prog, rule

TOPO = commune(villages=3, per_village=2)


def mat(rules, start, end, now=None, settings=StationSettings(), airable=None, topo=TOPO):
    return materialize(rules, topo, start, end, now or start, settings, airable)


def test_every_device_gets_sorted_plays_with_concrete_offsets_and_hashes():
    pair = BilingualPair(item("vneid-vi", 300), item("vneid-giay", 240, "giay"))
    p = prog(pair, Silence(5), Relay("https://vov.vn/live.m3u8", 600, "VOV1"), repeat=2)
    tt = mat([rule("vneid", daily(at(2026, 11, 1), time(17), time(6)), ALL, p)], at(2026, 11, 20), at(2026, 11, 22))
    assert set(tt) == set(TOPO.all_devices()) and len(tt) == 6
    plays = tt["v1-d1"]
    assert [x.start for x in plays] == [at(2026, 11, 20, 6), at(2026, 11, 20, 17), at(2026, 11, 21, 6),
                                        at(2026, 11, 21, 17)]
    first = plays[0]
    assert first.end - first.start == timedelta(seconds=2 * (300 + 240 + 5 + 600))
    assert [(s.offset_s, s.kind.value) for s in first.segments[:4]] == [
        (0, "item"), (300, "item"), (540, "silence"), (545, "relay")]
    assert first.segments[4].offset_s == 1145 and len(first.segments) == 8
    assert first.content_hashes == (item("vneid-vi").sha256, item("vneid-giay").sha256) * 2
    assert first.key == ("v1-d1", "vneid", at(2026, 11, 20, 6))


def test_targets_commune_villages_devices():
    rules = [rule("v", at(2026, 11, 20, 8), Targets.of(villages=["v2"])),
             rule("d", at(2026, 11, 20, 9), Targets.of(devices=["v3-d2"])),
             rule("c", at(2026, 11, 20, 10), ALL)]
    tt = mat(rules, at(2026, 11, 20), at(2026, 11, 21))
    assert [p.rule_id for p in tt["v2-d1"]] == ["v", "c"]
    assert [p.rule_id for p in tt["v3-d2"]] == ["d", "c"]
    assert [p.rule_id for p in tt["v3-d1"]] == ["c"]


def test_overnight_slot_appears_in_both_days_windows():
    # an emergency at 23:50 for 40 minutes crosses midnight (emergencies ignore quiet hours)
    r = rule("storm", at(2026, 11, 20, 23, 50), ALL, prog(item("storm", 2400)), Priority.EMERGENCY)
    day1 = mat([r], at(2026, 11, 20), at(2026, 11, 21))["v1-d1"]
    day2 = mat([r], at(2026, 11, 21), at(2026, 11, 22))["v1-d1"]
    assert brief(day1) == brief(day2) == [("storm", "11-20 23:50", "11-21 00:30", False)]
    assert day1[0].key == day2[0].key


def test_overnight_normal_slot_without_quiet_hours():
    r = rule("night", daily(at(2026, 11, 1), time(23, 45)), ALL, prog(item("n", 1800)))
    got = mat([r], at(2026, 11, 21), at(2026, 11, 21, 12), settings=NO_QUIET)["v1-d2"]
    assert brief(got) == [("night", "11-20 23:45", "11-21 00:15", False)]


def test_quiet_hours_drop_normal_and_priority_but_not_emergency():
    rules = [rule("late", at(2026, 11, 20, 21, 50), ALL, prog(item("a", 900))),          # runs into 22:00
             rule("early", at(2026, 11, 21, 4, 59), ALL, prog(item("b", 60)), Priority.PRIORITY),
             rule("five", at(2026, 11, 21, 5, 0), ALL, prog(item("c", 60))),
             rule("ok", at(2026, 11, 20, 21, 40), ALL, prog(item("d", 1200))),          # ends 22:00 exactly
             rule("flood", at(2026, 11, 21, 2, 0), ALL, prog(item("e", 300)), Priority.EMERGENCY)]
    tt = mat(rules, at(2026, 11, 20, 12), at(2026, 11, 21, 12))
    assert [p.rule_id for p in tt["v1-d1"]] == ["ok", "flood", "five"]
    dropped = {(d.rule_id, d.reason) for d in tt.dropped["v1-d1"]}
    assert dropped == {("late", DropReason.QUIET_HOURS), ("early", DropReason.QUIET_HOURS)}


def test_priority_beats_normal_which_is_shifted_after_it():
    rules = [rule("news", at(2026, 11, 20, 6), ALL, prog(item("news", 1800))),
             rule("vneid", at(2026, 11, 20, 6, 10), ALL, prog(item("vneid", 600)), Priority.PRIORITY)]
    plays = mat(rules, at(2026, 11, 20), at(2026, 11, 21))["v2-d1"]
    assert brief(plays) == [("vneid", "11-20 06:10", "11-20 06:20", False),
                            ("news", "11-20 06:20", "11-20 06:50", False)]
    assert plays[1].shifted and plays[1].planned_start == at(2026, 11, 20, 6)


def test_lower_play_dropped_with_reason_when_it_cannot_fit_before_its_limit():
    rules = [rule("news", at(2026, 11, 20, 6), ALL, prog(item("news", 1800)), max_delay_s=300),
             rule("vneid", at(2026, 11, 20, 6, 10), ALL, prog(item("vneid", 600)), Priority.PRIORITY)]
    tt = mat(rules, at(2026, 11, 20), at(2026, 11, 21))
    assert [p.rule_id for p in tt["v1-d1"]] == ["vneid"]
    (d,) = tt.dropped["v1-d1"]
    assert (d.rule_id, d.reason, d.planned_start) == ("news", DropReason.OUTRANKED, at(2026, 11, 20, 6))
    assert "no room" in d.detail


def test_shift_never_pushes_into_quiet_hours():
    rules = [rule("news", at(2026, 11, 20, 21, 30), ALL, prog(item("news", 600))),
             rule("vneid", at(2026, 11, 20, 21, 25), ALL, prog(item("vneid", 1800)), Priority.PRIORITY)]
    tt = mat(rules, at(2026, 11, 20), at(2026, 11, 21))
    assert [p.rule_id for p in tt["v1-d1"]] == ["vneid"]
    assert tt.dropped["v1-d1"][0].reason is DropReason.QUIET_HOURS


def test_equal_priority_collision_earlier_first_later_shifted():
    rules = [rule("b", at(2026, 11, 20, 7, 5), ALL, prog(item("b", 600))),
             rule("a", at(2026, 11, 20, 7), ALL, prog(item("a", 600)))]
    assert brief(mat(rules, at(2026, 11, 20), at(2026, 11, 21))["v1-d1"]) == [
        ("a", "11-20 07:00", "11-20 07:10", False), ("b", "11-20 07:10", "11-20 07:20", False)]


def test_play_already_on_air_when_priority_rule_is_created_is_not_moved():
    created = at(2026, 11, 20, 6, 5)
    rules = [rule("news", at(2026, 11, 20, 6), ALL, prog(item("news", 1800))),
             rule("vneid", at(2026, 11, 20, 6, 5), ALL, prog(item("vneid", 600)), Priority.PRIORITY,
                  created_at=created)]
    plays = mat(rules, at(2026, 11, 20), at(2026, 11, 21), now=at(2026, 11, 20, 6, 6))["v1-d1"]
    assert brief(plays) == [("news", "11-20 06:00", "11-20 06:30", False),
                            ("vneid", "11-20 06:30", "11-20 06:40", False)]


def test_emergency_preempts_play_on_air_which_is_cut_and_marked_interrupted():
    rules = [rule("news", at(2026, 11, 20, 6), ALL, prog(item("n1", 600), item("n2", 600))),
             rule("later", at(2026, 11, 20, 6, 25), ALL, prog(item("later", 300))),
             rule("storm", at(2026, 11, 20, 6, 15), Targets.of(villages=["v1"]),
                  prog(item("storm", 900)), Priority.EMERGENCY)]
    tt = mat(rules, at(2026, 11, 20), at(2026, 11, 21))
    v1 = tt["v1-d1"]
    assert brief(v1) == [("news", "11-20 06:00", "11-20 06:15", True),
                         ("storm", "11-20 06:15", "11-20 06:30", False),
                         ("later", "11-20 06:30", "11-20 06:35", False)]
    assert [(s.content_id, s.duration_s) for s in v1[0].segments] == [("n1", 600), ("n2", 300)]
    # village 2 is not in the emergency: untouched
    assert brief(tt["v2-d1"]) == [("news", "11-20 06:00", "11-20 06:20", False),
                                  ("later", "11-20 06:25", "11-20 06:30", False)]


def test_planned_inside_emergency_and_no_room_after_is_preempted():
    rules = [rule("news", at(2026, 11, 20, 6, 20), ALL, prog(item("n", 600)), max_delay_s=300),
             rule("storm", at(2026, 11, 20, 6, 15), ALL, prog(item("storm", 1800)), Priority.EMERGENCY)]
    tt = mat(rules, at(2026, 11, 20), at(2026, 11, 21))
    assert [p.rule_id for p in tt["v1-d1"]] == ["storm"]
    assert tt.dropped["v1-d1"][0].reason is DropReason.PREEMPTED


def test_restart_in_the_middle_of_a_slot_returns_the_current_play_without_duplicates():
    rules = [rule("vneid", daily(at(2026, 11, 1), time(6), time(17)), ALL, prog(item("v", 1200))),
             rule("pri", at(2026, 11, 20, 6, 5), ALL, prog(item("p", 300)), Priority.PRIORITY)]
    before = mat(rules, at(2026, 11, 20), at(2026, 11, 23), now=at(2026, 11, 19, 23))
    mid = at(2026, 11, 20, 6, 12)  # the process restarts here, in the middle of the shifted play
    after = materialize(rules, TOPO, mid, mid + timedelta(hours=72), mid)
    again = materialize(rules, TOPO, mid, mid + timedelta(hours=72), mid)
    for dev in TOPO.all_devices():
        current, change = what_plays(after[dev], mid)
        assert current is not None and current.rule_id == "vneid" and current.start == at(2026, 11, 20, 6, 10)
        assert change == at(2026, 11, 20, 6, 30)
        assert current == what_plays(before[dev], mid)[0]
        keys = [p.key for p in after[dev]]
        assert len(keys) == len(set(keys))
        assert after[dev] == again[dev]
        assert [p for p in before[dev] if p.end > mid] == [p for p in after[dev] if p.start < before.window_end]


def test_what_plays_between_and_after_plays():
    r = rule("x", daily(at(2026, 11, 1), time(6)), ALL, prog(item("x", 600)))
    plays = mat([r], at(2026, 11, 20), at(2026, 11, 22))["v1-d1"]
    assert what_plays(plays, at(2026, 11, 20, 5)) == (None, at(2026, 11, 20, 6))
    assert what_plays(plays, at(2026, 11, 20, 6, 10)) == (None, at(2026, 11, 21, 6))
    assert what_plays(plays, at(2026, 11, 21, 7)) == (None, None)
    assert what_plays((), at(2026, 11, 21, 7)) == (None, None)


def test_month_and_year_end():
    rules = [rule("m31", Recurring("FREQ=MONTHLY;BYMONTHDAY=31", at(2026, 1, 1), (time(6),)), ALL),
             rule("d", daily(at(2026, 12, 1), time(7)), ALL)]
    tt = mat(rules, at(2026, 12, 30), at(2027, 1, 2))
    assert [(p.rule_id, p.start) for p in tt["v1-d1"]] == [
        ("d", at(2026, 12, 30, 7)), ("m31", at(2026, 12, 31, 6)), ("d", at(2026, 12, 31, 7)), ("d", at(2027, 1, 1, 7))]
    nov = mat(rules[:1], at(2026, 11, 29), at(2026, 12, 2))
    assert nov["v1-d1"] == ()


def test_leap_day():
    r = rule("leap", Recurring("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", at(2026, 1, 1), (time(8),)), ALL)
    assert [p.start for p in mat([r], at(2028, 2, 28), at(2028, 3, 2))["v1-d1"]] == [at(2028, 2, 29, 8)]
    assert mat([r], at(2027, 2, 27), at(2027, 3, 2))["v1-d1"] == ()


def test_unairable_items_are_removed_and_reported():
    pair = BilingualPair(item("vi", 300), item("giay", 300, "giay"))
    r1 = rule("pair", daily(at(2026, 11, 1), time(6)), ALL, prog(pair, Silence(2)))
    r2 = rule("solo", daily(at(2026, 11, 1), time(8)), ALL, prog(item("old", 300), Silence(2)))
    expiry = {"giay": at(2026, 11, 21), "old": at(2026, 11, 21)}
    airable = lambda cid, when: cid not in expiry or when < expiry[cid]  # noqa: E731
    tt = mat([r1, r2], at(2026, 11, 20), at(2026, 11, 22), airable=airable)
    plays = tt["v3-d1"]
    assert [(p.rule_id, p.start.day, [s.content_id for s in p.segments]) for p in plays] == [
        ("pair", 20, ["vi", "giay", None]), ("solo", 20, ["old", None]), ("pair", 21, ["vi", None])]
    assert plays[2].end - plays[2].start == timedelta(seconds=302)
    reasons = sorted((d.rule_id, d.reason.value, d.content_ids) for d in tt.dropped["v3-d1"])
    assert reasons == [("pair", "item_removed", ("giay",)), ("solo", "not_airable", ("old",))]


def test_too_long_programme_dropped_and_created_at_respected():
    s = StationSettings(max_programme_s=1200)
    long_ = rule("long", at(2026, 11, 20, 8), ALL, prog(item("l", 1300)))
    young = rule("young", daily(at(2026, 11, 1), time(6)), ALL, created_at=at(2026, 11, 20, 6, 10))
    tt = mat([long_, young], at(2026, 11, 20), at(2026, 11, 22), now=at(2026, 11, 20, 7), settings=s)
    assert [(p.rule_id, p.start.day) for p in tt["v1-d1"]] == [("young", 21)]
    assert [d.reason for d in tt.dropped["v1-d1"]] == [DropReason.TOO_LONG]
    # a rule saved after `now` is not known yet
    assert mat([young], at(2026, 11, 20), at(2026, 11, 22), now=at(2026, 11, 20, 6))["v1-d1"] == ()


def test_valid_from_and_until():
    r = rule("w", daily(at(2026, 11, 1), time(6)), ALL, valid_from=at(2026, 11, 21), valid_until=at(2026, 11, 23))
    assert [p.start.day for p in mat([r], at(2026, 11, 19), at(2026, 11, 26))["v1-d1"]] == [21, 22]


def test_naive_window_refused():
    with pytest.raises(ValueError):
        materialize([], TOPO, datetime(2026, 11, 20), at(2026, 11, 21), at(2026, 11, 20))
    with pytest.raises(ValueError):
        materialize([], TOPO, at(2026, 11, 20), at(2026, 11, 21), datetime(2026, 11, 20))


def test_rematerialize_equals_full_materialize_for_add_edit_delete():
    topo = commune(villages=5, per_village=3)
    base = [rule(f"r{i}", daily(at(2026, 11, 1), time(6 + i)), Targets.of(villages=[f"v{i}"])) for i in range(1, 6)]
    base.append(rule("all", daily(at(2026, 11, 1), time(6, 5)), ALL, priority=Priority.PRIORITY))
    ws, we, now = at(2026, 11, 20), at(2026, 11, 23), at(2026, 11, 20)
    prev = materialize(base, topo, ws, we, now)
    new = rule("new", Every(at(2026, 11, 20, 9), 3600, count=5), Targets.of(villages=["v2"], devices=["v4-d1"]),
               priority=Priority.EMERGENCY, created_at=LONG_AGO)
    edited = rule("r3", daily(at(2026, 11, 1), time(6)), Targets.of(villages=["v1"]), version=2)
    steps = [(None, new, base + [new]),
             (base[2], edited, [r if r.id != "r3" else edited for r in base] + [new]),
             (new, None, [r if r.id != "r3" else edited for r in base])]
    for old, changed, rules in steps:
        inc = rematerialize(prev, old, changed, rules, topo, now)
        full = materialize(rules, topo, ws, we, now)
        assert inc.plays == full.plays
        assert inc.dropped == full.dropped
        assert inc.rule_versions == full.rule_versions
        prev = inc
    assert prev["v3-d1"] == full["v3-d1"] and [p.rule_id for p in full["v1-d2"]][:3] == ["all", "r3", "r1"]
