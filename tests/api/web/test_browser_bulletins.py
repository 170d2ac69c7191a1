"""Bulletins from the district down to a commune, in real headless Chromium against a real `loa serve`
(issue 16): a district editor writes a text bulletin (read aloud by the station's own voice) and submits it;
a district approver listens, approves and sends it to Cốc San as a normal bulletin with an expiry; the commune
cadre finds it in the inbox and schedules it; the approver follows it per loudspeaker and reads the roll-up
(server-drawn SVG chart, CSV). Screenshots go to tests/api/web/screenshots/."""
from __future__ import annotations

import time

from datetime import datetime, timedelta

import httpx
import pytest

from tests.api.web.web_rig import PASSWORD, T0
from tests.api.web.served import loa_serve, login, station_data
from tests.api.web.test_browser import browser, shot  # noqa: F401  (fixture: its own for this module)
from tests.api.web.test_browser_csp import WATCH

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory, world_template):
    """`loa serve` over a fresh data dir: the web world, commune A under district Bát Xát, its two staff."""
    from loa.accounts.auth import CLI
    from loa.accounts.service import create_user
    from loa.db import make_engine, session_scope
    from loa.org import areas
    from loa.org import service as org
    from loa.org.models import Commune
    from schedules.bulletins.rollup import CommuneDay, record_commune_report

    data, world = station_data(tmp_path_factory, world_template, "province-station")
    engine = make_engine(f"sqlite:///{data / 'loa.db'}")
    now = datetime.now(T0.tzinfo)
    with session_scope(engine) as s:
        province = s.get(Commune, world.a).province_id
        district = areas.create_district(s, CLI, province, "Bát Xát", now, "BX")
        areas.place_commune(s, CLI, world.a, district.id, now)
        for name, role in (("huyen-soan", "editor"), ("huyen-duyet", "approver")):
            user = create_user(s, CLI, name, PASSWORD, now)
            areas.add_area_role(s, CLI, user.id, "district", district.id, role, now)
        district_id = district.id
        # a commune with its own station (no loudspeakers here): its daily reports came up through the interchange
        remote = org.create_commune(s, CLI, province, "Bản Xèo", now, "BXE")
        areas.place_commune(s, CLI, remote.id, district.id, now)
        for back, minutes in ((1, 42.0), (2, 35.5)):
            day = (now - timedelta(days=back)).date().isoformat()
            record_commune_report(s, CommuneDay("BXE", day, {"news": minutes * 45, "emergency": minutes * 15},
                                                {"normal": minutes * 45, "emergency": minutes * 15}, 24, 22, 1, 1,
                                                4 * 86400.0, 4 * 86400.0 - 3600), now)
    engine.dispose()
    with loa_serve(data) as base:
        yield base, world, district_id


def test_a_district_bulletin_down_to_a_commune_from_a_phone(server, browser):  # noqa: F811
    base, world, district = server
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(WATCH.removeprefix("() => {").removesuffix("}"))  # Content-Security-Policy violations

    # The district editor lands on the district's page and writes a bulletin.
    login(page, base, "huyen-soan")
    assert page.url.endswith(f"/app/bulletins/district/{district}")
    assert "Huyện Bát Xát" in page.locator("h2").inner_text()
    page.locator("#b-title").fill("Tiêm phòng cho trẻ")
    page.locator("#b-text").fill("Sáng thứ bảy, trạm y tế xã tiêm phòng cho trẻ dưới năm tuổi. Bà con đưa trẻ đến.")
    page.get_by_role("button", name="Lưu và đọc thành tiếng").click()
    page.wait_for_url(lambda url: "/app/bulletin/" in url)
    bulletin_url = page.url
    assert "Bản nháp" in page.locator("#bulletin-status").inner_text()
    assert page.locator("audio").count() == 1
    shot(page, "bulletin-01-written")
    page.locator("#submit-bulletin").click()
    page.wait_for_url(bulletin_url)
    assert "Chờ duyệt" in page.locator("#bulletin-status").inner_text()
    assert page.locator("#approve-bulletin").count() == 0  # the author cannot approve

    # The approver listens (the audio is real), approves and sends it with a level and an expiry.
    login(page, base, "huyen-duyet")
    page.goto(bulletin_url)
    audio = page.locator("audio")
    assert httpx.get(base + audio.get_attribute("src"), cookies={c["name"]: c["value"] for c in page.context.cookies()},
                     ).status_code == 200
    page.locator("#approve-bulletin").click()
    page.wait_for_url(bulletin_url)
    assert "Đã duyệt" in page.locator("#bulletin-status").inner_text()
    page.get_by_label("Thông thường: xã chọn giờ phát").check()
    page.get_by_label("Hết hạn ngày").fill((datetime.now(T0.tzinfo) + timedelta(days=3)).date().isoformat())
    page.get_by_label("Cốc San").check()
    shot(page, "bulletin-02-send")
    page.locator("#send-now").click()
    page.wait_for_url(bulletin_url)
    assert "Cốc San" in page.locator("#tracking").inner_text()
    assert "Đã nhận" in page.locator(f'#tracking [data-commune="{world.a}"] .state').inner_text()

    # The commune cadre finds it in the inbox and puts it into the commune's schedule.
    login(page, base, "cadre")
    page.locator("#nav-inbox").click()
    item = page.locator("#inbox li").first
    assert "Tiêm phòng cho trẻ" in item.inner_text() and "Huyện Bát Xát" in item.inner_text()
    shot(page, "bulletin-03-inbox")
    item.get_by_role("button", name="Nhận và lên lịch").click()
    page.wait_for_url(lambda url: url.endswith("/inbox"))
    assert "Đã lên lịch" in page.locator("#inbox li .state").first.inner_text()

    # The approver sees it scheduled on every loudspeaker of the commune, and the roll-up.
    login(page, base, "huyen-duyet")
    page.goto(bulletin_url)
    row = page.locator(f'#tracking [data-commune="{world.a}"]')
    assert "Đã lên lịch" in row.locator(".state").inner_text()
    # Each loudspeaker's line says "scheduled" once its timetable holds the play: the timetables are rebuilt
    # after the cadre's answer is sent, so on a busy machine the page may be read before; read it again.
    deadline = time.monotonic() + 30
    while "Đã lên lịch" not in row.locator("li.device").first.inner_text() and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    assert row.locator("li.device").count() == 3 and "Đã lên lịch" in row.locator("li.device").first.inner_text()
    shot(page, "bulletin-04-tracking")
    page.goto(f"{base}/app/bulletins/district/{district}/rollup")
    assert page.locator("#rollup-chart").is_visible() and page.locator("#rollup-groups").is_visible()
    assert page.locator("#rollup-chart rect").count() == 4  # two days, two kinds each
    assert "Bản Xèo" in page.locator("#rollup-communes").inner_text()
    assert "77,5" in page.locator("#rollup-total").inner_text() or "77.5" in page.locator("#rollup-total").inner_text()
    csv = httpx.get(base + page.get_by_role("link", name="Tải về tệp CSV").get_attribute("href"),
                    cookies={c["name"]: c["value"] for c in page.context.cookies()})
    assert csv.status_code == 200 and "Cốc San" in csv.text
    shot(page, "bulletin-05-rollup")
    assert errors == [] and page.evaluate("window.__csp") == []
