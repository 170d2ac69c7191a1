"""Schedule and emergency pages through HTTP: presets become the right rule, conflicts are shown before
saving (same-priority overlap refused), the week calendar shows the plays, and an emergency goes through its
confirmation step, shows which loudspeakers can play it, and is cancelled (what the loudspeakers report:
test_truth_pages.py)."""
from __future__ import annotations

import re
from datetime import timedelta

from tests.api.web.web_rig import login, make_item


def _check(client, world, token, item, **extra):
    data = {"csrf": token, "item_id": str(item), "preset": "daily_6_17", "times": "",
            "start_date": "2026-03-02", "villages": [str(world.village_a)], "priority": "normal",
            "repeat": "1", "action": "check", "with_pair": "1", **extra}
    return client.post(f"/app/c/{world.a}/schedule", data=data, follow_redirects=False)


def test_schedule_preset_check_save_and_calendar(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), title="Tiêm phòng", status="approved")
    token = login(client, "cadre")
    page = client.get(f"/app/c/{world.a}/schedule")
    assert page.status_code == 200 and "Mỗi ngày lúc 06:00 và 17:00" in page.text
    assert 'id="save-schedule"' not in page.text  # no save before a check
    r = _check(client, world, token, item)
    assert r.status_code == 200 and "Không trùng giờ" in r.text and 'id="save-schedule"' in r.text
    r = _check(client, world, token, item, action="save")
    assert r.status_code == 303
    (row,) = client.get(f"/api/v1/communes/{world.a}/schedules").json()
    assert row["rrule"] == "FREQ=DAILY" and row["times"] == ["06:00", "17:00"]
    assert row["targets"]["villages"] == [world.village_a] and row["programme"] == [
        {"type": "item", "content_id": item}]
    week = client.get(r.headers["location"]).text
    # Monday 2 March 08:00 now: 06:00 today has passed before the rule existed; 17:00 today and twice a day after.
    days = re.findall(r"<h3>(.*?)</h3>", week)
    assert days[0] == "Thứ Hai 02/03" and len(days) == 7
    assert week.count("<strong>17:00</strong> Tiêm phòng") == 7
    assert week.count("<strong>06:00</strong> Tiêm phòng") == 6
    other_village = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a2}).text
    assert "Tiêm phòng</span>" not in other_village and "Tiêm phòng" in other_village  # listed, not aired there


def test_same_priority_overlap_is_refused_before_saving(client, app, world, facts, clock):
    first = make_item(app, world, facts, clock(), title="Tiêm phòng", status="approved")
    second = make_item(app, world, facts, clock(), title="Thu thuế", status="approved")
    token = login(client, "cadre")
    assert _check(client, world, token, first, action="save").status_code == 303
    r = _check(client, world, token, second, preset="weekdays", times="17:00")
    assert "trùng giờ với một lịch cùng mức ưu tiên" in r.text and "«Tiêm phòng»" in r.text
    assert 'id="save-schedule"' not in r.text
    forced = _check(client, world, token, second, preset="weekdays", times="17:00", action="save")
    assert forced.status_code == 409  # the service refuses it even if the form is posted anyway
    assert len(client.get(f"/api/v1/communes/{world.a}/schedules").json()) == 1
    higher = _check(client, world, token, second, preset="weekdays", times="17:00", priority="priority")
    assert "theo mức ưu tiên" in higher.text and 'id="save-schedule"' in higher.text


def test_quiet_hours_are_pointed_out_before_saving(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), title="Tin khuya", status="approved")
    token = login(client, "cadre")
    r = _check(client, world, token, item, preset="daily", times="23:00")
    assert r.status_code == 200 and 'id="warnings"' in r.text and "Xin lưu ý:" in r.text
    assert "rơi vào giờ yên tĩnh (22:00–05:00)" in r.text and "quiet hours" not in r.text  # Vietnamese only
    assert 'id="save-schedule"' in r.text  # a warning, not a refusal: the station may move its quiet hours
    day = _check(client, world, token, item, preset="daily", times="07:00")
    assert 'id="warnings"' not in day.text


