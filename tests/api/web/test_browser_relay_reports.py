"""Issue 14 in real headless Chromium at a phone viewport, against a real `loa serve`:

- a cadre opens the commune overview, filters by village and kind, and downloads the CSV;
- the admin adds a relay stream (a real MP3 stream served by a local HTTP server thread), a cadre picks it in
  the schedule form, listens to a few seconds of it through the station, saves, and sees it in the calendar."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.api.web.web_rig import T0
from tests.api.web.served import loa_serve, login, station_data
from tests.api.web.streamserver import RadioServer
from tests.api.web.test_browser import browser, shot  # noqa: F401  (the module's Chromium fixture)
from tests.api.web.test_browser_csp import WATCH

pytestmark = pytest.mark.browser
TZ = T0.tzinfo


def _records(engine, world, now: datetime) -> None:
    """What the loudspeakers reported: two days ago a guidance play in both villages and an emergency in Ún Tà;
    some forty days ago a relay in Ún Tà and a failed play in Cốc San 2."""
    from sqlmodel import select

    from broadcaster.station.models import PlayRecordRow
    from loa.db import session_scope
    from loa.org.models import Device

    with session_scope(engine) as s:
        devices = {d.village_id: d.id for d in s.exec(select(Device).order_by(Device.id.desc()))}
        rows, seq = [], iter(range(1, 100))

        def rec(village, at, seconds, result="played", priority="normal", sha="a" * 64):
            rows.append(PlayRecordRow(uid=f"u{devices[village]}", seq=next(seq), device_id=devices[village],
                                      commune_id=world.a, village_id=village, play_id=f"p{len(rows)}", sha256=sha,
                                      title="x", priority=priority, planned_start=at,
                                      actual_start=at if seconds else None,
                                      actual_end=at + timedelta(seconds=seconds) if seconds else None,
                                      result=result, received_at=at))

        recent = (now - timedelta(days=2)).replace(hour=6, minute=0, second=0, microsecond=0)
        older = (now - timedelta(days=40)).replace(hour=19, minute=0, second=0, microsecond=0)
        rec(world.village_a, recent, 120)
        rec(world.village_a2, recent, 120)
        rec(world.village_a, recent + timedelta(hours=3), 90, priority="emergency")
        rec(world.village_a, older, 1800, sha=None)
        rec(world.village_a2, older, None, "failed")
        s.add_all(rows)


@pytest.fixture(scope="module")
def radio():
    with RadioServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, world_template, radio):
    from loa.db import make_engine

    data, world = station_data(tmp_path_factory, world_template)
    engine = make_engine(f"sqlite:///{data / 'loa.db'}")
    _records(engine, world, datetime.now(TZ))
    engine.dispose()
    with loa_serve(data, {"LOA_RELAY_ALLOWED_HOSTS": radio.host}) as base:  # the test radio runs on this machine
        yield base, world, data


def watch_csp(page) -> list[str]:
    """Every Content-Security-Policy violation the browser reports on this page (there must be none)."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(WATCH.removeprefix("() => {").removesuffix("}"))
    return violations


def test_cadre_reads_the_commune_overview(server, browser):
    base, world, _ = server
    page = browser.new_page()
    violations = watch_csp(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "cadre")
    page.goto(f"{base}/app/c/{world.a}/reports")
    page.locator("#to-overview").click()
    page.wait_for_url(lambda url: "/reports/overview" in url)
    total = page.inner_text("#overview-total")
    assert "phút đã phát" in total and "1 lỗi" in total and "1 bị cắt ngang" not in total
    assert page.locator("#chart-village rect").count() >= 3 and page.locator("#chart-month title").count() >= 3
    assert "Ún Tà" in page.inner_text("#overview-table") and "Cốc San 2" in page.inner_text("#overview-table")
    shot(page, "i14-01-overview")
    # filter: Ún Tà, emergencies only
    page.get_by_label("Thôn", exact=True).select_option(label="Ún Tà")
    page.get_by_label("Loại tin", exact=True).select_option(label="Khẩn cấp")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_url(lambda url: "kind=emergency" in url)
    total = page.inner_text("#overview-total")
    assert total.startswith("1.5 phút") and "Ún Tà" in total and "Khẩn cấp" in total
    assert "Cốc San 2" not in page.locator("#chart-village").text_content()
    shot(page, "i14-02-overview-filtered")
    with page.expect_download() as info:
        page.locator("#overview-csv").click()
    download = info.value
    assert download.suggested_filename.startswith("loa-overview-") and download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Thôn", "Tháng", "Loại tin", "Số phút đã phát"]
    assert len(rows) == 2 and rows[1][0] == "Ún Tà" and rows[1][2] == "Khẩn cấp" and rows[1][3] == "1.5"
    assert errors == [] and violations == [] and page.evaluate("() => window.__csp") == []


