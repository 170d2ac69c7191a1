"""The times a refused overlap may move to (schedules/way_forward.py); the web form checks each one with the real
conflict check before offering it (tests/api/web/test_guards.py, tests/api/web/test_browser_guards.py)."""
from __future__ import annotations

from schedules.way_forward import after_clash, shifted, time_candidates


def test_shifted_keeps_the_times_within_the_day():
    assert shifted(["06:00", "17:00"], 15) == ["06:15", "17:15"]
    assert shifted(["06:00", "17:00"], -30) == ["05:30", "16:30"]
    assert shifted(["23:50"], 15) is None and shifted(["00:10"], -15) is None


def test_candidates_come_nearest_first():
    out = time_candidates(["06:00"])
    assert out[:4] == [["06:15"], ["05:45"], ["06:30"], ["05:30"]]
    assert ["23:59"] not in time_candidates(["23:00"]) and all(len(c) == 1 for c in time_candidates(["23:00"]))


def test_after_the_clashing_play_with_a_minute_of_quiet():
    # a 10-minute play at 06:00 and 17:00: ours (2 minutes) moves to 06:11 and 17:11
    assert after_clash(["06:00", "17:00"], 120, ["06:00", "17:00"], 600) == ["06:11", "17:11"]
    # only the time that overlaps moves; 12:00 never met the other play
    assert after_clash(["06:05", "12:00"], 120, ["06:00"], 600) == ["06:11", "12:00"]
    # ours starts before theirs but runs into it
    assert after_clash(["05:55"], 600, ["06:00"], 300) == ["06:06"]
    # a long programme rounds up to the next minute after its end
    assert after_clash(["06:00"], 60, ["06:00"], 601.5) == ["06:12"]


def test_after_clash_counts_a_one_off_to_the_second():
    # a one-off at 06:09:20 lasting 100.2 s ends at 06:11:00.2: 06:11 still meets it, 06:13 is a minute after
    assert after_clash(["06:11"], 60, ["06:09:20"], 100.2) == ["06:13"]
    # read as 06:09 it would have seemed over at 06:10:40, and nothing moved
    assert after_clash(["06:11"], 60, ["06:09"], 100.2) is None
    assert after_clash(["06:00"], 60, ["05:58:30"], 95) == ["06:02"]


def test_after_clash_says_none_when_nothing_overlaps_or_the_day_ends():
    assert after_clash(["07:00"], 120, ["06:00"], 600) is None
    assert after_clash(["23:55"], 120, ["23:55"], 600) is None
