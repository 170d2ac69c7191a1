from datetime import datetime, time

import pytest
from dateutil.rrule import rrulestr

from schedules.model import Every, OneOff, Recurring
from schedules.recurrence import RecurrenceError, occurrences

from .helpers import TZ, at


def hm(ds):
    return [d.strftime("%Y-%m-%d %H:%M") for d in ds]


def test_daily_two_times_until_date_includes_the_last_day():
    r = Recurring("FREQ=DAILY;UNTIL=20261130", at(2026, 11, 1), (time(17), time(6)))
    got = occurrences(r, at(2026, 11, 29), at(2026, 12, 3))
    assert hm(got) == ["2026-11-29 06:00", "2026-11-29 17:00", "2026-11-30 06:00", "2026-11-30 17:00"]
    assert all(d.tzinfo is TZ for d in got)


def test_until_in_utc_is_converted_to_local_time():
    # 2026-11-30T10:00Z is 17:00 in Hanoi: the 17:00 slot is still included, inclusive
    r = Recurring("FREQ=DAILY;UNTIL=20261130T100000Z", at(2026, 11, 1, 6), (time(6), time(17)))
    assert hm(occurrences(r, at(2026, 11, 30), at(2026, 12, 2)))[-1] == "2026-11-30 17:00"
    r = Recurring("FREQ=DAILY;UNTIL=20261130T095959Z", at(2026, 11, 1, 6), (time(6), time(17)))
    assert hm(occurrences(r, at(2026, 11, 30), at(2026, 12, 2))) == ["2026-11-30 06:00"]


def test_count_counts_occurrences_not_days_and_skips_times_before_dtstart():
    r = Recurring("FREQ=DAILY;COUNT=3", at(2026, 11, 1, 12), (time(6), time(17)))
    assert hm(occurrences(r, at(2026, 10, 1), at(2027, 1, 1))) == [
        "2026-11-01 17:00", "2026-11-02 06:00", "2026-11-02 17:00"]
    # a window after the count is exhausted is empty
    assert occurrences(r, at(2026, 11, 3), at(2026, 11, 10)) == []


def test_weekdays_and_given_weekdays():
    wk = Recurring("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", at(2026, 11, 2), (time(6),))
    got = occurrences(wk, at(2026, 11, 20), at(2026, 11, 25))  # Fri 20 .. Tue 24
    assert hm(got) == ["2026-11-20 06:00", "2026-11-23 06:00", "2026-11-24 06:00"]
    sat = Recurring("RRULE:FREQ=WEEKLY;BYDAY=SA", at(2026, 11, 1, 7, 30))
    assert hm(occurrences(sat, at(2026, 11, 1), at(2026, 11, 30))) == [
        "2026-11-07 07:30", "2026-11-14 07:30", "2026-11-21 07:30", "2026-11-28 07:30"]


def test_monthly_on_31st_skips_short_months_and_minus_one_is_last_day():
    r = Recurring("FREQ=MONTHLY;BYMONTHDAY=31", at(2026, 1, 1), (time(6),))
    got = occurrences(r, at(2026, 1, 1), at(2027, 1, 1))
    assert [d.month for d in got] == [1, 3, 5, 7, 8, 10, 12]
    last = Recurring("FREQ=MONTHLY;BYMONTHDAY=-1", at(2026, 1, 1), (time(6),))
    assert [d.day for d in occurrences(last, at(2026, 1, 1), at(2026, 5, 1))] == [31, 28, 31, 30]


def test_leap_day():
    r = Recurring("FREQ=MONTHLY;BYMONTHDAY=29", at(2027, 1, 1), (time(6),))
    feb = lambda y: occurrences(r, at(y, 2, 1), at(y, 3, 1))  # noqa: E731
    assert feb(2027) == []
    assert hm(feb(2028)) == ["2028-02-29 06:00"]
    yearly = Recurring("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", at(2025, 1, 1, 8))
    assert hm(occurrences(yearly, at(2025, 1, 1), at(2033, 1, 1))) == ["2028-02-29 08:00", "2032-02-29 08:00"]