def test_admin_adds_a_stream_and_a_cadre_relays_it(server, browser, radio):
    base, world, _ = server
    page = browser.new_page()
    violations = watch_csp(page)
    page.on("dialog", lambda d: d.accept())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "admin")
    page.goto(f"{base}/app/admin/streams")
    page.get_by_label("Tên (như cán bộ vẫn gọi)").fill("VOV1")
    page.get_by_label("Địa chỉ luồng").fill(f"{radio.base}/live.mp3")
    page.get_by_label("Loại đài").select_option("national")
    page.get_by_label("Kiểm tra ngay xem luồng có phát không (mất vài giây)").check()
    page.get_by_role("button", name="Thêm luồng này").click()
    page.wait_for_selector("#done")
    assert "Đã thêm luồng" in page.inner_text("#done") and "VOV1" in page.inner_text("#streams")
    shot(page, "i14-03-admin-streams")
    # a local address is refused with words the admin understands
    page.get_by_label("Tên (như cán bộ vẫn gọi)").fill("Máy nội bộ")
    page.get_by_label("Địa chỉ luồng").fill("http://192.168.1.10/stream")
    page.get_by_role("button", name="Thêm luồng này").click()
    page.wait_for_selector("#stream-error")
    assert "mạng nội bộ" in page.inner_text("#stream-error")
    # a stream that has gone off the air (added without the check)
    page.get_by_label("Tên (như cán bộ vẫn gọi)").fill("Đài hỏng")
    page.get_by_label("Địa chỉ luồng").fill(f"{radio.base}/missing")
    page.get_by_role("button", name="Thêm luồng này").click()
    page.wait_for_selector("#done")

    login(page, base, "cadre")
    page.goto(f"{base}/app/c/{world.a}/schedule?village={world.village_a}")
    page.get_by_label("Đài cần tiếp sóng").select_option(label="Đài hỏng")
    page.get_by_role("button", name="Nghe thử trước khi lưu").click()
    page.wait_for_function("() => document.getElementById('stream-status').textContent.includes('404')")
    assert page.inner_text("#stream-status") == "Không nghe được luồng này: máy chủ trả lời mã 404"
    page.get_by_label("Đài cần tiếp sóng").select_option(label="VOV1")
    page.get_by_label("Tiếp sóng trong bao nhiêu phút").fill("30")
    page.get_by_role("button", name="Nghe thử trước khi lưu").click()
    page.wait_for_function("() => document.getElementById('stream-audio').src.startsWith('blob:')", timeout=30000)
    page.wait_for_function("() => document.getElementById('stream-audio').readyState >= 2", timeout=30000)
    assert page.locator("#stream-audio").evaluate("a => a.duration") > 1
    shot(page, "i14-04-relay-listen")
    assert violations == [] and page.evaluate("() => window.__csp") == []  # the audio came from the station itself
    page.check("input[name=preset][value=daily]")
    page.fill("#times", "19:00")
    page.locator("#schedule-form").get_by_label("Ún Tà").check()
    page.click("#check")
    page.wait_for_selector("#conflicts")
    page.click("#save-schedule")
    page.wait_for_selector(".flash")
    week = page.inner_text("#week")
    assert week.count("📻 Tiếp sóng: VOV1") >= 6 and "19:00" in week
    shot(page, "i14-05-relay-calendar")
    assert errors == [] and violations == []
