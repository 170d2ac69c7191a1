from datetime import time, timedelta

from schedules.emergency import cancel, start_emergency
from schedules.model import Priority, StationSettings
from schedules.timetable import materialize, what_plays

from .helpers import ALL, at, brief, commune, daily, item, prog, rule

TOPO = commune(villages=4, per_village=2)


def test_emergency_now_in_chosen_villages_repeated_n_times():
    now = at(2026, 11, 20, 6, 5)
    news = rule("news", daily(at(2026, 11, 1), time(6)), ALL, prog(item("n", 1200)))
    eb = start_emergency("storm-1", prog(item("storm", 180)), {"v3", "v4"}, now, repeat=3, gap_s=20,
                         title="Bão số 5")
    tt = materialize([news, eb.to_rule()], TOPO, at(2026, 11, 20), at(2026, 11, 21), now)
    assert brief(tt["v3-d1"]) == [("news", "11-20 06:00", "11-20 06:05", True),
                                  ("storm-1", "11-20 06:05", "11-20 06:08", False),
                                  ("storm-1", "11-20 06:08", "11-20 06:11", False),
                                  ("storm-1", "11-20 06:11", "11-20 06:14", False)]
    assert tt["v3-d1"][1].start == now and tt["v3-d1"][1].priority is Priority.EMERGENCY
    assert tt["v3-d1"][2].start == now + timedelta(seconds=200)
    assert brief(tt["v1-d1"]) == [("news", "11-20 06:00", "11-20 06:20", False)]
    assert eb.active_until == now + timedelta(seconds=3 * 200 - 20)
    current, change = what_plays(tt["v4-d2"], now)
    assert current.rule_id == "storm-1" and change == now + timedelta(minutes=3)


def test_until_cancelled_then_cancel_truncates():
    now = at(2026, 11, 20, 14, 0)
    eb = start_emergency("flood", prog(item("flood", 300)), ["v1"], now, repeat=None)
    s = StationSettings(emergency_max_s=3600)
    tt = materialize([eb.to_rule(s)], TOPO, now, now + timedelta(hours=3), now, s)
    assert len(tt["v1-d1"]) == 12 and tt["v1-d1"][-1].end == now + timedelta(hours=1)
    t_cancel = now + timedelta(minutes=12)  # during the third repetition
    cancelled = cancel(eb, t_cancel)
    assert cancel(cancelled, t_cancel + timedelta(minutes=5)) == cancelled  # idempotent
    tt2 = materialize([cancelled.to_rule(s)], TOPO, now, now + timedelta(hours=3), t_cancel, s)
    assert brief(tt2["v1-d1"]) == [("flood", "11-20 14:00", "11-20 14:05", False),
                                   ("flood", "11-20 14:05", "11-20 14:10", False),
                                   ("flood", "11-20 14:10", "11-20 14:12", True)]
    assert tt2["v1-d1"][-1].segments[0].duration_s == 120
    assert what_plays(tt2["v1-d1"], t_cancel) == (None, None)
    # cancelled at its very start: nothing airs
    assert materialize([cancel(eb, now).to_rule(s)], TOPO, now, now + timedelta(hours=1), now, s)["v1-d1"] == ()


def test_a_second_emergency_queues_behind_the_first():
    now = at(2026, 11, 20, 10)
    a = start_emergency("a", prog(item("a", 600)), ["v2"], now)
    b = start_emergency("b", prog(item("b", 300)), ["v2"], now + timedelta(minutes=2))
    tt = materialize([a.to_rule(), b.to_rule()], TOPO, now, now + timedelta(hours=1), now + timedelta(minutes=2))
    assert brief(tt["v2-d1"]) == [("a", "11-20 10:00", "11-20 10:10", False),
                                  ("b", "11-20 10:10", "11-20 10:15", False)]
