"""The inbox suggests a time the loudspeakers will actually air: an hour from now, moved past the quiet hours."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from schedules.bulletins.inbox import after_quiet_hours

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHT = (time(22, 0), time(5, 0))


@pytest.mark.parametrize("local, expected", [
    (datetime(2026, 12, 3, 15, 30, tzinfo=VN), datetime(2026, 12, 3, 15, 30, tzinfo=VN)),  # daytime: as is
    (datetime(2026, 12, 3, 21, 59, tzinfo=VN), datetime(2026, 12, 3, 21, 59, tzinfo=VN)),  # a minute before
    (datetime(2026, 12, 3, 22, 0, tzinfo=VN), datetime(2026, 12, 4, 5, 0, tzinfo=VN)),   # quiet from 22:00
    (datetime(2026, 12, 3, 23, 45, tzinfo=VN), datetime(2026, 12, 4, 5, 0, tzinfo=VN)),  # before midnight
    (datetime(2026, 12, 4, 2, 10, tzinfo=VN), datetime(2026, 12, 4, 5, 0, tzinfo=VN)),   # after midnight
    (datetime(2026, 12, 4, 5, 0, tzinfo=VN), datetime(2026, 12, 4, 5, 0, tzinfo=VN)),    # the end is not quiet
])
def test_a_suggestion_inside_the_quiet_hours_moves_to_their_end(local, expected):
    assert after_quiet_hours(local, *NIGHT, VN) == expected


def test_a_window_within_one_day_and_none_at_all():
    noon = datetime(2026, 12, 3, 12, 30, tzinfo=VN)
    assert after_quiet_hours(noon, time(12, 0), time(13, 30), VN) == datetime(2026, 12, 3, 13, 30, tzinfo=VN)
    assert after_quiet_hours(noon, time(0, 0), time(0, 0), VN) == noon


def test_the_answer_keeps_the_instant_whatever_zone_it_is_read_in():
    utc = datetime(2026, 12, 3, 15, 30, tzinfo=ZoneInfo("UTC"))  # 22:30 in Vietnam
    assert after_quiet_hours(utc, *NIGHT, VN) == datetime(2026, 12, 4, 5, 0, tzinfo=VN)
