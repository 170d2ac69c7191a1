"""The admin runs the organisation from a phone, in real headless Chromium against a real `loa serve` (issue 14):
gives a village its coordinates and sees it on the commune map, is told clearly when a coordinate is wrong,
moves the quiet hours and sees a night broadcast come back into the week calendar, then filters the audit
trail down to those changes and downloads them as CSV."""
from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.api.web.served import login
from tests.api.web.test_browser import browser, server, shot  # noqa: F401  (fixtures: their own for this module)
from tests.api.web.test_browser_truth import _approved_recording, _token

pytestmark = pytest.mark.browser


def _night_schedule(base, world) -> None:
    """An approved recording aired every day at 23:00 in Ún Tà: inside the default quiet hours (22:00–05:00)."""
    from datetime import datetime

    from tests.api.web.web_rig import TZ

    item = _approved_recording(base, world)
    today = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    r = httpx.post(f"{base}/api/v1/communes/{world.a}/schedules", headers=_token(base, "cadre"), json={
        "title": "Tin khuya", "priority": "normal", "rrule": "FREQ=DAILY", "times": ["23:00"],
        "starts_at": today.isoformat(), "targets": {"villages": [world.village_a]},
        "programme": [{"type": "item", "content_id": item}]})
    assert r.status_code == 201, r.text


