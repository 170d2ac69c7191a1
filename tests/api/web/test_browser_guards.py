"""Guard rails in real headless Chromium at a phone's size, against a real `loa serve` (issue 14): the estimated
airtime while typing, with its warning past 5 minutes and the station's limit refused on save with the text kept;
a schedule overlap that offers a way forward which saves in one tap; stopping a schedule asks first, then says
it stopped."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.api.web.web_rig import PASSWORD
from tests.api.web.test_browser import browser, login, server, shot  # noqa: F401  (fixtures: their own for this module)

pytestmark = pytest.mark.browser
SENTENCE = "Bà con thôn Ún Tà đi họp ở nhà văn hóa. "  # eleven spoken syllables


def _token(base: str, username: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _approved_text(base: str, world, title: str, text: str) -> int:
    """A text item written by the secretary, rendered by the station's worker, approved by a cadre."""
    secretary, cadre = _token(base, "secretary"), _token(base, "cadre")
    r = httpx.post(f"{base}/api/v1/communes/{world.a}/content", headers=secretary, timeout=60,
                   json={"title": title, "text": text, "kind": "guidance", "engine": "espeak"})
    assert r.status_code == 202, r.text
    item_id = r.json()["item"]["id"]
    deadline = time.monotonic() + 90
    while (item := httpx.get(f"{base}/api/v1/content/{item_id}", headers=secretary).json())["render_state"] != "ready":
        assert item["render_state"] != "failed" and time.monotonic() < deadline, item
        time.sleep(0.5)
    assert httpx.post(f"{base}/api/v1/content/{item_id}/submit", headers=secretary).status_code == 200
    assert httpx.post(f"{base}/api/v1/content/{item_id}/approve", headers=cadre,
                      json={"reviewed_sha256": item["audio"]["sha256"]}).status_code == 200
    return item_id


def test_typing_a_long_text_shows_the_airtime_and_the_station_limit_keeps_it(server, browser):  # noqa: F811
    base, world, data = server
    cadre = _token(base, "cadre")
    r = httpx.put(f"{base}/api/v1/communes/{world.a}/station-settings", headers=cadre,
                  json={"quiet_start": "00:00", "quiet_end": "00:00", "max_programme_s": 600})
    assert r.status_code == 200, r.text
    page = browser.new_page()
    login(page, base, "secretary")
    page.goto(f"{base}/app/c/{world.a}/compose")
    assert "tối đa cho phép: 10 phút" in page.inner_text("#airtime")
    page.get_by_label("Nội dung cần đọc").fill(SENTENCE * 3)
    page.wait_for_selector("#airtime.airtime-ok")
    assert "Thời lượng phát ước tính: khoảng" in page.inner_text("#airtime")
    # 1,540 syllables: 6.4 minutes at 240 a minute, past the 5 of a good announcement
    page.get_by_label("Nội dung cần đọc").fill(SENTENCE * 140)
    page.wait_for_selector("#airtime.airtime-long")
    said = page.inner_text("#airtime")
    assert "⚠" in said and "khoảng 6 phút 30 giây" in said and "Quá 5 phút" in said
    # faster speech, shorter airtime: the estimate follows the speed
    page.select_option("#speed", "1.2")
    page.wait_for_function("() => document.getElementById('airtime').innerText.includes('5 phút 30 giây')")
    shot(page, "guards-01-airtime-long")
    # 3,083 syllables: 12.8 minutes, over the station's 10 — said while typing, refused on save, nothing lost
    page.select_option("#speed", "1.0")
    long_text = "Thông báo họp. " + SENTENCE * 280
    page.get_by_label("Nội dung cần đọc").fill(long_text)
    page.wait_for_selector("#airtime.airtime-over")
    assert "Dài hơn mức đài cho phép (10 phút)" in page.inner_text("#airtime")
    page.get_by_label("Tiêu đề").fill("Họp dài")
    page.get_by_role("button", name="Lưu", exact=True).click()
    page.wait_for_selector("p.error[role=alert]")
    assert "/compose" in page.url and "Dài hơn mức đài cho phép" in page.inner_text("p.error")
    assert page.input_value("#text").strip() == long_text.strip() and page.input_value("#title") == "Họp dài"
    shot(page, "guards-02-airtime-refused")
    mine = httpx.get(f"{base}/api/v1/communes/{world.a}/content", headers=cadre, params={"q": "Họp dài"}).json()
    assert not [i for i in mine["items"] if i["title"] == "Họp dài"]


