"""Recurrence limits (issue 13, Medium 5): rules that play too often are refused from their text or after a
bounded walk, never after expanding millions of occurrences."""
from __future__ import annotations

import time as clock
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedules.limits import RecurrenceLimitError, RecurrenceLimits, check_emergency_plays, check_recurrence
from schedules.model import Every, OneOff, Recurring
from schedules.recurrence import ExpansionBudgetExceeded, iter_occurrences, occurrences

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)
START = datetime(2026, 3, 2, 6, 0, tzinfo=TZ)


def rule(text: str, *times: time, start: datetime = START) -> Recurring:
    return Recurring(text, start, tuple(times))


def code_of(rec, limits=RecurrenceLimits()) -> str | None:
    try:
        check_recurrence(rec, NOW, limits)
    except RecurrenceLimitError as exc:
        assert exc.message_vi and exc.message_en and exc.message_vi != exc.message_en
        return exc.code
    return None


@pytest.mark.parametrize("text", ["FREQ=SECONDLY", "FREQ=SECONDLY;INTERVAL=299", "FREQ=MINUTELY",
                                  "FREQ=MINUTELY;INTERVAL=4;COUNT=1000000", "FREQ=HOURLY;BYMINUTE=0,1",
                                  "FREQ=DAILY;BYHOUR=6;BYMINUTE=0,2", "FREQ=HOURLY;BYMONTH=9;BYMINUTE=0,3"])
def test_plays_closer_than_five_minutes_are_refused(text):
    assert code_of(rule(text)) == "schedule_too_frequent"


def test_times_closer_than_five_minutes_also_across_midnight():
    assert code_of(rule("FREQ=DAILY", time(6, 0), time(6, 2))) == "schedule_too_frequent"
    assert code_of(rule("FREQ=DAILY", time(23, 58), time(0, 1))) == "schedule_too_frequent"
    assert code_of(rule("FREQ=DAILY", time(6, 0), time(17, 0))) is None


def test_more_than_the_cap_in_72_hours_is_refused_and_the_cap_is_a_setting():
    assert code_of(rule("FREQ=MINUTELY;INTERVAL=10")) == "schedule_too_many_plays"  # 432 in 72 h
    assert code_of(rule("FREQ=MINUTELY;INTERVAL=15")) is None                      # 288: exactly the cap
    assert code_of(rule("FREQ=MINUTELY;INTERVAL=15"), RecurrenceLimits(max_plays_per_72h=100)) \
        == "schedule_too_many_plays"
    assert code_of(rule("FREQ=HOURLY"), RecurrenceLimits(min_interval_s=7200)) == "schedule_too_frequent"
    # 24 times a day is 72 per 72 h: fine; a burst with COUNT far below the cap too
    assert code_of(rule("FREQ=HOURLY;COUNT=20")) is None


def test_only_plays_inside_the_validity_count():
    market_day = rule("FREQ=MINUTELY;INTERVAL=5")
    check_recurrence(market_day, NOW, RecurrenceLimits(), NOW, NOW + timedelta(hours=2))  # 24 plays
    with pytest.raises(RecurrenceLimitError):
        check_recurrence(market_day, NOW, RecurrenceLimits(), NOW, NOW + timedelta(days=2))  # 576
    with pytest.raises(RecurrenceLimitError):  # too dense stays too dense, however short
        check_recurrence(rule("FREQ=MINUTELY"), NOW, RecurrenceLimits(), NOW, NOW + timedelta(minutes=10))


def test_a_rule_that_never_occurs_stops_after_a_bounded_walk():
    """dateutil walks to the year 9999 for "30 February" (14 s measured); the budget stops it."""
    for text in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MINUTELY;INTERVAL=5;BYMONTH=2;BYMONTHDAY=30",
                 "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"):
        started = clock.process_time()
        with pytest.raises(ExpansionBudgetExceeded):
            check_recurrence(rule(text), NOW)
        assert clock.process_time() - started < 1.0, text
    assert code_of(rule("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29")) is None  # a leap day: rare but real


def test_refusing_every_second_costs_no_expansion():
    started = clock.process_time()
    for _ in range(100):
        assert code_of(rule("FREQ=SECONDLY;UNTIL=20300101")) == "schedule_too_frequent"
    assert clock.process_time() - started < 0.5


def test_iter_occurrences_matches_occurrences():
    hi = NOW + timedelta(days=40)
    for rec in (rule("FREQ=DAILY", time(6), time(17)), rule("FREQ=WEEKLY;BYDAY=MO,FR;COUNT=9", time(7)),
                rule("FREQ=HOURLY;INTERVAL=3"), rule("FREQ=MINUTELY;INTERVAL=45", start=START - timedelta(days=400)),
                rule("FREQ=MONTHLY;BYMONTHDAY=-1"), OneOff(NOW + timedelta(hours=1)),
                Every(NOW, 600, count=7)):
        lazy = []
        for at in iter_occurrences(rec, NOW, 240):
            if at >= hi:
                break
            lazy.append(at)
        assert lazy == occurrences(rec, NOW, hi), rec


def test_emergency_plays_are_bounded_but_until_cancelled_with_gap_zero_stays():
    check_emergency_plays(2.0, None, 0.0, 6 * 3600)   # a 2-s siren, gap 0, 6 h: 10,800 plays, fine
    check_emergency_plays(0.3, 100, 0.0, 24 * 3600)   # a count is bounded by the schema (≤ 100)
    with pytest.raises(RecurrenceLimitError) as err:
        check_emergency_plays(2.0, None, 0.0, 24 * 3600)  # 43,200 plays per loudspeaker
    assert err.value.code == "emergency_too_many_plays" and err.value.extra["min_gap_s"] == 2
    check_emergency_plays(2.0, None, 2.0, 24 * 3600)  # the suggested gap is accepted


@pytest.mark.parametrize("text", ["FREQ=MINUTELY;INTERVAL=7", "FREQ=HOURLY;INTERVAL=5;BYDAY=MO,WE",
                                  "FREQ=MINUTELY;INTERVAL=45;BYHOUR=6,7,8,17", "FREQ=SECONDLY;INTERVAL=3601"])
def test_sub_daily_fast_forward_equals_plain_dateutil(text):
    from dateutil.rrule import rrulestr

    start = datetime(2025, 1, 7, 6, 13, 29, tzinfo=TZ)  # over a year before the window
    lo, hi = NOW, NOW + timedelta(days=3)
    plain = rrulestr(text, dtstart=start.replace(tzinfo=None)).between(
        lo.replace(tzinfo=None), hi.replace(tzinfo=None), inc=True)
    expected = [d.replace(tzinfo=TZ) for d in plain if d < hi.replace(tzinfo=None)]
    assert expected and occurrences(rule(text, start=start), lo, hi) == expected