def test_admin_runs_villages_settings_and_audit_from_a_phone(server, browser):  # noqa: F811
    base, world, data = server
    _night_schedule(base, world)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "admin")

    # The commune: no coordinates yet, so no map but a hint how to get one.
    page.goto(f"{base}/app/admin/communes")
    page.get_by_role("link", name="Cốc San").click()
    assert page.locator("#no-map").is_visible()
    shot(page, "org-01-commune-no-map")

    # A wrong coordinate: a clear message, the typed values kept, nothing saved.
    page.get_by_role("link", name="Ún Tà").click()
    page.get_by_label("Vĩ độ").fill("225.4")
    page.get_by_label("Kinh độ").fill("103.9")
    page.locator("#save-village").click()
    assert "Vĩ độ phải là số từ -90 đến 90" in page.locator("#form-error").inner_text()
    assert page.get_by_label("Vĩ độ").input_value() == "225.4"
    shot(page, "org-02-village-bad-latitude")

    # The right coordinates (with a decimal comma, as typed on a Vietnamese phone): on the map at once.
    page.get_by_label("Vĩ độ").fill("22,5412")
    page.get_by_label("Kinh độ").fill("103.9187")
    page.get_by_label("Mã vùng CAP (không bắt buộc)").fill("VN-ADMIN=08")
    page.locator("#save-village").click()
    page.wait_for_url(lambda url: "done=saved" in url)
    assert page.locator("#done").inner_text() == "Đã lưu."
    dot = page.locator(f'#commune-map [data-village="{world.village_a}"]')
    assert dot.count() == 1 and "Ún Tà" in dot.locator("text").text_content() and dot.is_visible()
    assert "22.54120, 103.91870" in page.locator("#village-facts").inner_text()
    shot(page, "org-03-village-on-map")
    # A second village: two points, the map spans both; its clusters are drawn at their village.
    page.goto(f"{base}/app/admin/villages/{world.village_a2}")
    page.get_by_label("Vĩ độ").fill("22.5601")
    page.get_by_label("Kinh độ").fill("103.9420")
    page.locator("#save-village").click()
    page.wait_for_url(lambda url: "done=saved" in url)
    page.goto(f"{base}/app/admin/communes/{world.a}")
    assert page.locator("#commune-map .map-village").count() == 2
    assert page.locator("#commune-map .map-device").count() >= 3
    box = page.locator("#commune-map").bounding_box()
    assert box and box["width"] <= 390  # fits the phone
    shot(page, "org-04-commune-map")

    # A village added by mistake: added from the commune page, then deleted after the confirmation page.
    page.locator("summary", has_text="Thêm thôn").click()
    page.get_by_label("Tên thôn").fill("Thôn Nhầm")
    page.get_by_role("button", name="Thêm thôn này").click()
    page.wait_for_url(lambda url: "done=village_added" in url)
    assert page.locator("#done").inner_text() == "Đã thêm thôn."
    page.get_by_role("link", name="Thôn Nhầm").click()
    page.get_by_role("link", name="Xoá thôn này…").click()
    assert page.locator("#confirm-delete").is_visible()
    shot(page, "org-05-village-delete-confirm")
    page.locator("#confirm-delete").click()
    page.wait_for_url(lambda url: "done=village_deleted" in url)
    assert page.locator("#done").inner_text() == "Đã xoá thôn." and page.get_by_text("Thôn Nhầm").count() == 0

    # Station settings: the 23:00 broadcast is silenced by the quiet hours; moving them brings it back.
    page.goto(f"{base}/app/c/{world.a}/schedule?village={world.village_a}")
    assert page.locator(".slot.dropped", has_text="Tin khuya").count() >= 6
    assert page.locator(".slot:not(.dropped)", has_text="Tin khuya").count() == 0
    page.goto(f"{base}/app/admin/communes/{world.a}")
    page.get_by_role("link", name="Cài đặt của đài").click()
    assert "22:00–05:00" in page.locator("#current-settings").inner_text()
    page.get_by_label("Từ").fill("23:30")
    page.get_by_label("Đến").fill("05:00")
    page.locator("#save-settings").click()
    page.wait_for_url(lambda url: "done=saved" in url)
    assert "23:30–05:00" in page.locator("#current-settings").inner_text()
    shot(page, "org-06-settings-saved")
    page.goto(f"{base}/app/c/{world.a}/schedule?village={world.village_a}")
    assert page.locator(".slot:not(.dropped)", has_text="Tin khuya").count() >= 6  # no restart
    # Turning CAP auto-air on asks first (a page, not a browser dialog).
    page.goto(f"{base}/app/admin/communes/{world.a}/settings")
    page.get_by_label("Phát ngay cảnh báo Cực kỳ nghiêm trọng và Khẩn cấp tức thì, không cần cán bộ xác nhận").check()
    page.locator("#save-settings").click()
    assert page.locator("#confirm-auto-air").is_visible()
    shot(page, "org-07-auto-air-confirm")
    page.get_by_role("link", name="Không, vẫn cần cán bộ xác nhận").click()
    assert "tắt" in page.locator("#current-settings").inner_text()

    # The audit trail: filtered down to the village's changes, then the CSV of exactly those.
    page.goto(f"{base}/app/admin/audit")
    page.get_by_label("Người làm").select_option("admin")
    page.get_by_label("Đối tượng", exact=True).select_option("village")
    page.get_by_label("Hành động").select_option("village.update")
    page.locator("#apply-filters").click()
    page.wait_for_url(lambda url: "action=village.update" in url)
    entries = page.locator("#audit-entries > li.item")
    assert entries.count() == 2 and "Thôn: đã sửa" in entries.first.inner_text()
    assert "Kinh độ: — → 103.9187" in entries.last.inner_text()
    assert "Số mục: 2" in page.locator("#audit-count").inner_text()
    shot(page, "org-08-audit-filtered")
    with page.expect_download() as download:
        page.locator("#audit-csv").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Thời điểm", "Người làm", "Địa chỉ", "Hành động"]
    assert len(rows) == 3 and all(r[1] == "admin" and r[4] == "village.update" for r in rows[1:])
    assert "Vĩ độ: — → 22.5412" in rows[2][8]
    # The settings change is there too, under its own action.
    page.goto(f"{base}/app/admin/audit?action=station.settings")
    assert page.locator("#audit-entries > li.item").count() == 1
    assert not errors, errors
    page.close()


def test_other_roles_are_kept_out(server, browser):  # noqa: F811
    base, world, data = server
    page = browser.new_page()
    login(page, base, "secretary")
    for url in (f"/app/admin/villages/{world.village_a}", "/app/admin/audit",
                f"/app/admin/communes/{world.a}/settings"):
        response = page.goto(f"{base}{url}")
        assert response.status == 403 and page.locator(".error").is_visible()
    login(page, base, "outsider")
    response = page.goto(f"{base}/app/admin/villages/{world.village_a}")
    assert response.status == 404
    page.close()