def test_a_schedule_overlap_offers_a_way_forward_that_saves(server, browser):  # noqa: F811
    base, world, data = server
    first = _approved_text(base, world, "Tiêm phòng cho trâu bò", "Bà con đưa trâu bò đi tiêm phòng ở trạm thú y.")
    second = _approved_text(base, world, "Họp thôn tối nay", "Tối nay họp thôn ở nhà văn hóa, bà con đến đúng giờ.")
    cadre = _token(base, "cadre")
    r = httpx.post(f"{base}/api/v1/communes/{world.a}/schedules", headers=cadre, json={
        "title": "Tiêm phòng hằng ngày", "rrule": "FREQ=DAILY", "starts_at": "2026-01-01T00:00:00+07:00",
        "times": ["06:00", "17:00"], "targets": {"villages": [world.village_a]},
        "programme": [{"type": "item", "content_id": first}]})
    assert r.status_code in (200, 201), r.text
    page = browser.new_page()
    login(page, base, "cadre")
    page.goto(f"{base}/app/c/{world.a}/schedule?village={world.village_a}")
    # the villages come first in the form, and none is ticked for the cadre
    targets = page.locator("#schedule-form fieldset#targets")
    assert targets.locator("input:checked").count() == 0
    assert page.locator("#schedule-form > *").nth(1).get_attribute("id") == "targets"
    # without a village the form says so and keeps what was chosen
    page.select_option("#item_id", str(second))
    page.click("#check")
    page.wait_for_selector("p.error[role=alert]")
    assert "Hãy chọn toàn xã hoặc ít nhất một thôn" in page.inner_text("p.error")
    assert page.input_value("#item_id") == str(second)
    targets = page.locator("#schedule-form fieldset#targets")
    targets.get_by_label("Ún Tà").check()
    page.check("input[name=preset][value=daily_6_17]")
    page.click("#check")
    page.wait_for_selector("#conflicts")
    assert "Tiêm phòng hằng ngày" in page.inner_text("#conflicts")
    assert "«Tối nay»" in page.inner_text("#warnings")  # a daily text that says "tonight", with no end
    assert page.locator("#save-schedule").count() == 0
    ways = page.locator("#ways button")
    assert ways.count() == 3
    shot(page, "guards-03-ways-forward")
    after = page.locator("#way-after button")
    assert "Phát ngay sau «Tiêm phòng hằng ngày»" in after.inner_text()
    after.click()
    page.wait_for_selector("#flash")
    assert "Đã lưu lịch" in page.inner_text("#flash")
    saved = [s for s in httpx.get(f"{base}/api/v1/communes/{world.a}/schedules", headers=cadre).json()
             if s["programme"][0].get("content_id") == second]
    assert len(saved) == 1 and saved[0]["targets"]["villages"] == [world.village_a]
    assert saved[0]["times"][0] > "06:00" and saved[0]["priority"] == "normal"
    week = page.inner_text("#week")
    assert "Họp thôn tối nay" in week and "Tiêm phòng hằng ngày" in week
    shot(page, "guards-04-way-saved")


def test_stopping_a_schedule_asks_first_then_says_it_stopped(server, browser):  # noqa: F811
    base, world, data = server
    item = _approved_text(base, world, "Thu gom rác", "Chủ nhật thu gom rác ở đầu thôn.")
    cadre = _token(base, "cadre")
    r = httpx.post(f"{base}/api/v1/communes/{world.a}/schedules", headers=cadre, json={
        "title": "Thu gom rác hằng tuần", "rrule": "FREQ=WEEKLY;BYDAY=SU", "starts_at": "2026-01-01T00:00:00+07:00",
        "times": ["09:00"], "targets": {"villages": [world.village_a2]},
        "programme": [{"type": "item", "content_id": item}]})
    assert r.status_code in (200, 201), r.text
    schedule_id = r.json()["schedule"]["id"] if "schedule" in r.json() else r.json()["id"]
    page = browser.new_page()
    login(page, base, "cadre")
    page.goto(f"{base}/app/c/{world.a}/schedule")
    page.click(f"#stop-schedule-{schedule_id}")
    # asked first, on a page of its own; "No" changes nothing
    page.wait_for_selector("#confirm-yes")
    assert "Dừng lịch này?" in page.inner_text("h1") and "Thu gom rác hằng tuần" in page.inner_text("#confirm")
    shot(page, "guards-05-stop-asks")
    page.click("#confirm-no")
    page.wait_for_selector(f"#schedule-{schedule_id}")
    live = httpx.get(f"{base}/api/v1/schedules/{schedule_id}", headers=cadre).json()
    assert live["cancelled_at"] is None
    page.click(f"#stop-schedule-{schedule_id}")
    page.click("#confirm-yes")
    page.wait_for_selector("#flash")
    assert "Đã dừng lịch" in page.inner_text("#flash")
    assert page.locator(f"#schedule-{schedule_id}").count() == 0
    assert httpx.get(f"{base}/api/v1/schedules/{schedule_id}", headers=cadre).json()["cancelled_at"] is not None
    shot(page, "guards-06-stopped")
    page.reload()
    assert page.locator("#flash").count() == 0  # said once