def test_year_end_and_window_edges():
    r = Recurring("FREQ=DAILY", at(2026, 12, 1), (time(23, 30), time(0, 15)))
    got = occurrences(r, at(2026, 12, 31, 23), at(2027, 1, 1, 1))
    assert hm(got) == ["2026-12-31 23:30", "2027-01-01 00:15"]
    # start inclusive, end exclusive
    assert hm(occurrences(r, at(2026, 12, 31, 23, 30), at(2027, 1, 1, 0, 15))) == ["2026-12-31 23:30"]


def test_window_in_another_zone_gives_the_same_instants():
    from zoneinfo import ZoneInfo

    r = Recurring("FREQ=DAILY", at(2026, 11, 1), (time(6),))
    utc = ZoneInfo("UTC")
    got = occurrences(r, datetime(2026, 11, 19, 22, tzinfo=utc), datetime(2026, 11, 20, 0, tzinfo=utc))
    assert got == [at(2026, 11, 20, 6)]


def test_fast_forward_matches_plain_dateutil_for_old_rules():
    # rule started two years before the window, every 3rd week on Mon/Thu, and every 5th day
    for text, start in [("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH", at(2024, 11, 7, 6)),
                        ("FREQ=DAILY;INTERVAL=5", at(2024, 11, 7, 17, 45)),
                        ("FREQ=WEEKLY", at(2024, 2, 29, 6))]:
        ours = occurrences(Recurring(text, start), at(2026, 11, 1), at(2026, 12, 31))
        ref = rrulestr(text, dtstart=start.replace(tzinfo=None)).between(
            datetime(2026, 11, 1), datetime(2026, 12, 31), inc=True)
        assert [d.replace(tzinfo=None) for d in ours] == ref and ours


def test_one_off_and_every():
    assert occurrences(OneOff(at(2026, 11, 20, 6)), at(2026, 11, 20), at(2026, 11, 21)) == [at(2026, 11, 20, 6)]
    assert occurrences(OneOff(at(2026, 11, 20, 6)), at(2026, 11, 20, 6, 1), at(2026, 11, 21)) == []
    ev = Every(at(2026, 11, 20, 23, 50), 600, count=4)  # overnight
    assert hm(occurrences(ev, at(2026, 11, 21), at(2026, 11, 22))) == ["2026-11-21 00:00", "2026-11-21 00:10", "2026-11-21 00:20"]
    ev = Every(at(2026, 11, 20, 23, 50), 600, until=at(2026, 11, 21, 0, 10))
    assert hm(occurrences(ev, at(2026, 11, 20), at(2026, 11, 22))) == ["2026-11-20 23:50", "2026-11-21 00:00"]


def test_naive_datetimes_are_refused():
    r = Recurring("FREQ=DAILY", at(2026, 11, 1), (time(6),))
    with pytest.raises(ValueError):
        occurrences(r, datetime(2026, 11, 1), at(2026, 11, 2))
    with pytest.raises(ValueError):
        occurrences(r, at(2026, 11, 1), datetime(2026, 11, 2))
    with pytest.raises(ValueError):
        Recurring("FREQ=DAILY", datetime(2026, 11, 1))
    with pytest.raises(ValueError):
        OneOff(datetime(2026, 11, 1))


def test_bad_rules_give_clear_errors():
    for text in ["FREQ=SOMETIMES", "DTSTART:20261101T000000\nRRULE:FREQ=DAILY", "FREQ=DAILY;BYHOUR=6"]:
        r = Recurring(text, at(2026, 11, 1), (time(6),))
        with pytest.raises(RecurrenceError):
            occurrences(r, at(2026, 11, 1), at(2026, 11, 2))
    assert issubclass(RecurrenceError, ValueError)
    hourly = Recurring("FREQ=HOURLY", at(2026, 11, 1), (time(6),))
    with pytest.raises(RecurrenceError):
        occurrences(hourly, at(2026, 11, 1), at(2026, 11, 2))
    assert occurrences(Recurring("FREQ=DAILY", at(2026, 11, 1)), at(2026, 11, 2), at(2026, 11, 1)) == []