def test_the_stations_own_changes_are_listed_for_cadres_and_secretaries(client, app, world, facts, clock):
    from loa.db import session_scope
    from schedules.store import add_notice

    with session_scope(app.state.engine) as s:  # what the scheduler writes when a scheduled item expired
        add_notice(s, world.a, "content_expired:s1:7", "content_expired",
                   "Nội dung «Tiêm phòng» đã hết hạn: lịch «Bản tin sáng» không phát nội dung này nữa",
                   "Item «Tiêm phòng» has expired: schedule «Bản tin sáng» no longer airs it", clock())
    login(client, "cadre")
    page = client.get(f"/app/c/{world.a}/schedule").text
    assert 'id="notices"' in page and "Những thay đổi đài tự làm" in page
    assert "«Tiêm phòng» đã hết hạn" in page and "has expired" not in page
    client.cookies.clear()
    login(client, "village_head")  # may read the week, not the cadres' notices
    page = client.get(f"/app/c/{world.a}/schedule")
    assert page.status_code == 200 and 'id="notices"' not in page.text


def test_schedule_roles_and_bad_input(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="approved")
    token = login(client, "secretary")
    page = client.get(f"/app/c/{world.a}/schedule")
    assert page.status_code == 200 and 'id="schedule-form"' not in page.text  # reads, does not schedule
    assert _check(client, world, token, item, action="save").status_code == 403
    client.cookies.clear()
    token = login(client, "cadre")
    r = _check(client, world, token, item, preset="daily", times="25:99")
    assert r.status_code == 422 and "Giờ không hợp lệ" in r.text
    r = _check(client, world, token, item, villages=[])
    assert "Hãy chọn toàn xã hoặc ít nhất một thôn" in r.text
    client.cookies.clear()
    login(client, "outsider")
    assert client.get(f"/app/c/{world.a}/schedule").status_code == 404


def test_emergency_confirm_air_progress_cancel(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), title="Lũ quét: sơ tán ngay", status="approved", kind="emergency")
    token = login(client, "cadre")
    page = client.get(f"/app/c/{world.a}/emergency")
    assert page.status_code == 200 and "⚠ Lũ quét" in page.text
    form = {"csrf": token, "item_id": str(item), "villages": [str(world.village_a)], "repeat": "3"}
    confirm = client.post(f"/app/c/{world.a}/emergency", data={**form, "step": "confirm"})
    assert confirm.status_code == 200 and 'id="emergency-air"' in confirm.text and "Ún Tà" in confirm.text
    assert client.get(f"/api/v1/communes/{world.a}/emergencies").json() == []  # nothing aired yet
    r = client.post(f"/app/c/{world.a}/emergency", data={**form, "step": "air"}, follow_redirects=False)
    assert r.status_code == 303
    (e,) = client.get(f"/api/v1/communes/{world.a}/emergencies").json()
    assert e["status"] == "airing" and e["repeat"] == 3 and e["villages"] == [world.village_a]
    status_page = client.get(r.headers["location"]).text
    # Neither loudspeaker of Ún Tà is set up: nothing can play it, and the page says so rather than "on air".
    assert "0/0" in status_page and 'id="emergency-cancel"' in status_page
    assert "Không tính (chưa lắp đặt hoặc đã gỡ): Cụm loa 1, Cụm loa 3" in status_page
    clock.now += timedelta(seconds=30)
    r = client.post(f"/app/emergencies/{e['id']}/cancel", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/emergencies/{e['id']}").json()["status"] == "cancelled"
    done = client.get(r.headers["location"]).text  # no loudspeaker to wait for (see test_truth_pages)
    assert "Đã dừng trên 0/0" in done and 'id="emergency-cancel"' not in done and 'http-equiv="refresh"' not in done


def test_emergency_is_for_cadres_of_the_commune(client, app, world, facts, clock):
    make_item(app, world, facts, clock(), status="approved")
    login(client, "secretary")
    assert client.get(f"/app/c/{world.a}/emergency").status_code == 403
    client.cookies.clear()
    login(client, "outsider")
    assert client.get(f"/app/c/{world.a}/emergency").status_code == 404
